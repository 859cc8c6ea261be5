"""Where the broker's inputs come from: long-term keys, SAML assertions, web-identity tokens, endpoints.

Split out of :mod:`stsdesk.core.broker` so that the broker itself is only about caching, single-flight and
MFA. Nothing here caches sessions (only the parse of a credentials file, while the file is unchanged), and
nothing here ever puts a secret into a message.
"""

from __future__ import annotations

import os
import re
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stsdesk.core.errors import STORE_SECRET, ConfigError, NetworkError, Remedy, StsdeskError
from stsdesk.core.model import CredentialKind, Credentials, Profile
from stsdesk.core.region import session_region
from stsdesk.core.secrets import SecretStore, user_key

_AWS_HOST_SUFFIXES = (
    ".amazonaws.com",
    ".amazonaws.com.cn",
    ".amazon.com",
    ".api.aws",
    ".amazonaws-us-gov.com",
)
_SESSION_NAME_BAD = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class StsTarget:
    """Region and endpoint settings of a profile, each inherited from its sources when it has none."""

    region: str
    endpoint_url: str | None
    regional: bool = True
    federation_endpoint: str | None = None


def sts_target(
    chain: list[Profile], default_region: str, env: Mapping[str, str] | None = None, region: str | None = None
) -> StsTarget:
    """Settings for calling STS on behalf of the last profile of ``chain`` (root first); ``region`` is a region
    chosen for this session (``--region``, the GUI's picker), which wins over the profile's.

    A setting missing from the profile is taken from the nearest source that has it (a role defined next to
    its user usually only says ``role_arn`` and ``source_profile``); region falls back to AWS_REGION,
    AWS_DEFAULT_REGION, then ``default_region``.
    """
    environ = os.environ if env is None else env

    def nearest(attr: str) -> Any:
        for profile in reversed(chain):
            value = getattr(profile, attr)
            if value:
                return value
        return None

    region = session_region(chain, default_region, region, environ)  # the rule exports use too (core/region)
    regional = (nearest("sts_regional_endpoints") or "regional").strip().lower() != "legacy"
    return StsTarget(
        region=str(region),
        endpoint_url=nearest("endpoint_url"),
        regional=regional,
        federation_endpoint=nearest("federation_endpoint"),
    )


