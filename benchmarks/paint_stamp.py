"""Stop the clock once a view has painted rows: shared by the "launch to profiles visible" worker and its peer so
that both stop at the same moment. Imports only PySide6.QtCore (the peer must stay a bare PySide6 program).

The moment: the first paint event of the view's viewport while its model has rows; the stamp is taken by a
zero-delay timer queued from that event, so it runs once the paint has finished. The stamp is the wall clock
(time.time()), comparable with the parent's clock read just before it started the process. Then the process
prints ``{"painted_at": t, "rows": n}`` and leaves at once (os._exit: teardown is not part of the figure).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer


class RowsPainted(QObject):
    """Installed on ``view.viewport()``; calls ``then(rows)`` (default: print and exit) after the first paint of
    the viewport while ``view.model()`` has at least one row."""

    def __init__(self, view: Any, then: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self._view = view
        self._then = then or print_and_exit
        self._armed = True
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._armed and event.type() == QEvent.Type.Paint:
            model = self._view.model()
            rows = model.rowCount() if model is not None else 0
            if rows:
                self._armed = False
                QTimer.singleShot(0, lambda: self._then(rows))
        return False


def print_and_exit(rows: int, extra: dict[str, Any] | None = None, painted_at: float | None = None) -> None:
    """Print the stamp (now, or ``painted_at`` taken earlier) with ``extra`` and leave the process at once."""
    painted_at = time.time() if painted_at is None else painted_at
    sys.stdout.write(json.dumps({"painted_at": painted_at, "rows": rows, **(extra or {})}) + "\n")
    sys.stdout.flush()
    os._exit(0)
