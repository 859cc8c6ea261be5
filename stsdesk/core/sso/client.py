"""boto3 clients for sso-oidc and the portal (unsigned), and their errors as one-line stsdesk errors.

Endpoints as botocore finds them (``AWS_ENDPOINT_URL_SSO_OIDC``, ``AWS_ENDPOINT_URL_SSO``,
``AWS_ENDPOINT_URL``, ``services`` sections) unless an explicit endpoint is given. All calls are blocking:
async callers run them in an executor. Nothing here formats a token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from stsdesk.core.errors import NetworkError, Throttled
from stsdesk.core.sso.errors import RoleNotAssigned, SsoCallError

_THROTTLE_CODES = frozenset({"TooManyRequestsException", "SlowDownException", "ThrottlingException"})
_UNAUTHORIZED_CODES = frozenset({"UnauthorizedException", "InvalidClientException", "UnauthorizedClientException"})


@dataclass(frozen=True)
class SsoEndpoints:
    """Explicit endpoints (the embedded demo emulator); None: botocore's own resolution."""

    oidc: str | None = None
    portal: str | None = None


class SsoClients:
    """Cached boto3 clients per (service, region, endpoint); thread-safe (boto3 clients are)."""

    def __init__(self, endpoints: SsoEndpoints | None = None, max_attempts: int = 6) -> None:
        self.endpoints = endpoints or SsoEndpoints()
        self._max_attempts = max_attempts
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str, region: str, endpoint: str | None) -> Any:
        key = (service, region, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import boto3.session
                from botocore import UNSIGNED
                from botocore.config import Config

                config = Config(
                    signature_version=UNSIGNED,
                    region_name=region,
                    retries={"mode": "standard", "max_attempts": self._max_attempts},
                    connect_timeout=10,
                    read_timeout=30,
                    max_pool_connections=16,
                )
                session = boto3.session.Session(region_name=region)
                client = session.client(service, region_name=region, endpoint_url=endpoint, config=config)
                self._clients[key] = client
            return client

    def oidc(self, region: str, endpoint: str | None = None) -> Any:
        """The sso-oidc client for ``region`` (at ``endpoint`` unless this object's endpoints say otherwise)."""
        return self._client("sso-oidc", region, self.endpoints.oidc or endpoint)

    def portal(self, region: str, endpoint: str | None = None) -> Any:
        """The portal (``sso``) client for ``region`` (at ``endpoint`` unless this object's endpoints say)."""
        return self._client("sso", region, self.endpoints.portal or endpoint)

    def oidc_base_url(self, region: str, endpoint: str | None = None) -> str:
        """The sso-oidc endpoint's base URL (for ``/authorize``, which is not in the API model).

        Found the way the AWS CLI finds it: a RegisterClient call stopped before it is sent, its URL kept.
        """
        client = self.oidc(region, endpoint)
        captured: dict[str, str] = {}

        def capture(params: dict[str, Any], **_: Any) -> Any:
            import urllib.parse

            from botocore.awsrequest import AWSResponse

            parts = urllib.parse.urlsplit(str(params.get("url", "")))
            captured["base"] = f"{parts.scheme}://{parts.netloc}"
            return AWSResponse(None, 200, {}, None), {}

        client.meta.events.register_first("before-call.sso-oidc.RegisterClient", capture, "stsdesk-base-url")
        try:
            client.register_client(clientName="stsdesk-endpoint-probe", clientType="public")
        finally:
            client.meta.events.unregister("before-call.sso-oidc.RegisterClient", unique_id="stsdesk-base-url")
        return captured["base"]


def error_code(exc: BaseException) -> str:
    """AWS's error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "") or "")
    return ""


def http_status(exc: BaseException) -> int:
    """The HTTP status of a botocore ClientError (0 when unknown)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 0


def _clean(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def translate(exc: BaseException, what: str) -> Exception:
    """A botocore exception from ``what`` (e.g. "the portal (ListAccounts)") as a one-line stsdesk error.

    ClientErrors become SsoCallError (RoleNotAssigned for 403, Throttled for throttling); connection
    failures NetworkError; anything else is returned unchanged (a bug to see).
    """
    from botocore import exceptions as bce

    if isinstance(exc, bce.ClientError):
        code = error_code(exc) or "Unknown"
        message = _clean(str(exc.response.get("Error", {}).get("Message", "") or ""))
        detail = f": {message}" if message and message != code else ""
        if code in _THROTTLE_CODES or http_status(exc) == 429:
            return Throttled(f"{what} is throttling requests ({code}); wait a minute and try again", code, True)
        if http_status(exc) == 403 or code in ("ForbiddenException", "AccessDeniedException"):
            return RoleNotAssigned(f"{what} refused ({code}{detail})", code)
        return SsoCallError(f"{what} failed ({code}{detail})", code)
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectionClosedError | bce.ReadTimeoutError):
        return NetworkError(f"cannot reach {what} ({type(exc).__name__})", "NetworkError", True)
    if isinstance(exc, bce.HTTPClientError):
        return NetworkError(f"cannot reach {what} ({type(exc).__name__})", "NetworkError", True)
    if isinstance(exc, bce.NoRegionError | bce.ParamValidationError):
        return SsoCallError(f"{what}: {_clean(str(exc))}", type(exc).__name__)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def is_unauthorized(exc: BaseException) -> bool:
    """Whether a ClientError says the access token (or client) is not accepted (expired, revoked)."""
    return error_code(exc) in _UNAUTHORIZED_CODES or http_status(exc) == 401
