"""The "By account" view: the profile tree's rows grouped by AWS account, as a second Qt model.

:class:`AccountTreeModel` is built from the source :class:`ProfileTreeModel`'s Qt-free store
(:func:`stsdesk.gui.account_groups.group_by_account`): one row per account ("alias (id)", its label and
colour from :class:`AccountLabels`), its profiles of every kind below. A profile row shows exactly the source
row's cells (every role is read from the source model), and the source's ``dataChanged`` (countdown ticks,
busy, errors) is forwarded, so both views show the same state; a reset or a changed account regroups.
:class:`AccountFilterProxy` applies the window's filter the same way the source tree's proxy does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap

from stsdesk.gui.account_groups import AccountGroup, group_by_account, matching_groups
from stsdesk.gui.account_labels import AccountLabels, tint
from stsdesk.gui.tree_model import ACCOUNT, COLUMNS, KIND, NAME, PROFILE_NAME_ROLE, STATE, ProfileTreeModel

_Index = QModelIndex | QPersistentModelIndex
_INDEX = QModelIndex()
MEMBER_BASE = 1 << 30  # internalId of a profile row: MEMBER_BASE + its position in _members; groups: 1..G
ACCOUNT_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 40  # the 12-digit account of a row (group or profile)
_DISPLAY, _DECORATION, _BACKGROUND, _TOOLTIP = (
    int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.DecorationRole),
    int(Qt.ItemDataRole.BackgroundRole), int(Qt.ItemDataRole.ToolTipRole),
)  # fmt: skip


def swatch(colour: str) -> QIcon:
    """A small square of ``colour`` (a group row's icon)."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class AccountTreeModel(QAbstractItemModel):
    """Accounts at the top, their profiles below; profile cells mirror ``source``'s."""

    def __init__(self, source: ProfileTreeModel, labels: AccountLabels, parent: Any = None) -> None:
        super().__init__(parent)
        self.source = source
        self.labels = labels
        self.groups: list[AccountGroup] = []
        self._members: list[tuple[int, int]] = []  # (group index, store node id) per profile row
        self._member_of: dict[int, int] = {}  # store node id -> position in _members
        self._first_member: list[int] = []  # per group: position of its first row in _members
        self._swatches: dict[str, QIcon] = {}
        # Whether a view shows this model now (the window sets it to its view's isVisible): while not, changes
        # of cells are not forwarded (hidden, the countdown's 500 sessions were 500 emits a second).
        self.shown: Callable[[], bool] = lambda: True
        self._rebuild()
        source.modelReset.connect(self.regroup)
        source.dataChanged.connect(self._source_changed)
        labels.changed.connect(self._label_changed)

    # -- building ------------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.groups = group_by_account(self.source.store)
        self._members, self._member_of, self._first_member = [], {}, []
        for g, group in enumerate(self.groups):
            self._first_member.append(len(self._members))
            for node_id in group.members:
                self._member_of[node_id] = len(self._members)
                self._members.append((g, node_id))

    def regroup(self) -> None:
        """Group the source's rows again (a model reset)."""
        self.beginResetModel()
        self._rebuild()
        self.endResetModel()

    def _label_changed(self, account: str) -> None:
        for g, group in enumerate(self.groups):
            if group.account == account:
                self.dataChanged.emit(self.createIndex(g, 0, g + 1), self.createIndex(g, len(COLUMNS) - 1, g + 1))
                if group.members:
                    first, last = self._first_member[g], self._first_member[g] + len(group.members) - 1
                    self.dataChanged.emit(self.createIndex(0, 0, MEMBER_BASE + first),
                                          self.createIndex(last - first, len(COLUMNS) - 1, MEMBER_BASE + last))

    def _source_changed(self, top_left: _Index, bottom_right: _Index, roles: Sequence[int] = ()) -> None:
        # Only a learned account (ProfileTreeModel.set_identity: the Account cell alone) can move a row to
        # another group; state changes and ticks are forwarded without regrouping.
        if top_left.column() == ACCOUNT == bottom_right.column():
            before = [(g.account, list(g.members)) for g in self.groups]
            after = [(g.account, g.members) for g in group_by_account(self.source.store)]
            if before != after:  # an account was learned: the row moves to another group
                self.regroup()
                return
        left, right = top_left.column(), bottom_right.column()
        if not self.shown():
            # No view shows this model: a view paints every cell afresh when shown (and the proxy does not filter
            # on changes), so neither the countdown's ticks (500 sessions: a run a second) nor a burst's busy
            # marks and sessions (3 rows per answer) are forwarded.
            return
        children = self.source.store.nodes[top_left.parent().internalId()].children
        runs: list[list[int]] = []  # [group, first row, last row, first position] per run of adjacent rows
        touched: dict[int, None] = {}  # groups whose State cell may change (ordered, no repeats)
        for row in range(top_left.row(), min(bottom_right.row() + 1, len(children))):
            position = self._member_of.get(children[row])
            if position is None:
                continue
            g, _ = self._members[position]
            our_row = position - self._first_member[g]
            if runs and runs[-1][0] == g and runs[-1][2] == our_row - 1:
                runs[-1][2] = our_row
            else:
                runs.append([g, our_row, our_row, position])
            touched[g] = None
        # One dataChanged per run of adjacent rows in one account (500 ticking sessions: a few, not 500).
        for _group, first, last, position in runs:
            self.dataChanged.emit(self.createIndex(first, left, MEMBER_BASE + position),
                                  self.createIndex(last, right, MEMBER_BASE + position + last - first),
                                  list(roles))
        if left <= STATE <= right:  # not for a countdown tick (Time left only)
            for g in touched:  # a profile's state changed: its account row's State cell (how many sessions) too
                cell = self.createIndex(g, STATE, g + 1)
                self.dataChanged.emit(cell, cell, [_DISPLAY])

    # -- queries -------------------------------------------------------------------------------------

    def index_of(self, name: str, column: int = NAME) -> QModelIndex:
        """The index of profile ``name``'s row (invalid when not shown)."""
        node_id = self.source.store.by_name.get(name)
        position = self._member_of.get(node_id) if node_id is not None else None
        if position is None:
            return QModelIndex()
        g, _ = self._members[position]
        return self.createIndex(position - self._first_member[g], column, MEMBER_BASE + position)

    def group_index(self, account: str | None) -> QModelIndex:
        """The index of ``account``'s row (None: the unknown-account group), or an invalid index."""
        for g, group in enumerate(self.groups):
            if group.account == account:
                return self.createIndex(g, NAME, g + 1)
        return QModelIndex()

    def group_at(self, index: _Index) -> AccountGroup | None:
        """The account group of ``index`` (its own row or one of its profiles), or None."""
        ident = index.internalId() if index.isValid() else 0
        if not ident:
            return None
        g = ident - 1 if ident < MEMBER_BASE else self._members[ident - MEMBER_BASE][0]
        return self.groups[g]

    def node_id_at(self, index: _Index) -> int | None:
        """The source store's node id of a profile row (None for an account row)."""
        ident = index.internalId() if index.isValid() else 0
        return self._members[ident - MEMBER_BASE][1] if ident >= MEMBER_BASE else None

    def _source_index(self, index: _Index) -> QModelIndex:
        node_id = self._members[index.internalId() - MEMBER_BASE][1]
        node = self.source.store.nodes[node_id]
        return self.source.index_of(node.profile.name, index.column())

    # -- QAbstractItemModel --------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Index = _INDEX) -> QModelIndex:
        if not 0 <= column < len(COLUMNS):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, row + 1) if 0 <= row < len(self.groups) else QModelIndex()
        ident = parent.internalId()
        if ident >= MEMBER_BASE or parent.column() > 0:
            return QModelIndex()
        g = ident - 1
        if 0 <= row < len(self.groups[g].members):
            return self.createIndex(row, column, MEMBER_BASE + self._first_member[g] + row)
        return QModelIndex()

    def parent(self, index: _Index = _INDEX) -> QModelIndex:  # type: ignore[override]
        ident = index.internalId() if index.isValid() else 0
        if ident < MEMBER_BASE:
            return QModelIndex()
        g = self._members[ident - MEMBER_BASE][0]
        return self.createIndex(g, 0, g + 1)

    def rowCount(self, parent: _Index = _INDEX) -> int:
        if not parent.isValid():
            return len(self.groups)
        ident = parent.internalId()
        if ident >= MEMBER_BASE or parent.column() > 0:
            return 0
        return len(self.groups[ident - 1].members)

    def columnCount(self, parent: _Index = _INDEX) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.internalId() >= MEMBER_BASE:
            return self.source.flags(self._source_index(index))
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        ident = index.internalId()
        if ident >= MEMBER_BASE:
            group = self.groups[self._members[ident - MEMBER_BASE][0]]
            if role == ACCOUNT_ID_ROLE:
                return group.account
            if role == _BACKGROUND:
                colour = self.labels.colour(group.account)
                return tint(colour, 24) if colour else None
            return self.source.data(self._source_index(index), role)
        return self._group_data(self.groups[ident - 1], index.column(), role)

    def _group_data(self, group: AccountGroup, column: int, role: int) -> Any:
        colour = self.labels.colour(group.account)
        label = self.labels.label(group.account)
        if role == _DISPLAY:
            if column == NAME:
                return f"{label} · {group.label}" if label else group.label
            if column == KIND:
                return "account"
            if column == ACCOUNT:
                return group.account or ""
            if column == STATE:
                nodes = self.source.store.nodes
                live = sum(1 for i in group.members if nodes[i].expiry is not None)
                count = len(group.members)
                return f"{count} profile{'s' if count != 1 else ''}" + (f", {live} active" if live else "")
            return None
        if role == _DECORATION and column == NAME and colour:
            icon = self._swatches.get(colour)
            if icon is None:
                icon = self._swatches[colour] = swatch(colour)
            return icon
        if role == _BACKGROUND and colour:
            return tint(colour, 60)
        if role == ACCOUNT_ID_ROLE:
            return group.account
        if role == _TOOLTIP and column == NAME:
            return f"{group.label}: {len(group.members)} profile(s) act in this account (right-click: colour, label)"
        if role == PROFILE_NAME_ROLE:
            return None
        return None


