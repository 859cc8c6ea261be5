"""Credentials as shell exports, credential_process JSON and a child-process environment.

Pure string work on the fast `credential-process` path: nothing heavy is imported here. Every value is
quoted so that it reaches the shell byte for byte; a value a format cannot carry raises
``UnrepresentableValue`` (a ``ValueError``) naming the variable, rather than a line that sets something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stsdesk.core.errors import StsdeskError

TYPE_CHECKING = False  # typing and model (dataclasses) cost ~10 ms: `assume`'s cache hit renders without them
if TYPE_CHECKING:
    from datetime import UTC, datetime

    from stsdesk.core.model import Credentials
else:
    try:  # CPython's C datetime, the very classes datetime.py re-exports after defining its pure-Python ones
        from _datetime import UTC, datetime
    except ImportError:
        from datetime import UTC, datetime

SHELLS = ("bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")

ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
SESSION_TOKEN = "AWS_SESSION_TOKEN"
# botocore reads the legacy AWS_SECURITY_TOKEN *before* AWS_SESSION_TOKEN, so a stale one left in the shell
# would be sent with our keys: it is always cleared.
SECURITY_TOKEN = "AWS_SECURITY_TOKEN"
EXPIRATION = "AWS_CREDENTIAL_EXPIRATION"
REGION = "AWS_REGION"
DEFAULT_REGION = "AWS_DEFAULT_REGION"

# Removed from the environment of `stsdesk exec` children: each could make an SDK pick other credentials.
_EXEC_REMOVED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", SECURITY_TOKEN, SESSION_TOKEN, EXPIRATION)

# Profile names are echoed in a comment only when they cannot break out of it in any shell.
_SAFE_COMMENT = re.compile(r"[A-Za-z0-9_.@+=,/:-]{1,128}")


class UnrepresentableValue(StsdeskError, ValueError):
    """A value contains a character the chosen output format cannot carry faithfully."""


def format_expiration(expiration: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` suffix (``2026-11-26T17:28:47Z``), the form STS and the SDKs use.

    A naive datetime is taken to be UTC already (the model promises tz-aware UTC; this keeps a slip harmless).
    """
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_variables(creds: Credentials, region: str | None = None) -> list[tuple[str, str | None]]:
    """The variables to set, in order; a value of None means "unset it".

    ``region`` falls back to ``creds.region``; when neither is known the region variables are left alone.
    """
    variables: list[tuple[str, str | None]] = [
        (ACCESS_KEY_ID, creds.access_key_id),
        (SECRET_ACCESS_KEY, creds.secret_access_key),
        (SESSION_TOKEN, creds.session_token),
        (SECURITY_TOKEN, None),
        (EXPIRATION, format_expiration(creds.expiration) if creds.expiration is not None else None),
    ]
    effective_region = region or creds.region
    if effective_region:
        variables += [(REGION, effective_region), (DEFAULT_REGION, effective_region)]
    return variables


def _refuse(name: str, shell: str, what: str, hint: str = "") -> UnrepresentableValue:
    # Never quote the value itself: it is usually a secret.
    suffix = f"; {hint}" if hint else ""
    return UnrepresentableValue(f"cannot write {name} for {shell}: its value contains {what}{suffix}")


def _check_environment_value(name: str, value: str, shell: str) -> None:
    if "\0" in value:
        raise _refuse(name, shell, "a NUL character, which no environment variable can hold")


# C0 controls, DEL, C1 controls (NEL among them) and the Unicode line/paragraph separators. No STS value holds
# one; in text a person pastes into a terminal, a line break ends a PowerShell or cmd statement early, and ESC
# sequences can end a bracketed paste or rewrite what the terminal shows. So every format that is evaluated
# or pasted refuses them, whatever its quoting could carry (json escapes them and is read by programs).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_no_control(name: str, value: str, shell: str) -> None:
    found = _CONTROL.search(value)
    if found is not None:
        code = f"U+{ord(found.group(0)):04X}"
        raise _refuse(
            name, shell, f"a control character ({code})", "credentials never contain one: check where they came from"
        )


def _posix_line(name: str, value: str | None) -> str:
    if value is None:
        return f"unset {name}"
    # Inside single quotes bash and zsh take every byte literally (no $, `, \ or ! expansion); only the
    # quote itself needs closing, escaping and reopening.
    return "export {}='{}'".format(name, value.replace("'", "'\\''"))


def _fish_line(name: str, value: str | None) -> str:
    if value is None:
        return f"set -e {name}"
    # fish single quotes recognise exactly two escapes, \\ and \'; everything else is literal.
    return "set -gx {} '{}'".format(name, value.replace("\\", "\\\\").replace("'", "\\'"))


# PowerShell treats the typographic single quotes as quote characters too; doubling any of them escapes it.
_PS_QUOTES = re.compile("['\u2018\u2019\u201a\u201b]")


def _powershell_line(name: str, value: str | None) -> str:
    if value is None:
        return f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"
    if value == "":
        raise _refuse(name, "powershell", "nothing (an empty value deletes the variable)")
    quoted = _PS_QUOTES.sub(lambda m: m.group(0) * 2, value)
    return f"$Env:{name} = '{quoted}'"


# cmd.exe: inside `set "K=..."` the quotes make & | < > ^ ( ) literal, but nothing makes these safe:
# % expands variables and has no escape at the interactive prompt (%% only works in batch files), ! expands
# under delayed expansion (and then ^ is eaten too), " toggles the quoting, and a line break ends the command.
_CMD_FORBIDDEN = {
    "%": "'%' (expanded by cmd.exe, with no escape that works both interactively and in batch files)",
    "!": "'!' (expanded by cmd.exe when delayed expansion is on)",
    '"': "a double quote (it would end cmd.exe's quoting)",
    "\n": "a line break",
    "\r": "a carriage return",
}


