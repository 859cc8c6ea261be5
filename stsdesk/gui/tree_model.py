"""The profile/role tree as a Qt item model: sources at the top, roles under the profile they are assumed from.

A thin QAbstractItemModel over :class:`stsdesk.gui.profile_store.ProfileStore` (rows and runtime state, no
Qt); cell texts, colours and icons come from :mod:`stsdesk.gui.tree_presentation`; the filter is
:class:`stsdesk.gui.filter_proxy.ProfileFilterProxy` (which relies on the node ids and on the model changing only
by resets and ``dataChanged``). The controller pushes state in; the 1 Hz countdown calls
:meth:`ProfileTreeModel.tick`, which emits ``dataChanged`` for the time-left cells that changed and nothing else.

Runtime state (busy marks, sessions, errors, notes, served) changes the store at once (what a row shows is always
current) and is announced once per turn of the event loop, at the start of the next: a burst of 200 assumes marks
200 rows busy in one turn and each answer changes its row two or three times. The announcement names only the
cells that can change (State and Time left; the Name cell's tool tip for served), one column at a time per run of
adjacent sibling rows: a range over several rows and columns makes QTreeView repaint its whole viewport (~12 ms of
Python data() calls at 5,000 profiles, ~50-90 ms while 200 answers compete for the GIL), even when none of the
rows is on screen; a one-column run is repainted as a strip of the rows shown (tree_view.py), and not at all when
they are off screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QCoreApplication, QModelIndex, QPersistentModelIndex, QTimer
from PySide6.QtGui import QIcon

from stsdesk.core.model import Profile
from stsdesk.gui.countdown import format_time_left
from stsdesk.gui.profile_store import ALIAS_KEY, ProfileNode, ProfileStore, account_in_arn, account_of, kind_label
from stsdesk.gui.tree_presentation import (
    ACCOUNT,
    BUSY_ROLE,
    COLUMN_COUNT,
    COLUMNS,
    DECORATION_ROLE,
    DISPLAY_ROLE,
    FILTER_ROLE,
    FOREGROUND_ROLE,
    KIND,
    NAME,
    PROFILE_NAME_ROLE,
    ROLES,
    SECONDS_LEFT_ROLE,
    STATE,
    TICK_ROLES,
    TIME_LEFT,
    TOOLTIP_ROLE,
    display,
    foreground,
    icon,
    item_flags,
    tooltip,
)

if TYPE_CHECKING:
    from PySide6.QtCore import Qt

__all__ = [
    "ACCOUNT", "ALIAS_KEY", "BUSY_ROLE", "COLUMNS", "FILTER_ROLE", "KIND", "NAME", "PROFILE_NAME_ROLE",
    "SECONDS_LEFT_ROLE", "STATE", "TIME_LEFT", "ProfileTreeModel", "account_in_arn", "account_of", "kind_label",
]  # fmt: skip

_INDEX = QModelIndex()
_Parent = QModelIndex | QPersistentModelIndex
# Plain ints (tree_presentation): data() runs for every role of every painted cell, and nothing before the rows
# are painted touches PySide6's Qt namespace (its first use builds all of its enums: ~22 ms of CPU, issue 17).
_DISPLAY, _FOREGROUND, _DECORATION, _TOOLTIP = DISPLAY_ROLE, FOREGROUND_ROLE, DECORATION_ROLE, TOOLTIP_ROLE
_NAME_ROLE, _SECONDS, _BUSY = PROFILE_NAME_ROLE, SECONDS_LEFT_ROLE, BUSY_ROLE
# The cells a row's runtime state shows in (tree_presentation): busy, error, session and note change State (text,
# colour, icon, tool tip) and Time left; served also the Name cell's tool tip. Name, Kind and Account never.
STATE_CELLS = (STATE, TIME_LEFT)
SERVED_CELLS = (NAME, STATE)


class ProfileTreeModel(QAbstractItemModel):
    """Profiles as a tree with columns name, kind, account, state and time left.

    ``icons`` maps (kind value or state name) to a QIcon; it is called lazily so that startup does not pay
    for SVG rendering. ``clock`` returns Unix time (tests pass a fake one).

    Node ids (an index's ``internalId``) start at 1; id 0 is the invisible root, which is also what an invalid
    QModelIndex's ``internalId()`` returns. So index(), parent(), rowCount() and flags(), which Qt calls
    several times per row while it lays out 5,000 rows, need no ``isValid()`` branch.
    """

    def __init__(
        self,
        icons: Callable[[str], QIcon] | None = None,
        clock: Callable[[], float] = time.time,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self._icons = icons
        self.clock = clock  # Unix time now (tests give a fake one): every cell and tick is worked out at it
        self.store = ProfileStore()
        self._nodes = self.store.nodes  # the hot paths below index it directly
        self._flags: list[Qt.ItemFlag] | None = None  # per node id, made at the first flags() (a view of this model)
        # Rows whose runtime state changed this turn -> the columns to announce (see the module docstring).
        self._pending: dict[int, tuple[int, ...]] = {}
        self._announce_timer: QTimer | None = None  # made at the first change (none before the first paint)
        self.modelAboutToBeReset.connect(self._forget_pending)

    # -- loading -----------------------------------------------------------------------------------

    def set_profiles(
        self,
        roots: Iterable[Profile],
        children: Callable[[str], list[Profile]],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the whole tree (a model reset). Runtime state of profiles that still exist is kept."""
        self.beginResetModel()
        self.store.load(roots, children, aliases)
        self._nodes = self.store.nodes
        self._flags = None
        self.endResetModel()

    def set_favourites(self, names: Iterable[str]) -> None:
        """Mark ``names`` as favourites (a star after the name); the rows whose mark changed are repainted."""
        new = frozenset(names)
        changed = new ^ self.store.favourites
        self.store.favourites = new
        for name in changed:
            index = self.index_of(name, NAME)
            if index.isValid():
                self.dataChanged.emit(index, index, [_DISPLAY])

    # -- queries -----------------------------------------------------------------------------------

    def profile_names(self) -> list[str]:
        """Every profile in the tree, depth first."""
        return list(self.store.by_name)

    def parent_names(self) -> list[str]:
        """The profiles that have children in the tree (the only rows that can expand)."""
        return self.store.parent_names()

    def names_with_state(self) -> list[str]:
        """Profiles whose row shows a session, a busy mark or an error now."""
        return self.store.names_with_state()

    def profile(self, name: str) -> Profile | None:
        """``name``'s profile, or None when the tree has no such profile."""
        node = self.store.node(name)
        return node.profile if node is not None else None

    def profile_at(self, index: QModelIndex | QPersistentModelIndex) -> Profile | None:
        """The profile of ``index``'s row (None for the invisible root / an invalid index)."""
        node_id = index.internalId()
        return self._nodes[node_id].profile if node_id else None

    def index_of(self, name: str, column: int = NAME) -> QModelIndex:
        """The index of ``name``'s row (invalid when there is no such profile)."""
        node_id = self.store.by_name.get(name)
        if node_id is None:
            return QModelIndex()
        return self.createIndex(self._nodes[node_id].row, column, node_id)

    def index_of_node(self, node_id: int, column: int = NAME) -> QModelIndex:
        """The index of node ``node_id``'s row (an id from an index's ``internalId``; 0 gives an invalid index)."""
        if not 0 < node_id < len(self._nodes):
            return QModelIndex()
        return self.createIndex(self._nodes[node_id].row, column, node_id)

    def account_text(self, name: str) -> str:
        """The Account cell of ``name`` ("" when unknown or no such profile)."""
        node = self.store.node(name)
        return self.store.account(node) if node is not None else ""

    def error(self, name: str) -> str | None:
        """The error ``name``'s row shows, if any."""
        node = self.store.node(name)
        return node.error if node is not None else None

    def expiry(self, name: str) -> float | None:
        """When ``name``'s session expires (Unix time), if it has one."""
        node = self.store.node(name)
        return node.expiry if node is not None else None

    def matching(self, text: str) -> set[int]:
        """Node ids whose filter text contains ``text`` (case-insensitive), plus all their ancestors."""
        return self.store.matching(text)

    def node_id(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> int:
        """The node id of ``row`` under ``parent`` (cheap: no index is created)."""
        return self._nodes[parent.internalId()].children[row]

    def sessions(self) -> list[tuple[str, float]]:
        """(profile, expiry Unix time) of every row with a session, soonest first: what a tray would list."""
        return self.store.sessions()

    # -- runtime state (pushed in by the controller) -------------------------------------------------

    def set_session(self, name: str, expiration: datetime | None) -> None:
        """Show ``name``'s session expiry (None: no session)."""
        self._mark(self.store.set_expiry(name, expiration.timestamp() if expiration is not None else None))

    def set_note(self, name: str, note: str | None) -> None:
        """Show ``note`` in a sign-in session or account row's State cell (None: none)."""
        self._mark(self.store.set_note(name, note))

    def set_served(self, name: str, endpoint: str | None) -> None:
        """Mark ``name`` as served at ``endpoint`` (None: no longer served)."""
        self._mark(self.store.set_served(name, endpoint), SERVED_CELLS)

    def served(self, name: str) -> str | None:
        """The endpoint ``name``'s credentials are served at, if they are."""
        node = self.store.node(name)
        return node.served if node is not None else None

    def set_busy(self, name: str, busy: bool) -> None:
        """Show ``name`` as working (an STS call in flight) or not."""
        self._mark(self.store.set_busy(name, busy))

    def set_error(self, name: str, error: str | None) -> None:
        """Show ``name``'s last error (None: clear it)."""
        self._mark(self.store.set_error(name, error))

    def set_identity(self, name: str, arn: str | None) -> None:
        """Learn ``name``'s account from its session or caller ARN (GetCallerIdentity, the cached session's
        ARN). Only changes the Account cell of profiles whose config names no account (IAM users without an
        MFA device, credential-process profiles); an ARN without an account is ignored."""
        node_id = self.store.learn_identity(name, arn)
        if node_id is not None:
            cell = self.createIndex(self._nodes[node_id].row, ACCOUNT, node_id)
            self.dataChanged.emit(cell, cell, [_DISPLAY])

    # -- announcing runtime state, once per turn of the loop -------------------------------------------

    def _mark(self, node_id: int | None, columns: tuple[int, ...] = STATE_CELLS) -> None:
        if node_id is None:
            return
        before = self._pending.get(node_id)
        self._pending[node_id] = columns if before is None or before == columns else tuple(
            sorted(set(before) | set(columns)))
        timer = self._announce_timer
        if timer is None:
            timer = self._announce_timer = QTimer(self)
            timer.setSingleShot(True)
            timer.setInterval(0)
            timer.timeout.connect(self.flush_changes)
        if not timer.isActive():
            timer.start()

    def pending_changes(self) -> int:
        """How many rows have changes not announced yet (announced at the next turn, or by flush_changes)."""
        return len(self._pending)

    def _forget_pending(self) -> None:
        """A reset replaces the rows (node ids change): the views repaint every row anyway."""
        self._pending = {}
        if self._announce_timer is not None:
            self._announce_timer.stop()

    def flush_changes(self) -> None:
        """Announce the rows changed since the last announcement now (a timer does it at the next turn): per
        column, one ``dataChanged`` per run of adjacent sibling rows."""
        if self._announce_timer is not None:
            self._announce_timer.stop()
        pending, self._pending = self._pending, {}
        nodes = self._nodes
        runs: dict[tuple[int, int], list[int]] = {}  # (parent node id, column) -> rows
        for node_id, columns in pending.items():
            if 0 < node_id < len(nodes):
                node = nodes[node_id]
                for column in columns:
                    runs.setdefault((node.parent, column), []).append(node.row)
        for (parent, column), rows in runs.items():
            rows.sort()
            self._announce_runs(nodes[parent].children, column, rows)

    def tick(self) -> int:
        """Refresh the time-left cells of rows with a session; returns how many cells changed.

        Only those cells are announced, in runs of adjacent siblings, so a view repaints just them.
        """
        nodes = self._nodes
        count = 0
        for parent, rows in self.store.tick(self.clock(), format_time_left).items():
            self._announce_runs(nodes[parent].children, TIME_LEFT, rows, TICK_ROLES)
            count += len(rows)
        return count

    def _announce_runs(self, siblings: list[int], column: int, rows: list[int], roles: list[int] | None = None) -> None:
        """One ``dataChanged`` of ``column`` (for ``roles``; every role when None) per run of adjacent rows among
        ``siblings`` (the node ids of one parent's children); ``rows``: ascending, no repeats."""
        start = previous = rows[0]
        for row in [*rows[1:], -1]:
            if row == previous + 1:
                previous = row
                continue
            first, last = self.createIndex(start, column, siblings[start]), \
                self.createIndex(previous, column, siblings[previous])
            if roles is None:
                self.dataChanged.emit(first, last)
            else:
                self.dataChanged.emit(first, last, roles)
            start = previous = row

    # -- QAbstractItemModel ------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: _Parent = _INDEX) -> QModelIndex:
        siblings = self._nodes[parent.internalId()].children
        if 0 <= row < len(siblings) and 0 <= column < COLUMN_COUNT and parent.column() <= 0:
            return self.createIndex(row, column, siblings[row])
        return QModelIndex()

    def parent(self, index: _Parent = _INDEX) -> QModelIndex:  # type: ignore[override]
        parent_id = self._nodes[index.internalId()].parent
        if parent_id == 0:
            return QModelIndex()
        return self.createIndex(self._nodes[parent_id].row, 0, parent_id)

    def sibling(self, row: int, column: int, index: _Parent) -> QModelIndex:
        node_id = index.internalId()
        if row == index.row() and node_id and 0 <= column < COLUMN_COUNT:
            return self.createIndex(row, column, node_id)  # same row, other column: no parent lookup
        return super().sibling(row, column, index)

    def rowCount(self, parent: _Parent = _INDEX) -> int:
        if parent.column() > 0:
            return 0
        return len(self._nodes[parent.internalId()].children)

    def columnCount(self, parent: _Parent = _INDEX) -> int:
        return COLUMN_COUNT

    def hasChildren(self, parent: _Parent = _INDEX) -> bool:
        return parent.column() <= 0 and bool(self._nodes[parent.internalId()].children)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        # Qt here, not at import: the view's header paints its titles from a model of its own (tree_view.setModel),
        # and nothing before the rows are painted builds PySide6's Qt namespace (~22 ms of CPU, issue 17).
        from PySide6.QtCore import Qt

        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return QCoreApplication.translate("ProfileTreeModel", COLUMNS[section])
        return None

    def flags(self, index: _Parent) -> Qt.ItemFlag:
        flags = self._flags
        if flags is None:  # the main tree's proxy never asks: the first view of this model itself does
            none, parent, leaf = item_flags()
            flags = self._flags = [none] + [parent if node.children else leaf for node in self._nodes[1:]]
        return flags[index.internalId()]

    def data(self, index: _Parent, role: int = _DISPLAY) -> Any:
        if role not in ROLES:  # size hints, fonts, alignment...: most of the calls a paint makes
            return None
        node_id = index.internalId()
        if not node_id:
            return None
        node: ProfileNode = self._nodes[node_id]
        if role == _DISPLAY:
            return display(self.store, node, index.column(), self.clock())
        if role == _FOREGROUND:
            return foreground(node, index.column(), self.clock())
        if role == _DECORATION:
            return icon(self._icons, node, index.column(), self.clock())
        if role == _NAME_ROLE:
            return node.profile.name
        if role == _TOOLTIP:
            return tooltip(node, index.column())
        if role == _SECONDS:
            return None if node.expiry is None else node.expiry - self.clock()
        if role == _BUSY:
            return node.busy
        return node.filter_text if node.filter_text is not None else self.store.filter_text(node)  # FILTER_ROLE
