"""``stsdesk assume PROFILE`` answered from the session cache without argparse, asyncio, botocore or keyring.

``eval "$(stsdesk assume dev)"`` is typed by hand and run from shell functions and prompts, so a cached
session should cost about what the ``credential-process`` child costs. The full path (``cli.credentials.
cmd_assume``) builds the engine: the profile tree through botocore's parser, asyncio, keyring. This path
answers only when it can print exactly what the full path would print, and otherwise returns None and the
full path runs, unchanged:

- the arguments are the plain form, ``[--config-dir DIR] assume PROFILE [--format F] [--region R]``
  (no ``--duration``, ``--mfa-code``, ``--no-session``, no abbreviations, each option at most once);
- the profile's own cached session (``profile:PROFILE``) has more than the Broker's ``min_ttl`` left and was
  made from the AWS files as they are now (``source_fingerprint``, the credential-process rule), read by
  :func:`stsdesk.core.cache_index.fast_session` (the Secret Service over jeepney, or keyring as a fallback);
- the region to export was decided by :func:`stsdesk.core.region.export_region` (the one home of that rule)
  in an earlier full ``assume`` of this profile, for the same AWS files, the same AWS_REGION and
  AWS_DEFAULT_REGION, the same ``--region`` and a session made in the same region. The full path records
  that decision (:func:`remember_export_region`) only when the session it handed out was that
  ``profile:PROFILE`` entry: an IAM user with an MFA device (whose session lives under another key) or one
  whose long-term key was asked for never gets a record, so this path can never hand out what the full
  path would not.

The exports are rendered by :func:`stsdesk.core.exports.render_exports` itself (control characters and
everything a format cannot carry are refused there); any refusal sends the command to the full path, which
reports it. Imports only the standard library and stsdesk's import-light modules.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

TYPE_CHECKING = False  # not typing's: ~2 ms of import on a path that must cost little more than Python's start
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path
    from typing import Any

    from stsdesk.cli.environment import Environment
    from stsdesk.core.model import Credentials

# stsdesk.core.broker.Broker's default min_ttl, which the CLI's Broker uses (a test keeps the two equal).
ASSUME_MIN_TTL = 300.0
# The export formats of `assume --format` (stsdesk.cli.parser.SHELL_CHOICES; a test keeps them equal).
FORMATS = frozenset({"bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json"})
RECORD_NAME = "assume-regions.json"
_RECORD_VERSION = 1
_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


def plain_assume(argv: Sequence[str]) -> SimpleNamespace | None:
    """The arguments of ``[--config-dir DIR | --config-dir=DIR] assume PROFILE`` with optionally ``--format F``
    and ``--region R`` (``--opt=value`` too, before or after PROFILE, each once), without building the parser;
    None for anything else (argparse decides). F must be an export format and R a non-empty word with no
    surrounding blanks, or None is returned as well."""
    rest = list(argv)
    config: str | None = None
    if rest and rest[0].startswith("--config-dir="):
        config, rest = rest[0].partition("=")[2], rest[1:]
    elif len(rest) >= 2 and rest[0] == "--config-dir" and not rest[1].startswith("-"):
        config, rest = rest[1], rest[2:]
    if not rest or rest[0] != "assume":
        return None
    options: dict[str, str] = {}
    profile: str | None = None
    words = rest[1:]
    i = 0
    while i < len(words):
        word = words[i]
        name, equals, value = word.partition("=")
        if name in ("--format", "--region"):
            if not equals:
                if i + 1 >= len(words):
                    return None
                value = words[i + 1]
                i += 1
            if name in options or not value or value.startswith("-") or value != value.strip():
                return None
            options[name] = value
        elif word.startswith("-") or profile is not None:
            return None  # another option, "--", or a second positional: argparse's business
        else:
            profile = word
        i += 1
    shell = options.get("--format", "bash")
    if profile is None or shell not in FORMATS:
        return None
    return SimpleNamespace(config_dir=config, profile=profile, format=shell, region=options.get("--region"))


def _record_key(profile: str, fingerprint: str, environ: Mapping[str, str], chosen: str | None) -> dict[str, Any]:
    """What an export-region decision depended on, besides the session's own region."""
    return {
        "profile": profile,
        "fingerprint": fingerprint,
        "env": [environ.get(name) or None for name in _REGION_VARIABLES],
        "chosen": chosen,
    }


