"""One cached session's metadata (never a secret): what the session cache's index and its write-behind layer
(cache.py, cache_pending.py) both speak, kept apart so neither imports the other for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from stsdesk.core.model import CredentialKind


@dataclass(frozen=True)
class CachedSession:
    """What the index knows about one cached session: metadata only, never a secret.

    ``memory_only`` is set by the cache when the keyring refused the secret: only the process that stored it
    can use the session (other processes ignore it).
    """

    cache_key: str
    profile: str
    access_key_id: str
    kind: CredentialKind
    expiration: datetime
    identity_arn: str | None
    mfa_serial: str | None
    mfa_authenticated_at: datetime | None
    source_fingerprint: str  # fingerprint of the profile settings + config files the session was made from
    created: datetime
    memory_only: bool = False

    def seconds_left(self, now: datetime | None = None) -> float:
        """Seconds until the session expires, from the wall clock (negative once expired)."""
        return (self.expiration - (now or datetime.now(UTC))).total_seconds()
