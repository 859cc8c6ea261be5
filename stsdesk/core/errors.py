"""Typed, readable errors of the credential engine.

Every error here carries a one-line message a person can act on. None of them ever includes a secret.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs ~2 ms, and the cached credential-process answer
# imports this module (through stsdesk.cli, stsdesk.core.paths and stsdesk.core.secrets)
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    class _RemedyFields(NamedTuple):
        action: str
        profile: str | None = None
        access_key_id: str | None = None

else:
    # What typing.NamedTuple makes of the class above (it calls collections.namedtuple itself), without
    # importing typing; collections is loaded by the interpreter's start already.
    from collections import namedtuple

    _RemedyFields = namedtuple("_RemedyFields", ("action", "profile", "access_key_id"), defaults=(None, None))


class Remedy(_RemedyFields):
    """What the user can do about an error, as data: the CLI and the GUI each say it in their own words
    (stsdesk.cli.remedies, stsdesk.gui.errors), so core's messages name no command and no dialog.

    ``action`` is one of REMEDY_ACTIONS; ``profile`` and ``access_key_id`` fill in the words. A named tuple
    (action, profile=None, access_key_id=None)."""

    __slots__ = ()

    def to_json(self) -> dict[str, str | None]:
        """The remedy as a JSON object (the terminal bridge carries it from the GUI to the CLI)."""
        return {"action": self.action, "profile": self.profile, "access_key_id": self.access_key_id}

    @classmethod
    def from_json(cls, raw: Any) -> Remedy | None:
        """A remedy from :meth:`to_json`'s object; None for anything else (an unknown action included)."""
        if not isinstance(raw, dict) or raw.get("action") not in REMEDY_ACTIONS:
            return None
        profile, akid = raw.get("profile"), raw.get("access_key_id")
        return cls(
            str(raw["action"]),
            profile if isinstance(profile, str) else None,
            akid if isinstance(akid, str) else None,
        )


STORE_SECRET = "store-secret"  # the IAM user's secret access key is nowhere: store it (profile, access key id)
ENTER_MFA_CODE = "enter-mfa-code"  # an MFA code is needed and nothing could ask for one (profile)
REMEDY_ACTIONS = frozenset({STORE_SECRET, ENTER_MFA_CODE})


class StsdeskError(Exception):
    """Base class: an expected failure, shown to the user as one line (no traceback).

    ``message`` says what went wrong; ``remedy`` (optional) what to do, rendered by each front end."""

    def __init__(self, message: str, *, remedy: Remedy | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

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
