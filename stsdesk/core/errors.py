"""Typed, readable errors of the credential engine.

Every error here carries a one-line message a person can act on. None of them ever includes a secret.
"""

from __future__ import annotations


class StsdeskError(Exception):
    """Base class: an expected failure, shown to the user as one line (no traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(StsdeskError):
    """The AWS config/credentials files or stsdesk's state are malformed or inconsistent."""


class ProfileNotFound(ConfigError):
    pass


class ProfileCycleError(ConfigError):
    pass


class KeyringUnavailable(StsdeskError):
    """No usable keyring backend (keyring's fail backend, a locked collection, a backend that raises)."""


class MfaRequired(StsdeskError):
    """An MFA code is needed and there is no way to ask for one (no TTY, no GUI)."""


class MfaCancelled(StsdeskError):
    pass


class StsCallError(StsdeskError):
    """STS answered with an error. ``code`` is AWS's error code."""

    def __init__(self, message: str, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class InvalidMfaCode(StsCallError):
    pass


class AccessDenied(StsCallError):
    pass


class ExpiredCredentials(StsCallError):
    """The source keys or session used to call STS are expired or invalid."""


class ClockSkew(StsCallError):
    pass


class Throttled(StsCallError):
    pass


class NetworkError(StsCallError):
    pass


class DurationError(StsdeskError):
    """A requested session duration is outside what STS allows for this kind of session."""