def is_aws_host(url: str) -> bool:
    """True when ``url`` points at an AWS-operated host (as opposed to the emulator or a test server)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in _AWS_HOST_SUFFIXES)


def session_name(profile: Profile, now: float | None = None) -> str:
    """The RoleSessionName for ``profile``: its ``role_session_name``, else ``stsdesk-<user>-<epoch>``."""
    if profile.role_session_name:
        return profile.role_session_name
    user = _SESSION_NAME_BAD.sub("", os.environ.get("USER") or os.environ.get("USERNAME") or "user")[:32]
    stamp = int(now if now is not None else time.time())
    return f"stsdesk-{user or 'user'}-{stamp}"[:64]


def role_matches(identity_arn: str | None, role_arn: str | None) -> bool:
    """Whether an assumed-role ARN (``arn:aws:sts::ACCT:assumed-role/NAME/SESSION``) is a session of
    ``role_arn`` (``arn:aws:iam::ACCT:role/PATH/NAME``). Unknown ARNs count as matching."""
    if not identity_arn or not role_arn or ":assumed-role/" not in identity_arn:
        return True
    id_parts, role_parts = identity_arn.split(":"), role_arn.split(":")
    if len(id_parts) < 6 or len(role_parts) < 6:
        return True
    role_name = role_parts[5].rsplit("/", 1)[-1]
    assumed = id_parts[5].split("/")
    return id_parts[4] == role_parts[4] and len(assumed) >= 2 and assumed[1] == role_name


# path -> (stat stamp, parsed sections, when the stamp was last checked): re-parsing the credentials file on every
# assume cost as much as the rest of the broker's own work. The stamp (inode, mtime, ctime, size) changes on any
# edit or atomic replace. It is looked at again only when the last look is STAMP_FRESH_S old: a burst of 200
# assumes on the GUI's event loop made 200 stat calls, and each one lets the GIL go to the executor threads making
# the requests, so the loop waited for it back (up to the 5 ms switch interval) 200 times in one turn. An edit is
# seen by the next assume that starts STAMP_FRESH_S after it (the GUI's own file watcher waits 150 ms).
STAMP_FRESH_S = 0.1
_parsed_files: dict[str, tuple[tuple[int, int, int, int], dict[str, Any], float]] = {}


def _parsed_file(path: Path) -> dict[str, Any] | None:
    """botocore's raw parse of ``path`` (None when it is not a regular file), reused while it is unchanged.

    Raises ConfigError when the file cannot be parsed.
    """
    key = str(path)
    cached = _parsed_files.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[2] < STAMP_FRESH_S:
        return cached[1]
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        _parsed_files.pop(key, None)
        return None
    if not stat.S_ISREG(st.st_mode):
        _parsed_files.pop(key, None)
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    if cached is not None and cached[0] == stamp:
        _parsed_files[key] = (stamp, cached[1], now)
        return cached[1]
    import botocore.configloader
    import botocore.exceptions

    try:
        sections: dict[str, Any] = botocore.configloader.raw_config_parse(key)
    except botocore.exceptions.ConfigParseError:
        raise ConfigError(f"{path}: cannot be parsed; fix it or run with a valid file") from None
    _parsed_files[key] = (stamp, sections, now)
    return sections


def _file_secret(path: Path, section: str, akid: str) -> tuple[str, str | None] | None:
    sections = _parsed_file(path)
    if sections is None:
        return None
    values = sections.get(section, {})
    if values.get("aws_access_key_id") != akid:
        return None
    secret = values.get("aws_secret_access_key")
    if not isinstance(secret, str) or not secret:
        return None
    token = values.get("aws_session_token") or values.get("aws_security_token")
    return secret, token if isinstance(token, str) and token else None


def long_term_credentials(
    profile: Profile, secrets: SecretStore, config_file: Path, credentials_file: Path
) -> Credentials:
    """The IAM user keys of ``profile``: the secret from the keyring (``user:<profile>:<akid>``), else
    ``aws_secret_access_key`` from the credentials file (or the config file, as botocore also allows).

    Raises ConfigError when the profile has no access key id or no secret can be found anywhere.
    """
    akid = profile.access_key_id
    if not akid:
        raise ConfigError(f"profile '{profile.name}' has no access key id")
    secret = secrets.get(user_key(profile.name, akid))
    token: str | None = None
    if secret is None:
        found = _file_secret(credentials_file, profile.name, akid) or _file_secret(
            config_file, "default" if profile.name == "default" else f"profile {profile.name}", akid
        )
        if found is not None:
            secret, token = found
    if secret is None:
        warning = secrets.warning
        hint = f" ({warning})" if warning else ""
        raise ConfigError(
            f"no secret access key for profile '{profile.name}' ({akid}) in the keyring or the credentials "
            f"file{hint}",
            remedy=Remedy(STORE_SECRET, profile.name, akid),
        )
    kind = CredentialKind.SESSION_TOKEN if token else CredentialKind.LONG_TERM
    return Credentials(akid, secret, token, None, kind, profile.region)


def web_identity_token(profile: Profile) -> str:
    """The token in ``web_identity_token_file`` (re-read on every call: CI systems rotate it)."""
    path = profile.web_identity_token_file
    if not path:
        raise ConfigError(f"profile '{profile.name}' has no web_identity_token_file")
    try:
        token = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"profile '{profile.name}': cannot read {path} ({exc.strerror})") from None
    if not token:
        raise ConfigError(f"profile '{profile.name}': {path} is empty")
    return token


def saml_assertion(profile: Profile, endpoint: str | None) -> str:
    """The base64 SAMLResponse for a SAML role: from ``saml_assertion_file``, or — when STS is the emulator —
    from its demo identity provider (``POST <endpoint>/_stsdesk/saml-assertion``).

    Raises ConfigError when there is neither, NetworkError when the emulator cannot be reached.
    """
    if profile.saml_assertion_file:
        try:
            text = Path(profile.saml_assertion_file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"profile '{profile.name}': cannot read {profile.saml_assertion_file} ({exc.strerror})"
            ) from None
        if not text:
            raise ConfigError(f"profile '{profile.name}': {profile.saml_assertion_file} is empty")
        return text
    if not endpoint or is_aws_host(endpoint):
        raise ConfigError(
            f"profile '{profile.name}' is a SAML role without saml_assertion_file; stsdesk cannot sign in to "
            "your identity provider itself: save the SAMLResponse to a file and set saml_assertion_file"
        )
    subject = profile.extra.get("stsdesk_saml_subject") or os.environ.get("USER") or "demo-user"
    form = {"provider": profile.saml_principal_arn or "", "role": profile.role_arn or "", "subject": subject}
    return post_form(f"{endpoint.rstrip('/')}/_stsdesk/saml-assertion", form, "the demo identity provider")


def post_form(url: str, form: Mapping[str, str], what: str, timeout: float = 15.0) -> str:
    """POST a form to a loopback/demo service and return the body text.

    Raises NetworkError when it cannot be reached, StsdeskError when it answers with an HTTP error."""
    data = urllib.parse.urlencode(form).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=timeout) as response:
            return str(response.read().decode("utf-8").strip())
    except urllib.error.HTTPError as exc:
        raise StsdeskError(f"{what} refused the request (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"cannot reach {what} at {url} ({reason})", "NetworkError") from None


def get_url(url: str, what: str, timeout: float = 15.0) -> tuple[int, bytes]:
    """GET ``url`` (which may contain a secret: it never appears in a message); returns (status, body).

    HTTP error statuses are returned, not raised; NetworkError when the host cannot be reached.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read() or b"")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        host = urllib.parse.urlsplit(url).netloc
        raise NetworkError(f"cannot reach {what} at {host} ({reason})", "NetworkError") from None