class AccountFilterProxy(QSortFilterProxyModel):
    """The window's filter over the account view: a profile row shows when it matches as in the source tree;
    an account shows when its label or any of its profiles matches (a matching label shows all of them)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self._text = ""
        self._groups: set[int] | None = None
        self._nodes: set[int] = set()

    def set_filter_text(self, text: str) -> None:
        """Show only what matches ``text`` (stripped; "" shows everything)."""
        self._text = text.strip()
        self._refilter()

    def _refilter(self) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10 (invalidateRowsFilter is deprecated there)
            self.beginFilterChange()
            self._compute()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._compute()
            self.invalidateRowsFilter()

    def filter_text(self) -> str:
        """The text rows are filtered on."""
        return self._text

    def setSourceModel(self, model: Any) -> None:
        super().setSourceModel(model)
        # After the proxy's own handling of the reset (connected first, by Qt): work the visible rows out again
        # for the new groups and filter again (the proxy mapped the new rows with the old sets).
        model.modelReset.connect(self._refilter)

    def _compute(self) -> None:
        model = self.sourceModel()
        if not self._text or not isinstance(model, AccountTreeModel):
            self._groups = None
            return
        self._groups, self._nodes = matching_groups(model.source.store, model.groups, self._text)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if self._groups is None:
            return True
        model = self.sourceModel()
        if not source_parent.isValid():
            return source_row in self._groups
        assert isinstance(model, AccountTreeModel)
        node_id = model.node_id_at(model.index(source_row, 0, source_parent))
        return node_id in self._nodes
