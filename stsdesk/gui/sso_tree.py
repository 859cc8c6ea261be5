"""The Identity Center part of the profile tree, without Qt: sign-in sessions as top-level rows, the accounts
discovered for them beneath, and the roles beneath those, configured or not.

A role that no profile of the config points at becomes an in-memory profile (kind SSO, marked with
``GENERATED_KEY``) named as ``stsdesk sso sync`` would write it; :func:`with_generated` adds those to the
broker's ProfileTree so that they are assumed exactly like configured SSO profiles. Configured SSO profiles of
a shown session move from the top level to their account; roles chained from them stay beneath them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from stsdesk.core.model import Profile, ProfileKind
from stsdesk.core.profiles import ProfileTree
from stsdesk.core.sso.config import SsoSession
from stsdesk.gui.profile_store import ACCOUNT_TEXT_KEY, GENERATED_KEY, GROUP_KEY, GROUP_PREFIX, LABEL_KEY

if TYPE_CHECKING:  # sso.discovery and sso.sync (~3 ms) only once accounts are discovered: not for the first rows
    from stsdesk.core.sso.discovery import SsoAccount

TOOLTIP_KEY = "stsdesk_tooltip"


def session_row_name(session: SsoSession) -> str:
    """The internal name of ``session``'s row."""
    return f"{GROUP_PREFIX}sso-session:{session.cache_name}"


def account_row_name(session: SsoSession, account_id: str) -> str:
    """The internal name of an account row beneath ``session``."""
    return f"{GROUP_PREFIX}sso-account:{session.cache_name}:{account_id}"


def signs_in_with(profile: Profile, session: SsoSession) -> bool:
    """Whether SSO profile ``profile`` uses ``session`` (the rule of SsoService.profiles_of)."""
    if profile.kind is not ProfileKind.SSO or profile.error is not None:
        return False
    if session.name is not None:
        return profile.sso_session == session.name
    return not profile.sso_session and profile.sso_start_url == session.start_url


@dataclass
class SsoRows:
    """Rows for a profile tree and the sign-in sessions found in it; ``generated`` are the in-memory profiles
    of discovered roles that no profile points at."""

    tree: ProfileTree
    roots: list[Profile]
    below: dict[str, list[Profile]]
    generated: dict[str, Profile] = field(default_factory=dict)
    sessions: dict[str, SsoSession] = field(default_factory=dict)  # row name -> session

    def children(self, name: str) -> list[Profile]:
        """Children of ``name``'s row: accounts of a session, roles of an account, else the config's."""
        found = self.below.get(name)
        return list(found) if found is not None else self.tree.children(name)


def _group(name: str, kind: str, label: str, tip: str) -> Profile:
    extra = {GROUP_KEY: kind, LABEL_KEY: label, TOOLTIP_KEY: tip}
    return Profile(name, ProfileKind.SSO if kind == "sso-session" else ProfileKind.OTHER, extra=extra)


def build_rows(
    tree: ProfileTree,
    sessions: Iterable[SsoSession],
    discovered: Mapping[str, list[SsoAccount]],
    users: Mapping[str, str | None] | None = None,
) -> SsoRows:
    """The rows for ``tree``: ``discovered`` maps a session's cache name to its accounts (absent: not
    discovered yet, so only the configured profiles are grouped); ``users`` who is signed in to each."""
    users = users or {}
    rows = SsoRows(tree, [], {})
    moved: set[str] = set()
    session_rows: list[Profile] = []
    # The config's own profiles: in-memory ones added to the broker's tree last time are made afresh below.
    configured_profiles = [p for p in tree.profiles.values() if GENERATED_KEY not in p.extra]
    taken: dict[str, dict[str, str | None]] = {p.name: {} for p in configured_profiles}  # names in use
    for session in sessions:
        row = session_row_name(session)
        rows.sessions[row] = session
        user = users.get(session.cache_name)
        label = f"{session.label} — {user}" if user else session.label
        session_row = _group(row, "sso-session", label, f"IAM Identity Center {session.start_url}")
        session_row.extra[ACCOUNT_TEXT_KEY] = session.start_url
        session_rows.append(session_row)
        configured = [p for p in configured_profiles if signs_in_with(p, session)]
        region = next((p.region for p in configured if p.region), None) or session.region
        accounts: dict[str, tuple[str, list[Profile]]] = {}
        for profile in configured:
            account_id = str(profile.sso_account_id)
            accounts.setdefault(account_id, ("", []))[1].append(profile)
            moved.add(profile.name)
        found = discovered.get(session.cache_name)
        if found is not None:
            for account in found:
                accounts[account.account_id] = (account.name, accounts.get(account.account_id, ("", []))[1])
            # Only this session's profiles count as pointing at its roles (a legacy session has no name: its
            # profiles are matched by start URL, through signs_in_with, under the key "").
            key = session.name or ""
            existing = {**taken, **{
                p.name: {"sso_session": key, "sso_account_id": p.sso_account_id, "sso_role_name": p.sso_role_name}
                for p in configured
            }}
            from stsdesk.core.sso.sync import plan

            planned = plan(key, region, found, existing)
            for entry in planned.missing:
                profile = _generated(entry.name, session, entry.account_id, entry.role_name, region)
                rows.generated[entry.name] = profile
                accounts[entry.account_id][1].append(profile)
                taken[entry.name] = {}
        children: list[Profile] = []
        for account_id, (name, roles) in sorted(accounts.items(), key=lambda item: (item[1][0].lower(), item[0])):
            label = f"{name} ({account_id})" if name else account_id
            account_row = account_row_name(session, account_id)
            children.append(_group(account_row, "sso-account", label, f"account {account_id} in {session.label}"))
            rows.below[account_row] = sorted(roles, key=lambda p: (str(p.sso_role_name), p.name))
        rows.below[row] = children
    rows.roots = [*session_rows, *(p for p in tree.roots() if p.name not in moved)]
    return rows


def _generated(name: str, session: SsoSession, account_id: str, role: str, region: str) -> Profile:
    """An in-memory SSO profile for a discovered role (endpoint as its session's, so the demo stays local)."""
    legacy = session.name is None
    return Profile(
        name,
        ProfileKind.SSO,
        region=region,
        endpoint_url=session.endpoint_url,
        sso_session=session.name,
        sso_account_id=account_id,
        sso_role_name=role,
        sso_start_url=session.start_url if legacy else None,
        sso_region=session.region if legacy else None,
        chain=(name,),
        extra={GENERATED_KEY: session.cache_name},
    )


def with_generated(tree: ProfileTree, generated: Mapping[str, Profile]) -> ProfileTree:
    """``tree`` plus the in-memory profiles ``generated`` (names the config has win); ``tree`` itself when
    there is nothing to add."""
    missing = {name: p for name, p in generated.items() if name not in tree.profiles}
    stale = [name for name, p in tree.profiles.items() if GENERATED_KEY in p.extra and name not in generated]
    if not missing and not stale:
        return tree
    profiles = {name: p for name, p in tree.profiles.items() if name not in stale}
    profiles.update(missing)
    return replace(tree, profiles=MappingProxyType(profiles))


RowsFor = Callable[[ProfileTree], tuple[list[Profile], Callable[[str], list[Profile]]]]
