"""Pieces shared by the STS actions: durations, role sessions, response fragments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from stsdesk.emulator import xmlout
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.scenario import Role
from stsdesk.emulator.state import EmulatorState, IssuedCredentials
from stsdesk.emulator.sts_validate import ARN_CHARS, SessionPolicy, required_text

MAX_SESSION_EXCEEDED = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
CHAINING_EXCEEDED = (
    "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)
ROLE_DURATION_MAX = 43200
CHAINED_MAX = 3600
DEFAULT_ROLE_DURATION = 3600


def invalid_arn(arn: str) -> EmulatorError | None:
    """ValidationError "<arn> is invalid" when ``arn`` is not a well-formed ARN (``arn:PARTITION:SERVICE:
    REGION:ACCOUNT:RESOURCE`` with partition, service and resource non-empty), else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        return EmulatorError("ValidationError", f"{arn} is invalid")
    return None


def arn_param(params: Mapping[str, str], name: str = "RoleArn") -> str:
    """A required ARN parameter. Something that is not an ARN at all is "<value> is invalid" first, as STS
    answers (STS_FACTS.md, also for values shorter than the model's 20); then the model's length and
    character checks. Raises ValidationError."""
    raw = params.get(name)
    if raw is not None and len(raw) <= 2048:
        bad = invalid_arn(raw)
        if bad is not None:
            raise bad
    return required_text(params, name, min_len=20, max_len=2048, pattern=ARN_CHARS)


def not_authorized(caller_arn: str, action: str, resource: str) -> EmulatorError:
    """The AccessDenied STS answers when policies do not allow ``action`` on ``resource``."""
    return EmulatorError(
        "AccessDenied", f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    )


def role_duration(requested: int | None, role: Role, chained: bool) -> int:
    """The session length for a role session: default 3600, at most the role's MaxSessionDuration, at most
    3600 when chaining. Raises ValidationError with STS's messages."""
    duration = DEFAULT_ROLE_DURATION if requested is None else requested
    if chained and duration > CHAINED_MAX:
        raise EmulatorError("ValidationError", CHAINING_EXCEEDED)
    if duration > role.max_session_duration:
        raise EmulatorError("ValidationError", MAX_SESSION_EXCEEDED)
    return duration


def assumed_role_arn(role: Role, session_name: str) -> str:
    """``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION``: the role's path is left out, as STS does."""
    return f"arn:aws:sts::{role.account}:assumed-role/{role.name}/{session_name}"


def credentials_xml(creds: IssuedCredentials) -> xmlout.Element:
    return (
        "Credentials",
        [
            ("AccessKeyId", creds.access_key_id),
            ("SecretAccessKey", creds.secret_access_key),
            ("SessionToken", creds.session_token),
            ("Expiration", xmlout.iso8601(creds.expiration)),
        ],
    )


def packed_size_xml(policy: SessionPolicy) -> xmlout.Element:
    """PackedPolicySize, present only when a session policy, policy ARNs or tags were passed."""
    return ("PackedPolicySize", str(policy.packed_percent) if policy.packed_percent is not None else None)


def issue_role_session(
    state: EmulatorState,
    *,
    role: Role,
    session_name: str,
    duration: int,
    issued_by: str,
    policy: SessionPolicy,
    mfa_authenticated: bool = False,
    mfa_auth_time: datetime | None = None,
    source_identity: str | None = None,
    chained: bool = False,
    tags: tuple[tuple[str, str], ...] = (),
    transitive_tag_keys: tuple[str, ...] = (),
) -> tuple[IssuedCredentials, list[xmlout.Element]]:
    """Mint a role session; returns the credentials and the Credentials/AssumedRoleUser/PackedPolicySize
    result elements that all three AssumeRole* actions share."""
    arn = assumed_role_arn(role, session_name)
    role_id = f"{role.unique_id}:{session_name}"
    creds, _ = state.issue_session(
        kind="assumed-role",
        arn=arn,
        account=role.account,
        user_id=role_id,
        base_arn=role.arn,
        duration_seconds=duration,
        issued_by=issued_by,
        session_policy=policy.policy_json,
        mfa_authenticated=mfa_authenticated,
        mfa_auth_time=mfa_auth_time,
        source_identity=source_identity,
        role_chained=chained,
        tags=tags,
        transitive_tag_keys=transitive_tag_keys,
    )
    elements: list[xmlout.Element] = [
        credentials_xml(creds),
        ("AssumedRoleUser", [("AssumedRoleId", role_id), ("Arn", arn)]),
        packed_size_xml(policy),
    ]
    return creds, elements
