"""The profile/role tree as a Qt item model: sources at the top, roles under the profile they are assumed from.

No widgets here. The model holds the ProfileTree plus per-profile runtime state (session expiry, busy flag,
last error) that the controller pushes in; the 1 Hz countdown calls :meth:`ProfileTreeModel.tick`, which
emits ``dataChanged`` for the time-left cells of rows that have a session and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QIcon

from stsdesk.core.model import Profile, ProfileKind
from stsdesk.gui.countdown import Urgency, format_time_left, urgency

COLUMNS = ("Name", "Kind", "Account", "State", "Time left")
NAME, KIND, ACCOUNT, STATE, TIME_LEFT = range(len(COLUMNS))

PROFILE_NAME_ROLE = Qt.ItemDataRole.UserRole + 1
FILTER_ROLE = Qt.ItemDataRole.UserRole + 2
SECONDS_LEFT_ROLE = Qt.ItemDataRole.UserRole + 3
BUSY_ROLE = Qt.ItemDataRole.UserRole + 4

ALIAS_KEY = "stsdesk_account_alias"

_KIND_LABELS = {
    ProfileKind.IAM_USER: "IAM user",
    ProfileKind.ROLE: "role",
    ProfileKind.SAML_ROLE: "SAML role",
    ProfileKind.WEB_IDENTITY_ROLE: "web identity",
    ProfileKind.FEDERATED_USER: "federated user",
    ProfileKind.CREDENTIAL_PROCESS: "credential process",
    ProfileKind.SSO: "Identity Center",
    ProfileKind.OTHER: "other",
}
_URGENCY_COLOURS = {
    Urgency.WARN: QBrush(QColor("#b26a00")),  # amber, readable on light and dark backgrounds
    Urgency.CRITICAL: QBrush(QColor("#c62828")),
    Urgency.EXPIRED: QBrush(QColor("#888888")),
}
_ERROR_BRUSH = QBrush(QColor("#c62828"))
# Precomputed: enum | costs a Python call each time, and flags() runs twice per row while Qt lays out.
# ItemNeverHasChildren on leaves lets the view skip hasChildren(), and with it the filter proxy's per-row
# child mapping: the largest share of laying out 5,000 rows.
_PARENT_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_LEAF_FLAGS = _PARENT_FLAGS | Qt.ItemFlag.ItemNeverHasChildren
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_INDEX = QModelIndex()
_Parent = QModelIndex | QPersistentModelIndex


def kind_label(profile: Profile) -> str:
    """Short, readable kind; a role assumed from another role's session is a "chained role"."""
    if profile.kind is ProfileKind.ROLE and len(profile.chain) > 2:
        return "chained role"
    return _KIND_LABELS[profile.kind]


def account_in_arn(arn: str | None) -> str | None:
    """The 12-digit account of an ARN (``arn:aws:sts::123456789012:assumed-role/...``), else None."""
    parts = (arn or "").split(":")
    if len(parts) >= 6 and parts[0] == "arn" and len(parts[4]) == 12 and parts[4].isdigit():
        return parts[4]
    return None


def account_of(profile: Profile) -> str | None:
    """The account a profile acts in: its role ARN's, else its MFA device's or SAML provider's account."""
    account = profile.account_id
    if account:
        return account
    return account_in_arn(profile.mfa_serial) or account_in_arn(profile.saml_principal_arn)


@dataclass(slots=True)
class _Node:
    profile: Profile
    parent: int  # node id of the parent; 0 is the invisible root
    row: int
    children: list[int]
    busy: bool = False
    error: str | None = None
    expiry: float | None = None  # wall-clock Unix time of the session's expiry
    shown_left: str = ""  # the time-left text last shown (ticks only notify when it changes)
    learned_account: str | None = None  # from a session or caller ARN, for profiles whose config names none
    account: str | None = None  # display text, worked out when first shown (None: not yet)
    filter_text: str | None = None  # lower-cased name, kind, account and ARNs, worked out when first filtered


