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
    ProfileKind.OTHER: "other",
}
_URGENCY_COLOURS = {
    Urgency.WARN: QBrush(QColor("#b26a00")),  # amber, readable on light and dark backgrounds
    Urgency.CRITICAL: QBrush(QColor("#c62828")),
    Urgency.EXPIRED: QBrush(QColor("#888888")),
}
_ERROR_BRUSH = QBrush(QColor("#c62828"))
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


@dataclass
class _Node:
    profile: Profile
    parent: int  # node id of the parent, -1 at the top
    row: int
    children: list[int]
    account: str  # display text
    filter_text: str  # lower-cased name, kind, account, alias and role ARN
    busy: bool = False
    error: str | None = None
    expiry: float | None = None  # wall-clock Unix time of the session's expiry
    shown_left: str = ""  # the time-left text last shown (ticks only notify when it changes)
    learned_account: str | None = None  # from a session or caller ARN, for profiles whose config names none


class ProfileTreeModel(QAbstractItemModel):
    """Profiles as a tree with columns name, kind, account, state and time left.

    ``icons`` maps (kind value or state name) to a QIcon; it is called lazily so that startup does not pay
    for SVG rendering. ``clock`` returns Unix time (tests pass a fake one).
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
        self._nodes: list[_Node] = []
        self._top: list[int] = []
        self._by_name: dict[str, int] = {}
        self._aliases: dict[str, str] = {}

    # -- loading -----------------------------------------------------------------------------------

    def set_profiles(
        self,
        roots: Iterable[Profile],
        children: Callable[[str], list[Profile]],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Replace the whole tree (a model reset). Runtime state of profiles that still exist is kept."""
        old = {node.profile.name: node for node in self._nodes}
        self._aliases = dict(aliases or {})
        self.beginResetModel()
        nodes: list[_Node] = []
        top: list[int] = []
        # Iterative walk: chains of any depth without recursion limits.
        stack: list[tuple[Profile, int, list[int]]] = [(p, -1, top) for p in reversed(list(roots))]
        seen: set[str] = set()
        while stack:
            profile, parent, siblings = stack.pop()
            if profile.name in seen:  # defensive: a tree that repeats a name would loop forever
                continue
            seen.add(profile.name)
            node_id = len(nodes)
            node = self._make_node(profile, parent, len(siblings))
            previous = old.get(profile.name)
            if previous is not None:
                node.busy, node.error, node.expiry = previous.busy, previous.error, previous.expiry
                if previous.learned_account:
                    self._label_account(node, previous.learned_account)
            nodes.append(node)
            siblings.append(node_id)
            stack.extend((child, node_id, node.children) for child in reversed(children(profile.name)))
        self._nodes = nodes
        self._top = top
        self._by_name = {node.profile.name: i for i, node in enumerate(nodes)}
        self.endResetModel()

    def _make_node(self, profile: Profile, parent: int, row: int) -> _Node:
        node = _Node(profile, parent, row, [], "", "")
        self._label_account(node, None)
        return node

    def _label_account(self, node: _Node, learned: str | None) -> None:
        """Set the Account text ("alias (id)") and the filter text; the config's account wins over a learned one
        (a role's ARN says where it acts; an IAM user's account is only known from its session)."""
        profile = node.profile
        account = account_of(profile) or learned
        node.learned_account = learned
        alias = profile.extra.get(ALIAS_KEY) or (self._aliases.get(account) if account else None)
        node.account = f"{alias} ({account})" if account and alias else (alias or account or "")
        words = (profile.name, kind_label(profile), node.account, profile.role_arn or "", profile.mfa_serial or "")
        node.filter_text = " ".join(words).lower()

    # -- runtime state (pushed in by the controller) -------------------------------------------------

    def profile_names(self) -> list[str]:
        return [node.profile.name for node in self._nodes]

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
        before = node.account
        self._label_account(node, learned)
        if node.account != before:
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
        for node_id, node in enumerate(nodes):
            if needle in node.filter_text:
                while node_id >= 0 and node_id not in visible:
                    visible.add(node_id)
                    node_id = nodes[node_id].parent
        return visible

    def node_id(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> int:
        """The node id of ``row`` under ``parent`` (cheap: no index is created)."""
        siblings = self._nodes[parent.internalId()].children if parent.isValid() else self._top
        return siblings[row]

    def sessions(self) -> list[tuple[str, float]]:
        """(profile, expiry Unix time) of every row with a session, soonest first: what a tray would list."""
        found = [(n.profile.name, n.expiry) for n in self._nodes if n.expiry is not None]
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
        node.shown_left = ""
        self.dataChanged.emit(
            self.createIndex(node.row, NAME, node_id), self.createIndex(node.row, TIME_LEFT, node_id)
        )

    def tick(self) -> int:
        """Refresh the time-left cells of rows with a session; returns how many cells changed.

        Only those cells are announced, in runs of adjacent siblings, so a view repaints just them.
        """
        now = self._clock()
        changed: dict[int, list[int]] = {}  # parent node -> rows whose text changed
        for node_id, node in enumerate(self._nodes):
            if node.expiry is None:
                continue
            text = format_time_left(node.expiry - now)
            if text != node.shown_left:
                node.shown_left = text
                changed.setdefault(node.parent, []).append(node_id)
        count = 0
        for ids in changed.values():
            ids.sort(key=lambda i: self._nodes[i].row)
            start = previous = ids[0]
            for node_id in [*ids[1:], -1]:
                if node_id != -1 and self._nodes[node_id].row == self._nodes[previous].row + 1:
                    previous = node_id
                    continue
                self.dataChanged.emit(
                    self.createIndex(self._nodes[start].row, TIME_LEFT, start),
                    self.createIndex(self._nodes[previous].row, TIME_LEFT, previous),
                    [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole],
                )
                count += self._nodes[previous].row - self._nodes[start].row + 1
                start = previous = node_id
        return count

    # -- QAbstractItemModel ------------------------------------------------------------------------

    def _node(self, index: QModelIndex | QPersistentModelIndex) -> _Node | None:
        if not index.isValid():
            return None
        return self._nodes[index.internalId()]

    def index(self, row: int, column: int, parent: _Parent = _INDEX) -> QModelIndex:
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        siblings = self._nodes[parent.internalId()].children if parent.isValid() else self._top
        if row >= len(siblings):
            return QModelIndex()
        return self.createIndex(row, column, siblings[row])

    def parent(self, index: _Parent = _INDEX) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent_id = self._nodes[index.internalId()].parent
        if parent_id < 0:
            return QModelIndex()
        return self.createIndex(self._nodes[parent_id].row, 0, parent_id)

    def rowCount(self, parent: _Parent = _INDEX) -> int:
        if not parent.isValid():
            return len(self._top)
        if parent.column() != 0:
            return 0
        return len(self._nodes[parent.internalId()].children)

    def columnCount(self, parent: _Parent = _INDEX) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: _Parent) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Parent, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self._nodes[index.internalId()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == FILTER_ROLE:
            return node.filter_text
        if role == PROFILE_NAME_ROLE:
            return node.profile.name
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == TIME_LEFT and node.expiry is not None:
                return _URGENCY_COLOURS.get(urgency(node.expiry - self._clock()))
            if column == STATE and (node.error or node.profile.error):
                return _ERROR_BRUSH
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(node, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node, column)
        if role == SECONDS_LEFT_ROLE:
            return None if node.expiry is None else node.expiry - self._clock()
        if role == BUSY_ROLE:
            return node.busy
        return None

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
        if column == KIND:
            return kind_label(node.profile)
        if column == ACCOUNT:
            return node.account
        if column == STATE:
            return self._state(node)
        if node.expiry is None:
            return ""
        node.shown_left = format_time_left(node.expiry - self._clock())
        return node.shown_left

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
        if self._visible is None:
            return True
        model = self.sourceModel()
        assert isinstance(model, ProfileTreeModel)
        return model.node_id(source_row, source_parent) in self._visible