def _read_records(directory: Path) -> dict[str, Any]:
    from stsdesk.core.json_light import loads

    try:
        with open(os.path.join(directory, RECORD_NAME), "rb") as handle:
            data = loads(handle.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _RECORD_VERSION:
        return {}
    profiles = data.get("profiles")
    return profiles if isinstance(profiles, dict) else {}


def _fingerprint(env: Environment, profile: str, directory: Path) -> str:
    from stsdesk.core.fingerprint import aws_config_paths_light, source_fingerprint

    config_file, credentials_file = aws_config_paths_light(env.environ)
    return source_fingerprint(profile, config_file, credentials_file, directory, env.environ)


def assume_fast(argv: Sequence[str], env: Environment) -> bool:
    """Print ``assume``'s exports for ``argv`` from the cache when the plain form and a recorded region allow
    it (module docstring); False when the full path must run (nothing printed then). Never raises for a
    miss, an unreadable file or a value the format refuses: the full path decides and reports those."""
    args = plain_assume(argv)
    if args is None:
        return False
    from stsdesk.core.cache_index import fast_session
    from stsdesk.core.paths import keyring_namespace
    from stsdesk.core.secrets import service_name

    env.use_config_dir(args.config_dir)
    try:
        directory = env.config_dir()
        fingerprint = _fingerprint(env, args.profile, directory)
        key = _record_key(args.profile, fingerprint, env.environ, args.region)
        entry = _read_records(directory).get(args.profile)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return False  # no decision recorded for these inputs: do not even read the secret
        service = service_name(keyring_namespace(directory))
        found = fast_session(directory, f"profile:{args.profile}", ASSUME_MIN_TTL, fingerprint, service=service)
        if found is None:
            return False
        region = entry.get("region")
        if entry.get("session_region") != found.region or not isinstance(region, str) or not region:
            return False  # decided for a session made in another region (or a damaged record)
        from stsdesk.core.exports import render_exports

        # FastSession has every field render_exports reads (a test renders both ways and compares the bytes).
        text = render_exports(found, args.format, region, args.profile)  # type: ignore[arg-type]
    except (OSError, ValueError):
        return False  # UnrepresentableValue is a ValueError: the full path says it in its own words
    env.stdout.write(text)
    from stsdesk.cli.fast_path import mark_answered_fast

    mark_answered_fast()
    return True


def remember_export_region(
    env: Environment, args: Any, directory: Path, creds: Credentials, region: str
) -> None:
    """After a full ``assume`` printed ``creds`` with ``region``: record the region decision for the fast path,
    when ``creds`` are the profile's own cached session (``profile:PROFILE``, stamped with the AWS files as
    they are now, kept on disk). Best effort: an unwritable directory only means the next call takes the full
    path again. Records hold no secret (profile, fingerprint, region names); the file is 0600."""
    from stsdesk.core.cache_index import INDEX_NAME, read_raw_index

    profile: str = args.profile
    if getattr(args, "no_session", False):
        return  # an IAM user's own key may have been handed out: never a fast-path matter
    try:
        fingerprint = _fingerprint(env, profile, directory)
        entry = read_raw_index(directory / INDEX_NAME).get(f"profile:{profile}")
        if (
            not isinstance(entry, dict)
            or entry.get("access_key_id") != creds.access_key_id
            or entry.get("source_fingerprint") != fingerprint
            or entry.get("memory_only")
            or entry.get("region") != creds.region
        ):
            return  # not the profile's own session as the fast path would find it
        key = _record_key(profile, fingerprint, env.environ, getattr(args, "region", None))
        records = _read_records(directory)
        wanted = {"key": key, "session_region": creds.region, "region": region}
        if records.get(profile) == wanted:
            return
        records[profile] = wanted
        import json

        payload = json.dumps({"version": _RECORD_VERSION, "profiles": records}, sort_keys=True).encode()
        from stsdesk._atomic import atomic_write

        atomic_write(directory / RECORD_NAME, payload, fsync=False)
    except (OSError, ValueError):
        pass


__all__ = ["ASSUME_MIN_TTL", "FORMATS", "RECORD_NAME", "assume_fast", "plain_assume", "remember_export_region"]
