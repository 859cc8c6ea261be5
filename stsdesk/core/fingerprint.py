"""A cheap fingerprint of what a cached session was made from, for the credential-process fast path.

``stsdesk credential-process`` must answer from the cache without importing botocore, so it cannot parse the
AWS config files to see whether a profile changed. Instead a session remembers the (mtime, size) of both AWS
config files, stsdesk's config directory and the endpoint variables that were in force when it was made; when
any of those differ the fast path steps aside and the full path (which parses the files) decides.

Imports only the standard library (and stsdesk.core.paths).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from stsdesk.core.paths import sha256_hex

# Environment that changes where credentials come from (the emulator vs AWS).
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL")


def _expand(value: str, env: Mapping[str, str]) -> Path:
    # Same expansion as stsdesk.core.profiles.aws_config_paths (which imports botocore, too heavy here).
    home = env.get("HOME")
    if home and (value == "~" or value.startswith("~/")):
        return Path(home + value[1:])
    return Path(os.path.expanduser(value))


def aws_config_paths_light(env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """(config, credentials) paths as :func:`stsdesk.core.profiles.aws_config_paths` computes them."""
    environ: Mapping[str, str] = os.environ if env is None else env
    config = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return _expand(config, environ), _expand(credentials, environ)


def _stat(path: Path) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}"


def source_fingerprint(
    profile: str,
    config_file: Path,
    credentials_file: Path,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> str:
    """A short hash of the profile name, both AWS files' (mtime, size), the state directory and endpoints.

    Never raises: a missing file contributes "-" (and a file appearing later changes the fingerprint).
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    parts = [
        profile,
        str(config_file),
        _stat(config_file),
        str(credentials_file),
        _stat(credentials_file),
        str(state_dir),
        *(environ.get(name, "") for name in _ENDPOINT_VARIABLES),
    ]
    return sha256_hex("\0".join(parts).encode("utf-8", "surrogateescape"))[:32]
