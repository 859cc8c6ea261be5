"""The write-behind writer thread of the session cache (stsdesk.core.cache_pending): started once, asleep between
batches, never restarted per burst, gone with its cache, and still writing what a dropped cache or a fork()ed
child queued."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time

import pytest

from stsdesk.core import cache_pending
from stsdesk.core.cache_pending import Batch, PendingWrites


def _writers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_one_writer_serves_batches_far_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_pending, "IDLE_CHECK_SECONDS", 0.02)  # it wakes idle often: it must not end
    written: list[dict[str, object]] = []
    pending = PendingWrites(lambda batch: written.append(dict(batch.ops)) is None, "test-writer-apart")
    pending.put("a", None)
    assert pending.flush(5.0)
    first = _writers("test-writer-apart")
    assert len(first) == 1
    # Many idle checks after the batch, the same thread takes the next one (no start on the caller's thread).
    first[0].join(0.3)
    assert first[0].is_alive()
    pending.put("b", None)
    assert pending.flush(5.0)
    assert _writers("test-writer-apart") == first
    assert written == [{"a": None}, {"b": None}]


def test_writer_ends_when_its_cache_is_dropped() -> None:
    pending = PendingWrites(lambda batch: True, "test-writer-dropped")
    pending.put("a", None)
    assert pending.flush(5.0)
    (thread,) = _writers("test-writer-dropped")
    del pending
    gc.collect()
    thread.join(10.0)  # woken by the finalizer, not by IDLE_CHECK_SECONDS (60 s)
    assert not thread.is_alive()


def test_dropped_cache_still_writes_what_it_queued() -> None:
    release = threading.Event()
    written: list[Batch] = []

    def write(batch: Batch) -> bool:
        release.wait(10.0)
        written.append(batch)
        return True

    pending = PendingWrites(write, "test-writer-queued")
    pending.put("a", None)
    (thread,) = _writers("test-writer-queued")
    pending.put("b", None)  # queued behind the write in progress
    del pending
    gc.collect()
    release.set()
    deadline = time.monotonic() + 10.0
    while sum(len(b.ops) for b in written) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(key for b in written for key in b.ops) == ["a", "b"]
    gc.collect()
    thread.join(10.0)
    assert not thread.is_alive()


def test_failed_write_is_reported_and_the_writer_goes_on() -> None:
    outcomes = iter([False, True])
    pending = PendingWrites(lambda batch: next(outcomes), "test-writer-failed")
    pending.put("a", None)
    assert pending.flush(5.0) is False
    pending.put("b", None)
    assert pending.flush(5.0) is True
    assert len(_writers("test-writer-failed")) == 1


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork()")
def test_forked_child_writes_and_flushes_with_its_own_writer() -> None:
    read_fd, write_fd = os.pipe()
    pending = PendingWrites(lambda batch: os.write(write_fd, ",".join(sorted(batch.ops)).encode() + b";") > 0,
                            "test-writer-fork")
    pending.put("parent", None)
    assert pending.flush(5.0)
    pid = os.fork()
    if pid == 0:  # the child: the parent's writer is not here; a new one must be started for its stores
        code = 1
        try:
            pending.put("child", None)
            code = 0 if pending.flush(5.0) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        said = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert said == b"parent;child;"
