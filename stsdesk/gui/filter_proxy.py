"""The filter over the profile tree: case-insensitive words on name, kind, account and ARNs, in any order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex

from stsdesk.gui.profile_store import ProfileNode, ProfileStore
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.gui.tree_presentation import COLUMN_COUNT, ROLES

if TYPE_CHECKING:
    from PySide6.QtCore import Qt

_INDEX = QModelIndex()
_Index = QModelIndex | QPersistentModelIndex
_CELLS = 2048  # index() answers kept (a window shows a few hundred cells)
_NONE: tuple[int, ...] = ()  # the shown children of a node with none shown (shared, never appended to)


def _no_data(index: _Index, role: int) -> None:
    return None  # no source yet


class ProfileFilterProxy(QAbstractItemModel):
    """Case-insensitive filter on name, kind, account and ARNs: a row matches when it contains every word of
    the filter, in any order ("prod admin" finds prod-admin and an Admin role in the prod account); ancestors
    of a match stay visible (for context: they are not matches themselves, see ``is_match``).

    The proxy keeps, for the current filter, the shown children of each shown node and each shown node's row
    among them (node ids of :class:`ProfileTreeModel` are its indexes' ``internalId`` here too, so a proxy
    index maps to its source row without a lookup table). A keystroke works out the matches (a plain loop over
    the precomputed lower-case texts; only over the previous matches when the text grows, as in typing) and
    announces one layout change, or nothing when the same rows stay shown: Qt asks nothing about hidden rows
    and never crosses into Python once per row as QSortFilterProxyModel's ``filterAcceptsRow`` does. Rows that
    disappear lose their expansion and selection, as removed rows would. The filter is not applied again on
    ``dataChanged`` (the countdown would re-filter every second); it is on a source reset (a reload).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._matches: set[int] | None = None  # the rows that match themselves (None: no filter)
        self._shown: set[int] | None = None  # the matches and their ancestors (None: every row)
        self._source: ProfileTreeModel | None = None
        self._source_data: Callable[[_Index, int], Any] = _no_data  # the source's data(), looked up once
        self._nodes: list[ProfileNode] = ProfileStore().nodes  # the root alone until a source is set
        self._kids: list[Sequence[int]] = [[]]  # node id -> shown children (their node ids), in tree order
        self._rows: list[int] = [-1]  # node id -> its row among its parent's shown children; -1: hidden
        # Indexes made once per layout and handed out again (see index()): node id -> the index parent() answers
        # for its children; node id * 8 + column -> index() of that cell (the cells painted lately, at most _CELLS)
        self._parents: dict[int, QModelIndex] = {}
        self._cells: dict[int, QModelIndex] = {}

    # -- the filter --------------------------------------------------------------------------------------

    def filter_text(self) -> str:
        """The text rows are filtered on ("" shows every row)."""
        return self._text

    def set_filter_text(self, text: str) -> None:
        """Show only rows matching ``text`` (stripped) and their ancestors (one ``layoutChanged``)."""
        text = text.strip()
        if text == self._text:
            return
        previous, self._text = self._text, text
        # Typing on: every row that matches the longer text matched the shorter one (each old word is a word,
        # or the start of a word, of the new text), so only those are looked at.
        lower, old = text.lower(), previous.lower()
        narrowing = bool(previous) and lower.startswith(old)
        if (self._matches is not None and len(self._matches) == len(self._nodes) - 1 and lower
                and old.startswith(lower)):
            return  # a shorter text matches every row the longer one did: all of them still
        matches = self._match(text, self._matches if narrowing else None)
        if (matches is not None and self._matches is not None and len(matches) == len(self._matches)
                and (narrowing or old.startswith(lower))):
            return  # one set holds the other (a longer text matches less) and they are as large: the same rows
        shown = self._with_ancestors(matches)
        if shown == self._shown:  # the same rows (a shorter or longer text that still shows them): no layout
            self._matches = matches
            return
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        self._show(matches, shown)
        rows, create = self._rows, self.createIndex
        after = []
        for index in before:
            node_id = index.internalId()
            row = rows[node_id] if node_id < len(rows) else -1
            after.append(create(row, index.column(), node_id) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _match(self, text: str, among: set[int] | None) -> set[int] | None:
        """The node ids matching every word of ``text`` (None: no words, no filter), looking only at ``among``
        when given."""
        words = text.lower().split()
        if not words or self._source is None:
            return None
        store, nodes = self._source.store, self._nodes
        ids: Sequence[int] = sorted(among) if among is not None else range(1, len(nodes))
        first, *rest = words
        found = [i for i in ids if first in (nodes[i].filter_text or store.filter_text(nodes[i]))]
        for word in rest:  # filter_text was worked out by the first pass
            found = [i for i in found if word in (nodes[i].filter_text or "")]
        return set(found)

    def _with_ancestors(self, matches: set[int] | None) -> set[int] | None:
        """The rows shown for ``matches``: them and their ancestors; None: every row."""
        if matches is None:
            return None
        nodes = self._nodes
        shown: set[int] = set()
        for node_id in matches:
            while node_id > 0 and node_id not in shown:
                shown.add(node_id)
                node_id = nodes[node_id].parent
        return None if len(shown) == len(nodes) - 1 else shown

    def _show(self, matches: set[int] | None, shown: set[int] | None) -> None:
        """Keep ``matches`` (None: no filter) and work out the shown children and rows for ``shown`` (the
        matches and their ancestors; None: every row)."""
        nodes = self._nodes
        self._matches, self._shown = matches, shown
        self._parents, self._cells = {}, {}  # their rows change
        if shown is None:
            self._kids = [node.children for node in nodes]
            self._rows = [node.row for node in nodes]
            return
        kids: list[Sequence[int]] = [_NONE] * len(nodes)
        rows = [-1] * len(nodes)
        kids[0] = []
        for node_id in sorted(shown):  # ids are depth first: each row comes after its parent and older siblings
            parent = nodes[node_id].parent
            siblings = kids[parent]
            if siblings is _NONE:
                siblings = kids[parent] = []
            rows[node_id] = len(siblings)
            siblings.append(node_id)  # type: ignore[attr-defined]  # a list once made for this parent
        self._kids, self._rows = kids, rows

    def is_match(self, index: _Index) -> bool:
        """Whether the row at proxy ``index`` matches the filter itself (every row does without a filter);
        False for an ancestor shown only because a descendant matches, and for an invalid index."""
        if not index.isValid() or self._source is None:
            return False
        return self._matches is None or index.internalId() in self._matches

    def nearest_shown(self, hidden: _Index) -> QModelIndex:
        """For ``hidden``, an index of this proxy taken before a filter change hid its row: the shown sibling
        nearest above it, else below it (where Qt's selection model moves the current row off removed rows);
        invalid when its parent is hidden too or none of its siblings is shown."""
        node_id = hidden.internalId() if hidden.isValid() and hidden.model() is self else 0
        if not 0 < node_id < len(self._rows) or self._rows[node_id] >= 0:
            return QModelIndex()
        node, rows = self._nodes[node_id], self._rows
        if node.parent and rows[node.parent] < 0:
            return QModelIndex()
        siblings = self._nodes[node.parent].children
        for sibling in [*reversed(siblings[:node.row]), *siblings[node.row + 1:]]:
            if rows[sibling] >= 0:
                return self.createIndex(rows[sibling], hidden.column(), sibling)
        return QModelIndex()

    def first_match(self, under: QModelIndex | None = None) -> QModelIndex:
        """The first matching row in the tree's order (under ``under`` when given), or an invalid index."""
        if self._source is None or (under is not None and under.isValid() and under.model() is not self):
            return QModelIndex()
        start = under.internalId() if under is not None and under.isValid() else 0
        stack = list(reversed(self._kids[start]))
        matches = self._matches
        while stack:
            node_id = stack.pop()
            if matches is None or node_id in matches:
                return self.createIndex(self._rows[node_id], 0, node_id)
            stack.extend(reversed(self._kids[node_id]))
        return QModelIndex()

    # -- the source --------------------------------------------------------------------------------------

    def setSourceModel(self, model: Any) -> None:
        """Filter ``model`` (a ProfileTreeModel: the proxy relies on its node ids and its reset-only changes)."""
        if not isinstance(model, ProfileTreeModel):
            raise TypeError(f"ProfileFilterProxy filters a ProfileTreeModel, not {type(model).__name__}")
        self.beginResetModel()
        if self._source is not None:
            for signal, slot in self._connections():
                signal.disconnect(slot)
        self._source = model
        self._source_data = model.data
        for signal, slot in self._connections():
            signal.connect(slot)
        self._reload()
        self.endResetModel()

    def _connections(self) -> list[tuple[Any, Any]]:
        source = self._source
        assert source is not None
        return [
            (source.modelAboutToBeReset, self.beginResetModel),
            (source.modelReset, self._source_reset),
            (source.dataChanged, self._source_data_changed),
            (source.headerDataChanged, self.headerDataChanged),
        ]

    def _reload(self) -> None:
        assert self._source is not None
        self._nodes = self._source.store.nodes
        matches = self._match(self._text, None)
        self._show(matches, self._with_ancestors(matches))

    def _source_reset(self) -> None:
        self._reload()  # the filter applies to the new rows
        self.endResetModel()

    def _source_data_changed(self, top: _Index, bottom: _Index, roles: Sequence[int] = ()) -> None:
        """Forward a change of the source's adjacent siblings ``top``..``bottom`` for the rows shown of them."""
        first_id, rows = top.internalId(), self._rows
        if not first_id or not 0 < bottom.internalId() < len(rows):
            return  # not a row of the tree the proxy knows (the source only names its own rows)
        if self._shown is not None:
            siblings = self._nodes[self._nodes[first_id].parent].children[top.row():bottom.row() + 1]
            shown = [node_id for node_id in siblings if rows[node_id] >= 0]
            if not shown:
                return
            first_id, last_id = shown[0], shown[-1]
        else:
            last_id = bottom.internalId()
        self.dataChanged.emit(self.createIndex(rows[first_id], top.column(), first_id),
                              self.createIndex(rows[last_id], bottom.column(), last_id), list(roles))

    def sourceModel(self) -> ProfileTreeModel | None:
        """The model filtered (as QAbstractProxyModel.sourceModel)."""
        return self._source

    # -- mapping (as a QAbstractProxyModel would) and QAbstractItemModel -----------------------------------

    def mapToSource(self, proxy_index: _Index) -> QModelIndex:
        """The source model's index of proxy index ``proxy_index`` (invalid for an invalid one)."""
        node_id = proxy_index.internalId() if proxy_index.isValid() else 0
        if not node_id or self._source is None:
            return QModelIndex()
        return self._source.index_of_node(node_id, proxy_index.column())

    def mapFromSource(self, source_index: _Index) -> QModelIndex:
        """The proxy index of source index ``source_index``; invalid when its row is filtered out."""
        node_id = source_index.internalId() if source_index.isValid() else 0
        row = self._rows[node_id] if 0 < node_id < len(self._rows) else -1
        return self.createIndex(row, source_index.column(), node_id) if row >= 0 else QModelIndex()

    def index(self, row: int, column: int, parent: _Index = _INDEX) -> QModelIndex:
        # Every painted cell (the time-left strip, every second) asks this, and parent() twice: the answers are
        # kept for the layout instead of made and freed each time (Qt copies what it is given): making an index
        # in Python and freeing it cost ~10% of repainting the strip for index(), ~5% for parent().
        kids = self._kids[parent.internalId()]
        if 0 <= row < len(kids) and 0 <= column < COLUMN_COUNT and parent.column() <= 0:
            key = kids[row] * 8 + column
            cells = self._cells
            found = cells.get(key)
            if found is None:
                if len(cells) >= _CELLS:
                    cells.clear()  # scrolled through many rows: keep those painted from now on
                found = cells[key] = self.createIndex(row, column, kids[row])
            return found
        return QModelIndex()

    def parent(self, index: _Index = _INDEX) -> QModelIndex:  # type: ignore[override]
        parent_id = self._nodes[index.internalId()].parent
        found = self._parents.get(parent_id)
        if found is None:
            found = self._parents[parent_id] = (
                self.createIndex(self._rows[parent_id], 0, parent_id) if parent_id else QModelIndex())
        return found

    def sibling(self, row: int, column: int, index: _Index) -> QModelIndex:
        node_id = index.internalId()
        if row == index.row() and node_id and 0 <= column < COLUMN_COUNT:
            return self.createIndex(row, column, node_id)  # same row, other column: no parent lookup
        return super().sibling(row, column, index)

    def rowCount(self, parent: _Index = _INDEX) -> int:
        if parent.column() > 0:
            return 0
        return len(self._kids[parent.internalId()])

    def columnCount(self, parent: _Index = _INDEX) -> int:
        return COLUMN_COUNT

    def hasChildren(self, parent: _Index = _INDEX) -> bool:
        return parent.column() <= 0 and bool(self._kids[parent.internalId()])

    # No flags(): Qt's default (enabled, selectable) is every row's. The view then asks hasChildren() of each row
    # it lays out instead, which costs less than a flags() that returns a Qt enum from Python (5,000 rows: ~5 ms).

    def data(self, index: _Index, role: int = 0) -> Any:  # 0: Qt.ItemDataRole.DisplayRole
        # The source answers from the node id and column alone: a proxy index needs no mapping. The roles it
        # ignores (size hints, fonts, alignment...: most of a paint's calls) are answered here, one call less.
        # The source's bound data() is kept: looking an attribute up on a Qt object costs as much as the rest.
        return self._source_data(index, role) if role in ROLES else None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # 0: DisplayRole
        return self._source.headerData(section, orientation, role) if self._source is not None else None
