"""Write-behind for the session cache: the in-memory layer of pending operations and its writer thread.

``SessionCache.store`` and ``forget`` put an operation here and return at once; one background thread per
cache makes them durable (keyring secret + index entry) a few milliseconds later. Operations on the same
cache key coalesce (the last one wins), so a burst of stores costs one index rewrite. Until an operation is
durable, this process's lookups are answered from here; other processes see it once it is written.

Why a thread of our own and not an asyncio executor: the cache is used from the GUI's event loop, from
``asyncio.run`` in the CLI and from plain threads alike, and pending writes must survive the loop that made
them (the CLI's loop is gone before the process flushes at exit).

The writer is started by the first operation and then sleeps on a condition between batches (no CPU while
idle). It is not restarted per burst: ``Thread.start()`` waits until the new thread runs, and while a burst's
boto3 threads hold the GIL that took several switch intervals on the caller's (the GUI loop's) thread. The
thread holds only a weak reference to its ``PendingWrites``, so a cache that is dropped lets it end.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from stsdesk.core.cache_entry import CachedSession
from stsdesk.core.model import Credentials

# An idle writer looks this often whether its cache still exists: the cache being dropped wakes it at once;
# this only covers the rare drop during the instant before it sleeps.
IDLE_CHECK_SECONDS = 60.0
# The writer waits this long after the first pending operation, so that a burst (the GUI refreshing many
# profiles, a script assuming in a loop) costs one index rewrite and one writer wake-up; flush() cuts it short.
COALESCE_SECONDS = 0.005
# How long the interpreter's exit waits for pending writes (a keyring that hangs must not hang the exit).
EXIT_FLUSH_SECONDS = 10.0


@dataclass(frozen=True)
class Stored:
    """A pending store: the session's metadata and its credentials (the secret stays in memory only)."""

    meta: CachedSession
    creds: Credentials


@dataclass
class Batch:
    """Operations not yet durable, coalesced per cache key (``None``: forget that key).

    ``clear_all`` (forget everything) applies before ``ops``: a forget-all drops the operations before it.
    """

    clear_all: bool = False
    ops: dict[str, Stored | None] = field(default_factory=dict)

    def empty(self) -> bool:
        return not self.clear_all and not self.ops

    def resolve(self, cache_key: str) -> tuple[bool, Stored | None]:
        """(True, what this batch says about ``cache_key``) or (False, None) when it says nothing."""
        if cache_key in self.ops:
            return True, self.ops[cache_key]
        return (True, None) if self.clear_all else (False, None)


