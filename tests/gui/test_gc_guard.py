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


def test_full_collections_are_rate_limited(qtbot: Any, monkeypatch: Any) -> None:
    # CPython itself avoids rescanning a big heap on every gen-2 threshold; the guard rate-limits instead.
    from stsdesk.gui import gc_guard

    collector = GuiThreadCollector()
    counts = iter([(0, 0, 11), (0, 0, 11), (0, 0, 11)])
    monkeypatch.setattr(gc_guard.gc, "get_count", lambda: next(counts))
    clock = iter([100.0, 99.0 + gc_guard.FULL_COLLECTION_EVERY_S, 100.0 + gc_guard.FULL_COLLECTION_EVERY_S])
    monkeypatch.setattr(gc_guard.time, "monotonic", lambda: next(clock))
    collector._last_full = 0.0
    assert collector.check() == 2  # due: last full collection long ago
    assert collector.check() == -1  # threshold passed again, but within the window
    assert collector.check() == 2  # window over


def test_a_due_full_collection_waits_for_a_quiet_check(monkeypatch: Any) -> None:
    # Busy (gen 0 past its threshold, or the last check collected): the full collection is held back, the
    # younger generation is collected; the first quiet check runs it; a long wait runs it anyway.
    from stsdesk.gui import gc_guard

    collector = GuiThreadCollector()
    threshold0 = gc.get_threshold()[0]
    counts = iter([(threshold0 + 1, 0, 11), (0, 0, 11), (0, 0, 11), (threshold0 + 1, 0, 11)])
    collected: list[int] = []
    monkeypatch.setattr(gc_guard.gc, "get_count", lambda: next(counts))
    monkeypatch.setattr(gc_guard.gc, "collect", lambda generation=2: collected.append(generation) or 0)
    clock = iter([100.0, 100.5, 101.0, 101.0 + gc_guard.FULL_COLLECTION_EVERY_S + gc_guard.FULL_COLLECTION_MAX_DEFER_S])
    monkeypatch.setattr(gc_guard.time, "monotonic", lambda: next(clock))
    collector._last_full = 0.0
    assert collector.check() == 0  # busy: gen 0 instead of the due full collection
    assert collector.check() == -1  # the check after a collection still counts as busy
    assert collector.check() == 2  # quiet: the full collection runs
    collector._last_full = 0.0
    collector._due_since = 101.0 + gc_guard.FULL_COLLECTION_EVERY_S  # held back since then
    assert collector.check() == 2  # busy, but it has waited FULL_COLLECTION_MAX_DEFER_S
    assert collected == [0, 2, 2]


def test_requests_hold_a_due_full_collection_until_after_them(monkeypatch: Any) -> None:
    # The controller calls gc_guard.hold() as requests start: a due full collection does not start inside the
    # burst even at a check that looks quiet; after the hold, the first quiet check runs it.
    from stsdesk.gui import gc_guard

    collector = GuiThreadCollector()
    collected: list[int] = []
    monkeypatch.setattr(gc_guard.gc, "get_count", lambda: (0, 0, 11))  # due, and gen 0 under its threshold
    monkeypatch.setattr(gc_guard.gc, "collect", lambda generation=2: collected.append(generation) or 0)
    clock = iter([100.0, 100.5, 101.9, 102.5, 103.0])
    monkeypatch.setattr(gc_guard.time, "monotonic", lambda: next(clock))
    collector._last_full = 0.0
    collector.hold(2.0)  # at 100.0: requests started
    assert collector.check() == -1  # 100.5: held
    assert collector.check() == -1  # 101.9: still held
    assert collector.check() == -1  # 102.5: hold over, but the last check was inside it: not yet quiet
    assert collector.check() == 2  # 103.0: quiet
    assert collected == [2]


def test_hold_reaches_only_a_started_collector_and_sets_the_busy_pace(qtbot: Any) -> None:
    from PySide6.QtCore import Qt

    from stsdesk.gui import gc_guard

    collector = GuiThreadCollector()
    gc_guard.hold(60.0)
    assert collector._hold_until == 0.0  # not started: not reached
    collector.start()
    try:
        qtbot.waitUntil(lambda: collector._timer.interval() == gc_guard.QUIET_INTERVAL_MS, timeout=5000)
        assert collector._timer.timerType() is Qt.TimerType.VeryCoarseTimer  # idle: on whole seconds
        gc_guard.hold(60.0)
        assert collector._hold_until > 0.0
        assert collector._timer.interval() == gc_guard.INTERVAL_MS  # requests: the busy pace again
        assert collector._timer.timerType() is Qt.TimerType.CoarseTimer
    finally:
        collector.stop()
    assert collector not in gc_guard._running


def test_a_reload_freezes_the_new_heap_at_a_quiet_check(monkeypatch: Any) -> None:
    from stsdesk.gui import gc_guard

    collector = GuiThreadCollector()
    threshold0 = gc.get_threshold()[0]
    calls: list[str] = []
    counts = iter([(threshold0 + 1, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)])
    monkeypatch.setattr(gc_guard.gc, "get_count", lambda: next(counts))
    monkeypatch.setattr(gc_guard.gc, "collect", lambda generation=2: calls.append(f"collect {generation}") or 0)
    monkeypatch.setattr(gc_guard.gc, "freeze", lambda: calls.append("freeze"))
    collector.freeze_when_quiet()
    assert collector.check() == 0  # busy: only gen 0
    assert collector.check() == -1  # the check after a collection is not quiet yet
    assert collector.check() == 2  # quiet: collect everything, then freeze what is left
    assert collector.check() == -1  # once
    assert calls == ["collect 0", "collect 2", "freeze"]
