"""IAM Identity Center settings from ~/.aws/config: ``[sso-session NAME]`` sections and SSO profiles.

Read exactly as botocore reads them (its raw parse; a profile's keys must agree with its sso-session's, as
botocore's ``SSOProvider._resolve_sso_session_reference`` demands). Imports nothing heavy: the profile tree
uses it while loading.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stsdesk.core.model import ProfileKind
from stsdesk.core.sso.errors import SsoConfigError

if TYPE_CHECKING:
    from stsdesk.core.profiles import ProfileTree

DEFAULT_SCOPE = "sso:account:access"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# Keys an SSO profile may share with its sso-session; botocore refuses different values.
_SHARED_KEYS = ("sso_start_url", "sso_region", "sso_registration_scopes")


@dataclass(frozen=True)
class SsoSession:
    """One sign-in: an ``[sso-session NAME]`` section, or (``name`` None) a legacy profile's start URL.

    ``start_url`` is exactly as configured: the AWS CLI keys the legacy token cache by that exact text.
    """

    name: str | None
    start_url: str
    region: str
    scopes: tuple[str, ...] = ()
    # From the endpoint_url of a profile signing in with it, when no AWS_ENDPOINT_URL* variable is set (as
    # botocore resolves it for `aws sso login --profile`): the emulator in demos. Not part of the identity.
    endpoint_url: str | None = field(default=None, compare=False)

    @property
    def cache_name(self) -> str:
        """What the token cache file name is the SHA-1 of: the session name, or the legacy start URL."""
        return self.name if self.name is not None else self.start_url

    @property
    def label(self) -> str:
        """How messages name this sign-in."""
        return self.name if self.name is not None else self.start_url

    @property
    def legacy(self) -> bool:
        """True for the four-key legacy form: no refresh token, so a sign-in lasts one access token."""
        return self.name is None

    @property
    def api_start_url(self) -> str:
        """The start URL as sent to sso-oidc: without a trailing slash (see :func:`normalise_start_url`)."""
        return normalise_start_url(self.start_url)

    @property
    def login_command(self) -> str:
        """The command that signs in to this session again."""
        return f"stsdesk sso login {shlex.quote(self.label)}"


def normalise_start_url(url: str) -> str:
    """``url`` without trailing slashes (``https://d-x.awsapps.com/start/`` and ``.../start`` are one portal)."""
    return url.strip().rstrip("/")


def parse_scopes(raw: str | None) -> tuple[str, ...]:
    """``sso_registration_scopes`` (comma-separated, as the AWS CLI parses it) as a tuple."""
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def check_start_url(url: str, where: str) -> str | None:
    """Why ``url`` cannot be a start URL (one line naming ``where``), or None."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        return f"{where}: sso_start_url '{_first_line(url)}' must be an https:// URL"
    return None


def _first_line(value: str) -> str:
    return value.partition("\n")[0].strip()[:200]


def session_section_name(section: str) -> str | None:
    """The session a config section ``[sso-session NAME]`` defines (as botocore's configloader splits it)."""
    if not section.startswith("sso-session"):
        return None
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 and parts[0] == "sso-session" else None


def sso_session_sections(raw_config: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``[sso-session NAME]`` sections of a raw botocore parse, by name (a later duplicate wins)."""
    found: dict[str, dict[str, Any]] = {}
    for section, values in raw_config.items():
        name = session_section_name(section)
        if name is not None:
            found[name] = dict(values)
    return found


def _value(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def session_from_section(name: str, values: Mapping[str, Any]) -> SsoSession:
    """An :class:`SsoSession` from one ``[sso-session NAME]`` section.

    Raises SsoConfigError naming the section and the missing or bad key.
    """
    where = f"[sso-session {name}]"
    for key in ("sso_start_url", "sso_region"):
        raw = values.get(key)
        if (raw is not None and not isinstance(raw, str)) or (isinstance(raw, str) and "\n" in raw.strip()):
            raise SsoConfigError(f"{where}: {key} must be one line")
    start_url, region = _value(values, "sso_start_url"), _value(values, "sso_region")
    missing = [key for key, val in (("sso_start_url", start_url), ("sso_region", region)) if val is None]
    if missing:
        raise SsoConfigError(f"{where} is missing {' and '.join(missing)}")
    assert start_url is not None and region is not None
    problem = check_start_url(start_url, where)
    if problem:
        raise SsoConfigError(problem)
    if not _REGION.match(region):
        raise SsoConfigError(f"{where}: sso_region '{_first_line(region)}' is not an AWS region")
    return SsoSession(name, start_url, region, parse_scopes(_value(values, "sso_registration_scopes")))


def profile_sso(
    profile: str, values: Mapping[str, Any], sessions: Mapping[str, Mapping[str, Any]]
) -> tuple[SsoSession, str, str]:
    """(sign-in session, account id, role name) of an SSO profile's raw values.

    Follows botocore: with ``sso_session`` the session section supplies start URL and region and any key
    set in both must have the same value; without it the profile needs all four legacy keys. Raises
    SsoConfigError with one line saying what to fix (without the profile's name: callers prefix it).
    """
    account, role = _value(values, "sso_account_id"), _value(values, "sso_role_name")
    missing = [key for key, val in (("sso_account_id", account), ("sso_role_name", role)) if val is None]
    session_name = _value(values, "sso_session")
    if session_name is not None:
        section = sessions.get(session_name)
        if section is None:
            raise SsoConfigError(f"sso_session '{session_name}' has no [sso-session {session_name}] section")
        for key in _SHARED_KEYS:
            mine, theirs = _value(values, key), _value(section, key)
            if mine is not None and theirs is not None and mine != theirs:
                hint = " (they differ only by a trailing slash)" if mine.rstrip("/") == theirs.rstrip("/") else ""
                raise SsoConfigError(
                    f"{key} '{mine}' differs from [sso-session {session_name}]'s '{theirs}'{hint}; "
                    "make them the same or remove it from the profile (the AWS CLI refuses this too)"
                )
        if missing:
            raise SsoConfigError(f"missing {' and '.join(missing)}")
        session = session_from_section(session_name, section)
    else:
        start_url, region = _value(values, "sso_start_url"), _value(values, "sso_region")
        missing += [key for key, val in (("sso_start_url", start_url), ("sso_region", region)) if val is None]
        if missing:
            raise SsoConfigError(f"missing {', '.join(missing)} (or sso_session)")
        assert start_url is not None and region is not None
        problem = check_start_url(start_url, "")
        if problem:
            raise SsoConfigError(problem.lstrip(": "))
        session = SsoSession(None, start_url, region)
    assert account is not None and role is not None
    if not re.fullmatch(r"\d{12}", account):
        raise SsoConfigError(f"sso_account_id '{_first_line(account)}' is not a 12-digit account id")
    return session, account, role


def is_sso_profile(values: Mapping[str, Any]) -> bool:
    """Whether botocore would use its SSO provider for these profile values (sso_role_name or
    sso_account_id present)."""
    return "sso_role_name" in values or "sso_account_id" in values


def config_sessions(tree: ProfileTree) -> list[SsoSession]:
    """Every sign-in session the config files name: ``[sso-session]`` sections in file order, then the legacy
    start URLs that SSO profiles use (one each). Broken sections are left out (``session_from_section`` raises
    SsoConfigError for them, which says why when that session is asked for). Endpoints are not filled in."""
    found: list[SsoSession] = []
    for name, values in tree.sso_sessions.items():
        with contextlib.suppress(SsoConfigError):
            found.append(session_from_section(name, values))
    seen = {(s.start_url, s.region) for s in found if s.legacy}
    for profile in tree.profiles.values():
        if profile.kind is ProfileKind.SSO and profile.error is None and not profile.sso_session:
            key = (str(profile.sso_start_url), str(profile.sso_region))
            if key not in seen:
                seen.add(key)
                found.append(SsoSession(None, *key))
    return found
