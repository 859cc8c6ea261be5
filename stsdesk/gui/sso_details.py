"""The details pane of an Identity Center sign-in session row and of an account row, as HTML (values escaped;
never a token: the sign-in state comes from :class:`stsdesk.core.sso.tokens.TokenState`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from stsdesk.core.model import Profile
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.discovery import SsoAccount
from stsdesk.core.sso.tokens import TokenState
from stsdesk.gui.profile_store import GENERATED_KEY, LABEL_KEY, row_label

if TYPE_CHECKING:
    from stsdesk.core.sso.service import SsoService
    from stsdesk.gui.sso_tree import SsoRows


def row_details(
    name: str, rows: SsoRows, service: SsoService, accounts: Mapping[str, list[SsoAccount]], shown: Profile | None
) -> str | None:
    """The details of row ``name`` when it is a session or account row of ``rows``, else None. ``shown`` is the
    row's profile as the tree has it (its label says who signed in)."""
    session = rows.sessions.get(name)
    if session is not None:
        user = shown.extra.get(LABEL_KEY, "").partition(" — ")[2] if shown is not None else ""
        return session_html(session, service.status(session), user or None, accounts.get(session.cache_name),
                            rows.below.get(name, []), rows.generated)
    for row, owner in rows.sessions.items():
        for account in rows.below.get(row, []):
            if account.name == name:
                return account_html(owner, account, rows.below.get(name, []))
    return None


def _local(when: datetime | None) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M %Z") if when is not None else "—"


def _table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='4'>{cells}</table>"


def session_html(
    session: SsoSession,
    state: TokenState,
    user: str | None,
    accounts: list[SsoAccount] | None,
    account_rows: Sequence[Profile],
    generated: Mapping[str, Profile],
) -> str:
    """A sign-in session: start URL, region, who is signed in, until when, what was discovered, what to do."""
    rows = [("Kind", "IAM Identity Center sign-in"), ("Start URL", session.start_url), ("Region", session.region)]
    if session.name is not None:
        rows.append(("sso-session", session.name))
    if state.problem:
        rows.append(("Sign-in", f"damaged: {state.problem}"))
    elif state.signed_in:
        rows.append(("Signed in as", user or "not known yet (shown once a role of it is used)"))
        rows.append(("Sign-in ends", _local(state.sign_in_ends())))
        rows.append(("Access token until", _local(state.access_expires)
                     + (" (renewed on its own)" if state.refreshable else "")))
    else:
        rows.append(("Sign-in", "not signed in"))
    if accounts is not None:
        roles = sum(len(a.roles) for a in accounts)
        rows.append(("Discovered", f"{len(accounts)} accounts, {roles} roles ({len(generated)} not in the config)"))
    else:
        rows.append(("Accounts shown", f"{len(account_rows)} (from the config; sign in to list them all)"))
    hint = ("Right-click for Sign out or to list the accounts again." if state.signed_in
            else "Press Enter or double-click to sign in in the browser.")
    return f"<h3>{html.escape(session.label)}</h3>{_table(rows)}<p>{html.escape(hint)}</p>"


def account_html(session: SsoSession, account: Profile, roles: Sequence[Profile]) -> str:
    """An account of a sign-in session: its roles, and which of them are in the config."""
    configured = [p.name for p in roles if GENERATED_KEY not in p.extra]
    rows = [("Kind", "account"), ("Sign-in", session.label), ("Roles", str(len(roles))),
            ("In the config", ", ".join(configured) or "none")]
    hint = "Roles not in the config are assumed all the same; right-click one to add it to the config."
    return f"<h3>{html.escape(row_label(account))}</h3>{_table(rows)}<p>{html.escape(hint)}</p>"
