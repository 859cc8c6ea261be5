"""What the two kinds of credential server answer: the container provider and the IMDSv2 flow.

Both read the served session from a :class:`~stsdesk.core.servers.supply.CredentialSupply` and never wait:
while nothing valid exists they answer 503 with ``{Code, Message}`` at once, so an SDK fails fast instead of
timing out. Secrets are compared in constant time; error messages never quote the request.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime

from stsdesk.core.exports import format_expiration
from stsdesk.core.model import Credentials
from stsdesk.core.servers.http import Request, Response, error_response, json_response
from stsdesk.core.servers.supply import CredentialSupply

TOKEN_BYTES = 32  # container token and IMDS tokens: 256 random bits
IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
IMDS_TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
IMDS_TOKEN_HEADER = "x-aws-ec2-metadata-token"
IMDS_MAX_TTL = 21600
IMDS_MAX_TOKENS = 1024


def _unavailable(supply: CredentialSupply) -> Response:
    return error_response(503, "CredentialsUnavailable", supply.unavailable_reason())


def _credential_fields(creds: Credentials) -> dict[str, str]:
    assert creds.expiration is not None  # the supply serves temporary sessions only
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "Token": creds.session_token or "",
        "Expiration": format_expiration(creds.expiration),
    }


class ContainerRoutes:
    """``GET <path>`` with ``Authorization: <token>`` → the credentials document (AWS_CONTAINER_CREDENTIALS_
    FULL_URI). Wrong or missing token → 403, another path → 404, another method → 405."""

    def __init__(self, supply: CredentialSupply, account_id: str | None = None) -> None:
        self.supply = supply
        self.account_id = account_id
        # A per-run path (never "/": the Ruby SDK refuses a bare root) and a per-run token.
        self.path = f"/stsdesk/{secrets.token_urlsafe(12)}/credentials"
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        self._token_bytes = self.token.encode()

    def handle(self, request: Request) -> Response:
        """The answer to ``request`` (already checked for Host and peer)."""
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self._token_bytes):
            return error_response(403, "AccessDenied", "missing or wrong authorization token")
        if request.path != self.path:
            return error_response(404, "NotFound", "no such resource")
        if request.method not in ("GET", "HEAD"):
            return error_response(405, "MethodNotAllowed", "use GET")
        creds = self.supply.current()
        if creds is None:
            return _unavailable(self.supply)
        document = _credential_fields(creds)
        if self.account_id:
            document["AccountId"] = self.account_id
        response = json_response(200, document)
        if request.method == "HEAD":
            response.body = b""
        return response

    def invalidate(self) -> None:
        """Forget the token: nothing presented from now on matches (a new random value nobody knows)."""
        self._token_bytes = secrets.token_bytes(TOKEN_BYTES)


class ImdsRoutes:
    """The IMDSv2 credential routes: ``PUT /latest/api/token`` (TTL header required) → a session token;
    ``GET .../security-credentials/`` → the role name; ``GET .../security-credentials/<role>`` → credentials.
    Every GET needs a live token (IMDSv1 is refused with 401, as on an instance that requires IMDSv2)."""

    def __init__(self, supply: CredentialSupply, role_name: str) -> None:
        self.supply = supply
        self.role_name = role_name
        self._tokens: OrderedDict[bytes, float] = OrderedDict()  # token -> monotonic expiry
        self._valid = True

    def handle(self, request: Request) -> Response:
        """The answer to ``request`` (already checked for Host and peer)."""
        if request.path == IMDS_TOKEN_PATH:
            if request.method != "PUT":
                return error_response(405, "MethodNotAllowed", "the token is obtained with PUT")
            return self._issue(request)
        if request.method not in ("GET", "HEAD"):
            return error_response(405, "MethodNotAllowed", "use GET")
        if not self._token_ok(request.headers.get(IMDS_TOKEN_HEADER)):
            # IMDSv1 (no token) and stale tokens alike: the SDKs then PUT for a new token.
            return error_response(401, "Unauthorized", "a valid X-aws-ec2-metadata-token header is required")
        path = request.path
        if path in (IMDS_CREDENTIALS_PATH, IMDS_CREDENTIALS_PATH[:-1]):
            return self._maybe_head(request, Response(200, self.role_name.encode(), "text/plain"))
        if path.startswith(IMDS_CREDENTIALS_PATH) and path[len(IMDS_CREDENTIALS_PATH) :] == self.role_name:
            creds = self.supply.current()
            if creds is None:
                return _unavailable(self.supply)
            document = {
                "Code": "Success",
                "LastUpdated": format_expiration(datetime.now(UTC)),
                "Type": "AWS-HMAC",
                **_credential_fields(creds),
            }
            return self._maybe_head(request, json_response(200, document))
        return error_response(404, "NotFound", "no such resource")

    @staticmethod
    def _maybe_head(request: Request, response: Response) -> Response:
        if request.method == "HEAD":
            response.body = b""
        return response

    def _issue(self, request: Request) -> Response:
        if "x-forwarded-for" in request.headers:
            # As on EC2: a token request that went through a proxy is refused.
            return error_response(403, "Forbidden", "token requests through a proxy are refused")
        ttl_text = request.headers.get(IMDS_TTL_HEADER, "")
        if not ttl_text.isdigit() or not 1 <= int(ttl_text) <= IMDS_MAX_TTL:
            return error_response(
                400, "BadRequest", f"X-aws-ec2-metadata-token-ttl-seconds must be 1 to {IMDS_MAX_TTL}"
            )
        if not self._valid:
            return error_response(403, "Forbidden", "this server has stopped")
        now = time.monotonic()
        for issued, expiry in list(self._tokens.items()):
            if expiry <= now:
                del self._tokens[issued]
        while len(self._tokens) >= IMDS_MAX_TOKENS:
            self._tokens.popitem(last=False)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self._tokens[token.encode()] = now + int(ttl_text)
        return Response(200, token.encode(), "text/plain", {"X-aws-ec2-metadata-token-ttl-seconds": ttl_text})

    def _token_ok(self, given: str | None) -> bool:
        if not given or not self._valid:
            return False
        key = given.encode("latin-1", "replace")
        found = 0.0
        for known, expiry in self._tokens.items():  # at most IMDS_MAX_TOKENS, each compared in constant time
            if hmac.compare_digest(key, known):
                found = expiry
        return found > time.monotonic()

    def invalidate(self) -> None:
        """Drop every token issued and issue no more."""
        self._valid = False
        self._tokens.clear()