def _cmd_line(name: str, value: str | None) -> str:
    if value is None:
        return f'set "{name}="'
    if value == "":
        raise _refuse(name, "cmd", "nothing (an empty value deletes the variable)")
    for char, what in _CMD_FORBIDDEN.items():
        if char in value:
            raise _refuse(name, "cmd", what, "use --format powershell")
    return f'set "{name}={value}"'


# python-dotenv interpolates ${...} in every value and has no escape for it; docker compose interpolates
# $NAME, ${...} and turns $$ into $ in double-quoted values. A $ followed by anything else is literal in both.
_DOTENV_DOLLAR = re.compile(r"\$[{$A-Za-z_]")


def _dotenv_line(name: str, value: str | None) -> str | None:
    if value is None:
        return None  # a dotenv file can only set; leaving the key out is the closest thing to unset
    if _DOTENV_DOLLAR.search(value):
        raise _refuse(name, "dotenv", "'$' before a name, '{' or '$' (dotenv loaders would interpolate it)")
    # Both python-dotenv and docker compose decode \\ \" \n \r inside double quotes.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'{name}="{escaped}"'


def _comment(shell: str, creds: Credentials, profile_name: str | None) -> str | None:
    parts = []
    if profile_name and _SAFE_COMMENT.fullmatch(profile_name):
        parts.append(f"profile {profile_name}")
    if creds.expiration is not None:
        parts.append(f"expires {format_expiration(creds.expiration)}")
    if not parts:
        return None
    return ("REM " if shell == "cmd" else "# ") + "stsdesk: " + ", ".join(parts)


def render_exports(
    creds: Credentials, shell: str, region: str | None = None, profile_name: str | None = None
) -> str:
    """Text that, evaluated in ``shell``, puts ``creds`` into the environment (newline-terminated).

    ``shell`` is one of ``SHELLS``; ``json`` gives a flat object of the variables that are set. ``region``
    falls back to ``creds.region``. A stale session token, AWS_SECURITY_TOKEN and expiration are unset.
    Raises ValueError for an unknown shell, and ``UnrepresentableValue`` (a ValueError) when a value cannot
    be written faithfully or safely in that shell (cmd cannot carry %, ! or "; dotenv cannot carry ``${``; no
    format but json carries NUL or any other control character, line breaks included). The message names the
    variable, never the value.
    """
    if shell not in SHELLS:
        raise ValueError(f"unknown export format {shell!r}; choose one of {', '.join(SHELLS)}")
    return render_variables(credential_variables(creds, region), shell, _comment(shell, creds, profile_name))


def render_variables(variables: list[tuple[str, str | None]], shell: str, comment: str | None = None) -> str:
    """Text that, evaluated in ``shell``, sets (value) or unsets (None) each variable, in order; ``comment``
    (already prefixed for the shell) goes first. Raises as render_exports() does."""
    if shell not in SHELLS:
        raise ValueError(f"unknown export format {shell!r}; choose one of {', '.join(SHELLS)}")
    if shell == "json":
        import json  # here: a cached `assume` in a shell format renders without the json package

        return json.dumps({k: v for k, v in variables if v is not None}, indent=2) + "\n"

    lines: list[str] = []
    if comment is not None:
        lines.append(comment)
    for name, value in variables:
        if value is not None:
            _check_environment_value(name, value, shell)
            _check_no_control(name, value, shell)
        line: str | None
        if shell in ("bash", "zsh"):
            line = _posix_line(name, value)
        elif shell == "fish":
            line = _fish_line(name, value)
        elif shell == "powershell":
            line = _powershell_line(name, value)
        elif shell == "cmd":
            line = _cmd_line(name, value)
        else:
            line = _dotenv_line(name, value)
        if line is not None:
            lines.append(line)
    return "\n".join(lines) + "\n"


def credential_process_json(creds: Credentials) -> str:
    """The Version 1 document the SDKs expect from a ``credential_process`` command.

    SessionToken and Expiration are left out when the credentials have none (long-term keys, which the SDKs
    then treat as never expiring).
    """
    document: dict[str, str | int] = {
        "Version": 1,
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
    }
    if creds.session_token is not None:
        document["SessionToken"] = creds.session_token
    if creds.expiration is not None:
        document["Expiration"] = format_expiration(creds.expiration)
    import json

    return json.dumps(document)


def exec_environment(base: Mapping[str, str], creds: Credentials, region: str | None) -> dict[str, str]:
    """The environment for ``stsdesk exec``: ``base`` with ``creds`` set and overriding variables removed.

    AWS_PROFILE / AWS_DEFAULT_PROFILE are removed (an SDK would otherwise look the profile up again), as are
    AWS_SECURITY_TOKEN and, when the credentials have none, AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION.
    ``region`` falls back to ``creds.region``; with neither, the base's region variables stay. ``base`` is not
    modified. Raises ``UnrepresentableValue`` if a value contains NUL.
    """
    environment = dict(base)
    for name in _EXEC_REMOVED:
        environment.pop(name, None)
    for name, value in credential_variables(creds, region):
        if value is None:
            environment.pop(name, None)
        else:
            _check_environment_value(name, value, "exec")
            environment[name] = value
    return environment
