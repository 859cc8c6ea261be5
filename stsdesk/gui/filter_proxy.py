"""The filter over the profile tree: case-insensitive words on name, kind, account and ARNs, in any order."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from stsdesk.gui.tree_model import ProfileTreeModel


class ProfileFilterProxy(QSortFilterProxyModel):
    """Case-insensitive filter on name, kind, account and ARNs: a row matches when it contains every word of
    the filter, in any order ("prod admin" finds prod-admin and an Admin role in the prod account); ancestors
    of a match stay visible (for context: they are not matches themselves, see ``is_match``).

    Matching is done once per keystroke over the model's precomputed lower-case texts (a plain Python loop,
    ~1 ms for 5,000 profiles); ``filterAcceptsRow`` is then a set lookup. Qt's own recursive filtering would
    call back into Python several times per row, which is too slow at 5,000 rows. The proxy does not
    re-filter on ``dataChanged`` (the countdown would otherwise re-filter every second).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self._visible: set[int] | None = None
        self._matches: set[int] | None = None  # the rows that match themselves (not just their ancestors)
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
        self._begin_change()
        self._match(text)
        self._end_change()

    def _match(self, text: str) -> None:
        """Work out the rows matching every word of ``text`` and the rows shown (them and their ancestors)."""
        model = self._source
        words = text.lower().split()
        if model is None or not words:
            self._visible = self._matches = None
            return
        store = model.store
        nodes = store.nodes
        matches: set[int] = set()
        visible: set[int] = set()
        for node_id in range(1, len(nodes)):
            node = nodes[node_id]
            haystack = node.filter_text if node.filter_text is not None else store.filter_text(node)
            if all(word in haystack for word in words):
                matches.add(node_id)
                while node_id > 0 and node_id not in visible:
                    visible.add(node_id)
                    node_id = nodes[node_id].parent
        self._matches, self._visible = matches, visible

    def is_match(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether the row at proxy ``index`` matches the filter itself (every row does without a filter);
        False for an ancestor shown only because a descendant matches, and for an invalid index."""
        if not index.isValid() or self._source is None:
            return False
        if self._matches is None:
            return True
        source = self.mapToSource(index)
        return self._source.node_id(source.row(), source.parent()) in self._matches

    def first_match(self, under: QModelIndex | None = None) -> QModelIndex:
        """The first matching row in the tree's order (under ``under`` when given), or an invalid index."""
        parent = under if under is not None else QModelIndex()
        for row in range(self.rowCount(parent)):
            index = self.index(row, 0, parent)
            if self.is_match(index):
                return index
            found = self.first_match(index)
            if found.isValid():
                return found
        return QModelIndex()

    def setSourceModel(self, model: Any) -> None:
        super().setSourceModel(model)
        if isinstance(model, ProfileTreeModel):
            self._source = model
            model.modelReset.connect(self._refilter)

    def _refilter(self) -> None:
        if self._text and self._source is not None:
            self._begin_change()
            self._match(self._text)
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
