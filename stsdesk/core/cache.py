"""The session cache shared by the CLI and GUI processes.

Metadata lives in ``<directory>/sessions.json`` (no secrets); the secret part of each session (secret key
and session token, one JSON string) lives in the keyring under ``session:<cache_key>``. Writers serialise on
an exclusive ``flock`` of ``<directory>/sessions.lock`` and replace the index atomically, so readers never
need the lock; a reader that sees the index and the keyring disagree (a writer in between) treats it as a
miss.

Write-behind: ``store``/``forget`` update this process's in-memory layer at once (its lookups, ``peek`` and
``sessions`` see the change immediately) and a background thread makes them durable a few milliseconds later,
many stores in one index rewrite (:mod:`stsdesk.core.cache_pending`). Other processes see a session once it
is written; ``flush()`` waits for that (the CLI calls it before exiting, the GUI on quit, atexit as a last
resort).

On the fast ``stsdesk credential-process`` path: no boto3/botocore, and keyring only on an actual secret read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from stsdesk.core.cache_entry import CachedSession as CachedSession  # re-exported: its old home
from stsdesk.core.cache_index import (
    INDEX_NAME,
    INDEX_VERSION,
    fast_session,
    opt_str,
    parse_time,
    read_raw_index,
    secret_fields,
)
from stsdesk.core.cache_pending import Batch, PendingWrites, Stored
from stsdesk.core.errors import KeyringUnavailable
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.secrets import DEFAULT_SERVICE, SecretStore, session_key

log = logging.getLogger(__name__)

LOCK_NAME = "sessions.lock"
_VERSION = INDEX_VERSION


# -- (de)serialisation -----------------------------------------------------------------------------


_time = parse_time
_opt_str = opt_str


def _entry_to_json(meta: CachedSession, region: str | None, owner: int | None) -> dict[str, Any]:
    return {
        "profile": meta.profile,
        "access_key_id": meta.access_key_id,
        "kind": meta.kind.value,
        "expiration": meta.expiration.isoformat(),
        "identity_arn": meta.identity_arn,
        "mfa_serial": meta.mfa_serial,
        "mfa_authenticated_at": meta.mfa_authenticated_at.isoformat() if meta.mfa_authenticated_at else None,
        "source_fingerprint": meta.source_fingerprint,
        "created": meta.created.isoformat(),
        "region": region,
        "memory_only": meta.memory_only,
        "owner_pid": owner,
    }


def _entry_from_json(cache_key: str, raw: Any) -> CachedSession:
    """Parse one index entry; raises ValueError/KeyError/TypeError when it is corrupt."""
    if not isinstance(raw, dict):
        raise ValueError("entry is not an object")
    mfa_at = raw.get("mfa_authenticated_at")
    return CachedSession(
        cache_key=cache_key,
        profile=str(raw["profile"]),
        access_key_id=str(raw["access_key_id"]),
        kind=CredentialKind(raw["kind"]),
        expiration=_time(raw["expiration"]),
        identity_arn=_opt_str(raw.get("identity_arn")),
        mfa_serial=_opt_str(raw.get("mfa_serial")),
        mfa_authenticated_at=_time(mfa_at) if mfa_at is not None else None,
        source_fingerprint=str(raw["source_fingerprint"]),
        created=_time(raw["created"]),
        memory_only=bool(raw.get("memory_only", False)),
    )


_read_raw_index = read_raw_index


def _secret_json(creds: Credentials) -> str:
    return json.dumps(
        {
            "access_key_id": creds.access_key_id,
            "secret_access_key": creds.secret_access_key,
            "session_token": creds.session_token,
        }
    )


_secret_fields = secret_fields


def _credentials(meta: CachedSession, fields: tuple[str, str, str | None], region: Any) -> Credentials | None:
    """Credentials from an index entry and its secret; None when they do not belong together."""
    key_id, secret_key, token = fields
    if key_id != meta.access_key_id:
        return None
    return Credentials(key_id, secret_key, token, meta.expiration, meta.kind, _opt_str(region))


def _usable(meta: CachedSession, min_ttl: float) -> bool:
    return meta.seconds_left() > min_ttl


# -- files -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created 0600) across processes and threads."""
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
        os.close(fd)  # closing the descriptor releases the lock on every platform


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` (mode 0600) via temp file and os.replace: readers see old or new.

    No fsync: the index is a regenerable cache (a crash can at worst lose or empty it, which the readers treat
    as misses), and an fsync per store cost more than the STS call it follows. Raises ``OSError`` when the
    directory is not writable or the disk is full (the old index stays intact).
    """
    from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

    atomic_write(path, payload, fsync=False)


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would terminate the process there; assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: exists, someone else's
        return True
    return True


# -- the cache -------------------------------------------------------------------------------------


class SessionCache:
    """Cached STS sessions of this user, shared by every stsdesk process that uses ``directory``.

    Cache keys are the broker's (``profile:<name>``, ``mfa:<identity>:<serial>``) and opaque here.
    """

    def __init__(self, directory: Path, secrets: SecretStore) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._secrets = secrets
        self._index = self.directory / INDEX_NAME
        self._lockfile = self.directory / LOCK_NAME
        # _state guards _raw/_stamp and is held only briefly, so readers never wait on a keyring prompt.
        self._state = threading.Lock()
        self._writing = threading.Lock()  # one writer per instance; other processes are kept out by flock
        self._stamp: tuple[int, int, int, int] | None = None
        self._raw: dict[str, Any] = {}
        # How many times this instance found the index changed by someone else (see changes_elsewhere).
        self._elsewhere = 0
        self._callbacks: list[Callable[[], None]] = []
        self._pending = PendingWrites(self._write_batch, "stsdesk-session-cache-writer")

    # -- index state -------------------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self._index)
        except OSError:
            return None
        # os.replace gives a new inode; mtime alone can be too coarse on some file systems.
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def _current(self) -> dict[str, Any]:
        """The index as last written by any process (re-read only when the file changed)."""
        with self._state:
            stamp = self._file_stamp()
            if stamp != self._stamp or stamp is None:
                raw = _read_raw_index(self._index) if stamp is not None else {}
                if raw != self._raw:
                    self._elsewhere += 1  # our own writes set _stamp and _raw: this is another process's
                self._raw, self._stamp = raw, stamp
            return self._raw

    def changes_elsewhere(self) -> int:
        """A count that grows whenever this instance finds the index changed by another process (read now when
        its file changed): equal before and after a look, only this instance wrote it meanwhile (a watcher of the
        index file need not look at every session again after this process's own writes)."""
        self._current()
        return self._elsewhere

    def _write(self, raw: dict[str, Any]) -> None:
        # No indent: json's C encoder only serves indent=None, and the writer thread holds the GIL meanwhile.
        payload = json.dumps({"version": _VERSION, "sessions": raw}, sort_keys=True).encode()
        _write_atomically(self._index, payload)
        with self._state:
            self._raw = raw
            self._stamp = self._file_stamp()

    @contextlib.contextmanager
    def _modify(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the index under the cross-process lock; the yielded dict is written back."""
        with self._writing, _exclusive_lock(self._lockfile):
            original = _read_raw_index(self._index)  # always fresh under the lock, whatever the stamp says
            with self._state:
                if original != self._raw:  # another process wrote since this one last read or wrote it
                    self._elsewhere += 1
            raw = dict(original)
            yield raw
            if raw != original:
                self._write(raw)

    def _parsed(self, cache_key: str, raw_entry: Any) -> CachedSession | None:
        try:
            return _entry_from_json(cache_key, raw_entry)
        except (ValueError, KeyError, TypeError):
            return None

    def _visible(self, cache_key: str, raw_entry: Any) -> CachedSession | None:
        """Parsed entry, hiding memory-only sessions whose owning process has exited."""
        meta = self._parsed(cache_key, raw_entry)
        if meta is None or not meta.memory_only:
            return meta
        owner = raw_entry.get("owner_pid")
        if owner == os.getpid() or (isinstance(owner, int) and _pid_alive(owner)):
            return meta
        return None

    def _notify(self) -> None:
        for callback in list(self._callbacks):
            callback()

    def _profiles(self) -> dict[str, str | None]:
        """Every cache key this process can see (index entries, corrupt ones too, under pending operations)
        with the profile it names."""
        layers = self._pending.layers()  # before the index: see PendingWrites.layers
        view = {
            key: entry.get("profile") if isinstance(entry, dict) else None
            for key, entry in self._current().items()
        }
        for batch in layers:
            if batch.clear_all:
                view.clear()
            for key, op in batch.ops.items():
                if op is None:
                    view.pop(key, None)
                else:
                    view[key] = op.meta.profile
        return view

    # -- public API --------------------------------------------------------------------------------

    def peek(self, cache_key: str) -> CachedSession | None:
        """Metadata of the session under ``cache_key`` (even expired ones); never touches the keyring."""
        known, op = self._pending.resolve(cache_key)
        if known:
            return op.meta if op is not None else None
        raw = self._current()
        return self._visible(cache_key, raw[cache_key]) if cache_key in raw else None

    def sessions(self) -> list[CachedSession]:
        """Metadata of every cached session, soonest expiry first; no keyring access (for lists, GUI)."""
        layers = self._pending.layers()  # before the index: see PendingWrites.layers
        raw = self._current()
        found = {key: meta for key, entry in raw.items() if (meta := self._visible(key, entry)) is not None}
        for batch in layers:
            if batch.clear_all:
                found.clear()
            for key, op in batch.ops.items():
                if op is None:
                    found.pop(key, None)
                else:
                    found[key] = op.meta
        return sorted(found.values(), key=lambda meta: (meta.expiration, meta.cache_key))

    def lookup(self, cache_key: str, min_ttl: float) -> tuple[CachedSession, Credentials] | None:
        """The session and its credentials when it has more than ``min_ttl`` seconds left and its secret is
        readable; otherwise None. Corrupt entries (bad metadata or bad secret JSON) are dropped.

        A session this process stored and that is not written yet is answered from memory (no disk, no
        keyring).
        """
        known, op = self._pending.resolve(cache_key)
        if known:
            return (op.meta, op.creds) if op is not None and _usable(op.meta, min_ttl) else None
        for _attempt in range(2):  # a second look when another process was mid-write
            raw_entry = self._current().get(cache_key)
            if raw_entry is None:
                return None
            meta = self._parsed(cache_key, raw_entry)
            if meta is None:
                self._drop_if_unchanged(cache_key, raw_entry, delete_secret=True)
                return None
            if not _usable(meta, min_ttl):
                return None
            key = session_key(cache_key)
            if meta.memory_only and not self._secrets.in_memory(key):
                return None  # another process's session: its secret never reached the keyring
            secret = self._secrets.get(key)
            if secret is None:
                if self._secrets.persistent and not meta.memory_only:
                    self._drop_if_unchanged(cache_key, raw_entry, delete_secret=False)  # removed from keyring
                return None
            fields = _secret_fields(secret)
            if fields is None:
                self._drop_if_unchanged(cache_key, raw_entry, delete_secret=True)
                return None
            creds = _credentials(meta, fields, raw_entry.get("region"))
            if creds is not None:
                return meta, creds
            if self._current().get(cache_key) == raw_entry:
                return None  # the keyring holds another session's secret: a writer is mid-way, or it is stale
        return None

    def store(self, meta: CachedSession, creds: Credentials) -> None:
        """Cache ``creds`` under ``meta.cache_key``, replacing any previous session there.

        Returns at once: this process sees the session immediately, other processes once the background
        writer has put the secret in the keyring and the entry in the index (see :meth:`flush`). When the
        keyring refuses the secret (see ``SecretStore.warning``) it is kept in this process's memory and the
        entry is marked memory-only; when the index cannot be written the session stays a miss for other
        processes and is dropped here too (logged). Raises ``ValueError`` when ``meta`` and ``creds``
        describe different keys.
        """
        if meta.access_key_id != creds.access_key_id:
            raise ValueError("session metadata and credentials have different access key ids")
        self._pending.put(meta.cache_key, Stored(meta, creds))
        self._notify()

    def forget(self, cache_key: str | None = None) -> list[str]:
        """Drop one cached session (or all with None); returns the cache keys dropped.

        Like :meth:`store`, takes effect in this process at once and on disk a moment later, after the
        stores made before it. A keyring that refuses the deletion (locked) leaves an orphaned secret that
        nothing will use.
        """
        present = self._profiles()
        if cache_key is None:
            dropped = sorted(present)
            self._pending.clear_all()  # also what other processes stored since: the index as it is then
        else:
            dropped = [cache_key] if cache_key in present else []
            if dropped:
                self._pending.put(cache_key, None)
        if dropped:
            self._notify()
        return dropped

    def forget_profile(self, profile: str) -> list[str]:
        """Drop every cached session whose metadata names ``profile``; returns the cache keys dropped.

        Takes effect as :meth:`forget` does.
        """
        dropped = sorted(key for key, name in self._profiles().items() if name == profile)
        for key in dropped:
            self._pending.put(key, None)
        if dropped:
            self._notify()
        return dropped

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait (up to ``timeout`` seconds; None: no limit) until the stores and forgets made before this
        call are durable, so that other processes see them.

        Returns False when the time ran out or the last write failed (the index could not be written: the
        reason was logged); a keyring that refused a secret is not a failure (the entry is memory-only).
        """
        return self._pending.flush(timeout)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every store/forget made through this instance (not other processes')."""
        self._callbacks.append(callback)

    # -- the durable side (writer thread) ----------------------------------------------------------

    def _write_batch(self, batch: Batch) -> bool:
        """Make ``batch`` durable under the cross-process lock: secrets to the keyring, then one index
        rewrite merged with what other processes wrote. False (logged) when the index cannot be written."""
        try:
            with self._modify() as raw:
                gone = set(raw) if batch.clear_all else set()
                gone.update(key for key, op in batch.ops.items() if op is None and key in raw)
                for key in gone:
                    del raw[key]
                # a key forgotten by clear_all and stored again keeps the secret it is about to get
                self._delete_secrets(sorted(key for key in gone if batch.ops.get(key) is None))
                for key, op in batch.ops.items():
                    if op is not None:
                        raw[key] = self._persist(op)
            return True
        except OSError as exc:  # an unwritable index costs other processes a miss, not this answer
            log.warning("cannot write the session cache in %s: %s", self.directory, exc.strerror or exc)
        except Exception:  # a bug: keep the writer thread alive and say so
            log.exception("writing the session cache in %s failed", self.directory)
        return False

    def _persist(self, op: Stored) -> dict[str, Any]:
        """Put the secret of ``op`` in the keyring (or this process's memory) and return its index entry."""
        try:
            self._secrets.set(session_key(op.meta.cache_key), _secret_json(op.creds))
            memory_only = False
        except KeyringUnavailable:
            memory_only = True
        entry = replace(op.meta, memory_only=memory_only)
        return _entry_to_json(entry, op.creds.region, os.getpid() if memory_only else None)

    # -- helpers -----------------------------------------------------------------------------------

    def _delete_secrets(self, cache_keys: list[str]) -> None:
        for key in cache_keys:
            with contextlib.suppress(KeyringUnavailable):
                self._secrets.delete(session_key(key))

    def _drop_if_unchanged(self, cache_key: str, raw_entry: Any, *, delete_secret: bool) -> None:
        """Remove a bad entry unless another process replaced it since we looked."""
        with self._modify() as raw:
            if raw.get(cache_key) != raw_entry:
                return
            del raw[cache_key]
            if delete_secret:
                self._delete_secrets([cache_key])
        self._notify()


def fast_lookup(
    directory: Path, cache_key: str, min_ttl: float, fingerprint: str, *, service: str = DEFAULT_SERVICE
) -> Credentials | None:
    """Credentials for ``credential-process`` from the index and one secret read, or None on any doubt.

    :func:`stsdesk.core.cache_index.fast_session` (the import-light reader the CLI uses) as ``Credentials``;
    see there for what counts as doubt. Never raises for those, never takes the lock.
    """
    found = fast_session(directory, cache_key, min_ttl, fingerprint, service=service)
    if found is None:
        return None
    return Credentials(
        found.access_key_id,
        found.secret_access_key,
        found.session_token,
        found.expiration,
        CredentialKind(found.kind),
        found.region,
    )
