"""The records Identity Center's server side keeps (registrations, sign-ins, pending authorizations) and the
sso-oidc error type."""

from __future__ import annotations

from dataclasses import dataclass


class OidcError(Exception):
    """An sso-oidc error: ``code`` is the exception name botocore reports (``AuthorizationPendingException``),
    ``error`` the OAuth error string of the body, ``status`` the HTTP status from the service model."""

    def __init__(self, code: str, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.error = error
        self.description = description
        self.status = status


def invalid_request(description: str) -> OidcError:
    """InvalidRequestException (400)."""
    return OidcError("InvalidRequestException", "invalid_request", description)


def invalid_grant(description: str) -> OidcError:
    """InvalidGrantException (400): a code or token that is unknown, used, foreign or does not match."""
    return OidcError("InvalidGrantException", "invalid_grant", description)


def invalid_client(description: str = "Invalid client credentials") -> OidcError:
    """InvalidClientException (401)."""
    return OidcError("InvalidClientException", "invalid_client", description, 401)


@dataclass
class Registration:
    """A RegisterClient result: what the client may do (grants, scopes, redirect URIs) and until when."""

    client_id: str
    secret_digest: str  # sha256 of the client secret: the secret itself is never kept
    name: str
    scopes: list[str]
    grant_types: list[str]
    redirect_uris: list[str]
    issued_at: int
    expires_at: int


@dataclass
class SignIn:
    """One sign-in session: who, through which client, with which scopes, until when."""

    sid: str
    user: str
    client_id: str
    scopes: list[str]
    expires_at: int  # the refresh token's (and so the sign-in's) end
    refresh_id: str = ""  # the current refresh token; older ones are refused when tokens rotate


@dataclass
class DeviceAuthorization:
    """A StartDeviceAuthorization: its codes, expiry, poll interval and the person's decision."""

    device_code: str
    user_code: str
    client_id: str
    expires_at: float
    interval: int
    last_poll: float | None = None  # monotonic
    status: str = "pending"  # pending, approved, denied, used
    user: str | None = None


@dataclass
class AuthorizeRequest:
    """A PKCE /authorize request waiting for a person (or /_stsdesk/sso-approve) to allow or deny it."""

    request_id: str
    client_id: str
    client_name: str
    redirect_uri: str
    state: str
    challenge: str
    scopes: list[str]
    expires_at: float
    done: bool = False


@dataclass
class AuthCode:
    """An authorization code handed to the client's redirect URI, redeemable once with the verifier."""

    client_id: str
    redirect_uri: str
    challenge: str
    user: str
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass
class TokenGrant:
    """What CreateToken answers."""

    access_token: str
    expires_in: int
    refresh_token: str | None
