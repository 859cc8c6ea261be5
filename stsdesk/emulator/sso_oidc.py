"""The sso-oidc API (rest-json, unsigned): RegisterClient, StartDeviceAuthorization, CreateToken.

Errors as AWS sends them: the HTTP status from the service model, a body ``{"error", "error_description"}``
and the ``x-amzn-ErrorType`` header, from which botocore and the JS SDK take the error code. The browser
side of the PKCE flow (``GET /authorize``) is in ``sso_pages``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any
from urllib.parse import SplitResult, urlsplit

from stsdesk.emulator.sso_records import OidcError, Registration, TokenGrant, invalid_request
from stsdesk.emulator.sso_scenario import IdentityCenter
from stsdesk.emulator.sso_state import DEVICE_GRANT, SsoState
from stsdesk.emulator.wire import Request, Response

GRANT_TYPES = (DEVICE_GRANT, "authorization_code", "refresh_token")
_SCOPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:*_.-")


def json_response(body: dict[str, Any], request_id: str, status: int = 200) -> Response:
    """A rest-json answer with the request id header."""
    return Response(
        status, json.dumps(body).encode(), content_type="application/json",
        headers=[("x-amzn-RequestId", request_id)],
    )


def oidc_error_response(exc: OidcError, request_id: str) -> Response:
    """The error document and headers sso-oidc answers with."""
    body = json.dumps({"error": exc.error, "error_description": exc.description}).encode()
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", exc.code)]
    return Response(exc.status, body, content_type="application/json", headers=headers)


def _body(request: Request) -> dict[str, Any]:
    if request.method != "POST":
        raise invalid_request(f"{request.method} is not allowed here; use POST with a JSON body")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: absurdly nested arrays
        raise invalid_request("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise invalid_request(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise invalid_request(f"{key} must be a string")
    return value


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid_request(f"{key} must be a list of strings")
    return list(dict.fromkeys(value))


def check_scopes(scopes: list[str]) -> list[str]:
    """Refuse scopes that are not ``service:name`` words (or ``openid``/``aws``) with InvalidScopeException."""
    for scope in scopes:
        if not (scope in ("openid", "aws") or (":" in scope and set(scope) <= _SCOPE_CHARS)):
            raise OidcError("InvalidScopeException", "invalid_scope", f"Invalid scope: {scope[:100]}")
    return scopes


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is a loopback IP literal (127.0.0.0/8, ::1); names such as localhost are not."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(uri: str) -> SplitResult | None:
    """``urlsplit`` of a URI whose port (if any) is a number, else None."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return parts


def _check_redirect(uri: str) -> None:
    parts = _split(uri)
    host = (parts.hostname if parts is not None else "") or ""
    ok = parts is not None and parts.scheme in ("http", "https") and bool(host) and not parts.fragment
    if ok and parts is not None and parts.scheme == "http" and not (is_loopback_host(host) or host == "localhost"):
        ok = False
    if not ok:
        raise OidcError(
            "InvalidRedirectUriException", "invalid_redirect_uri",
            f"Invalid redirect URI: {uri[:200]} (https, or http on a loopback address, without a fragment)",
        )


def redirect_matches(registered: str, requested: str) -> bool:
    """Whether ``requested`` is allowed by the registered redirect URI: exactly equal, or (RFC 8252 7.3) for
    a loopback IP literal over http, equal but for the port, which the client picks at run time."""
    if registered == requested:
        return True
    reg, req = _split(registered), _split(requested)
    if reg is None or req is None:
        return False
    return (
        reg.scheme == req.scheme == "http"
        and is_loopback_host(reg.hostname or "")
        and reg.hostname == req.hostname
        and reg.port is None
        and (reg.path, reg.query) == (req.path, req.query)
        and not req.fragment
    )


def _grant_body(grant: TokenGrant) -> dict[str, Any]:
    body: dict[str, Any] = {"accessToken": grant.access_token, "tokenType": "Bearer", "expiresIn": grant.expires_in}
    if grant.refresh_token is not None:
        body["refreshToken"] = grant.refresh_token
    return body


def _check_issuer(center: IdentityCenter, issuer: str | None) -> None:
    if issuer is not None and not (center.matches_start_url(issuer) or issuer.rstrip("/") == center.issuer):
        raise invalid_request(f"issuerUrl {issuer[:200]} is not this Identity Center's start URL or issuer")


