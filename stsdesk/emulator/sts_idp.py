"""The unsigned STS actions: AssumeRoleWithSAML and AssumeRoleWithWebIdentity.

The assertion or token is the only credential: it is verified with the demo identity provider's keys
(``idp``), then the role's trust policy must admit the provider as a ``Federated`` principal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stsdesk.emulator import sts_validate as v
from stsdesk.emulator import xmlout
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.idp import verify_oidc_token, verify_saml_response
from stsdesk.emulator.policy import ContextValue, Principal, TrustVerdict, evaluate_trust
from stsdesk.emulator.scenario import Role
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.sts_common import arn_param, issue_role_session, role_duration
from stsdesk.emulator.sts_tags import request_context, web_identity_tags

if TYPE_CHECKING:
    from stsdesk.emulator.wire import Request

SAML_DENIED = "Not authorized to perform sts:AssumeRoleWithSAML"
WEB_IDENTITY_DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


def _base_context(state: EmulatorState, request: Request) -> dict[str, ContextValue]:
    now = state.clock.now()
    return {
        "aws:CurrentTime": xmlout.iso8601(now),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:RequestedRegion": state.scenario.region,
        "aws:SecureTransport": "true" if request.secure else "false",
    }


def _trusted(role: Role, provider_arn: str, action: str, ctx: dict[str, ContextValue]) -> bool:
    principal = Principal("Federated", frozenset({provider_arn}), None)
    verdict, _ = evaluate_trust(role.trust_policy, principal, action, role.arn, ctx)
    return verdict in (TrustVerdict.ALLOWED_DIRECT, TrustVerdict.ALLOWED_VIA_ACCOUNT)


def assume_role_with_saml(
    state: EmulatorState, params: dict[str, str], request: Request
) -> list[xmlout.Element]:
    """AssumeRoleWithSAML. Raises EmulatorError: ValidationError, InvalidIdentityToken, ExpiredTokenException,
    AccessDenied ("Not authorized to perform sts:AssumeRoleWithSAML")."""
    role_arn = arn_param(params)
    provider_arn = arn_param(params, "PrincipalArn")
    assertion = v.required_text(params, "SAMLAssertion", min_len=4, max_len=100000)
    duration = v.integer(params, "DurationSeconds", minimum=900, maximum=43200)
    policy = v.session_policy(params, policy_max_len=2048, allow_tags=False)

    role = state.scenario.role_by_arn(role_arn)
    if role is None or state.scenario.saml_provider(provider_arn) is None:
        raise EmulatorError("AccessDenied", SAML_DENIED)
    claims = verify_saml_response(state.keys, assertion, provider_arn, role.arn, state.clock.now())
    ctx = _base_context(state, request)
    ctx.update(
        {
            "SAML:aud": claims.audience,
            "SAML:sub": claims.subject,
            "SAML:sub_type": claims.subject_type,
            "SAML:iss": claims.issuer,
            "SAML:namequalifier": claims.name_qualifier,
        }
    )
    if not _trusted(role, provider_arn, "sts:AssumeRoleWithSAML", ctx):
        raise EmulatorError("AccessDenied", SAML_DENIED)
    seconds = role_duration(duration, role, chained=False)
    if claims.session_duration is not None and duration is None:
        seconds = min(claims.session_duration, role.max_session_duration)
    assert claims.role_session_name is not None  # verify_saml_response insists on one
    _, result = issue_role_session(
        state,
        role=role,
        session_name=claims.role_session_name,
        duration=seconds,
        issued_by="AssumeRoleWithSAML",
        policy=policy,
    )
    result += [
        ("Subject", claims.subject),
        ("SubjectType", claims.subject_type),
        ("Issuer", claims.issuer),
        ("Audience", claims.audience),
        ("NameQualifier", claims.name_qualifier),
    ]
    return result


def assume_role_with_web_identity(
    state: EmulatorState, params: dict[str, str], request: Request
) -> list[xmlout.Element]:
    """AssumeRoleWithWebIdentity. Raises EmulatorError: ValidationError, InvalidIdentityToken,
    ExpiredTokenException, AccessDenied ("Not authorized to perform sts:AssumeRoleWithWebIdentity")."""
    role_arn = arn_param(params)
    session_name = v.required_text(
        params, "RoleSessionName", min_len=2, max_len=64, pattern=v.ROLE_SESSION_NAME
    )
    token = v.required_text(params, "WebIdentityToken", min_len=4, max_len=20000)
    v.text(params, "ProviderId", min_len=4, max_len=2048)
    duration = v.integer(params, "DurationSeconds", minimum=900, maximum=43200)
    policy = v.session_policy(params, policy_max_len=2048, allow_tags=False)

    role = state.scenario.role_by_arn(role_arn)
    if role is None:
        raise EmulatorError("AccessDenied", WEB_IDENTITY_DENIED)
    providers = state.scenario.oidc_providers_in(role.account)
    claims = verify_oidc_token(state.keys, token, {p.url: p.client_ids for p in providers}, state.clock.now())
    provider = next(p for p in providers if p.url == claims.issuer.rstrip("/"))
    host = provider.host_path
    ctx = _base_context(state, request)
    ctx.update({f"{host}:aud": claims.audience, f"{host}:sub": claims.subject, f"{host}:iss": claims.issuer})
    tags = web_identity_tags(claims.claims)
    policy = v.with_tags(policy, tags.tags)
    ctx.update(request_context(tags))
    if not _trusted(role, provider.arn, "sts:AssumeRoleWithWebIdentity", ctx):
        raise EmulatorError("AccessDenied", WEB_IDENTITY_DENIED)
    if tags.tags and not _trusted(role, provider.arn, "sts:TagSession", ctx):
        raise EmulatorError("AccessDenied", WEB_IDENTITY_DENIED)  # tags in the token need sts:TagSession
    seconds = role_duration(duration, role, chained=False)
    _, result = issue_role_session(
        state,
        role=role,
        session_name=session_name,
        duration=seconds,
        issued_by="AssumeRoleWithWebIdentity",
        policy=policy,
        tags=tags.tags,
        transitive_tag_keys=tags.transitive,
    )
    result[1:1] = [("SubjectFromWebIdentityToken", claims.subject)]
    # An IAM OIDC provider is named by its ARN here (STS_FACTS.md, recorded against AWS); never a bare host.
    result += [("Provider", provider.arn), ("Audience", claims.audience)]
    return result
