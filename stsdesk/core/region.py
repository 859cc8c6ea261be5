"""Which region goes with a profile's credentials: one rule for the STS call, the CLI's ``assume``/``exec``,
the terminal bridge, the GUI's Copy exports and the tray (which copies through the GUI)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stsdesk.core.model import Profile
    from stsdesk.core.profiles import ProfileTree


def configured_region(chain: Sequence[Profile], env: Mapping[str, str] | None = None) -> str | None:
    """The region the AWS files and environment give the last profile of ``chain`` (root first): its own
    ``region``, else the nearest source's (a role defined next to its user usually only says ``role_arn``
    and ``source_profile``), else AWS_REGION, else AWS_DEFAULT_REGION of ``env`` (default ``os.environ``);
    None when none of them says. Never raises."""
    environ = os.environ if env is None else env
    for profile in reversed(chain):
        if profile.region:
            return profile.region
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def export_region(
    tree: ProfileTree,
    profile: str,
    default_region: str,
    session_region: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The AWS_REGION exported with ``profile``'s credentials: :func:`configured_region`, else the region the
    session was made in (``session_region``, e.g. by the GUI for a terminal), else ``default_region``.

    The same region stsdesk calls STS in for this profile. Raises what ``tree.chain`` raises
    (ProfileNotFound, ProfileCycleError, ConfigError) for an unknown or broken profile."""
    return configured_region(tree.chain(profile), env) or session_region or default_region
