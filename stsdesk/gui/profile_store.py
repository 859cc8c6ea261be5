"""The profile tree's rows and their runtime state, without Qt: what the Qt model (tree_model.py) shows.

Nodes are kept in one list; a node's id is its position (id 0 is the invisible root), so the Qt model can use
ids as ``internalId`` and answer ``index``/``parent``/``rowCount`` with a list lookup. The controller pushes in
session expiry, busy flags, errors and learned accounts; the store says which node changed, the model tells
the view. Pure Python: testable without a QApplication.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from stsdesk.core.model import Profile, ProfileKind

ALIAS_KEY = "stsdesk_account_alias"
# Rows that are not profiles of the config (Identity Center sign-in sessions and their accounts) carry these in
# ``Profile.extra``; their names start with GROUP_PREFIX, which no profile name in an INI file can hold.
GROUP_KEY = "stsdesk_group"  # "sso-session" or "sso-account"
LABEL_KEY = "stsdesk_label"  # what the Name cell shows instead of the (internal) name
GENERATED_KEY = "stsdesk_generated"  # an Identity Center role not (yet) in the config: an in-memory profile
GROUP_PREFIX = "\x1f"
_GROUP_LABELS = {"sso-session": "sign-in", "sso-account": "account"}

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


def kind_label(profile: Profile) -> str:
    """Short, readable kind; a role assumed from another role's session is a "chained role"."""
    if profile.extra:
        group = profile.extra.get(GROUP_KEY)
        if group is not None:
            return _GROUP_LABELS.get(group, group)
        if GENERATED_KEY in profile.extra:
            return "Identity Center (not in config)"
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
class ProfileNode:
    """One row: a profile, where it sits, and what the controller told about it."""

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
    group: str | None = None  # GROUP_KEY of a sign-in session or account row; None for a profile
    note: str | None = None  # a group row's State text ("signed in as ana", "not signed in")
    served: str | None = None  # the endpoint when this profile's credentials are being served


ACCOUNT_TEXT_KEY = "stsdesk_account_text"  # a group row's Account cell (a sign-in session's start URL)


def time_left_text(node: ProfileNode, seconds: float, format_left: Callable[[float], str]) -> str:
    """The Time left cell: a sign-in (which can last months) in days and hours past two days."""
    if node.group is not None and seconds > 2 * 86400:
        return f"{int(seconds // 86400)} d {int(seconds % 86400 // 3600)} h"
    return format_left(seconds)


def is_group_name(name: str | None) -> bool:
    """True for the internal name of a sign-in session or account row (not a profile)."""
    return bool(name) and str(name).startswith(GROUP_PREFIX)


def row_label(profile: Profile) -> str:
    """The Name cell: the profile's name, or a group row's label."""
    return profile.extra.get(LABEL_KEY, profile.name) if profile.extra else profile.name


ROOT_PROFILE = Profile("", ProfileKind.OTHER)


def state_text(node: ProfileNode, now: float) -> str:
    """The State cell: working…, error, a group row's note, active (served), expired or empty."""
    if node.busy:
        return "working…"
    if node.error or node.profile.error:
        return "error"
    if node.note is not None:
        return node.note
    if node.served is not None:
        return "served"
    if node.expiry is not None:
        return "active" if node.expiry > now else "expired"
    return ""


