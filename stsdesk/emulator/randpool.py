"""Random bytes for per-request material (temporary keys, sealing nonces), drawn from the system's randomness in
blocks.

Each draw is ``os.urandom`` output, like ``secrets.token_bytes``, and every byte is handed out once: the pool only
moves the system call off the usual request (one getrandom call fills the pool for about seventy issued sessions
instead of two calls per session). A forked child starts with an empty pool, so parent and child never share a
byte.
"""

from __future__ import annotations

import os
import threading

POOL_BYTES = 4096  # a draw larger than this goes straight to os.urandom

_lock = threading.Lock()
_pool = b""
_offset = 0


def take(count: int) -> bytes:
    """``count`` fresh random bytes (0 <= count); never returns a byte it has returned before."""
    global _pool, _offset
    if count > POOL_BYTES:
        return os.urandom(count)
    with _lock:
        start = _offset
        end = start + count
        if end > len(_pool):
            _pool = os.urandom(POOL_BYTES)  # the unused tail of the old block is dropped, never reused
            start, end = 0, count
        _offset = end
        return _pool[start:end]


def _forget() -> None:
    global _pool, _offset
    _pool, _offset = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
