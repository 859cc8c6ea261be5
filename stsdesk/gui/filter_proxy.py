"""The filter over the profile tree: a case-insensitive substring on name, kind, account and ARNs."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from stsdesk.gui.tree_model import ProfileTreeModel


class ProfileFilterProxy(QSortFilterProxyModel):
    """Case-insensitive substring filter on name, kind, account and ARNs; ancestors of a match stay visible.

    Matching is done once per keystroke over the model's precomputed lower-case texts (a plain Python loop,
    ~1 ms for 5,000 profiles); ``filterAcceptsRow`` is then a set lookup. Qt's own recursive filtering would
    call back into Python several times per row, which is too slow at 5,000 rows. The proxy does not
    re-filter on ``dataChanged`` (the countdown would otherwise re-filter every second).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self._visible: set[int] | None = None
        self._text = ""
        self._source: ProfileTreeModel | None = None  # filterAcceptsRow then needs no isinstance per row

    def filter_text(self) -> str:
        """The text rows are filtered on ("" shows every row)."""
        return self._text

    def set_filter_text(self, text: str) -> None:
        """Show only rows matching ``text`` (stripped) and their ancestors."""
        text = text.strip()
        if text == self._text:
            return
        self._text = text
        model = self.sourceModel()
        self._begin_change()
        self._visible = model.matching(text) if isinstance(model, ProfileTreeModel) and text else None
        self._end_change()

    def setSourceModel(self, model: Any) -> None:
        super().setSourceModel(model)
        if isinstance(model, ProfileTreeModel):
            self._source = model
            model.modelReset.connect(self._refilter)

    def _refilter(self) -> None:
        model = self.sourceModel()
        if self._text and isinstance(model, ProfileTreeModel):
            self._begin_change()
            self._visible = model.matching(self._text)
            self._end_change()

    # Qt >= 6.10 replaced invalidateRowsFilter (now deprecated) with begin/endFilterChange.
    def _begin_change(self) -> None:
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()

    def _end_change(self) -> None:
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self._visible is None or self._source is None:
            return True
        return self._source.node_id(source_row, source_parent) in self._visible
