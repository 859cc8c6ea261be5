"""Garbage collection on the GUI thread only.

CPython collects cycles in whichever thread happens to allocate. In stsdesk that is often an executor thread
running boto3; if a cycle holding a QObject (a dialog, a timer) is collected there, Qt destroys the object on the
wrong thread ("QObject::~QObject: Timers cannot be stopped from another thread") and can crash. The usual remedy
for Python Qt applications: switch automatic collection off and run it from a QTimer on the GUI thread, using
the same generation thresholds the interpreter would have used.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """While alive and started, automatic gc is off and collection runs on this object's (GUI) thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def check(self) -> int:
        """Collect the oldest generation whose count passed its threshold; returns the generation or -1."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                return generation
        return -1
