"""Profiles for discovered accounts and roles: names safe to type, and additions to ~/.aws/config.

Only missing profiles are added (a profile with the same sso_session, account and role counts as present,
whatever its name), existing sections are never touched, and the write goes through
:class:`stsdesk.core.configfile.ConfigFile` (comment-preserving, atomic). Account names, role names and ids
come from the portal and are treated as hostile: they never reach the file except as validated values and
sanitised names, so a name holding a newline, ``[``, ``=`` or ``credential_process`` cannot add a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from stsdesk.core.sso.discovery import SsoAccount

MAX_NAME = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")  # shell-safe without quoting (no $ ` ' " * ? ; & | < > ~ space)
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)  # IAM's own rule for role / permission set names
_ACCOUNT_ID = re.compile(r"\d{12}")
_PREFIX = re.compile(r"[A-Za-z0-9._/-]*")


def safe_part(text: str) -> str:
    """``text`` as a shell-safe name part: runs of other characters become one ``-``; no leading ``-`` or
    ``.`` (options, hidden files); '' when nothing is left."""
    cleaned = _UNSAFE.sub("-", text.strip())
    return cleaned.strip("-.")[:64].rstrip("-.")


def check_prefix(prefix: str) -> str | None:
    """Why ``prefix`` (``--prefix``) cannot start profile names, or None."""
    if not _PREFIX.fullmatch(prefix):
        return "--prefix may hold letters, digits and . _ - / only"
    if prefix.startswith(("-", ".")):
        return "--prefix must not start with - or ."
    if len(prefix) > 48:
        return "--prefix: at most 48 characters"
    return None


@dataclass(frozen=True)
class PlannedProfile:
    """One discovered role as a profile: ``existing`` names a profile that already points at it."""

    name: str
    account_id: str
    account_name: str
    role_name: str
    existing: str | None = None


@dataclass(frozen=True)
class SyncPlan:
    """What sync found: every usable role (new or already configured) and what it skipped, and why."""

    session: str
    region: str
    profiles: tuple[PlannedProfile, ...]
    skipped: tuple[str, ...]

    @property
    def missing(self) -> list[PlannedProfile]:
        """The roles no profile points at yet."""
        return [p for p in self.profiles if p.existing is None]


def plan(
    session: str,
    region: str,
    accounts: Iterable[SsoAccount],
    existing: Mapping[str, Mapping[str, str | None]],
    prefix: str = "",
) -> SyncPlan:
    """Name every discovered role; ``existing`` is profile name -> its sso_session/sso_account_id/
    sso_role_name (other keys ignored). Names are ``<prefix><account-name>/<RoleName>`` made shell-safe;
    a name already taken by another profile or another account gets ``-<account id>``."""
    taken = set(existing)
    pointing = {
        (values.get("sso_session"), values.get("sso_account_id"), values.get("sso_role_name")): name
        for name, values in existing.items()
    }
    planned: list[PlannedProfile] = []
    skipped: list[str] = []
    used: set[str] = set()
    for account in accounts:
        if not _ACCOUNT_ID.fullmatch(account.account_id):
            skipped.append(f"an account with an invalid id ({safe_part(account.account_id)[:20] or '?'})")
            continue
        base = safe_part(account.name) or account.account_id
        for role in account.roles:
            if not _ROLE_NAME.fullmatch(role):
                skipped.append(
                    f"a role in {account.account_id} whose name is not a valid IAM name ({safe_part(role)[:40]})"
                )
                continue
            present = pointing.get((session, account.account_id, role))
            role_part = safe_part(role) or "role"
            name = f"{prefix}{base}/{role_part}"[:MAX_NAME]
            if present is None and (name in taken or name in used):
                name = f"{prefix}{base}-{account.account_id}/{role_part}"[:MAX_NAME]
            if present is None and (name in taken or name in used):
                skipped.append(f"{account.account_id}/{role}: the name {name} is taken")
                continue
            used.add(present or name)
            planned.append(PlannedProfile(present or name, account.account_id, account.name, role, present))
    return SyncPlan(session, region, tuple(planned), tuple(skipped))


def write(config_file: Path, sync_plan: SyncPlan) -> list[str]:
    """Append the missing profiles of ``sync_plan`` to ``config_file``; returns the names written.

    Existing sections are left as they are (a name that appeared meanwhile is skipped). Raises ConfigError
    when the file cannot be parsed, changed on disk meanwhile, or cannot be written (nothing is written).
    """
    from stsdesk.core.configfile import ConfigFile

    missing = sync_plan.missing
    if not missing:
        return []
    config = ConfigFile.open(config_file)
    written = config.append_profiles(
        {
            profile.name: {
                "sso_session": sync_plan.session,
                "sso_account_id": profile.account_id,
                "sso_role_name": profile.role_name,
                "region": sync_plan.region,
            }
            for profile in missing
        }
    )
    config.save()
    return written
