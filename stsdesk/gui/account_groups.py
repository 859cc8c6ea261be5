"""The profile store's rows grouped by AWS account, without Qt: what the "By account" view shows.

Every profile row of :class:`stsdesk.gui.profile_store.ProfileStore` whatever its kind (IAM users, roles,
Identity Center assignments, federated users, credential processes) lands under the account it acts in: its
role ARN's or Identity Center assignment's account, else its MFA device's or SAML provider's, else the account
learned from a session. Identity Center sign-in and account rows are not profiles and are left out (their
roles are listed). Rows whose account is unknown go in a last group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stsdesk.core.model import ProfileKind
from stsdesk.gui.profile_store import ALIAS_KEY, ProfileStore, account_of, row_label

UNKNOWN_LABEL = "Account not known yet"


@dataclass(slots=True)
class AccountGroup:
    """One account: its 12-digit id (None: not known), alias, and the store's node ids of its rows."""

    account: str | None
    alias: str | None
    members: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        """"alias (id)", the id alone, or the unknown-account label."""
        if self.account is None:
            return UNKNOWN_LABEL
        return f"{self.alias} ({self.account})" if self.alias else self.account


def node_account(store: ProfileStore, node_id: int) -> tuple[str | None, str | None]:
    """(account id, alias) of the store's row ``node_id``; (None, None) when not known."""
    node = store.nodes[node_id]
    profile = node.profile
    account = account_of(profile) or node.learned_account
    parent = node.parent
    # A federated user (GetFederationToken) acts in its source user's account: the nearest source that says.
    while account is None and profile.kind is ProfileKind.FEDERATED_USER and parent:
        source = store.nodes[parent]
        account = account_of(source.profile) or source.learned_account
        parent = source.parent
    if account is None:
        return None, None
    alias = (profile.extra.get(ALIAS_KEY) if profile.extra else None) or store.aliases.get(account)
    return account, alias


def group_by_account(store: ProfileStore) -> list[AccountGroup]:
    """The store's profile rows grouped by account: groups ordered by label (unknown last), rows by name.
    Never raises."""
    groups: dict[str | None, AccountGroup] = {}
    nodes = store.nodes
    for node_id in range(1, len(nodes)):
        if nodes[node_id].group is not None:
            continue
        account, alias = node_account(store, node_id)
        group = groups.get(account)
        if group is None:
            group = groups[account] = AccountGroup(account, alias)
        elif group.alias is None and alias:
            group.alias = alias
        group.members.append(node_id)
    for group in groups.values():
        group.members.sort(key=lambda i: row_label(nodes[i].profile).lower())
    return sorted(groups.values(), key=lambda g: (g.account is None, (g.alias or g.account or "").lower()))


def matching_groups(store: ProfileStore, groups: list[AccountGroup], text: str) -> tuple[set[int], set[int]]:
    """What the filter ``text`` leaves in the account view: (indexes of visible groups, visible node ids).
    A row matches as in the source tree (name, kind, account, ARNs); a group whose label matches shows all
    its rows; a group shows when any of its rows does."""
    needle = text.strip().lower()
    visible_groups: set[int] = set()
    visible_nodes: set[int] = set()
    for index, group in enumerate(groups):
        if needle in group.label.lower():
            visible_groups.add(index)
            visible_nodes.update(group.members)
            continue
        for node_id in group.members:
            if needle in store.filter_text(store.nodes[node_id]):
                visible_nodes.add(node_id)
                visible_groups.add(index)
    return visible_groups, visible_nodes