class PendingWrites:
    """The pending operations of one cache and the thread that hands them to ``write``.

    ``write(batch)`` runs on the writer thread, one batch at a time, under no lock of ours; it returns
    whether the batch became durable and must not raise (an exception is counted as a failure). While it
    runs, the batch stays visible to :meth:`resolve` and :meth:`layers`, so readers never see a gap.
    """

    def __init__(self, write: Callable[[Batch], bool], name: str) -> None:
        self._write = write
        self._name = name
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the writer waits here for operations
        self._written = threading.Condition(self._lock)  # flush() waits here for the writer
        self._pending = Batch()
        self._inflight: Batch | None = None
        self._seq = 0  # operations issued
        self._pending_seq = 0  # the last operation in _pending
        self._done = 0  # every operation up to this one has been handed to write()
        self._last_ok = True
        self._urgent = False  # a flush() is waiting: write without the coalescing delay
        self._thread: threading.Thread | None = None
        _LIVE.add(self)
        weakref.finalize(self, _wake, self._lock, self._work).atexit = False  # dropped: its idle writer ends

    # -- producers ------------------------------------------------------------------------------------

    def put(self, cache_key: str, op: Stored | None) -> None:
        """Queue a store (``Stored``) or a forget (``None``) of ``cache_key``; replaces a queued one."""
        with self._lock:
            self._pending.ops[cache_key] = op
            self._issued()

    def clear_all(self) -> None:
        """Queue "forget every session" (of every process); drops the operations queued before it."""
        with self._lock:
            self._pending = Batch(clear_all=True)
            self._issued()

    def _issued(self) -> None:  # with self._lock held
        self._seq += 1
        was_idle = self._pending_seq <= self._done
        self._pending_seq = self._seq
        _UNWRITTEN.add(self)  # kept alive until written, even if its cache is dropped meanwhile
        if self._thread is None:
            self._start_writer()
        elif was_idle:
            self._work.notify()  # otherwise the writer is awake already, or will look again after its write

    def _start_writer(self) -> None:  # with self._lock held; once per process (and once after a fork)
        thread = threading.Thread(
            target=_writer, args=(weakref.ref(self), self._lock, self._work), name=self._name, daemon=True
        )
        self._thread = thread
        thread.start()  # the writer waits for self._lock, so it cannot run before we return

    def _forked(self) -> None:
        """In a child made by fork(): the parent's writer is not here and its lock may have been held. What was
        in flight there is pending here, so a flush() in the child does not wait for a write that never comes."""
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._written = threading.Condition(self._lock)
        self._thread = None
        inflight, self._inflight = self._inflight, None
        if inflight is not None and not self._pending.clear_all:
            self._pending = Batch(inflight.clear_all, {**inflight.ops, **self._pending.ops})
        weakref.finalize(self, _wake, self._lock, self._work).atexit = False  # the next put or flush starts one

    # -- readers --------------------------------------------------------------------------------------

    def resolve(self, cache_key: str) -> tuple[bool, Stored | None]:
        """What the pending operations say about ``cache_key``: (True, Stored or None) or (False, None)."""
        with self._lock:
            for batch in (self._pending, self._inflight):
                if batch is not None:
                    known, op = batch.resolve(cache_key)
                    if known:
                        return known, op
        return False, None

    def layers(self) -> list[Batch]:
        """Snapshots of the pending operations, oldest first, to lay over the index as read afterwards.

        Take the snapshot before reading the index: a batch written in between is then in both, never in
        neither.
        """
        with self._lock:
            batches = [self._inflight] if self._inflight is not None else []
            if not self._pending.empty():
                batches.append(Batch(self._pending.clear_all, dict(self._pending.ops)))
            return batches

    def idle(self) -> bool:
        """True when nothing is waiting to be written."""
        with self._lock:
            return self._done >= self._seq

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every operation queued before this call has been written; ``timeout`` in seconds.

        Returns False when the time ran out or the last write failed (it was logged); True otherwise.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._seq
            if self._done < target:
                self._urgent = True
                if self._thread is None:  # only in a fork()ed child that inherited pending operations
                    self._start_writer()
                self._work.notify()
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._written.wait(remaining)
            return self._last_ok

    # -- the writer thread ----------------------------------------------------------------------------

    def _next_batch(self) -> tuple[Batch, int] | None:
        """(batch, its last operation) to write, after the coalescing delay; None when nothing is pending.
        Called by the writer with self._lock held."""
        if self._pending.empty():
            return None
        if not self._urgent:
            self._work.wait(COALESCE_SECONDS)  # returns early when a flush() asks
        batch, seq = self._pending, self._pending_seq
        self._pending, self._inflight, self._urgent = Batch(), batch, False
        return batch, seq

    def _write_one(self, batch: Batch, seq: int) -> None:
        """Hand ``batch`` to write() (no lock held) and tell flush() waiters."""
        try:
            ok = self._write(batch)
        except Exception:  # write() promises not to raise; a bug there must not kill the writer
            ok = False
        with self._lock:
            self._inflight = None
            self._done, self._last_ok = seq, ok
            if seq >= self._seq:
                _UNWRITTEN.discard(self)
            self._written.notify_all()


_LIVE: weakref.WeakSet[PendingWrites] = weakref.WeakSet()  # for atexit and fork()
_UNWRITTEN: set[PendingWrites] = set()  # those with operations not yet written: never dropped before that


def _writer(ref: weakref.ref[PendingWrites], lock: threading.Lock, work: threading.Condition) -> None:
    """The writer thread of the ``PendingWrites`` behind ``ref``: sleeps on ``work`` while nothing is pending,
    ends when that object is gone (it cannot be while operations are pending: see ``_UNWRITTEN``)."""
    while True:
        with lock:
            while True:
                pending = ref()
                if pending is None:
                    return
                job = pending._next_batch()
                if job is not None:
                    break
                del pending  # only the weak reference while asleep, so the cache can be dropped
                work.wait(IDLE_CHECK_SECONDS)
        pending._write_one(*job)
        del pending, job


def _wake(lock: threading.Lock, work: threading.Condition) -> None:
    """A ``PendingWrites`` was dropped: wake its idle writer so that it ends. Never blocks: this may run in the
    writer itself, holding ``lock`` (a collection there); that writer then ends at its next look, at once or
    after IDLE_CHECK_SECONDS."""
    if lock.acquire(blocking=False):
        try:
            work.notify()
        finally:
            lock.release()


def _flush_all_at_exit() -> None:
    """At interpreter exit: make what every cache queued durable (at most EXIT_FLUSH_SECONDS each)."""
    for pending in list(_LIVE):
        if not pending.idle():
            pending.flush(EXIT_FLUSH_SECONDS)


def _after_fork_in_child() -> None:
    for pending in list(_LIVE):
        pending._forked()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
