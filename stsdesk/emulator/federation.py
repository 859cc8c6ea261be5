"""The console federation endpoint (``/federation``: getSigninToken, login), a small console page, and the
demo identity provider's endpoints (``/_stsdesk/saml-assertion``, ``/_stsdesk/oidc-token``).

Rules from STS_FACTS.md "Console federation": SessionDuration only for AssumeRole* credentials, forbidden
for GetFederationToken credentials, GetSessionToken credentials refused outright, role-chained credentials
refused with SessionDuration > 3599; a sign-in token is good for 15 minutes; parameter names are
case-sensitive.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

from stsdesk.emulator.caller import Session
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.idp import make_oidc_token, make_saml_response
from stsdesk.emulator.sealing import SealError
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.wire import Request, Response

SIGNIN_PURPOSE = "signin-token"
CONSOLE_PURPOSE = "console-session"
COOKIE = "stsdesk-console"
SIGNIN_TOKEN_TTL = 900
_ROLE_ACTIONS = {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}


def _text(status: int, message: str) -> Response:
    return Response(status, (message + "\n").encode(), content_type="text/plain; charset=utf-8")


def _page(status: int, title: str, body_html: str, headers: list[tuple[str, str]] | None = None) -> Response:
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:3em;max-width:48em}}"
        "code{background:#eee;padding:0 .3em}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body_html}</body></html>"
    )
    return Response(status, doc.encode(), content_type="text/html; charset=utf-8", headers=headers or [])


def handle_federation(state: EmulatorState, request: Request) -> Response:
    """``GET/POST /federation?Action=getSigninToken|login``. Answers errors as plain text, never raises."""
    try:
        params = request.form()
    except EmulatorError as exc:
        return _text(400, exc.message)
    action = params.get("Action")
    if action == "getSigninToken":
        return _get_signin_token(state, params)
    if action == "login":
        return _login(state, params)
    return _text(400, "Action must be getSigninToken or login")


def _session_from_parameter(state: EmulatorState, raw: str | None) -> Session:
    if not raw:
        raise _Refused("Session parameter is required")
    try:
        data = json.loads(raw)
    except ValueError:
        raise _Refused("Invalid credentials parameter: Session is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused("Invalid credentials parameter")
    key_id, secret, token = data.get("sessionId"), data.get("sessionKey"), data.get("sessionToken")
    if not all(isinstance(v, str) and v for v in (key_id, secret, token)):
        raise _Refused("Invalid credentials parameter: sessionId, sessionKey and sessionToken are required")
    assert isinstance(token, str)
    try:
        session = state.session_for_token(token)
    except EmulatorError:
        raise _Refused("Invalid credentials parameter") from None
    if session.access_key_id != key_id or session.secret_access_key != secret:
        raise _Refused("Invalid credentials parameter")
    if session.expiration <= state.clock.now().timestamp():
        raise _Refused("The security token included in the request is expired")
    return session


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _get_signin_token(state: EmulatorState, params: dict[str, str]) -> Response:
    try:
        session = _session_from_parameter(state, params.get("Session"))
        if session.issued_by == "GetSessionToken":
            raise _Refused("Only federation tokens or assume role tokens may be used for federated login")
        now = int(state.clock.now().timestamp())
        console_expires = session.expiration
        raw_duration = params.get("SessionDuration")
        if raw_duration is not None:
            if session.issued_by == "GetFederationToken":
                raise _Refused("SessionDuration is not allowed for federation tokens")
            if session.issued_by not in _ROLE_ACTIONS:
                raise _Refused("Invalid credentials parameter")
            try:
                duration = int(raw_duration)
            except ValueError:
                raise _Refused("SessionDuration must be a whole number of seconds") from None
            if not 900 <= duration <= 43200:
                raise _Refused("SessionDuration must be between 900 and 43200 seconds")
            if session.role_chained and duration > 3599:
                raise _Refused("Invalid credentials parameter")
            console_expires = now + duration
    except _Refused as exc:
        return _text(400, exc.message)
    token = state.sealer.seal(
        SIGNIN_PURPOSE,
        {
            "arn": session.arn,
            "acct": session.account,
            "iat": now,
            "cexp": console_expires,
            "act": session.issued_by,
        },
    )
    return Response(200, json.dumps({"SigninToken": token}).encode(), content_type="application/json")


def _login(state: EmulatorState, params: dict[str, str]) -> Response:
    token = params.get("SigninToken")
    destination = params.get("Destination", "")
    if not token:
        return _text(400, "SigninToken is required")
    try:
        claims = state.sealer.unseal(SIGNIN_PURPOSE, token)
    except SealError:
        return _text(400, "Invalid SigninToken")
    now = int(state.clock.now().timestamp())
    iat, cexp = claims.get("iat"), claims.get("cexp")
    if not isinstance(iat, int) or not isinstance(cexp, int) or now > iat + SIGNIN_TOKEN_TTL or now >= cexp:
        return _text(400, "The sign-in token has expired: sign-in URLs are valid for 15 minutes")
    cookie = state.sealer.seal(
        CONSOLE_PURPOSE,
        {
            "arn": claims.get("arn"),
            "acct": claims.get("acct"),
            "cexp": cexp,
            "dest": destination,
            "issuer": params.get("Issuer", ""),
        },
    )
    headers = [
        ("Location", "/console"),
        ("Set-Cookie", f"{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax"),
    ]
    return Response(302, b"", content_type="text/plain", headers=headers)


def handle_console(state: EmulatorState, request: Request) -> Response:
    """``GET /console``: who is signed in, from the console session cookie that ``login`` set."""
    raw = request.header("cookie") or ""
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        jar = SimpleCookie()
    morsel = jar.get(COOKIE)
    claims = None
    if morsel is not None:
        try:
            claims = state.sealer.unseal(CONSOLE_PURPOSE, morsel.value)
        except SealError:
            claims = None
    now = state.clock.now()
    if claims is None or not isinstance(claims.get("cexp"), int) or now.timestamp() >= claims["cexp"]:
        return _page(
            401, "Not signed in", "<p>Open a sign-in URL from stsdesk to sign in to the emulator console.</p>"
        )
    ends = datetime.fromtimestamp(claims["cexp"], UTC)
    account = str(claims.get("acct", ""))
    alias = state.scenario.alias(account)
    shown_account = f"{account} ({html.escape(alias)})" if alias else account
    dest = str(claims.get("dest") or "")
    body = (
        f"<p>Signed in as <code id='arn'>{html.escape(str(claims.get('arn')))}</code></p>"
        f"<p>Account <code id='account'>{shown_account}</code></p>"
        f"<p>Console session ends <code id='expires'>{ends.strftime('%Y-%m-%dT%H:%M:%SZ')}</code></p>"
        + (f"<p>Requested destination <code>{html.escape(dest)}</code></p>" if dest else "")
        + "<p>This is the stsdesk STS emulator's console page, not the AWS Management Console.</p>"
    )
    return _page(200, "stsdesk emulator console", body)


def handle_saml_assertion(state: EmulatorState, request: Request) -> Response:
    """``POST /_stsdesk/saml-assertion`` (form: provider, role, subject): a signed base64 SAMLResponse."""
    try:
        params = request.form()
    except EmulatorError as exc:
        return _text(400, exc.message)
    if request.method != "POST":
        return _text(405, "use POST with form fields provider, role, subject")
    provider, role, subject = params.get("provider", ""), params.get("role", ""), params.get("subject", "")
    if not provider or not role or not subject:
        return _text(400, "provider, role and subject are required")
    if state.scenario.saml_provider(provider) is None:
        return _text(400, f"no SAML provider {provider} in the scenario")
    if state.scenario.role_by_arn(role) is None:
        return _text(400, f"no role {role} in the scenario")
    body = make_saml_response(state.keys, provider, role, subject, state.clock.now())
    return Response(200, body.encode(), content_type="text/plain")


def handle_oidc_token(state: EmulatorState, request: Request) -> Response:
    """``POST /_stsdesk/oidc-token`` (form: issuer, subject, audience): a signed RS256 JWT."""
    try:
        params = request.form()
    except EmulatorError as exc:
        return _text(400, exc.message)
    if request.method != "POST":
        return _text(405, "use POST with form fields issuer, subject, audience")
    issuer, subject = params.get("issuer", "").rstrip("/"), params.get("subject", "")
    audience = params.get("audience", "sts.amazonaws.com")
    if not issuer or not subject:
        return _text(400, "issuer and subject are required")
    if not any(p.url == issuer for p in state.scenario.oidc_providers):
        return _text(400, f"no OIDC provider with issuer {issuer} in the scenario")
    token = make_oidc_token(state.keys, issuer, subject, audience, state.clock.now())
    return Response(200, token.encode(), content_type="text/plain")


def login_query(issuer: str, destination: str, token: str) -> str:
    """The query string of a login URL (used by tests and docs)."""
    return urlencode({"Action": "login", "Issuer": issuer, "Destination": destination, "SigninToken": token})
