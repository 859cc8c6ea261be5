"""Row changes of the profile tree announced once per turn of the event loop, in runs of adjacent rows.

A burst of 200 assumes marks 200 rows busy in one turn, and each answer changes its row two or three times (busy
off, session, error): announced one by one, that was ~600 ``dataChanged`` a burst, each mapped through the filter
proxy and the views on the GUI thread while the answers were arriving. Here the store is changed at once (what a
row shows is always current) and the rows changed during one turn of the loop are announced together, at the
start of the next: one signal per run of adjacent sibling rows. Views repaint once per turn anyway, so nothing
the user sees changes.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QObject, QTimer

from stsdesk.gui.tree_model import NAME, TIME_LEFT, ProfileTreeModel


class RowBatch(QObject):
    """``set_busy``/``set_session``/``set_error`` as :class:`ProfileTreeModel`'s, announced per turn."""

    def __init__(self, model: ProfileTreeModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._pending: set[int] = set()  # node ids changed since the last announcement
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        model.modelAboutToBeReset.connect(self._forget)

    def _forget(self) -> None:
        """New rows replace these: the views repaint them all anyway."""
        self._pending = set()
        self._timer.stop()

    def set_busy(self, name: str, busy: bool) -> None:
        """Show ``name`` as working (an STS call in flight) or not."""
        self._mark(self._model.store.set_busy(name, busy))

    def set_session(self, name: str, expiration: datetime | None) -> None:
        """Show ``name``'s session expiry (None: no session)."""
        self._mark(self._model.store.set_expiry(name, expiration.timestamp() if expiration is not None else None))

    def set_error(self, name: str, error: str | None) -> None:
        """Show ``name``'s last error (None: clear it)."""
        self._mark(self._model.store.set_error(name, error))

    def _mark(self, node_id: int | None) -> None:
        if node_id is None:
            return
        self._pending.add(node_id)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Announce the rows changed since the last announcement now (the timer does it at the next turn)."""
        self._timer.stop()
        pending, self._pending = self._pending, set()
        nodes = self._model.store.nodes
        by_parent: dict[int, list[int]] = {}
        for node_id in pending:
            if 0 < node_id < len(nodes):
                by_parent.setdefault(nodes[node_id].parent, []).append(node_id)
        model = self._model
        for ids in by_parent.values():
            ids.sort(key=lambda node_id: nodes[node_id].row)
            first = last = ids[0]
            for node_id in [*ids[1:], 0]:
                if node_id and nodes[node_id].row == nodes[last].row + 1:
                    last = node_id
                    continue
                model.dataChanged.emit(model.index_of_node(first, NAME), model.index_of_node(last, TIME_LEFT))
                first = last = node_id
