"""Keyring backends for the resilience tests, loaded in CLI subprocesses through PYTHON_KEYRING_BACKEND
(tests/resilience is on their PYTHONPATH).

- ``LockedKeyring``: every operation raises KeyringLocked (a locked Secret Service collection).
- ``RaisingGetKeyring``: reads raise KeyringError; writes are accepted and silently lost.
- ``RaisingSetKeyring``: reads find nothing; writes raise PasswordSetError.
- ``SharedFileKeyring``: a working keyring shared by processes: a JSON file named by
  RESILIENCE_KEYRING_FILE (kept outside HOME by the tests), guarded by flock. A stand-in for a Secret Service
  when none is reachable, so that cross-process cache consistency can be checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError, PasswordSetError


class LockedKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


class RaisingGetKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringError("org.freedesktop.DBus.Error.NoReply: the keyring daemon did not answer")

    def set_password(self, service: str, username: str, password: str) -> None:
        return None

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("not found")


class RaisingSetKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        # A careless backend echoing the value: stsdesk must not repeat it.
        raise PasswordSetError(f"cannot store item {username}={password}: collection is read-only")

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("not found")


class SharedFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["RESILIENCE_KEYRING_FILE"])

    @contextlib.contextmanager
    def _items(self, write: bool) -> Iterator[dict[str, str]]:
        fd = os.open(self._path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                items: dict[str, str] = json.loads(self._path.read_text())
            except (OSError, ValueError):
                items = {}
            yield items
            if write:
                tmp = self._path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(items))
                os.replace(tmp, self._path)
        finally:
            os.close(fd)

    def get_password(self, service: str, username: str) -> str | None:
        with self._items(write=False) as items:
            return items.get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._items(write=True) as items:
            items[f"{service}\0{username}"] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._items(write=True) as items:
            if items.pop(f"{service}\0{username}", None) is None:
                raise PasswordDeleteError("not found")

    @staticmethod
    def dump(path: Path) -> dict[str, str]:
        """The stored items (``service\\0username`` -> secret), read by the test process."""
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return {}