# Set in a credential_process child's environment: a process that runs stsdesk which runs the process again
# (a profile naming itself through stsdesk) is stopped instead of forking forever.
PROCESS_DEPTH_ENV = "STSDESK_CREDENTIAL_PROCESS_DEPTH"
_PROCESS_DEPTH_MAX = 4


def process_credentials(profile: Profile, timeout: float = 600.0) -> Credentials:
    """Run the ``credential_process`` of ``profile`` as botocore does (split like a POSIX shell, no shell, stdin
    and the terminal inherited so it may prompt) and read its Version 1 JSON. Blocking.

    Raises ConfigError when it cannot be started, fails (its last stderr line is quoted), loops back into
    itself, or prints something other than Version 1 JSON with AccessKeyId and SecretAccessKey.
    """
    import json
    from datetime import datetime

    from stsdesk.core.commands import run_command_line

    name = profile.name
    raw_depth = os.environ.get(PROCESS_DEPTH_ENV, "")
    depth = int(raw_depth) if raw_depth.isdigit() else 0
    if depth >= _PROCESS_DEPTH_MAX:
        raise ConfigError(f"profile '{name}': credential_process runs stsdesk for it again and again (a loop)")
    env = {**os.environ, PROCESS_DEPTH_ENV: str(depth + 1)}
    out = run_command_line(profile.credential_process or "", "credential_process", ConfigError, timeout=timeout,
                           env=env, close_stdin=False, prefix=f"profile '{name}': ")
    try:
        parsed = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        parsed = None
    if not isinstance(parsed, dict):
        raise ConfigError(f"profile '{name}': credential_process did not print credential_process JSON")
    if parsed.get("Version") != 1:
        raise ConfigError(
            f"profile '{name}': credential_process printed Version {parsed.get('Version')!r}; only 1 is supported"
        )
    akid, secret = parsed.get("AccessKeyId"), parsed.get("SecretAccessKey")
    if not isinstance(akid, str) or not akid or not isinstance(secret, str) or not secret:
        raise ConfigError(f"profile '{name}': credential_process JSON lacks AccessKeyId or SecretAccessKey")
    token = parsed.get("SessionToken") or None
    expiration = None
    if parsed.get("Expiration"):
        try:
            expiration = datetime.fromisoformat(str(parsed["Expiration"]).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"profile '{name}': credential_process Expiration is not an ISO 8601 time") from None
        if expiration.tzinfo is None:
            from datetime import UTC

            expiration = expiration.replace(tzinfo=UTC)
    kind = CredentialKind.SESSION_TOKEN if token else CredentialKind.LONG_TERM
    return Credentials(akid, secret, str(token) if token else None, expiration, kind, profile.region)
