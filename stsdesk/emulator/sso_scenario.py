"""The scenario's ``[identity_center]`` section: users, permission sets and assignments.

Each assignment (user, account, permission set) provisions the role ``AWSReservedSSO_<set>_<16 hex>`` with
path ``/aws-reserved/sso.amazonaws.com/`` in that account, as Identity Center does; the roles are added to
the scenario's roles, so STS, EC2 and decode treat their sessions like any role session. Errors are
``ScenarioError`` one-liners like the rest of the scenario loader, e.g.
``demo.toml: identity_center.assignments[3]: user 'zed' is not in identity_center.users``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stsdesk.emulator.policy import Policy, parse_policy
from stsdesk.emulator.scenario import (
    _ACCOUNT_RE,
    Account,
    Role,
    Scenario,
    ScenarioError,
    _list,
    _policies,
    _str,
)

ROLE_PATH = "/aws-reserved/sso.amazonaws.com/"
SSO_SCOPE = "sso:account:access"
_USER_RE = re.compile(r"^[\w+=,.@-]{2,64}$")  # a user name is the role session name GetRoleCredentials uses
_SET_RE = re.compile(r"^[\w+=,.@-]{1,32}$")
_START_URL_RE = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/[\w./-]*)?$")
_INT_KEYS = {
    # key: (default, minimum, maximum)
    "access_token_seconds": (3600, 60, 86400),
    "unscoped_token_seconds": (28800, 60, 86400),
    "refresh_token_seconds": (28800, 300, 90 * 86400),
    "device_code_seconds": (600, 30, 3600),
    "poll_interval_seconds": (1, 1, 60),
    "registration_seconds": (90 * 86400, 3600, 365 * 86400),
}
_KNOWN = {"start_url", "region", "users", "permission_sets", "assignments", "rotate_refresh_tokens", *_INT_KEYS}


@dataclass(frozen=True)
class PermissionSet:
    """A permission set: the policies and session length of the roles it provisions."""

    name: str
    session_duration: int  # seconds; the length of GetRoleCredentials sessions
    policies: tuple[Policy, ...]


@dataclass
class IdentityCenter:
    """One Identity Center instance. ``roles_of[(user, account)]`` lists the user's roles there, in
    assignment order; ``accounts_of[user]`` the user's accounts, sorted by id."""

    start_url: str
    region: str
    users: tuple[str, ...]
    permission_sets: dict[str, PermissionSet]
    access_token_seconds: int = 3600
    unscoped_token_seconds: int = 28800
    refresh_token_seconds: int = 28800
    device_code_seconds: int = 600
    poll_interval_seconds: int = 1
    registration_seconds: int = 90 * 86400
    rotate_refresh_tokens: bool = True
    accounts_of: dict[str, list[Account]] = field(default_factory=dict)
    roles_of: dict[tuple[str, str], list[tuple[Role, PermissionSet]]] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        """``ssoins-<16 hex>``, stable for a start URL."""
        return "ssoins-" + hashlib.sha256(self.start_url.encode()).hexdigest()[:16]

    @property
    def issuer(self) -> str:
        """The instance's OIDC issuer URL (accepted as RegisterClient's issuerUrl, like the start URL)."""
        return f"https://identitycenter.amazonaws.com/{self.instance_id}"

    def matches_start_url(self, url: str) -> bool:
        """Whether ``url`` names this instance: the same URL, give or take a trailing slash or ``#/``."""
        return normalize_start_url(url) == normalize_start_url(self.start_url)

    def role_for(self, user: str, account: str, role_name: str) -> tuple[Role, PermissionSet] | None:
        """The role of the permission set ``role_name`` (the portal names roles by permission set, and
        profiles say ``sso_role_name = <permission set>``) assigned to ``user`` in ``account``, or None."""
        for role, pset in self.roles_of.get((user, account), ()):
            if pset.name == role_name:
                return role, pset
        return None


def normalize_start_url(url: str) -> str:
    """A start URL without its fragment and trailing slashes, lower-cased host."""
    base = url.split("#", 1)[0].rstrip("/")
    scheme, sep, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}{sep}{host.lower()}{slash}{path}"


def role_name(instance_id: str, account: str, permission_set: str) -> str:
    """``AWSReservedSSO_<set>_<16 hex>``: the suffix is stable for (instance, account, set)."""
    digest = hashlib.sha256(f"{instance_id}/{account}/{permission_set}".encode()).hexdigest()
    return f"AWSReservedSSO_{permission_set}_{digest[:16]}"


def _trust_policy(account: str, instance_id: str) -> Policy:
    # What Identity Center writes: only its SAML provider may assume the role (stsdesk never does; the
    # portal's GetRoleCredentials issues the sessions directly).
    provider = f"arn:aws:iam::{account}:saml-provider/AWSSSO_{instance_id[7:]}_DO_NOT_DELETE"
    return parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                    "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                }
            ],
        }
    )


def _int(raw: Mapping[str, Any], key: str, where: str) -> int:
    default, low, high = _INT_KEYS[key]
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ScenarioError(f"{where}: {key} must be a whole number of seconds, {low} to {high}")
    return value


