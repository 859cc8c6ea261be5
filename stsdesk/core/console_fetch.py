"""Fetch a console sign-in URL: getSigninToken over HTTP, then the login URL (core/console.py builds both).

Blocking (urllib); the broker runs it in an executor. The request URL carries the secret key, and the result
is a bearer credential for 15 minutes: neither ever appears in a message.
"""

from __future__ import annotations

from stsdesk.core.broker_sources import StsTarget, get_url, is_aws_host
from stsdesk.core.console import (
    ConsoleError,
    federation_target,
    login_url,
    parse_signin_token_response,
    session_duration_for,
    signin_token_request_url,
)
from stsdesk.core.model import Credentials


def federation_endpoint_for(target: StsTarget, sts_endpoint: str) -> str | None:
    """The federation endpoint to use: the profile's ``stsdesk_federation_endpoint``, else
    ``<sts endpoint>/federation`` when STS is not an AWS host (the emulator), else None (the partition's)."""
    if target.federation_endpoint:
        return target.federation_endpoint
    if not is_aws_host(sts_endpoint):
        return f"{sts_endpoint.rstrip('/')}/federation"
    return None


def console_sign_in(
    creds: Credentials,
    partition: str,
    target: StsTarget,
    sts_endpoint: str,
    duration: int | None = None,
    destination: str | None = None,
) -> str:
    """The login URL for ``creds``. Raises ConsoleError (wrong kind of credentials, refused, bad answer) and
    NetworkError (federation endpoint unreachable)."""
    fed = federation_target(
        partition, target.region, federation_endpoint_for(target, sts_endpoint), destination
    )
    request_url = signin_token_request_url(fed, creds, session_duration_for(creds, duration))
    status, body = get_url(request_url, "the console federation endpoint")
    try:
        token = parse_signin_token_response(body)
    except ConsoleError as exc:
        if status >= 400:
            raise ConsoleError(
                f"the federation endpoint refused the sign-in (HTTP {status}): {exc}"
            ) from None
        raise
    return login_url(fed, token)
