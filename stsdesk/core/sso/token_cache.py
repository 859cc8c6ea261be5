"""Where sign-in tokens live: the AWS CLI's ``~/.aws/sso/cache`` (default) or the keyring.

The file format is byte-for-byte what botocore and the AWS CLI v2 write (``json.dumps`` with default
separators, no newline, timestamps ``YYYY-MM-DDTHH:MM:SSZ``), with the same file names (lowercase hex
SHA-1 of the session name or legacy start URL; registrations keyed like the CLI's
``_registration_cache_key``), so ``aws``, boto3 and every SDK share one sign-in. Files are 0600 in a 0700
directory and replaced atomically. Fields this module does not know are kept when a token is rewritten.

Nothing here logs or formats a token value.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from stsdesk.core.sso.errors import TokenCacheCorrupt

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
KEYRING_PREFIX = "sso-cache:"


def format_time(moment: datetime) -> str:
    """``moment`` as the token files write it: UTC, whole seconds, ``Z`` (Go SDKs parse nothing else)."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: Any) -> datetime:
    """A token timestamp (``Z``, an offset or none: UTC) as an aware datetime; ValueError when it is not one."""
    if not isinstance(text, str) or not text:
        raise ValueError("not a timestamp")
    text = text.strip()
    if text.endswith("UTC"):  # botocore's JSONFileCache default ("%Z"), as older CLI versions wrote it
        text = text[:-3]
    parsed = datetime.fromisoformat(text)  # 3.11: Z, offsets, fractions: every form SDKs write
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def dumps(data: Mapping[str, Any]) -> str:
    """A token or registration as the AWS CLI serialises it (``_sso_json_dumps``)."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return format_time(value)
        raise TypeError(type(value).__name__)

    return json.dumps(dict(data), default=default)


def token_key(cache_name: str) -> str:
    """The cache key (file stem) of a sign-in token: SHA-1 of the session name or legacy start URL."""
    return hashlib.sha1(cache_name.encode("utf-8")).hexdigest()


def registration_key(start_url: str, region: str, scopes: list[str] | None, session_name: str | None) -> str:
    """The cache key of a client registration, exactly as the AWS CLI's ``_registration_cache_key``."""
    args = {
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": scopes,
        "session_name": session_name,
    }
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


class TokenStore(Protocol):
    """A place for token and registration entries (JSON objects) under cache keys."""

    def load(self, key: str) -> dict[str, Any] | None:
        """The entry, None when there is none; TokenCacheCorrupt when it is not a JSON object."""

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        """Replace the entry atomically; raises TokenCacheCorrupt (one line) when it cannot be written."""

    def delete(self, key: str) -> bool:
        """Remove the entry; True when there was one."""

    def describe(self, key: str) -> str:
        """Where the entry lives, for messages (never its content)."""


def _home(env: Mapping[str, str] | None) -> Path:
    environ = os.environ if env is None else env
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``~/.aws/sso/cache`` (the AWS CLI's and botocore's fixed location)."""
    return _home(env) / ".aws" / "sso" / "cache"


class FileTokenStore:
    """Entries as ``<directory>/<key>.json`` in the AWS CLI's format."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return self.directory / f"{key}.json"

    def describe(self, key: str) -> str:
        from stsdesk.core.profiles import display_path

        return display_path(self.path(key))

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.path(key)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise TokenCacheCorrupt(f"{self.describe(key)} cannot be read ({reason})") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise TokenCacheCorrupt(f"{self.describe(key)} is not valid JSON (damaged)") from None
        if not isinstance(data, dict):
            raise TokenCacheCorrupt(f"{self.describe(key)} is not a JSON object (damaged)")
        return data

    def _ensure_directory(self) -> None:
        directory = self.directory
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if sys.platform != "win32" and directory.stat().st_mode & 0o077:
            with contextlib.suppress(OSError):  # tokens inside: the directory is for this user only
                directory.chmod(0o700)

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        payload = dumps(data).encode("utf-8")
        try:
            self._ensure_directory()
            from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

            atomic_write(self.path(key), payload)  # 0600 whatever the umask
        except OSError as exc:
            raise TokenCacheCorrupt(
                f"cannot write {self.describe(key)} ({exc.strerror or type(exc).__name__}); nothing was changed"
            ) from None

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True


class KeyringTokenStore:
    """Entries in the OS keyring (setting ``sso_token_storage = keyring``): invisible to the AWS CLI."""

    def __init__(self, secrets: Any) -> None:
        self._secrets = secrets  # a stsdesk.core.secrets.SecretStore

    def describe(self, key: str) -> str:
        return f"the keyring entry {KEYRING_PREFIX}{key}"

    def load(self, key: str) -> dict[str, Any] | None:
        text = self._secrets.get(KEYRING_PREFIX + key)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            raise TokenCacheCorrupt(f"{self.describe(key)} is not valid JSON (damaged)") from None
        if not isinstance(data, dict):
            raise TokenCacheCorrupt(f"{self.describe(key)} is not a JSON object (damaged)")
        return data

    def save(self, key: str, data: Mapping[str, Any]) -> None:
        from stsdesk.core.errors import KeyringUnavailable

        try:
            self._secrets.set(KEYRING_PREFIX + key, dumps(data))
        except KeyringUnavailable as exc:
            # The value is kept in this process's memory only: a sign-in lost at exit is no sign-in.
            raise TokenCacheCorrupt(
                f"sso_token_storage is keyring, but the keyring cannot store the sign-in ({exc}); unlock it, "
                "or use the AWS CLI's cache files (sso_token_storage = file)"
            ) from None

    def delete(self, key: str) -> bool:
        existed = self._secrets.get(KEYRING_PREFIX + key) is not None
        self._secrets.delete(KEYRING_PREFIX + key)
        return existed


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600) across stsdesk processes: one refresh at a time."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    from stsdesk.core.paths import open_private_file  # 0600 even when an older file was not; never via a link

    fd = open_private_file(path, os.O_RDWR)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