def parse_identity_center(raw: Any, label: str, sc: Scenario) -> IdentityCenter:
    """Validate the ``identity_center`` table against the accounts already in ``sc`` and add the
    provisioned roles to ``sc.roles``. Raises ScenarioError (one line) for unknown keys, a start URL that
    is not https, bad or duplicate users and permission sets, and assignments naming an unknown user,
    permission set or account, or given twice."""
    where = f"{label}: identity_center"
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: must be a table ([identity_center])")
    for key in raw:
        if key not in _KNOWN:
            raise ScenarioError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(_KNOWN))})")
    start_url = _str(raw, "start_url", where)
    if not _START_URL_RE.match(start_url):
        raise ScenarioError(
            f"{where}: start_url '{start_url}' is not valid (an https URL such as "
            "https://d-9067e0e0e0.awsapps.com/start)"
        )
    rotate = raw.get("rotate_refresh_tokens", True)
    if not isinstance(rotate, bool):
        raise ScenarioError(f"{where}: rotate_refresh_tokens must be true or false")
    users_raw = raw.get("users")
    if not isinstance(users_raw, list) or not users_raw:
        raise ScenarioError(f"{where}: users must be a non-empty list of user names")
    users: list[str] = []
    for i, user in enumerate(users_raw):
        if not isinstance(user, str) or not _USER_RE.match(user):
            raise ScenarioError(f"{where}: users[{i}] must be 2-64 of [A-Za-z0-9+=,.@_-] (got {user!r})")
        if user in users:
            raise ScenarioError(f"{where}: user '{user}' is listed twice")
        users.append(user)
    center = IdentityCenter(
        start_url=start_url,
        region=_str(raw, "region", where, default=sc.region),
        users=tuple(users),
        permission_sets={},
        access_token_seconds=_int(raw, "access_token_seconds", where),
        unscoped_token_seconds=_int(raw, "unscoped_token_seconds", where),
        refresh_token_seconds=_int(raw, "refresh_token_seconds", where),
        device_code_seconds=_int(raw, "device_code_seconds", where),
        poll_interval_seconds=_int(raw, "poll_interval_seconds", where),
        registration_seconds=_int(raw, "registration_seconds", where),
        rotate_refresh_tokens=rotate,
    )
    for i, entry in enumerate(_list(raw, "permission_sets", where)):
        at = f"{where}.permission_sets[{i}]"
        name = _str(entry, "name", at, pattern=_SET_RE, pattern_hint="1-32 of [A-Za-z0-9+=,.@_-]")
        at = f"{at} ({name})"
        if name in center.permission_sets:
            raise ScenarioError(f"{at}: permission set '{name}' is declared twice")
        for key in entry:
            if key not in ("name", "session_duration", "policies", "description"):
                raise ScenarioError(f"{at}: unknown key '{key}' (known: description, name, policies, "
                                    "session_duration)")
        duration = entry.get("session_duration", 3600)
        if not isinstance(duration, int) or isinstance(duration, bool) or not 3600 <= duration <= 43200:
            raise ScenarioError(f"{at}: session_duration must be a whole number of seconds, 3600 to 43200")
        policies = _policies(entry.get("policies"), f"{at}: policies")
        center.permission_sets[name] = PermissionSet(name, duration, policies)
    _assign(raw, where, sc, center)
    return center


def _assign(raw: Mapping[str, Any], where: str, sc: Scenario, center: IdentityCenter) -> None:
    trust: dict[str, Policy] = {}  # one trust policy per account
    provisioned: dict[tuple[str, str], Role] = {}  # (account, set) -> role, shared by its users
    seen: set[tuple[str, str, str]] = set()
    for i, entry in enumerate(_list(raw, "assignments", where)):
        at = f"{where}.assignments[{i}]"
        user = _str(entry, "user", at)
        if user not in center.users:
            raise ScenarioError(f"{at}: user '{user}' is not in identity_center.users")
        account = _str(entry, "account", at, pattern=_ACCOUNT_RE, pattern_hint="12 digits")
        if account not in sc.accounts:
            raise ScenarioError(f"{at}: account {account} is not declared under [[accounts]]")
        set_name = _str(entry, "permission_set", at)
        pset = center.permission_sets.get(set_name)
        if pset is None:
            known = ", ".join(center.permission_sets) or "none declared"
            raise ScenarioError(f"{at}: unknown permission set '{set_name}' (known: {known})")
        if (user, account, set_name) in seen:
            raise ScenarioError(f"{at}: {user} is assigned {set_name} in {account} twice")
        seen.add((user, account, set_name))
        roles = center.roles_of.setdefault((user, account), [])
        if not roles:
            center.accounts_of.setdefault(user, []).append(sc.accounts[account])
        role = provisioned.get((account, set_name))
        if role is None:
            if account not in trust:
                trust[account] = _trust_policy(account, center.instance_id)
            role = Role(
                account=account,
                name=role_name(center.instance_id, account, set_name),
                trust_policy=trust[account],
                path=ROLE_PATH,
                max_session_duration=pset.session_duration,
                policies=pset.policies,
            )
            provisioned[(account, set_name)] = role
            sc.roles.append(role)
        roles.append((role, pset))
    for accounts in center.accounts_of.values():
        accounts.sort(key=lambda a: a.id)


def world_dict(
    accounts: int = 500, permission_sets: int = 5, users: tuple[str, ...] = ("ana", "ben"), first: int = 100000000000
) -> dict[str, Any]:
    """A scenario dict (for ``scenario_from_dict``) with ``accounts`` accounts named ``acct-0001``…, and
    every user assigned every one of ``permission_sets`` permission sets (``Set1``…) in each: for tests
    and benchmarks of large worlds."""
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
    )
    ids = [str(first + n) for n in range(accounts)]
    sets = [f"Set{n + 1}" for n in range(permission_sets)]
    return {
        "accounts": [{"id": a, "name": f"acct-{n + 1:04d}", "email": f"acct-{n + 1:04d}@example.com"}
                     for n, a in enumerate(ids)],
        "identity_center": {
            "start_url": "https://d-9067e0e0e0.awsapps.com/start",
            "users": list(users),
            "permission_sets": [{"name": s, "policies": [policy]} for s in sets],
            "assignments": [
                {"user": u, "account": a, "permission_set": s} for u in users for a in ids for s in sets
            ],
        },
    }
