"""The STS Query API: dispatch and the signed actions (AssumeRole, GetSessionToken, GetCallerIdentity,
GetFederationToken, DecodeAuthorizationMessage, GetAccessKeyInfo). The unsigned federation actions live in
``sts_idp``; parameter checks in ``sts_validate``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from stsdesk.emulator import sts_validate as v
from stsdesk.emulator import xmlout
from stsdesk.emulator.caller import Caller
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import ContextValue, TrustVerdict, evaluate_trust
from stsdesk.emulator.sealing import SealError
from stsdesk.emulator.sigv4 import SignedRequest
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.sts_common import (
    arn_param,
    credentials_xml,
    issue_role_session,
    not_authorized,
    role_duration,
)
from stsdesk.emulator.sts_idp import assume_role_with_saml, assume_role_with_web_identity
from stsdesk.emulator.sts_tags import SessionTags, chained, request_context, requested_tags
from stsdesk.emulator.wire import Request, Response, error_response, xml_response

VERSION = "2011-06-15"
AUTHZ_PURPOSE = "authz-message"
INVALID_AUTHZ_MESSAGE = "Message is not valid"
ROOT_MAY_NOT_ASSUME = "Roles may not be assumed by root accounts."
MFA_BOTH = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
MFA_INVALID_ASSUME = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
MFA_INVALID_SESSION = (
    "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number "
    "is valid and associated with this user."
)

Result = list[xmlout.Element]
SignedAction = Callable[[EmulatorState, Caller, dict[str, str], SignedRequest, Request], Result]
UnsignedAction = Callable[[EmulatorState, dict[str, str], Request], Result]


def encode_authorization_message(state: EmulatorState, document: dict[str, object], ttl: int = 3600) -> str:
    """Seal a decoded authorization-failure document (the JSON DecodeAuthorizationMessage returns) into the
    opaque blob EC2 appends to UnauthorizedOperation. Valid for ``ttl`` seconds of emulator time."""
    payload = dict(document)
    payload["exp"] = int(state.clock.now().timestamp()) + ttl
    return state.sealer.seal(AUTHZ_PURPOSE, payload)


def _context(
    state: EmulatorState, caller: Caller, signed: SignedRequest, request: Request
) -> dict[str, ContextValue]:
    return caller.context(state.clock.now(), signed.region or state.scenario.region, request.secure)


def _check_mfa(
    state: EmulatorState, caller: Caller, serial: str | None, code: str | None, invalid_message: str
) -> datetime | None:
    """Verify an optional MFA pair for ``caller``; the time of authentication, or None when none was given.
    Raises AccessDenied with ``invalid_message`` for a wrong, reused or foreign code."""
    if serial is None and code is None:
        return None
    if serial is None or code is None:
        raise EmulatorError("AccessDenied", MFA_BOTH)
    user = state.scenario.user_by_arn(caller.base_arn)
    now = state.clock.now()
    if user is None or user.mfa is None or user.mfa.serial != serial:
        raise EmulatorError("AccessDenied", invalid_message)
    # Codes come from the user's device, whose clock time travel does not move: judged by the wall clock.
    if not state.mfa.check(serial, user.mfa.seed, code, int(state.clock.wall().timestamp())):
        raise EmulatorError("AccessDenied", invalid_message)
    return now


def assume_role(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    role_arn = arn_param(params)
    session_name = v.required_text(
        params, "RoleSessionName", min_len=2, max_len=64, pattern=v.ROLE_SESSION_NAME
    )
    duration = v.integer(params, "DurationSeconds", minimum=900, maximum=43200)
    external_id = v.text(params, "ExternalId", min_len=2, max_len=1224, pattern=v.EXTERNAL_ID)
    serial, code = v.mfa_pair(params)
    source_identity = v.source_identity(params)
    requested = requested_tags(params)
    policy = v.session_policy(params, policy_max_len=None)

    if caller.kind == "federated-user":
        raise not_authorized(caller.arn, "sts:AssumeRole", role_arn)
    if caller.is_root:
        raise EmulatorError("AccessDenied", ROOT_MAY_NOT_ASSUME)
    mfa_time = _check_mfa(state, caller, serial, code, MFA_INVALID_ASSUME)
    role = state.scenario.role_by_arn(role_arn)
    if role is None:
        raise not_authorized(caller.arn, "sts:AssumeRole", role_arn)
    # Source identity, once set, travels down a chain and cannot be changed.
    if caller.source_identity is not None and source_identity not in (None, caller.source_identity):
        raise not_authorized(caller.arn, "sts:SetSourceIdentity", role.arn)
    effective_si = source_identity or caller.source_identity
    tags = chained(SessionTags(caller.tags, caller.transitive_tag_keys), requested)

    mfa_authenticated = caller.mfa_authenticated or mfa_time is not None
    # The condition keys are gathered only when a policy evaluated below may read them: a context-free one (no
    # conditions, no policy variables) decides by action, resource and principal alone.
    ctx: dict[str, ContextValue] = {}
    if not (role.trust_policy.context_free and caller.policies_context_free):
        ctx = _context(state, caller, signed, request)
        if mfa_time is not None:
            ctx["aws:MultiFactorAuthPresent"] = "true"
            ctx["aws:MultiFactorAuthAge"] = "0"
        elif not caller.temporary:
            ctx.pop("aws:MultiFactorAuthPresent", None)
        ctx["sts:RoleSessionName"] = session_name
        if external_id is not None:
            ctx["sts:ExternalId"] = external_id
        if source_identity is not None:
            ctx["sts:SourceIdentity"] = source_identity
        ctx.update(request_context(requested))

    # sts:AssumeRole, and sts:TagSession / sts:SetSourceIdentity when tags / a source identity are passed: each
    # allowed by the trust policy and, across accounts or via an account principal, by the caller's policies.
    needed = ["sts:AssumeRole"]
    if requested.tags:
        needed.append("sts:TagSession")
    if source_identity is not None:
        needed.append("sts:SetSourceIdentity")
    for action in needed:
        verdict, _ = evaluate_trust(role.trust_policy, caller.principal, action, role.arn, ctx)
        if verdict in (TrustVerdict.EXPLICIT_DENY, TrustVerdict.NOT_ALLOWED):
            raise not_authorized(caller.arn, action, role.arn)
        needs_identity_allow = verdict is TrustVerdict.ALLOWED_VIA_ACCOUNT or caller.account != role.account
        if needs_identity_allow and not caller.is_allowed(action, role.arn, ctx).allowed:
            raise not_authorized(caller.arn, action, role.arn)

    chained_session = caller.temporary
    seconds = role_duration(duration, role, chained_session)
    _, result = issue_role_session(
        state,
        role=role,
        session_name=session_name,
        duration=seconds,
        issued_by="AssumeRole",
        policy=policy,
        mfa_authenticated=mfa_authenticated,
        mfa_auth_time=mfa_time or caller.mfa_auth_time,
        source_identity=effective_si,
        chained=chained_session,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive,
    )
    result.append(("SourceIdentity", source_identity))
    return result


def _session_seconds(caller: Caller, requested: int | None) -> int:
    """GetSessionToken/GetFederationToken length: root gets at most an hour (longer requests are clamped,
    not refused); IAM users default to 12 hours."""
    if caller.is_root:
        return min(requested or 3600, 3600)
    return 43200 if requested is None else requested


def get_session_token(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    duration = v.integer(params, "DurationSeconds", minimum=900, maximum=129600)
    serial, code = v.mfa_pair(params)
    if caller.temporary:
        raise EmulatorError("AccessDenied", "Cannot call GetSessionToken with session credentials")
    mfa_time = _check_mfa(state, caller, serial, code, MFA_INVALID_SESSION)
    seconds = _session_seconds(caller, duration)
    creds, _ = state.issue_session(
        kind="root" if caller.is_root else "session",
        arn=caller.arn,
        account=caller.account,
        user_id=caller.user_id,
        base_arn=caller.base_arn,
        duration_seconds=seconds,
        issued_by="GetSessionToken",
        mfa_authenticated=mfa_time is not None,
        mfa_auth_time=mfa_time,
    )
    return [credentials_xml(creds)]


def get_caller_identity(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    return [("UserId", caller.user_id), ("Account", caller.account), ("Arn", caller.arn)]


def get_federation_token(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    name = v.required_text(params, "Name", min_len=2, max_len=32, pattern=v.FEDERATION_NAME)
    duration = v.integer(params, "DurationSeconds", minimum=900, maximum=129600)
    policy = v.session_policy(params, policy_max_len=2048)
    tags = requested_tags(params).tags  # session tags (GetFederationToken has no transitive keys)
    if caller.temporary:
        raise EmulatorError("AccessDenied", "Cannot call GetFederationToken with session credentials")
    fed_arn = f"arn:aws:sts::{caller.account}:federated-user/{name}"
    ctx = _context(state, caller, signed, request)
    if not caller.is_allowed("sts:GetFederationToken", fed_arn, ctx).allowed:
        raise not_authorized(caller.arn, "sts:GetFederationToken", fed_arn)
    seconds = _session_seconds(caller, duration)
    fed_id = f"{caller.account}:{name}"
    creds, _ = state.issue_session(
        kind="federated-user",
        arn=fed_arn,
        account=caller.account,
        user_id=fed_id,
        base_arn=caller.base_arn,
        duration_seconds=seconds,
        issued_by="GetFederationToken",
        session_policy=policy.policy_json,
        tags=tags,
    )
    return [
        credentials_xml(creds),
        ("FederatedUser", [("FederatedUserId", fed_id), ("Arn", fed_arn)]),
        # Always present for GetFederationToken (0 without a policy), as recorded against AWS.
        ("PackedPolicySize", str(policy.packed_percent or 0)),
    ]


def _refuse_session_kinds(caller: Caller, action: str, resource: str) -> None:
    """GetSessionToken credentials may call only AssumeRole and GetCallerIdentity; GetFederationToken
    credentials only GetCallerIdentity."""
    if caller.kind in ("session", "federated-user") or (caller.is_root and caller.temporary):
        raise not_authorized(caller.arn, action, resource)


def decode_authorization_message(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    encoded = v.required_text(params, "EncodedMessage", min_len=1, max_len=10240)
    _refuse_session_kinds(caller, "sts:DecodeAuthorizationMessage", "*")
    ctx = _context(state, caller, signed, request)
    if not caller.is_allowed("sts:DecodeAuthorizationMessage", "*", ctx).allowed:
        raise not_authorized(caller.arn, "sts:DecodeAuthorizationMessage", "*")
    try:
        document = state.sealer.unseal(AUTHZ_PURPOSE, encoded.strip())
    except SealError:
        raise EmulatorError("InvalidAuthorizationMessageException", INVALID_AUTHZ_MESSAGE) from None
    expires = document.pop("exp", None)
    if not isinstance(expires, int) or expires <= state.clock.now().timestamp():
        raise EmulatorError("InvalidAuthorizationMessageException", INVALID_AUTHZ_MESSAGE)
    return [("DecodedMessage", json.dumps(document, separators=(",", ":")))]


def get_access_key_info(
    state: EmulatorState, caller: Caller, params: dict[str, str], signed: SignedRequest, request: Request
) -> Result:
    akid = v.required_text(params, "AccessKeyId", min_len=16, max_len=128, pattern=v.ACCESS_KEY_ID)
    _refuse_session_kinds(caller, "sts:GetAccessKeyInfo", "*")
    account = state.account_of_key(akid)
    if account is None:
        raise EmulatorError("InvalidParameterValue", f"The access key {akid} is not known to this emulator.")
    return [("Account", account)]


SIGNED: dict[str, SignedAction] = {
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
    "GetCallerIdentity": get_caller_identity,
    "GetFederationToken": get_federation_token,
    "DecodeAuthorizationMessage": decode_authorization_message,
    "GetAccessKeyInfo": get_access_key_info,
}
UNSIGNED: dict[str, UnsignedAction] = {
    "AssumeRoleWithSAML": assume_role_with_saml,
    "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
}
ACTIONS = frozenset(SIGNED) | frozenset(UNSIGNED)


def handle_sts(state: EmulatorState, request: Request) -> Response:
    """Answer one STS Query request. Every expected failure becomes an STS ErrorResponse; never raises
    EmulatorError (other exceptions are bugs and are left to the server's last-resort handler)."""
    try:
        params = request.form()
        action = params.get("Action")
        if not action:
            raise EmulatorError(
                "MissingAction", "Could not find operation for version " + params.get("Version", VERSION)
            )
        version = params.get("Version", VERSION)
        if action not in ACTIONS or version != VERSION:
            raise EmulatorError("InvalidAction", f"Could not find operation {action} for version {version}")
        unsigned = UNSIGNED.get(action)
        if unsigned is not None:
            result = unsigned(state, params, request)
        else:
            signed, caller = state.authenticate(request, "sts")
            result = SIGNED[action](state, caller, params, signed, request)
        return xml_response(xmlout.success(action, result, request.request_id), request.request_id)
    except EmulatorError as exc:
        return error_response(exc, request.request_id)