class OidcApi:
    """POST /client/register, /device_authorization and /token. ``base_url(request)`` gives the URL the
    client reached the emulator at (for the verification URIs)."""

    def __init__(self, sso: SsoState, base_url: Any) -> None:
        self.sso = sso
        self.base_url = base_url

    def _answer(self, request: Request, work: Any) -> Response:
        try:
            return json_response(work(_body(request)), request.request_id)
        except OidcError as exc:
            return oidc_error_response(exc, request.request_id)

    def register_client(self, request: Request) -> Response:
        """POST /client/register (RegisterClient)."""
        return self._answer(request, self._register)

    def start_device_authorization(self, request: Request) -> Response:
        """POST /device_authorization (StartDeviceAuthorization)."""
        return self._answer(request, lambda data: self._start(data, request))

    def create_token(self, request: Request) -> Response:
        """POST /token (CreateToken): device code, authorization code with PKCE, or refresh token."""
        return self._answer(request, self._token)

    def _register(self, data: dict[str, Any]) -> dict[str, Any]:
        name = _text(data, "clientName")
        client_type = _text(data, "clientType")
        assert name is not None
        if client_type != "public":
            raise OidcError(
                "InvalidClientMetadataException", "invalid_client_metadata", "clientType must be public"
            )
        scopes = check_scopes(_strings(data, "scopes"))
        grants = _strings(data, "grantTypes")
        for grant in grants:
            if grant not in GRANT_TYPES:
                raise OidcError(
                    "UnsupportedGrantTypeException", "unsupported_grant_type", f"Unsupported grant type: {grant[:100]}"
                )
        redirects = _strings(data, "redirectUris")
        for uri in redirects:
            _check_redirect(uri)
        if "authorization_code" in grants and not redirects:
            raise OidcError(
                "InvalidClientMetadataException", "invalid_client_metadata",
                "redirectUris are required for the authorization_code grant",
            )
        _check_issuer(self.sso.center, _text(data, "issuerUrl", required=False))
        reg, secret = self.sso.register(name[:200], scopes, grants, redirects)
        return {
            "clientId": reg.client_id,
            "clientSecret": secret,
            "clientIdIssuedAt": reg.issued_at,
            "clientSecretExpiresAt": reg.expires_at,
        }

    def _start(self, data: dict[str, Any], request: Request) -> dict[str, Any]:
        client_id, secret, start_url = _text(data, "clientId"), _text(data, "clientSecret"), _text(data, "startUrl")
        assert client_id is not None and secret is not None and start_url is not None
        reg = self.sso.client(client_id, secret)
        center = self.sso.center
        if not center.matches_start_url(start_url):
            raise invalid_request(f"startUrl {start_url[:200]} is not this Identity Center ({center.start_url})")
        device = self.sso.start_device(reg)
        base = self.base_url(request)
        return {
            "deviceCode": device.device_code,
            "userCode": device.user_code,
            "verificationUri": f"{base}/device",
            "verificationUriComplete": f"{base}/device?user_code={device.user_code}",
            "expiresIn": center.device_code_seconds,
            "interval": device.interval,
        }

    def _token(self, data: dict[str, Any]) -> dict[str, Any]:
        client_id, secret, grant_type = _text(data, "clientId"), _text(data, "clientSecret"), _text(data, "grantType")
        assert client_id is not None and secret is not None and grant_type is not None
        reg = self.sso.client(client_id, secret)
        if grant_type not in GRANT_TYPES:
            raise OidcError(
                "UnsupportedGrantTypeException", "unsupported_grant_type", f"Unsupported grant type: {grant_type[:100]}"
            )
        requested = check_scopes(_strings(data, "scope"))
        if any(scope not in reg.scopes for scope in requested):
            raise OidcError("InvalidScopeException", "invalid_scope", "Scopes must be a subset of the registration's")
        if grant_type == DEVICE_GRANT:
            device_code = _text(data, "deviceCode")
            assert device_code is not None
            return _grant_body(self.sso.issue(reg, self.sso.poll_device(reg, device_code), reg.scopes))
        if grant_type == "refresh_token":
            refresh_token = _text(data, "refreshToken")
            assert refresh_token is not None
            return _grant_body(self.sso.refresh(reg, refresh_token))
        _require_grant(reg, "authorization_code")
        code = _text(data, "code")
        assert code is not None
        grant = self.sso.redeem_code(
            reg, code, _text(data, "redirectUri", required=False), _text(data, "codeVerifier", required=False)
        )
        return _grant_body(self.sso.issue(reg, grant.user, grant.scopes))


def _require_grant(reg: Registration, grant: str) -> None:
    if grant not in reg.grant_types:
        raise OidcError(
            "UnauthorizedClientException", "unauthorized_client", f"This client is not registered for the {grant} grant"
        )
