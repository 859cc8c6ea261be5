"""Which MFA rule applies to a profile: whether a fresh session asks for a code, and which cached MFA session
would vouch for it. One home for the rule: the broker (stsdesk.core.mfa_session) decides with
:func:`reuses_mfa_session`, and the tray, the GUI and the reminders predict with :func:`mfa_requirement`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stsdesk.core.model import Profile, ProfileKind

CHAINED_MAX = 3600  # AssumeRole from temporary credentials (role chaining) is capped at one hour


def mfa_cache_key(access_key_id: str, mfa_serial: str) -> str:
    """The cache key of the MFA session (GetSessionToken) of one access key with one MFA device."""
    return f"mfa:{access_key_id}:{mfa_serial}"


def reuses_mfa_session(duration: int | None) -> bool:
    """Whether a role with ``mfa_serial`` assumed straight from an IAM user's keys for ``duration`` seconds
    (None: the default hour) comes from the user's MFA session (GetSessionToken, then AssumeRole: role
    chaining, capped at an hour) instead of from the long-term keys with a fresh code every time."""
    return (duration or CHAINED_MAX) <= CHAINED_MAX


@dataclass(frozen=True)
class MfaRequirement:
    """What a fresh session of a profile needs. ``needed``: an MFA code somewhere in its chain, unless the
    MFA session ``session_key`` (a cache key) is cached and valid; ``session_key`` None with ``needed``: a
    fresh code every time. ``serial``: the MFA device asked for."""

    needed: bool
    serial: str | None = None
    session_key: str | None = None


NO_MFA = MfaRequirement(False)


def _self_sourced(profile: Profile) -> bool:
    """A role profile with keys of its own that names itself as source_profile (botocore allows it)."""
    return profile.source is None and profile.extra.get("source_profile") == profile.name


def mfa_requirement(chain: Sequence[Profile]) -> MfaRequirement:
    """The MFA rule for the last profile of ``chain`` (root first, as ProfileTree.chain gives it).

    The first hop that asks for a code decides: a role (``role_arn`` + ``source_profile``) with
    ``mfa_serial``, or the IAM user itself when it is the profile asked for (an IAM user's own ``mfa_serial``
    does not apply to the roles assumed from it). SAML and web-identity roles never ask. A role assumed from
    an IAM user's keys for up to an hour reuses that user's MFA session; otherwise (longer, or from another
    role's session) each fresh session needs a fresh code. Later hops ride on the MFA context of that one.
    Never raises."""
    last = len(chain) - 1
    for index, profile in enumerate(chain):
        if not profile.mfa_serial:
            continue
        serial = profile.mfa_serial
        if profile.kind is ProfileKind.IAM_USER:
            if index != last:
                continue
            key = mfa_cache_key(profile.access_key_id, serial) if profile.access_key_id else None
            return MfaRequirement(True, serial, key)
        if profile.kind is not ProfileKind.ROLE:
            continue
        if _self_sourced(profile):
            user: Profile | None = profile
        else:
            source = chain[index - 1] if index > 0 else None
            user = source if source is not None and source.kind is ProfileKind.IAM_USER else None
        if user is None or not user.access_key_id or not reuses_mfa_session(profile.duration_seconds):
            return MfaRequirement(True, serial, None)
        return MfaRequirement(True, serial, mfa_cache_key(user.access_key_id, serial))
    return NO_MFA
