"""The random pool behind temporary keys and sealing nonces."""

from __future__ import annotations

import os

from stsdesk.emulator import randpool


def test_pool_hands_out_each_byte_once_across_refills() -> None:
    seen: set[bytes] = set()
    total = 0
    for _ in range(3 * randpool.POOL_BYTES // 46 + 5):  # several refills, draws straddling a block's end
        draw = randpool.take(46)
        assert len(draw) == 46
        seen.add(draw)
        total += 1
    assert len(seen) == total
    assert len(randpool.take(randpool.POOL_BYTES + 1)) == randpool.POOL_BYTES + 1
    assert randpool.take(0) == b""


def test_forked_child_does_not_reuse_the_parents_pool() -> None:
    randpool.take(1)  # the parent's pool holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, randpool.take(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != randpool.take(32)