_ROOT_PROFILE = Profile("", ProfileKind.OTHER)
_ROLES = frozenset(
    int(role) for role in (
        Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.DecorationRole,
        Qt.ItemDataRole.ToolTipRole, FILTER_ROLE, PROFILE_NAME_ROLE, SECONDS_LEFT_ROLE, BUSY_ROLE,
    )
)  # fmt: skip
# Plain ints: data() runs for every role of every painted cell, and an enum attribute lookup per compare adds up.
_DISPLAY, _FOREGROUND, _DECORATION, _TOOLTIP = (
    int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ForegroundRole),
    int(Qt.ItemDataRole.DecorationRole), int(Qt.ItemDataRole.ToolTipRole),
)  # fmt: skip
_FILTER, _NAME_ROLE, _SECONDS, _BUSY = int(FILTER_ROLE), int(PROFILE_NAME_ROLE), int(SECONDS_LEFT_ROLE), int(BUSY_ROLE)
_TICK_ROLES = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole]
_COLUMN_COUNT = len(COLUMNS)


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
        self._clock = clock
        self._nodes: list[_Node] = [_Node(_ROOT_PROFILE, 0, -1, [])]
        self._flags: list[Qt.ItemFlag] = [_NO_FLAGS]
        self._by_name: dict[str, int] = {}
        self._aliases: dict[str, str] = {}
        self._with_session: set[int] = set()  # node ids whose expiry is set (ticks look only at these)

    # -- loading -----------------------------------------------------------------------------------

    def set_profiles(
        self,
        roots: Iterable[Profile],
        children: Callable[[str], list[Profile]],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the whole tree (a model reset). Runtime state of profiles that still exist is kept."""
        old = {node.profile.name: node for node in self._nodes[1:]}
        self._aliases = dict(aliases or {})
        self.beginResetModel()
        root = _Node(_ROOT_PROFILE, 0, -1, [])
        nodes: list[_Node] = [root]
        # Iterative walk: chains of any depth without recursion limits.
        stack: list[tuple[Profile, int, list[int]]] = [(p, 0, root.children) for p in reversed(list(roots))]
        seen: set[str] = set()
        with_session: set[int] = set()
        while stack:
            profile, parent, siblings = stack.pop()
            if profile.name in seen:  # defensive: a tree that repeats a name would loop forever
                continue
            seen.add(profile.name)
            node_id = len(nodes)
            node = _Node(profile, parent, len(siblings), [])
            previous = old.get(profile.name)
            if previous is not None:
                node.busy, node.error, node.expiry = previous.busy, previous.error, previous.expiry
                node.learned_account = previous.learned_account
                if node.expiry is not None:
                    with_session.add(node_id)
            nodes.append(node)
            siblings.append(node_id)
            stack.extend((child, node_id, node.children) for child in reversed(children(profile.name)))
        self._nodes = nodes
        self._flags = [_NO_FLAGS] + [_PARENT_FLAGS if node.children else _LEAF_FLAGS for node in nodes[1:]]
        self._by_name = {node.profile.name: i for i, node in enumerate(nodes) if i}
        self._with_session = with_session
        self.endResetModel()

    def _account(self, node: _Node) -> str:
        """The Account text, "alias (id)"; the config's account wins over a learned one (a role's ARN says
        where it acts; an IAM user's account is only known from its session)."""
        if node.account is None:
            profile = node.profile
            account = account_of(profile) or node.learned_account
            alias = profile.extra.get(ALIAS_KEY) or (self._aliases.get(account) if account else None)
            node.account = f"{alias} ({account})" if account and alias else (alias or account or "")
        return node.account

    def _filter_text(self, node: _Node) -> str:
        if node.filter_text is None:
            profile = node.profile
            words = (profile.name, kind_label(profile), self._account(node), profile.role_arn or "",
                     profile.mfa_serial or "")
            node.filter_text = " ".join(words).lower()
        return node.filter_text

    # -- runtime state (pushed in by the controller) -------------------------------------------------

    def profile_names(self) -> list[str]:
        return list(self._by_name)

    def parent_names(self) -> list[str]:
        """The profiles that have children in the tree (the only rows that can expand)."""
        return [node.profile.name for node in self._nodes[1:] if node.children]

    def names_with_state(self) -> list[str]:
        """Profiles whose row shows a session, a busy mark or an error now."""
        return [node.profile.name for node in self._nodes[1:] if node.expiry is not None or node.error or node.busy]

    def profile(self, name: str) -> Profile | None:
        node_id = self._by_name.get(name)
        return self._nodes[node_id].profile if node_id is not None else None

    def profile_at(self, index: QModelIndex | QPersistentModelIndex) -> Profile | None:
        node = self._node(index)
        return node.profile if node is not None else None

    def index_of(self, name: str, column: int = NAME) -> QModelIndex:
        """The index of ``name``'s row (invalid when there is no such profile)."""
        node_id = self._by_name.get(name)
        if node_id is None:
            return QModelIndex()
        return self.createIndex(self._nodes[node_id].row, column, node_id)

    def account_text(self, name: str) -> str:
        """The Account cell of ``name`` ("" when unknown or no such profile)."""
        node_id = self._by_name.get(name)
        return self._account(self._nodes[node_id]) if node_id is not None else ""

    def set_session(self, name: str, expiration: datetime | None) -> None:
        self._update(name, expiry=expiration.timestamp() if expiration is not None else None)

    def set_identity(self, name: str, arn: str | None) -> None:
        """Learn ``name``'s account from its session or caller ARN (GetCallerIdentity, the cached session's
        ARN). Only changes the Account cell of profiles whose config names no account (IAM users without an
        MFA device, credential-process profiles); an ARN without an account is ignored."""
        node_id = self._by_name.get(name)
        learned = account_in_arn(arn)
        if node_id is None or learned is None:
            return
        node = self._nodes[node_id]
        if node.learned_account == learned:
            return
        before = self._account(node)
        node.learned_account = learned
        node.account = node.filter_text = None
        if self._account(node) != before:
            cell = self.createIndex(node.row, ACCOUNT, node_id)
            self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DisplayRole])

    def set_busy(self, name: str, busy: bool) -> None:
        self._update(name, busy=busy)

    def set_error(self, name: str, error: str | None) -> None:
        self._update(name, error=error)

    def error(self, name: str) -> str | None:
        node_id = self._by_name.get(name)
        return self._nodes[node_id].error if node_id is not None else None

    def expiry(self, name: str) -> float | None:
        node_id = self._by_name.get(name)
        return self._nodes[node_id].expiry if node_id is not None else None

    def matching(self, text: str) -> set[int]:
        """Node ids whose filter text contains ``text`` (case-insensitive), plus all their ancestors."""
        needle = text.lower()
        visible: set[int] = set()
        nodes = self._nodes
        for node_id in range(1, len(nodes)):
            node = nodes[node_id]
            if needle in (node.filter_text if node.filter_text is not None else self._filter_text(node)):
                while node_id > 0 and node_id not in visible:
                    visible.add(node_id)
                    node_id = nodes[node_id].parent
        return visible

    def node_id(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> int:
        """The node id of ``row`` under ``parent`` (cheap: no index is created)."""
        return self._nodes[parent.internalId()].children[row]

    def sessions(self) -> list[tuple[str, float]]:
        """(profile, expiry Unix time) of every row with a session, soonest first: what a tray would list."""
        nodes = self._nodes
        found = [(nodes[i].profile.name, nodes[i].expiry or 0.0) for i in self._with_session]
        return sorted(found, key=lambda item: item[1])

    def _update(self, name: str, **changes: Any) -> None:
        node_id = self._by_name.get(name)
        if node_id is None:
            return
        node = self._nodes[node_id]
        if all(getattr(node, key) == value for key, value in changes.items()):
            return
        for key, value in changes.items():
            setattr(node, key, value)
        if node.expiry is None:
            self._with_session.discard(node_id)
        else:
            self._with_session.add(node_id)
        node.shown_left = ""
        self.dataChanged.emit(
            self.createIndex(node.row, NAME, node_id), self.createIndex(node.row, TIME_LEFT, node_id)
        )

    def tick(self) -> int:
        """Refresh the time-left cells of rows with a session; returns how many cells changed.

        Only those cells are announced, in runs of adjacent siblings, so a view repaints just them.
        """
        now = self._clock()
        nodes = self._nodes
        changed: dict[int, list[int]] = {}  # parent node -> rows whose text changed
        for node_id in self._with_session:
            node = nodes[node_id]
            text = format_time_left((node.expiry or 0.0) - now)
            if text != node.shown_left:
                node.shown_left = text
                changed.setdefault(node.parent, []).append(node.row)
        count = 0
        for parent, rows in changed.items():
            rows.sort()
            siblings = nodes[parent].children
            start = previous = rows[0]
            for row in [*rows[1:], -1]:
                if row == previous + 1:
                    previous = row
                    continue
                self.dataChanged.emit(
                    self.createIndex(start, TIME_LEFT, siblings[start]),
                    self.createIndex(previous, TIME_LEFT, siblings[previous]),
                    _TICK_ROLES,
                )
                count += previous - start + 1
                start = previous = row
        return count

    # -- QAbstractItemModel ------------------------------------------------------------------------

    def _node(self, index: QModelIndex | QPersistentModelIndex) -> _Node | None:
        node_id = index.internalId()
        return self._nodes[node_id] if node_id else None

    def index(self, row: int, column: int, parent: _Parent = _INDEX) -> QModelIndex:
        siblings = self._nodes[parent.internalId()].children
        if 0 <= row < len(siblings) and 0 <= column < _COLUMN_COUNT and parent.column() <= 0:
            return self.createIndex(row, column, siblings[row])
        return QModelIndex()

    def parent(self, index: _Parent = _INDEX) -> QModelIndex:  # type: ignore[override]
        parent_id = self._nodes[index.internalId()].parent
        if parent_id == 0:
            return QModelIndex()
        return self.createIndex(self._nodes[parent_id].row, 0, parent_id)

    def sibling(self, row: int, column: int, index: _Parent) -> QModelIndex:
        node_id = index.internalId()
        if row == index.row() and node_id and 0 <= column < _COLUMN_COUNT:
            return self.createIndex(row, column, node_id)  # same row, other column: no parent lookup
        return super().sibling(row, column, index)

    def rowCount(self, parent: _Parent = _INDEX) -> int:
        if parent.column() > 0:
            return 0
        return len(self._nodes[parent.internalId()].children)

    def columnCount(self, parent: _Parent = _INDEX) -> int:
        return _COLUMN_COUNT

    def hasChildren(self, parent: _Parent = _INDEX) -> bool:
        return parent.column() <= 0 and bool(self._nodes[parent.internalId()].children)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY:
            return COLUMNS[section]
        return None

    def flags(self, index: _Parent) -> Qt.ItemFlag:
        return self._flags[index.internalId()]

    def data(self, index: _Parent, role: int = _DISPLAY) -> Any:
        if role not in _ROLES:  # size hints, fonts, alignment...: most of the calls a paint makes
            return None
        node_id = index.internalId()
        if not node_id:
            return None
        node = self._nodes[node_id]
        if role == _DISPLAY:
            return self._display(node, index.column())
        if role == _FOREGROUND:
            column = index.column()
            if column == TIME_LEFT and node.expiry is not None:
                return _URGENCY_COLOURS.get(urgency(node.expiry - self._clock()))
            if column == STATE and (node.error or node.profile.error):
                return _ERROR_BRUSH
            return None
        if role == _DECORATION:
            return self._icon(node, index.column())
        if role == _NAME_ROLE:
            return node.profile.name
        if role == _TOOLTIP:
            return self._tooltip(node, index.column())
        if role == _SECONDS:
            return None if node.expiry is None else node.expiry - self._clock()
        if role == _BUSY:
            return node.busy
        return self._filter_text(node)  # _FILTER

    def _state(self, node: _Node) -> str:
        if node.busy:
            return "working…"
        if node.error or node.profile.error:
            return "error"
        if node.expiry is not None:
            return "active" if node.expiry > self._clock() else "expired"
        return ""

    def _display(self, node: _Node, column: int) -> str:
        if column == NAME:
            return node.profile.name
        if column == TIME_LEFT:
            if node.expiry is None:
                return ""
            node.shown_left = format_time_left(node.expiry - self._clock())
            return node.shown_left
        if column == KIND:
            return kind_label(node.profile)
        if column == ACCOUNT:
            return self._account(node)
        return self._state(node)

    def _icon(self, node: _Node, column: int) -> QIcon | None:
        if self._icons is None:
            return None
        if column == NAME:
            return self._icons(node.profile.kind.value)
        if column == STATE:
            state = self._state(node)
            return self._icons({"working…": "busy"}.get(state, state)) if state else None
        return None

    def _tooltip(self, node: _Node, column: int) -> str | None:
        if column == STATE:
            return node.error or node.profile.error
        if column == NAME:
            return node.profile.role_arn or node.profile.name
        return None


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
        return self._text

    def set_filter_text(self, text: str) -> None:
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

    def filterAcceptsRow(self, source_row: int, source_parent: _Parent) -> bool:
        if self._visible is None or self._source is None:
            return True
        return self._source.node_id(source_row, source_parent) in self._visible
