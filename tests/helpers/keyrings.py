"""The one in-memory keyring fake of the tests: keyring's backend interface over a dict, with real keyring's
behaviour (deleting a missing item raises PasswordDeleteError) and an optional lock that makes every call raise
like a locked Secret Service collection. The ``memory_keyring`` fixture (tests/conftest.py) installs one.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.compat import properties
from keyring.errors import KeyringLocked, PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """keyring's interface over a dict (``items``, keyed by (service, username)). ``locked`` makes every call
    raise KeyringLocked; ``refuse_writes`` only the writes (a collection that reads but will not store);
    ``echo_secret_in_errors`` makes the refused write's error quote the secret (as a careless backend might: what
    callers must never pass on)."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("test backend: never chosen by keyring's own detection")

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.locked = False
        self.refuse_writes = False
        self.echo_secret_in_errors = False

    def get_password(self, service: str, username: str) -> str | None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.locked or self.refuse_writes:
            detail = f" while storing {password}" if self.echo_secret_in_errors else ""
            raise KeyringLocked(f"Failed to unlock the collection!{detail}")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.locked:
            raise KeyringLocked("Failed to unlock the collection!")
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("No such password!")
