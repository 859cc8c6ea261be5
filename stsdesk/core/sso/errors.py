"""Errors of the IAM Identity Center (SSO) support: one line each, never a token in the message."""

from __future__ import annotations

from stsdesk.core.errors import StsCallError, StsdeskError


class SsoError(StsdeskError):
    """An expected Identity Center failure, shown as one line."""


class SsoConfigError(SsoError):
    """The [sso-session] or SSO profile settings are missing or inconsistent."""


class NotSignedIn(SsoError):
    """No sign-in (token) exists for the SSO session: the user has to sign in."""


class SignInExpired(SsoError):
    """The sign-in ended: the access token expired and could not be refreshed (or was revoked)."""


class TokenCacheCorrupt(SsoError):
    """A token cache entry exists but cannot be read as a token."""


class SignInFailed(SsoError):
    """An interactive sign-in did not complete (denied, code expired, browser never came back)."""


class SignInDenied(SignInFailed):
    pass


class SignInTimedOut(SignInFailed):
    pass


class SignInCancelled(SignInFailed):
    pass


class SsoCallError(StsCallError):
    """sso-oidc or the portal answered with an error (``code`` is AWS's error code)."""


class RoleNotAssigned(SsoCallError):
    """GetRoleCredentials refused a role the user is not assigned to (403)."""
