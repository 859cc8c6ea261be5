"""Garbage collection runs on the GUI thread only while the app runs (gui/gc_guard.py)."""

from __future__ import annotations

import gc
import threading
from typing import Any

from stsdesk.gui.gc_guard import GuiThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        _COLLECTED.append(threading.current_thread().name)


_COLLECTED: list[str] = []


def test_cycles_made_on_a_worker_thread_are_collected_on_the_gui_thread(qtbot: Any) -> None:
    collector = GuiThreadCollector(interval_ms=10)
    collector.start()
    try:
        assert not gc.isenabled()

        def worker() -> None:
            for _ in range(2000):  # far past gen-0's threshold: automatic gc would run on this thread
                _Cycle()

        thread = threading.Thread(target=worker, name="worker")
        thread.start()
        thread.join()
        assert "worker" not in _COLLECTED  # nothing was collected on the worker thread
        qtbot.waitUntil(lambda: len(_COLLECTED) >= 1000, timeout=5000)
        assert set(_COLLECTED) == {threading.main_thread().name}
    finally:
        collector.stop()
        _COLLECTED.clear()
    assert gc.isenabled()
