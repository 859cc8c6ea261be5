"""Async facade over botocore's STS client.

botocore is imported on first use only (``stsdesk --help``, ``list`` and the credential-process fast
path never pay for it). Every call runs in an executor so that the GUI's event loop never blocks on the
network. Errors come back as the typed exceptions of :mod:`stsdesk.core.errors`: one line, never a secret.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from stsdesk.core.errors import (
    AccessDenied,
    ClockSkew,
    ExpiredCredentials,
    InvalidMfaCode,
    NetworkError,
    StsCallError,
    Throttled,
)
from stsdesk.core.model import CredentialKind, Credentials, Identity

T = TypeVar("T")

_THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
_EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "RequestExpired"}
)
# 5xx: STS failed on its side; botocore's own retry modes retry these codes and any HTTP 5xx.
_SERVER_CODES = frozenset({"InternalFailure", "InternalError", "ServiceUnavailable", "ServiceFailure"})
# STS answers a request signed more than 15 minutes from its clock with one of these (either direction).
_SKEW_MARKERS = ("Signature expired", "Signature not yet current")
_CLOCK_HINT = (
    "this computer's clock differs from AWS's by more than 15 minutes; set the system clock right "
    "(turn on automatic time synchronisation) and try again"
)
# AssumeRole and GetSessionToken word a wrong code differently (STS_FACTS.md "MFA"); both start like this.
_WRONG_MFA_MARKERS = ("invalid MFA one time pass code", "unable to validate MFA code")
_CLIENT_CACHE_SIZE = 64


def partition_for(region: str, hint: str | None = None) -> str:
    """The AWS partition of ``region`` (``hint`` — e.g. a role ARN's partition — wins when given)."""
    from stsdesk.core.region import partition_id  # the partition table lives with the region rule

    return partition_id(region, hint)


def default_sts_endpoint(region: str, partition_hint: str | None = None, *, regional: bool = True) -> str:
    """STS's public endpoint for ``region``: regional (``sts.<region>.amazonaws.com``) unless ``regional``
    is False (``sts_regional_endpoints = legacy``): then the global endpoint in the commercial partition."""
    from stsdesk.core.region import regional_sts_endpoint  # every partition's suffix (aws-iso*, aws-eusc...)

    return regional_sts_endpoint(region, partition_hint, regional=regional)


def resolve_endpoint(
    region: str,
    endpoint_url: str | None = None,
    partition_hint: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The STS endpoint: ``endpoint_url`` > ``AWS_ENDPOINT_URL_STS`` > ``AWS_ENDPOINT_URL`` > regional."""
    environ = os.environ if env is None else env
    for candidate in (endpoint_url, environ.get("AWS_ENDPOINT_URL_STS"), environ.get("AWS_ENDPOINT_URL")):
        if candidate:
            return candidate.rstrip("/")
    return default_sts_endpoint(region, partition_hint)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _credentials(raw: Any, kind: CredentialKind, region: str, action: str) -> Credentials:
    """Temporary credentials from an STS result. Raises StsCallError when a part is missing or they have
    already expired: such credentials must never be handed out (or cached)."""
    missing = [
        name
        for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
        if not isinstance(raw, Mapping) or not raw.get(name)
    ]
    if missing:
        raise StsCallError(
            f"STS {action} returned incomplete credentials (no {', '.join(missing)}); nothing was used",
            "IncompleteCredentials",
        )
    expiration = raw.get("Expiration")
    if isinstance(expiration, str):
        expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    if isinstance(expiration, datetime):
        expiration = (
            expiration.replace(tzinfo=UTC) if expiration.tzinfo is None else expiration.astimezone(UTC)
        )
    if not isinstance(expiration, datetime):
        raise StsCallError(
            f"STS {action} returned credentials with an unreadable expiry; nothing was used",
            "IncompleteCredentials",
        )
    if expiration <= datetime.now(UTC):
        raise StsCallError(
            f"STS {action} returned credentials that have already expired ({expiration:%Y-%m-%dT%H:%M:%SZ}); "
            "nothing was used — check that this computer's clock is right",
            "ExpiredOnArrival",
        )
    return Credentials(
        access_key_id=str(raw["AccessKeyId"]),
        secret_access_key=str(raw["SecretAccessKey"]),
        session_token=raw.get("SessionToken"),
        expiration=expiration,
        kind=kind,
        region=region,
    )


def _role_kind(source: Credentials) -> CredentialKind:
    # AssumeRole from another role's (or a SAML/web-identity role's) session is role chaining: one hour max.
    if source.kind in (CredentialKind.LONG_TERM, CredentialKind.SESSION_TOKEN):
        return CredentialKind.ASSUMED_ROLE
    return CredentialKind.CHAINED_ROLE


def translate_error(exc: BaseException, action: str) -> StsCallError:
    """Map a botocore exception from ``action`` to a typed :class:`StsCallError` with a one-line message.

    Unknown exception types become a plain ``StsCallError``; nothing here ever formats a credential.
    """
    from botocore import exceptions as bce

    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "") or "Unknown")
        message = _one_line(str(error.get("Message", "") or code))
        text = f"STS {action} failed ({code}): {message}"
        if code == "AccessDenied" and any(marker in message for marker in _WRONG_MFA_MARKERS):
            return InvalidMfaCode(f"STS {action} failed: wrong or already used MFA code ({message})", code)
        if code == "AccessDenied":
            return AccessDenied(text, code)
        if code in _EXPIRED_CODES:
            return ExpiredCredentials(
                f"{text} — the keys or session used to call STS are expired, revoked or unknown", code
            )
        if code == "SignatureDoesNotMatch" and any(marker in message for marker in _SKEW_MARKERS):
            return ClockSkew(f"{text} — {_CLOCK_HINT}", code)
        if code == "SignatureDoesNotMatch":
            return ExpiredCredentials(f"{text} — the secret access key does not match the key id", code)
        if code in _THROTTLE_CODES:
            return Throttled(text, code, retryable=True)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        server_side = code in _SERVER_CODES or (isinstance(status, int) and status >= 500)
        if code == "IDPCommunicationError" or server_side:
            return StsCallError(text, code, retryable=True)
        return StsCallError(text, code)
    if isinstance(exc, bce.ParamValidationError):
        return StsCallError(f"STS {action} was not sent: {_one_line(str(exc))}", "ParamValidation")
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError | bce.ConnectionClosedError):
        return NetworkError(
            f"STS {action} failed: cannot reach the STS endpoint ({_one_line(str(exc))})",
            "NetworkError",
            retryable=True,
        )
    if isinstance(exc, bce.ReadTimeoutError | bce.HTTPClientError):
        # The request may have reached STS (an MFA code may be spent): not retried automatically.
        return NetworkError(f"STS {action} failed: {_one_line(str(exc))}", "NetworkError")
    if isinstance(exc, bce.BotoCoreError):
        return StsCallError(f"STS {action} failed: {_one_line(str(exc))}", type(exc).__name__)
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        # Its text quotes the raw body, which may hold credentials: never shown. A response cut off mid-way
        # or garbled in transit; nothing from it is used, and asking again is safe (no MFA code: see _call).
        return StsCallError(
            f"STS {action} failed: the response was cut off or malformed and was discarded",
            "ResponseParserError",
            retryable=True,
        )
    raise exc


class StsClient:
    """Async facade over botocore's STS client; one cached client per (access key id, region, endpoint).

    ``max_attempts`` bounds the tries of a throttled (or unreachable) call, with jittered exponential backoff.
    """

    def __init__(self, executor: concurrent.futures.Executor | None = None, max_attempts: int = 4) -> None:
        self._executor = executor
        self._max_attempts = max(1, max_attempts)
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: OrderedDict[tuple[str, str, str, str], Any] = OrderedDict()
        self.backoff_base = 0.2  # seconds; tests set 0

    # -- plumbing -------------------------------------------------------------------------------------------

    def _botocore_session(self) -> Any:
        if self._session is None:
            import botocore.session

            # The broker passes every setting explicitly; AWS_PROFILE / the config file must not leak in
            # (a profile name botocore cannot find, or a malformed file, would otherwise break every call).
            self._session = botocore.session.Session(
                session_vars={
                    "profile": (None, None, None, None),
                    "config_file": (None, None, os.devnull, None),
                    "credentials_file": (None, None, os.devnull, None),
                }
            )
        return self._session

    def _client(self, creds: Credentials | None, region: str, endpoint: str) -> Any:
        token_tag = str(hash(creds.session_token)) if creds is not None and creds.session_token else ""
        key = (creds.access_key_id if creds is not None else "", token_tag, region, endpoint)
        with self._lock:  # botocore sessions are not thread-safe for client creation
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            from botocore import UNSIGNED
            from botocore.config import Config

            config = Config(
                retries={"total_max_attempts": 1},  # retried here, where an MFA code's use is known
                connect_timeout=10,
                read_timeout=30,
                signature_version=UNSIGNED if creds is None else None,
            )
            client = self._botocore_session().create_client(
                "sts",
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id=creds.access_key_id if creds else None,
                aws_secret_access_key=creds.secret_access_key if creds else None,
                aws_session_token=creds.session_token if creds else None,
                config=config,
            )
            self._clients[key] = client
            while len(self._clients) > _CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
            return client

    async def _call(
        self,
        action: str,
        creds: Credentials | None,
        region: str,
        endpoint: str,
        params: Mapping[str, Any],
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        clean = {k: v for k, v in params.items() if v is not None}

        def run() -> dict[str, Any]:
            from botocore import xform_name  # "AssumeRoleWithSAML" -> "assume_role_with_saml"

            client = self._client(creds, region, endpoint)
            try:
                result: dict[str, Any] = getattr(client, xform_name(action))(**clean)
            except Exception as exc:
                raise translate_error(exc, action) from None
            return result

        attempt = 0
        while True:
            attempt += 1
            try:
                return await loop.run_in_executor(self._executor, run)
            except StsCallError as exc:
                if not (retry and exc.retryable):
                    raise
                if attempt >= self._max_attempts:
                    if attempt > 1:
                        exc.message = f"{exc.message} (gave up after {attempt} attempts)"
                        exc.args = (exc.message,)
                    raise
                delay = self.backoff_base * (2 ** (attempt - 1))
                await asyncio.sleep(random.uniform(0, delay))  # full jitter

    # -- the seven actions ----------------------------------------------------------------------------------

    async def assume_role(
        self,
        source: Credentials,
        *,
        role_arn: str,
        session_name: str,
        duration: int | None = None,
        mfa_serial: str | None = None,
        mfa_code: str | None = None,
        external_id: str | None = None,
        source_identity: str | None = None,
        policy: str | None = None,
        region: str,
        endpoint_url: str | None = None,
        partition_hint: str | None = None,
    ) -> tuple[Credentials, str]:
        """AssumeRole from ``source``; returns the role credentials and the assumed-role ARN.

        Raises InvalidMfaCode, AccessDenied, ExpiredCredentials, ClockSkew, Throttled, NetworkError or
        StsCallError (e.g. ValidationError for a duration above the role's maximum).
        """
        endpoint = resolve_endpoint(region, endpoint_url, partition_hint or _arn_partition(role_arn))
        # A call carrying an MFA code is not retried: the code is spent once STS has seen it.
        response = await self._call(
            "AssumeRole",
            source,
            region,
            endpoint,
            {
                "RoleArn": role_arn,
                "RoleSessionName": session_name,
                "DurationSeconds": duration,
                "SerialNumber": mfa_serial,
                "TokenCode": mfa_code,
                "ExternalId": external_id,
                "SourceIdentity": source_identity,
                "Policy": policy,
            },
            retry=mfa_code is None,
        )
        creds = _credentials(response.get("Credentials"), _role_kind(source), region, "AssumeRole")
        return creds, str(response.get("AssumedRoleUser", {}).get("Arn", ""))

    async def get_session_token(
        self,
        source: Credentials,
        *,
        duration: int | None = None,
        mfa_serial: str | None = None,
        mfa_code: str | None = None,
        region: str,
        endpoint_url: str | None = None,
    ) -> Credentials:
        """GetSessionToken from long-term keys (with MFA when ``mfa_serial`` is given).

        Errors as :meth:`assume_role`."""
        endpoint = resolve_endpoint(region, endpoint_url)
        response = await self._call(
            "GetSessionToken",
            source,
            region,
            endpoint,
            {
                "DurationSeconds": duration,
                "SerialNumber": mfa_serial,
                "TokenCode": mfa_code,
            },
            retry=mfa_code is None,
        )
        raw = response.get("Credentials")
        return _credentials(raw, CredentialKind.SESSION_TOKEN, region, "GetSessionToken")

    async def get_caller_identity(
        self, creds: Credentials, *, region: str, endpoint_url: str | None = None
    ) -> Identity:
        """GetCallerIdentity: who these credentials belong to. Raises ExpiredCredentials for dead keys."""
        endpoint = resolve_endpoint(region, endpoint_url)
        response = await self._call("GetCallerIdentity", creds, region, endpoint, {})
        return Identity(
            account=str(response["Account"]), arn=str(response["Arn"]), user_id=str(response["UserId"])
        )

    async def assume_role_with_saml(
        self,
        *,
        role_arn: str,
        principal_arn: str,
        assertion_b64: str,
        duration: int | None = None,
        region: str,
        endpoint_url: str | None = None,
    ) -> tuple[Credentials, str]:
        """AssumeRoleWithSAML (unsigned). Raises StsCallError (e.g. InvalidIdentityToken) or AccessDenied."""
        endpoint = resolve_endpoint(region, endpoint_url, _arn_partition(role_arn))
        response = await self._call(
            "AssumeRoleWithSAML",
            None,
            region,
            endpoint,
            {
                "RoleArn": role_arn,
                "PrincipalArn": principal_arn,
                "SAMLAssertion": assertion_b64,
                "DurationSeconds": duration,
            },
        )
        creds = _credentials(response.get("Credentials"), CredentialKind.SAML, region, "AssumeRoleWithSAML")
        return creds, str(response.get("AssumedRoleUser", {}).get("Arn", ""))

    async def assume_role_with_web_identity(
        self,
        *,
        role_arn: str,
        token: str,
        session_name: str,
        duration: int | None = None,
        region: str,
        endpoint_url: str | None = None,
    ) -> tuple[Credentials, str]:
        """AssumeRoleWithWebIdentity (unsigned).

        Raises StsCallError (InvalidIdentityToken, ...) or AccessDenied."""
        endpoint = resolve_endpoint(region, endpoint_url, _arn_partition(role_arn))
        response = await self._call(
            "AssumeRoleWithWebIdentity",
            None,
            region,
            endpoint,
            {
                "RoleArn": role_arn,
                "WebIdentityToken": token,
                "RoleSessionName": session_name,
                "DurationSeconds": duration,
            },
        )
        creds = _credentials(
            response.get("Credentials"), CredentialKind.WEB_IDENTITY, region, "AssumeRoleWithWebIdentity"
        )
        return creds, str(response.get("AssumedRoleUser", {}).get("Arn", ""))

    async def get_federation_token(
        self,
        source: Credentials,
        *,
        name: str,
        policy: str | None = None,
        duration: int | None = None,
        region: str,
        endpoint_url: str | None = None,
    ) -> tuple[Credentials, str]:
        """GetFederationToken from an IAM user's long-term keys.

        Returns the credentials and the federated-user ARN; errors as :meth:`assume_role`."""
        endpoint = resolve_endpoint(region, endpoint_url)
        response = await self._call(
            "GetFederationToken",
            source,
            region,
            endpoint,
            {
                "Name": name,
                "Policy": policy,
                "DurationSeconds": duration,
            },
        )
        raw = response.get("Credentials")
        creds = _credentials(raw, CredentialKind.FEDERATION_TOKEN, region, "GetFederationToken")
        return creds, str(response.get("FederatedUser", {}).get("Arn", ""))

    async def decode_authorization_message(
        self, creds: Credentials, encoded: str, *, region: str, endpoint_url: str | None = None
    ) -> str:
        """DecodeAuthorizationMessage: the decoded JSON text. Raises AccessDenied without the permission and
        StsCallError(InvalidAuthorizationMessageException) for a blob that is not genuine or has expired."""
        endpoint = resolve_endpoint(region, endpoint_url)
        response = await self._call(
            "DecodeAuthorizationMessage", creds, region, endpoint, {"EncodedMessage": encoded}
        )
        return str(response["DecodedMessage"])

    def close(self) -> None:
        """Drop the cached clients (their connection pools close with them)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            closer: Callable[[], None] | None = getattr(client, "close", None)
            if closer is not None:
                closer()


def _arn_partition(arn: str | None) -> str | None:
    if arn and arn.startswith("arn:"):
        parts = arn.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return None