class ProfileStore:
    """The rows of the profile tree (``nodes``, id = position, 0 = root) and their runtime state."""

    def __init__(self) -> None:
        self.nodes: list[ProfileNode] = [ProfileNode(ROOT_PROFILE, 0, -1, [])]
        self.by_name: dict[str, int] = {}
        self.aliases: dict[str, str] = {}
        self.with_session: set[int] = set()  # node ids whose expiry is set (ticks look only at these)
        self.favourites: frozenset[str] = frozenset()  # profiles marked with a star in the Name cell
        self._sessions: list[tuple[str, float]] | None = None  # sessions(), until a load or an expiry changes
        # The nodes of with_session by parent, in id order (the tick's), until a session starts or ends.
        self._ticked: list[tuple[int, list[ProfileNode]]] | None = None

    # -- loading ---------------------------------------------------------------------------------------

    def load(
        self,
        roots: Iterable[Profile],
        children: Callable[[str], list[Profile]],
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Replace every row. Runtime state of profiles that still exist is kept. A name seen twice is shown
        once (a tree that repeats a name would otherwise loop forever)."""
        old = {node.profile.name: node for node in self.nodes[1:]}
        self.aliases = dict(aliases or {})
        root = ProfileNode(ROOT_PROFILE, 0, -1, [])
        nodes: list[ProfileNode] = [root]
        # Iterative walk: chains of any depth without recursion limits.
        stack: list[tuple[Profile, int, list[int]]] = [(p, 0, root.children) for p in reversed(list(roots))]
        seen: set[str] = set()
        with_session: set[int] = set()
        while stack:
            profile, parent, siblings = stack.pop()
            if profile.name in seen:
                continue
            seen.add(profile.name)
            node_id = len(nodes)
            node = ProfileNode(profile, parent, len(siblings), [])
            if profile.extra and GROUP_KEY in profile.extra:
                node.group = profile.extra[GROUP_KEY]
            previous = old.get(profile.name)
            if previous is not None:
                node.busy, node.error, node.expiry = previous.busy, previous.error, previous.expiry
                node.learned_account, node.note, node.served = previous.learned_account, previous.note, previous.served
                if node.expiry is not None:
                    with_session.add(node_id)
            nodes.append(node)
            siblings.append(node_id)
            stack.extend((child, node_id, node.children) for child in reversed(children(profile.name)))
        self.nodes = nodes
        self.by_name = {node.profile.name: i for i, node in enumerate(nodes) if i}
        self.with_session = with_session
        self._sessions = self._ticked = None

    # -- derived text ----------------------------------------------------------------------------------

    def account(self, node: ProfileNode) -> str:
        """The Account text, "alias (id)"; the config's account wins over a learned one (a role's ARN says
        where it acts; an IAM user's account is only known from its session)."""
        if node.account is None and node.group is not None:
            node.account = node.profile.extra.get(ACCOUNT_TEXT_KEY, "")
        if node.account is None:
            profile = node.profile
            account = account_of(profile) or node.learned_account
            alias = profile.extra.get(ALIAS_KEY) or (self.aliases.get(account) if account else None)
            node.account = f"{alias} ({account})" if account and alias else (alias or account or "")
        return node.account

    def filter_text(self, node: ProfileNode) -> str:
        """Lower-cased name, kind, account, role ARN and MFA device: what the filter matches."""
        if node.filter_text is None:
            profile = node.profile
            words = (row_label(profile), kind_label(profile), self.account(node), profile.role_arn or "",
                     profile.mfa_serial or "")
            node.filter_text = " ".join(words).lower()
        return node.filter_text

    def matching(self, text: str) -> set[int]:
        """Node ids whose filter text contains ``text`` (case-insensitive), plus all their ancestors."""
        needle = text.lower()
        visible: set[int] = set()
        nodes = self.nodes
        for node_id in range(1, len(nodes)):
            node = nodes[node_id]
            if needle in (node.filter_text if node.filter_text is not None else self.filter_text(node)):
                while node_id > 0 and node_id not in visible:
                    visible.add(node_id)
                    node_id = nodes[node_id].parent
        return visible

    # -- queries ---------------------------------------------------------------------------------------

    def node(self, name: str) -> ProfileNode | None:
        """``name``'s row, or None."""
        node_id = self.by_name.get(name)
        return self.nodes[node_id] if node_id is not None else None

    def parent_names(self) -> list[str]:
        """The profiles that have children in the tree (the only rows that can expand)."""
        return [node.profile.name for node in self.nodes[1:] if node.children]

    def names_with_state(self) -> list[str]:
        """Profiles whose row shows a session, a busy mark or an error now."""
        return [node.profile.name for node in self.nodes[1:]
                if node.group is None and (node.expiry is not None or node.error or node.busy)]

    def sessions(self) -> list[tuple[str, float]]:
        """(profile, expiry Unix time) of every row with a session, soonest first: what a tray would list."""
        if self._sessions is None:  # the countdown, its expiry check and the tray each ask every second
            nodes = self.nodes
            found = [(nodes[i].profile.name, nodes[i].expiry or 0.0) for i in self.with_session
                     if nodes[i].group is None]
            self._sessions = sorted(found, key=lambda item: item[1])
        return list(self._sessions)

    # -- changes ---------------------------------------------------------------------------------------

    def set_busy(self, name: str, busy: bool) -> int | None:
        """Mark ``name`` busy or not; the node id when that changed (repaint its row), else None."""
        node = self.node(name)
        if node is None or node.busy == busy:
            return None
        node.busy = busy
        return self._changed(name)

    def set_error(self, name: str, error: str | None) -> int | None:
        """Set ``name``'s last error (None: none); the node id when that changed, else None."""
        node = self.node(name)
        if node is None or node.error == error:
            return None
        node.error = error
        return self._changed(name)

    def set_expiry(self, name: str, expiry: float | None) -> int | None:
        """Set when ``name``'s session expires (Unix time; None: no session); the node id when that changed."""
        node = self.node(name)
        if node is None or node.expiry == expiry:
            return None
        node.expiry = expiry
        return self._changed(name)

    def set_note(self, name: str, note: str | None) -> int | None:
        """Set a group row's State text; the node id when that changed, else None."""
        node = self.node(name)
        if node is None or node.note == note:
            return None
        node.note = note
        return self._changed(name)

    def set_served(self, name: str, endpoint: str | None) -> int | None:
        """Mark ``name`` as served at ``endpoint`` (None: not served); the node id when that changed."""
        node = self.node(name)
        if node is None or node.served == endpoint:
            return None
        node.served = endpoint
        return self._changed(name)

    def served(self) -> dict[str, str]:
        """Profile -> endpoint of every row marked as served."""
        return {node.profile.name: node.served for node in self.nodes[1:] if node.served is not None}

    def _changed(self, name: str) -> int:
        node_id = self.by_name[name]
        node = self.nodes[node_id]
        self._sessions = None
        if (node.expiry is not None) != (node_id in self.with_session):
            self._ticked = None
            if node.expiry is None:
                self.with_session.discard(node_id)
            else:
                self.with_session.add(node_id)
        node.shown_left = ""
        return node_id

    def learn_identity(self, name: str, arn: str | None) -> int | None:
        """Learn ``name``'s account from its session or caller ARN. Only changes the Account text of profiles
        whose config names no account; an ARN without an account is ignored. Returns the node id when the
        Account text changed, else None."""
        node_id = self.by_name.get(name)
        learned = account_in_arn(arn)
        if node_id is None or learned is None:
            return None
        node = self.nodes[node_id]
        if node.learned_account == learned:
            return None
        before = self.account(node)
        node.learned_account = learned
        node.account = node.filter_text = None
        return node_id if self.account(node) != before else None

    def tick(self, now: float, format_left: Callable[[float], str]) -> dict[int, list[int]]:
        """Work out the time-left text of rows with a session at ``now``; returns {parent node id: rows whose
        text changed}, rows sorted. ``format_left`` must depend on the whole seconds only above zero (as
        format_time_left): sessions made together share a second, so it runs once per distinct second."""
        # Every second, for every session (500 in issue 17's idle figure): the nodes are kept by parent in id
        # order (a parent's rows ascend with their ids, so no sort) and each step is as plain as it can be.
        ticked = self._ticked
        if ticked is None:
            nodes = self.nodes
            groups: dict[int, list[ProfileNode]] = {}
            for node_id in sorted(self.with_session):
                groups.setdefault(nodes[node_id].parent, []).append(nodes[node_id])
            ticked = self._ticked = list(groups.items())
        changed: dict[int, list[int]] = {}
        texts: dict[int, str] = {}  # whole seconds left -> text, this tick
        for parent, siblings in ticked:
            rows = []
            for node in siblings:
                left = (node.expiry or 0.0) - now
                if left > 0 and node.group is None:
                    text = texts.get(whole := int(left))
                    if text is None:
                        text = texts[whole] = format_left(left)
                else:
                    text = time_left_text(node, left, format_left)
                if text != node.shown_left:
                    node.shown_left = text
                    rows.append(node.row)
            if rows:
                changed[parent] = rows
        return changed
