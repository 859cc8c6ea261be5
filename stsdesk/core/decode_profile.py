"""Which profile should decode a pasted authorization failure: the one whose principal is named in the text.

AWS error text names who was refused ("User: arn:aws:sts::222222222222:assumed-role/Developer/me is not
authorized to perform: ..."); the profile that is that role (or an IAM Identity Center profile provisioning
it) is the best guess at one that may call sts:DecodeAuthorizationMessage in that account. One home for the
rule: the CLI's ``decode`` without ``--profile`` uses it, and the GUI can. No Qt, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stsdesk.core.model import ProfileKind

if TYPE_CHECKING:
    from stsdesk.core.profiles import ProfileTree

_PRINCIPAL = re.compile(
    r"arn:aws[a-z-]*:(?:sts|iam)::(\d{12}):(assumed-role|role|user|federated-user)/([A-Za-z0-9+=,.@_/-]+)"
)


@dataclass(frozen=True)
class Principal:
    """The refused principal named in an error text."""

    arn: str
    account: str
    kind: str  # assumed-role, role, user, federated-user
    name: str  # the role's or user's name (an assumed role's session name dropped)


def principal_in(text: str) -> Principal | None:
    """The first principal ARN in ``text`` (None when there is none). Never raises."""
    found = _PRINCIPAL.search(text)
    if found is None:
        return None
    account, kind, rest = found.group(1), found.group(2), found.group(3).rstrip(".,;")
    parts = rest.split("/")
    # assumed-role/NAME/SESSION; role/PATH/NAME; user/PATH/NAME
    name = parts[0] if kind == "assumed-role" else parts[-1]
    return Principal(found.group(0).rstrip(".,;"), account, kind, name)


def _is_that_role(tree: ProfileTree, name: str, principal: Principal) -> bool:
    profile = tree.profiles[name]
    if profile.error is not None:
        return False
    if profile.kind is ProfileKind.SSO:
        return (
            profile.sso_account_id == principal.account
            and bool(profile.sso_role_name)
            and principal.name.startswith(f"AWSReservedSSO_{profile.sso_role_name}_")
        )
    arn = (profile.role_arn or "").split(":")
    return len(arn) >= 6 and arn[4] == principal.account and arn[5].rsplit("/", 1)[-1] == principal.name


def _user_account(tree: ProfileTree, name: str) -> str | None:
    """The account of an IAM user profile, as far as the config says (its MFA device's ARN)."""
    profile = tree.profiles[name]
    if profile.kind is not ProfileKind.IAM_USER or profile.error is not None or not profile.mfa_serial:
        return None
    parts = profile.mfa_serial.split(":")
    return parts[4] if len(parts) >= 6 and parts[4].isdigit() else None


def decode_candidates(tree: ProfileTree, text: str) -> tuple[Principal | None, list[str]]:
    """The principal named in ``text`` and the profiles that are it, best first: for a role, the profiles
    assuming that role (or provisioning it through Identity Center); for a user, the IAM user profiles in that
    account; else any usable profile in that account. Empty when nothing matches. Never raises."""
    principal = principal_in(text)
    if principal is None:
        return None, []
    names = sorted(tree.profiles)
    if principal.kind in ("assumed-role", "role"):
        same_role = [name for name in names if _is_that_role(tree, name, principal)]
        if same_role:
            return principal, same_role
    if principal.kind == "user":
        users = [name for name in names if _user_account(tree, name) == principal.account]
        if users:
            return principal, users
    in_account = [
        name for name in names
        if tree.profiles[name].error is None and tree.profiles[name].account_id == principal.account
    ]
    return principal, in_account
