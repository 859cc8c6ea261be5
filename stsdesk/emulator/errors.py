"""Errors the emulator answers with, as real AWS spells them."""

from __future__ import annotations

# HTTP status per error code (STS_FACTS.md, "Errors").
_STATUS: dict[str, int] = {
    "AccessDenied": 403,
    "ExpiredToken": 403,
    "ExpiredTokenException": 400,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "MissingAuthenticationToken": 403,
    "IncompleteSignature": 400,
    "InvalidAction": 400,
    "ValidationError": 400,
    "MalformedPolicyDocument": 400,
    "PackedPolicyTooLarge": 400,
    "InvalidIdentityToken": 400,
    "IDPCommunicationError": 400,
    "InvalidAuthorizationMessageException": 400,
    "IDPRejectedClaim": 403,
    "RegionDisabledException": 403,
    "InvalidParameterValue": 400,
    "MissingParameter": 400,
    "MissingAction": 400,
    "Throttling": 400,
    "InternalFailure": 500,
    "ServiceUnavailable": 503,
    "UnauthorizedOperation": 403,
    "AuthFailure": 401,
    "InvalidParameterCombination": 400,
    "NoSuchEntity": 404,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "RequestEntityTooLarge": 413,
}


class EmulatorError(Exception):
    """An error answered to the client as an AWS error document.

    ``code`` is the AWS error code, ``message`` the exact text real AWS uses, ``status`` the HTTP status and
    ``sender`` whether the fault is the caller's (``Sender``) or the service's (``Receiver``).
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else _STATUS.get(code, 400)

    @property
    def sender(self) -> bool:
        return self.status < 500


def validation_error(value: str, member: str, constraint: str) -> EmulatorError:
    """A ValidationError in the exact shape STS uses for one failed constraint."""
    shown = value if len(value) <= 256 else value[:256]
    return EmulatorError(
        "ValidationError",
        f"1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {constraint}",
    )


def access_denied(message: str) -> EmulatorError:
    return EmulatorError("AccessDenied", message)
