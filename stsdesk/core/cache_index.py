"""A light, read-only view of the session index, for the ``stsdesk credential-process`` cache hit.

The AWS CLI starts ``stsdesk credential-process P`` before every command, so this path must cost little more
than Python's own start. :mod:`stsdesk.core.cache` (the read-write cache) pulls in dataclasses (and with it
inspect, ast, dis), logging, typing and the write-behind machinery: about 20 ms of imports that a cache hit
never uses. This module answers from the same files with os and the C halves of datetime and json
(:mod:`stsdesk.core.json_light`) only; the index format is the one :mod:`stsdesk.core.cache` writes (its
``_entry_to_json``), and an entry this reader cannot vouch for is a miss, exactly as the full reader treats it.
"""

from __future__ import annotations

from pathlib import Path

from stsdesk.core.json_light import dumps_flat, loads
from stsdesk.core.secrets import DEFAULT_SERVICE, session_key

TYPE_CHECKING = False  # not typing's: importing typing costs ~2 ms, a cache hit uses nothing of it
if TYPE_CHECKING:
    from datetime import UTC, datetime
    from typing import Any
else:
    try:  # CPython's C datetime, which datetime.py re-exports only after defining its pure-Python one (~1 ms)
        from _datetime import UTC, datetime
    except ImportError:
        from datetime import UTC, datetime

INDEX_NAME = "sessions.json"
INDEX_VERSION = 1
# The values of stsdesk.core.model.CredentialKind (model imports dataclasses: too heavy here); a test keeps
# the two in step.
CREDENTIAL_KINDS = frozenset(
    {
        "long-term",
        "session-token",
        "assumed-role",
        "chained-role",
        "federation-token",
        "saml",
        "web-identity",
    }
)


class FastSession:
    """A cached session's credentials as the fast path hands them on (the fields of ``model.Credentials``,
    ``kind`` as its value string). A plain class: typing.NamedTuple would import typing; its repr shows no
    secret."""

    __slots__ = ("access_key_id", "expiration", "kind", "region", "secret_access_key", "session_token")

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str | None,
        expiration: datetime,
        kind: str,
        region: str | None,
    ) -> None:
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.session_token = session_token
        self.expiration = expiration
        self.kind = kind
        self.region = region

    def __repr__(self) -> str:
        return f"FastSession({self.access_key_id!r}, kind={self.kind!r}, expiration={self.expiration.isoformat()})"


def read_raw_index(path: Path) -> dict[str, Any]:
    """The index's ``sessions`` mapping; empty when missing, unreadable, garbage or of another version."""
    try:
        data = loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if (
        not isinstance(data, dict)
        or data.get("version") != INDEX_VERSION
        or not isinstance(data.get("sessions"), dict)
    ):
        return {}
    return dict(data["sessions"])


def parse_time(text: Any) -> datetime:
    """A tz-aware timestamp of the index; raises ValueError/TypeError for anything else."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive timestamp in the session index")
    return value


def opt_str(value: Any) -> str | None:
    """``value`` when it is a string or None; raises ValueError otherwise."""
    if value is None or isinstance(value, str):
        return value
    raise ValueError("expected a string")


def secret_fields(secret: str) -> tuple[str, str, str | None] | None:
    """(access key id, secret key, token) from the keyring's JSON, or None when it is not ours / corrupt."""
    try:
        data = loads(secret)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    key_id, secret_key, token = (
        data.get("access_key_id"),
        data.get("secret_access_key"),
        data.get("session_token"),
    )
    if (
        not isinstance(key_id, str)
        or not isinstance(secret_key, str)
        or not (token is None or isinstance(token, str))
    ):
        return None
    return key_id, secret_key, token


def _checked_entry(raw: Any) -> tuple[str, str, datetime, bool, str]:
    """(access key id, kind, expiration, memory_only, source_fingerprint) of an index entry, after the same
    checks ``cache._entry_from_json`` makes; raises ValueError/KeyError/TypeError when the entry is corrupt."""
    if not isinstance(raw, dict):
        raise ValueError("entry is not an object")
    str(raw["profile"])
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in CREDENTIAL_KINDS:
        raise ValueError(f"unknown credential kind {kind!r}")
    expiration = parse_time(raw["expiration"])
    opt_str(raw.get("identity_arn"))
    opt_str(raw.get("mfa_serial"))
    mfa_at = raw.get("mfa_authenticated_at")
    if mfa_at is not None:
        parse_time(mfa_at)
    parse_time(raw["created"])
    memory_only = bool(raw.get("memory_only", False))
    return str(raw["access_key_id"]), kind, expiration, memory_only, str(raw["source_fingerprint"])


def fast_session(
    directory: Path, cache_key: str, min_ttl: float, fingerprint: str, *, service: str = DEFAULT_SERVICE
) -> FastSession | None:
    """Credentials for ``credential-process`` from the index and one secret read, or None on any doubt.

    The secret is read straight from the Secret Service when that is known to be keyring's backend here
    (``stsdesk.core.fast_secret``, no keyring import); otherwise, or when that read finds nothing (a locked
    collection, say), through keyring, after which the backend keyring used is recorded in ``directory`` so
    that the next call can take the direct way. Doubt: missing/corrupt index or entry, memory-only entry,
    ``min_ttl`` seconds left or fewer, a different ``source_fingerprint``, no secret, or a secret that does not
    match the entry. Never raises for those, never takes the lock; writes nothing but that record.
    """
    from stsdesk.core.fast_secret import direct_read_allowed, read_secret

    try:
        raw_entry = read_raw_index(Path(directory) / INDEX_NAME).get(cache_key)
        if not isinstance(raw_entry, dict):
            return None
        key_id, kind, expiration, memory_only, stamp = _checked_entry(raw_entry)
        if memory_only or stamp != fingerprint:
            return None
        if (expiration - datetime.now(UTC)).total_seconds() <= min_ttl:
            return None
        region = opt_str(raw_entry.get("region"))
        key = session_key(cache_key)

        def matching(secret: str | None) -> FastSession | None:
            fields = secret_fields(secret) if secret is not None else None
            if fields is None or fields[0] != key_id:
                return None
            return FastSession(fields[0], fields[1], fields[2], expiration, kind, region)

        if direct_read_allowed(directory) and (found := matching(read_secret(service, key))) is not None:
            return found
        from stsdesk.core.secrets import SecretStore

        store = SecretStore(service)
        found = matching(store.get(key))
        if found is not None:
            store.record_backend(Path(directory))  # keyring found it there: the next call may go direct
        return found
    except (ValueError, KeyError, TypeError, OSError):
        return None


def credential_process_document(session: FastSession) -> str:
    """The Version 1 ``credential_process`` JSON for ``session``, byte for byte what
    ``exports.credential_process_json`` prints for the same credentials (a test holds them equal)."""
    document: dict[str, str | int] = {
        "Version": 1,
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
    }
    if session.session_token is not None:
        document["SessionToken"] = session.session_token
    document["Expiration"] = session.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dumps_flat(document)


__all__ = [
    "CREDENTIAL_KINDS",
    "INDEX_NAME",
    "INDEX_VERSION",
    "FastSession",
    "credential_process_document",
    "fast_session",
    "read_raw_index",
    "secret_fields",
]
