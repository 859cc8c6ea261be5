"""The AWS console federation sign-in URL: endpoints, duration rules, request and login URLs.

No network here: the caller performs the one HTTP GET for the sign-in token and hands the body back to
``parse_signin_token_response``. Messages never contain a secret, a session token or a sign-in token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from stsdesk.core.errors import StsdeskError
from stsdesk.core.model import CredentialKind, Credentials

ISSUER = "stsdesk"

# Console sessions: AssumeRole* credentials accept 900..43200 s; role-chained ones fail above 3599 s.
MIN_SESSION_DURATION = 900
MAX_SESSION_DURATION = 43200
MAX_CHAINED_SESSION_DURATION = 3599


class ConsoleError(StsdeskError):
    """A console sign-in URL cannot be made (wrong kind of credentials, unknown partition, bad response)."""


@dataclass(frozen=True)
class FederationTarget:
    """Where to get a sign-in token (``federation_url``) and where the signed-in browser lands."""

    federation_url: str
    console_url: str
    issuer: str


@dataclass(frozen=True)
class _Partition:
    federation_url: str
    console_url: str
    regional_console_url: str  # format string with {region}


_PARTITIONS = {
    "aws": _Partition(
        "https://signin.aws.amazon.com/federation",
        "https://console.aws.amazon.com/",
        "https://{region}.console.aws.amazon.com/console/home?region={region}",
    ),
    "aws-us-gov": _Partition(
        "https://signin.amazonaws-us-gov.com/federation",
        "https://console.amazonaws-us-gov.com/",
        "https://console.amazonaws-us-gov.com/console/home?region={region}",
    ),
    "aws-cn": _Partition(
        "https://signin.amazonaws.cn/federation",
        "https://console.amazonaws.cn/",
        "https://console.amazonaws.cn/console/home?region={region}",
    ),
}


def _sibling_console_url(federation_endpoint: str) -> str:
    # A non-AWS federation endpoint (the embedded emulator, "<endpoint>/federation") serves its console page
    # next to it; sending the browser to the real AWS console from there would be wrong.
    parts = urlsplit(federation_endpoint)
    path = parts.path.rstrip("/")
    base = path[: -len("/federation")] if path.endswith("/federation") else path
    return urlunsplit((parts.scheme, parts.netloc, base + "/console", "", ""))


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # small; only for a non-AWS endpoint

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def federation_endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a console federation endpoint (one line), or None when it can.

    The getSigninToken request carries the secret access key in its query, so it goes over https, or over
    plain http only to this machine: the host is parsed and compared exactly (``localhost``, 127.0.0.0/8,
    ``::1``), so ``http://localhost.evil.example`` or ``http://127.0.0.1@evil.example`` are refused.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an https:// URL (http:// only for a local emulator)"
    if parts.scheme == "http" and not _is_loopback_host(host):
        return "plain http is allowed only to this machine (localhost, 127.0.0.1, [::1]); use https://"
    return None


def federation_target(
    partition: str,
    region: str | None,
    federation_endpoint: str | None = None,
    destination: str | None = None,
) -> FederationTarget:
    """The federation endpoint and console URL for a partition (``aws``, ``aws-us-gov``, ``aws-cn``).

    With a region the console opens on that region's home page. ``federation_endpoint`` replaces the
    partition's endpoint (the emulator's ``<endpoint>/federation``); the console URL is then the ``/console``
    page beside it. ``destination`` replaces the console URL in every case. Raises ConsoleError for an
    unknown partition without an override, an override or destination that is not an http(s) URL, or an
    override over plain http to another machine (``federation_endpoint_problem``).
    """
    for label, url in (("federation endpoint", federation_endpoint), ("console destination", destination)):
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            raise ConsoleError(f"the {label} must be an http(s) URL, got {url!r}")
    if federation_endpoint is not None:
        problem = federation_endpoint_problem(federation_endpoint)
        if problem is not None:
            raise ConsoleError(f"the federation endpoint {federation_endpoint!r}: {problem}")
    if federation_endpoint is not None:
        federation_url = federation_endpoint
        console_url = _sibling_console_url(federation_endpoint)
    else:
        known = _PARTITIONS.get(partition)
        if known is None:
            raise ConsoleError(
                f"no console sign-in endpoint is known for partition {partition!r} "
                f"(known: {', '.join(_PARTITIONS)}); set stsdesk_federation_endpoint in the profile"
            )
        federation_url = known.federation_url
        console_url = known.regional_console_url.format(region=region) if region else known.console_url
    return FederationTarget(
        federation_url=federation_url,
        console_url=destination if destination is not None else console_url,
        issuer=ISSUER,
    )


def session_duration_for(creds: Credentials, requested: int | None) -> int | None:
    """The SessionDuration to send to getSigninToken for these credentials, or None to leave it out.

    Federation tokens never send it (AWS rejects it; the console session lasts as long as the token).
    Role-chained credentials are capped at 3599 s (AWS fails above that) and always send it, so the console
    does not outlive its one-hour limit on its own terms. Other role credentials clamp a request to
    900..43200 and send nothing when nothing was requested. Raises ConsoleError for GetSessionToken and
    long-term credentials, which AWS refuses for console sign-in.
    """
    kind = creds.kind
    if kind is CredentialKind.SESSION_TOKEN:
        raise ConsoleError(
            "credentials from GetSessionToken cannot open the console (AWS: only federation tokens or "
            "assume role tokens may be used for federated login); assume a role or use a federated user"
        )
    if kind is CredentialKind.LONG_TERM:
        raise ConsoleError(
            "long-term access keys cannot open the console directly; assume a role or use a federated "
            "user (GetFederationToken) from these keys"
        )
    if kind is CredentialKind.FEDERATION_TOKEN:
        return None
    if kind is CredentialKind.CHAINED_ROLE:
        wanted = requested if requested is not None else MAX_CHAINED_SESSION_DURATION
        return max(MIN_SESSION_DURATION, min(wanted, MAX_CHAINED_SESSION_DURATION))
    if requested is None:
        return None
    return max(MIN_SESSION_DURATION, min(requested, MAX_SESSION_DURATION))


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    # quote (not quote_plus) with safe="": the Session JSON's "+", "/" and "=" must all arrive intact.
    query = urlencode(params, quote_via=quote, safe="")
    return f"{url}{'&' if '?' in url else '?'}{query}"


def signin_token_request_url(
    target: FederationTarget, creds: Credentials, session_duration: int | None
) -> str:
    """The getSigninToken URL (GET it to obtain ``{"SigninToken": ...}``). It contains the secret key.

    Raises ConsoleError when the credentials have no session token (long-term keys cannot sign in).
    """
    if creds.session_token is None:
        raise ConsoleError(
            "console sign-in needs temporary credentials with a session token; assume a role or use a "
            "federated user"
        )
    session = json.dumps(
        {
            "sessionId": creds.access_key_id,
            "sessionKey": creds.secret_access_key,
            "sessionToken": creds.session_token,
        },
        separators=(",", ":"),
    )
    params = [("Action", "getSigninToken")]
    if session_duration is not None:
        params.append(("SessionDuration", str(session_duration)))  # name is case-sensitive
    params.append(("Session", session))
    return _with_query(target.federation_url, params)


def parse_signin_token_response(body: bytes) -> str:
    """The sign-in token from the getSigninToken response body.

    Raises ConsoleError (one line, never echoing the body) for an empty body, an HTML error page, anything
    that is not JSON, or JSON without a non-empty string ``SigninToken``.
    """
    if not body.strip():
        raise ConsoleError("the federation endpoint returned an empty response instead of a sign-in token")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ConsoleError("the federation endpoint returned binary data, not a sign-in token") from None
    if text.lstrip()[:1] == "<":
        raise ConsoleError(
            "the federation endpoint returned an HTML page instead of a sign-in token; the credentials "
            "were probably refused (expired, or not allowed to sign in to the console)"
        )
    try:
        document = json.loads(text)
    except ValueError:
        raise ConsoleError("the federation endpoint returned something that is not JSON") from None
    token = document.get("SigninToken") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token:
        raise ConsoleError("the federation endpoint's response has no SigninToken")
    return token


def login_url(target: FederationTarget, signin_token: str) -> str:
    """The URL that signs the browser in (valid 15 minutes; treat it as a secret)."""
    return _with_query(
        target.federation_url,
        [
            ("Action", "login"),
            ("Issuer", target.issuer),
            ("Destination", target.console_url),
            ("SigninToken", signin_token),
        ],
    )
