"""Garbage collection on the GUI thread only.

CPython collects cycles in whichever thread happens to allocate. In stsdesk that is often an executor thread
running boto3; if a cycle holding a QObject (a dialog, a timer) is collected there, Qt destroys the object on the
wrong thread ("QObject::~QObject: Timers cannot be stopped from another thread") and can crash. The usual remedy
for Python Qt applications: switch automatic collection off and run it from a QTimer on the GUI thread, using
the same generation thresholds the interpreter would have used.

CPython does not run a full (generation 2) collection every time its threshold is passed: it waits until the
objects awaiting one are a quarter of all long-lived objects, so a large heap is not scanned over and over. That
counter is not visible from Python, so full collections here are rate-limited instead, and ``freeze()`` moves
what exists once the app has loaded (modules, botocore's models, the profile tree) out of the collector's sight.

A full collection stalls the GUI thread for as long as it scans (26 ms on a quiet machine, ~100 ms on a busy one,
with 40,000 objects allocated since load): one that falls due while the app is busy (the last check collected a
younger generation, or gen 0 is past its threshold now: requests are being answered) waits for a quiet check,
at most FULL_COLLECTION_MAX_DEFER_S, so it does not land in the middle of a burst of requests.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

from stsdesk.gui.qtfix import set_property

INTERVAL_MS = 500  # while collecting (the app is allocating: requests are being answered)
QUIET_INTERVAL_MS = 1000  # while nothing is collected: whole seconds, so the wake-up is the 1 Hz countdown's own
FULL_COLLECTION_EVERY_S = 30.0
FULL_COLLECTION_MAX_DEFER_S = 120.0  # a due full collection waits for a quiet check at most this long

_running: list[GuiThreadCollector] = []  # the started collector (hold() reaches it)


def hold(seconds: float) -> None:
    """Requests are starting: tell the running collector (if any) to keep a due full collection back for
    ``seconds`` and until the loop is quiet again (see :meth:`GuiThreadCollector.hold`)."""
    for collector in _running:
        collector.hold(seconds)


def freeze_when_quiet() -> None:
    """A new long-lived heap was built (a config reload's tree): the running collector freezes it at its next
    quiet check (see :meth:`GuiThreadCollector.freeze_when_quiet`)."""
    for collector in _running:
        collector.freeze_when_quiet()


class GuiThreadCollector(QObject):
    """While alive and started, automatic gc is off and collection runs on this object's (GUI) thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._interval = interval_ms
        self._quiet_interval = max(interval_ms, QUIET_INTERVAL_MS)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._coarse = True  # the timer's kind: CoarseTimer (QTimer's default), else VeryCoarseTimer
        self._timer.timeout.connect(self.check)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._last_full = time.monotonic()
        self._due_since: float | None = None  # when a full collection fell due and was held back
        self._busy = False  # the last check collected a younger generation
        self._hold_until = 0.0  # no full collection before this (monotonic): requests were started
        self._freeze_due = False  # freeze the heap at the next quiet check (a reload built a new tree)
        self._paced_busy: bool | None = None  # the pace last set on the running timer (None: not yet)

    def start(self) -> None:
        gc.disable()
        self._timer.start()
        self._paced_busy = None
        _running.append(self)

    def stop(self) -> None:
        self._timer.stop()
        if self in _running:
            _running.remove(self)
        if self._was_enabled:
            gc.enable()

    def freeze(self) -> None:
        """Collect once, then exempt every object alive now from later collections (gc.freeze)."""
        gc.collect()
        gc.freeze()
        self._last_full = time.monotonic()

    def freeze_when_quiet(self) -> None:
        """Freeze the heap (as :meth:`freeze`) at the next quiet check: after a config reload the new profile
        tree would otherwise be scanned by every full collection (~100,000 objects at 5,000 profiles)."""
        self._freeze_due = True

    def hold(self, seconds: float) -> None:
        """Requests are starting (a burst of assumes): a due full collection is held back until ``seconds`` from
        now and then until a quiet check, so it runs after the burst instead of stalling it (at most
        FULL_COLLECTION_MAX_DEFER_S late, as always); young generations are checked at the busy pace."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)
        self._busy = True
        self._pace(busy=True)

    def _pace(self, busy: bool) -> None:
        """Check every INTERVAL_MS while busy; every QUIET_INTERVAL_MS on whole seconds while quiet, so an idle
        app wakes once a second for its countdown and its collector together (a wake-up costs ~0.2 ms).

        hold() calls this twice per request (200 in one turn of the loop in a burst): when the pace is already
        the one wanted, nothing is asked of the timer."""
        if busy == self._paced_busy and self._timer.isActive():
            return
        interval = self._interval if busy else self._quiet_interval
        if self._timer.isActive():
            if self._timer.interval() != interval or self._coarse != busy:
                # The kind is kept here and set by name (qtfix.set_property): the first check may run before the
                # rows are painted, and Qt.TimerType (or timerType()'s answer) builds PySide6's whole Qt namespace.
                set_property(self._timer, "timerType", "CoarseTimer" if busy else "VeryCoarseTimer")
                self._coarse = busy
                self._timer.start(interval)
            self._paced_busy = busy

    def check(self) -> int:
        """Collect the oldest generation due (a full one at most every FULL_COLLECTION_EVERY_S, and only at a
        quiet check after any hold, unless it has waited FULL_COLLECTION_MAX_DEFER_S); returns the generation
        collected or -1."""
        generation = self._collect()
        self._pace(busy=generation >= 0 or self._busy)
        return generation

    def _collect(self) -> int:
        counts = gc.get_count()
        now = time.monotonic()
        quiet = not self._busy and counts[0] <= self._thresholds[0] and now >= self._hold_until
        if self._freeze_due and quiet:
            self._freeze_due, self._due_since = False, None
            self.freeze()
            return 2
        if counts[2] > self._thresholds[2] and now - self._last_full >= FULL_COLLECTION_EVERY_S:
            if self._due_since is None:
                self._due_since = now
            if quiet or now - self._due_since >= FULL_COLLECTION_MAX_DEFER_S:
                gc.collect(2)
                self._last_full, self._due_since, self._busy = now, None, False
                return 2
        for generation in (1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                self._busy = True
                return generation
        self._busy = now < self._hold_until
        return -1
