"""Accounts and roles a signed-in user may use, from the portal (ListAccounts, ListAccountRoles).

ListAccounts is paginated (100 a page); ListAccountRoles runs for every account concurrently in a bounded
pool, so 500 accounts take a few round trips' time rather than 500. Throttling (429) is retried by
botocore's standard retry mode. Blocking: async callers run :func:`discover` in an executor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from stsdesk.core.sso.client import translate

MAX_WORKERS = 8
_ACCOUNT_ID = re.compile(r"\d{12}")


@dataclass(frozen=True)
class SsoAccount:
    """One account the user is assigned to, with the roles (permission sets) they may use in it."""

    account_id: str
    name: str
    email: str
    roles: tuple[str, ...]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def list_accounts(portal: Any, access_token: str) -> list[dict[str, str]]:
    """Every account of ListAccounts (all pages), as {accountId, accountName, emailAddress}."""
    from botocore.exceptions import BotoCoreError, ClientError

    accounts: list[dict[str, str]] = []
    try:
        for page in portal.get_paginator("list_accounts").paginate(
            accessToken=access_token, PaginationConfig={"PageSize": 100}
        ):
            for account in page.get("accountList") or ():
                accounts.append(
                    {
                        "accountId": _text(account.get("accountId")),
                        "accountName": _text(account.get("accountName")),
                        "emailAddress": _text(account.get("emailAddress")),
                    }
                )
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, "the IAM Identity Center portal (ListAccounts)") from None
    return accounts


def list_roles(portal: Any, access_token: str, account_id: str) -> tuple[str, ...]:
    """Every role name of ListAccountRoles for one account (all pages), in the portal's order."""
    from botocore.exceptions import BotoCoreError, ClientError

    roles: list[str] = []
    try:
        for page in portal.get_paginator("list_account_roles").paginate(
            accessToken=access_token, accountId=account_id, PaginationConfig={"PageSize": 100}
        ):
            roles.extend(_text(role.get("roleName")) for role in page.get("roleList") or ())
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, f"the IAM Identity Center portal (ListAccountRoles {account_id})") from None
    return tuple(role for role in roles if role)


def discover(
    portal: Any,
    access_token: str,
    *,
    max_workers: int = MAX_WORKERS,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[SsoAccount]:
    """All accounts with their roles, sorted by account name then id.

    ``on_progress(done, total)`` is called from worker threads as accounts complete. Accounts whose id is not
    12 digits are dropped (they could not be used anyway). Raises SsoCallError (UnauthorizedException when
    the token was refused), Throttled, NetworkError.
    """
    accounts = [a for a in list_accounts(portal, access_token) if _ACCOUNT_ID.fullmatch(a["accountId"])]
    total = len(accounts)
    done = 0

    def roles_of(account: dict[str, str]) -> SsoAccount:
        nonlocal done
        roles = list_roles(portal, access_token, account["accountId"])
        done += 1  # only for progress display; an off-by-one under a race is harmless
        if on_progress is not None:
            on_progress(done, total)
        return SsoAccount(account["accountId"], account["accountName"], account["emailAddress"], roles)

    if not accounts:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, total)), thread_name_prefix="stsdesk-sso") as pool:
        found = list(pool.map(roles_of, accounts))
    return sorted(found, key=lambda a: (a.name.lower(), a.account_id))
