"""Profiles from the standard AWS config files, read exactly as botocore's loader reads them, arranged as a tree.

A profile whose ``source_profile`` names another is that profile's child; a broken profile (missing source,
cycle, bad value) carries an ``error`` and the rest of the tree keeps working. Nothing here writes a file:
writing is :mod:`stsdesk.core.configfile`'s job.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from stsdesk.core.awsini import raw_config_parse
from stsdesk.core.errors import ConfigError, ProfileCycleError, ProfileNotFound
from stsdesk.core.model import Profile, ProfileKind
from stsdesk.core.sso.config import profile_sso, sso_session_sections
from stsdesk.core.sso.errors import SsoConfigError

# Config key -> Profile field, for the keys whose value is copied verbatim.
_VERBATIM = (
    "region", "role_arn", "mfa_serial", "external_id", "role_session_name", "source_identity", "endpoint_url",
    "sts_regional_endpoints", "credential_process", "web_identity_token_file", "saml_principal_arn",
    "saml_assertion_file", "sso_session", "sso_account_id", "sso_role_name", "sso_start_url", "sso_region",
)  # fmt: skip
_FIELD_FOR_KEY = {
    **{key: key for key in _VERBATIM},
    # stsdesk's own keys are prefixed so that they never clash with AWS's.
    "stsdesk_federation_endpoint": "federation_endpoint",
    "stsdesk_federation_policy": "federation_policy",
    "stsdesk_federation_name": "federation_name",
}
# Understood keys that need more than a copy; like the ones above they do not go into ``extra``.
_SPECIAL_KEYS = frozenset(
    ("duration_seconds", "aws_access_key_id", "stsdesk_access_key_id", "source_profile")
)
_NO_FIELDS: dict[str, Any] = dict.fromkeys(_FIELD_FOR_KEY.values())
# Never copied anywhere into a Profile, not even into ``extra``.
_SECRET_KEYS = frozenset(("aws_secret_access_key", "aws_session_token", "aws_security_token"))
# Marks in ``extra`` where a long-term key's secret lives.
KEY_STORAGE = "key_storage"


def display_path(path: Path) -> str:
    """``path`` as a person would type it: under the home directory it starts with ``~``."""
    home = os.path.expanduser("~")
    text = str(path)
    if home not in ("~", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


def _expand(value: str, env: Mapping[str, str]) -> Path:
    # Expand "~" with the HOME of the given environment, so that a caller's env is honoured fully.
    home = env.get("HOME")
    if home and (value == "~" or value.startswith("~/")):
        return Path(home + value[1:])
    return Path(os.path.expanduser(value))


def aws_config_paths(env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """The (config, credentials) file paths, honouring AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE.

    ``env`` defaults to ``os.environ``; an empty variable counts as unset. The files need not exist.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    config = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    credentials = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return _expand(config, environ), _expand(credentials, environ)


def _undecodable_line(path: Path) -> int | None:
    try:
        data = path.read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    except OSError:
        return None
    return None


def describe_parse_error(path: Path, exc: BaseException) -> str:
    """One line naming the file and line of an INI parse error (configparser's, as botocore and
    configupdater raise them). The offending line's text is left out: it may hold a secret."""
    import configparser

    where = display_path(path)
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"{where} line {exc.lineno}: a setting comes before the first [section] header"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"{where} line {exc.lineno}: section [{exc.section}] appears twice; remove one"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"{where} line {exc.lineno}: '{exc.option}' is set twice in [{exc.section}]; remove one"
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        return f"{where} line {exc.errors[0][0]}: not a 'key = value' line (or a stray indented line)"
    if isinstance(exc, UnicodeDecodeError):
        bad_line = _undecodable_line(path)
        return f"{where}{f' line {bad_line}' if bad_line else ''}: not valid UTF-8 text"
    if isinstance(exc, ValueError):  # botocore's nested "s3 =" block with a bad inner line
        return f"{where}: an indented sub-setting is not 'key = value'"
    return f"{where}: cannot be read as an INI file ({type(exc).__name__})"


def _read_ini(path: Path) -> dict[str, dict[str, Any]]:
    """Sections of one INI file as botocore reads them; {} for a missing file; ConfigError for a broken one."""
    if not path.is_file():
        return {}
    try:
        # configparser silently skips files it cannot open; find out here instead.
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{display_path(path)}: cannot be read ({exc.strerror})") from None
    try:
        return raw_config_parse(str(path))
    except FileNotFoundError:
        return {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(describe_parse_error(path, exc)) from None
    except Exception as exc:
        import configparser  # only for a broken file: its import costs ~1.5 ms before the profiles are shown

        if isinstance(exc, configparser.Error):
            raise ConfigError(describe_parse_error(path, exc)) from None
        raise


def profile_name_of_section(section: str) -> str | None:
    """The profile a config-file section defines, exactly as botocore.configloader.build_profile_map sees it.

    build_profile_map is not called directly because it deep-copies everything and shlex-splits every
    section name, which costs ~70 ms on 5,000 profiles; plain names take a split() fast path here.
    """
    if section == "default":
        return "default"
    if not section.startswith("profile"):
        return None
    if any(ch in section for ch in "\"'\\"):
        import shlex  # only for quoted names: not imported before the first rows are painted (issue 17)

        try:
            parts = shlex.split(section)
        except ValueError:
            return None
    else:
        parts = section.split()
    return parts[1] if len(parts) == 2 else None


def _merge(
    config: Mapping[str, dict[str, Any]], credentials: Mapping[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Profiles in file order (config first), credentials values winning as in botocore's Session."""
    profiles: dict[str, dict[str, Any]] = {}
    for section, values in config.items():
        name = profile_name_of_section(section)
        if name is not None:
            profiles[name] = dict(values)  # a later duplicate replaces, as in build_profile_map
    for name, values in credentials.items():
        profiles.setdefault(name, {}).update(values)
    return profiles


@dataclass
class _Draft:
    """One profile after reading its own keys, before the tree (chain, inherited errors) is known."""

    name: str
    kind: ProfileKind
    source: str | None
    fields: dict[str, Any]
    extra: dict[str, str]
    error: str | None = None


def _kind(has: Mapping[str, str]) -> ProfileKind:
    if "role_arn" in has:
        # botocore lets web identity win over source_profile (AssumeRoleProvider skips such profiles).
        if "web_identity_token_file" in has:
            return ProfileKind.WEB_IDENTITY_ROLE
        if "source_profile" in has or "credential_source" in has:
            return ProfileKind.ROLE
        if "saml_principal_arn" in has or "stsdesk_saml_provider" in has:
            return ProfileKind.SAML_ROLE
        return ProfileKind.ROLE
    if "sso_role_name" in has or "sso_account_id" in has:
        return ProfileKind.SSO  # botocore's SSO provider comes before static keys in its chain
    if "stsdesk_federation_policy" in has or "stsdesk_federation_name" in has:
        return ProfileKind.FEDERATED_USER
    if "aws_access_key_id" in has or "stsdesk_access_key_id" in has:
        return ProfileKind.IAM_USER
    if "credential_process" in has:
        return ProfileKind.CREDENTIAL_PROCESS
    return ProfileKind.OTHER


def _shown(value: str) -> str:
    # A value with indented continuation lines is multi-line; the lines after the first may hold anything
    # (a misplaced secret), and error messages are one line: show the first line only.
    first, newline, _ = value.partition("\n")
    return first.rstrip() + (" ..." if newline else "")


def _draft(name: str, values: Mapping[str, Any]) -> _Draft:
    # One pass over the profile's own keys (a handful) rather than a lookup per known key: 5,000 profiles.
    has: dict[str, str] = {}  # non-empty single values
    error: str | None = None
    for key, value in values.items():
        if isinstance(value, str):
            if "\n" in value:
                # botocore joins indented lines onto the value above. The lines after the first may hold anything
                # (a mis-indented secret): keep only the first line, and mark keys we use as broken.
                if key in _FIELD_FOR_KEY or key in _SPECIAL_KEYS:
                    error = error or f"{key} has an indented continuation line; write it on one line"
                value = value.partition("\n")[0].rstrip()
            if value:
                has[key] = value
        elif key in _FIELD_FOR_KEY or key in _SPECIAL_KEYS:
            error = error or f"{key} must be a single value, not an indented block"
    kind = _kind(has)
    fields = dict(_NO_FIELDS)
    extra: dict[str, str] = {}
    for key, value in has.items():
        attr = _FIELD_FOR_KEY.get(key)
        if attr is not None:
            fields[attr] = value
        elif key not in _SPECIAL_KEYS and key not in _SECRET_KEYS:
            extra[key] = value

    stsdesk_key, file_key = has.get("stsdesk_access_key_id"), has.get("aws_access_key_id")
    fields["access_key_id"] = stsdesk_key or file_key
    if stsdesk_key:
        extra[KEY_STORAGE] = "keyring"
    elif file_key:
        extra[KEY_STORAGE] = "file"

    raw_duration = has.get("duration_seconds")
    fields["duration_seconds"] = None
    if raw_duration is not None:
        if raw_duration.strip().isdigit():
            fields["duration_seconds"] = int(raw_duration)
        else:
            error = error or f"duration_seconds '{_shown(raw_duration)}' is not a whole number of seconds"

    source = has.get("source_profile")
    if source is not None and kind not in (ProfileKind.ROLE, ProfileKind.FEDERATED_USER):
        extra["source_profile"] = source  # botocore ignores it for these kinds too: not a tree edge
        source = None
    if kind is ProfileKind.ROLE:
        if source and "credential_source" in has:
            error = error or "has both source_profile and credential_source; keep one"
        elif source is None and "credential_source" not in has:
            error = error or "role_arn needs source_profile, credential_source or web_identity_token_file"
        elif source == name and fields["access_key_id"]:
            # botocore allows a profile to be its own source when it has static keys: the role is assumed
            # with this profile's own long-term keys. That is not a cycle.
            source = None
            extra["source_profile"] = name
    elif kind is ProfileKind.FEDERATED_USER and source is None:
        error = error or "stsdesk_federation_* needs source_profile (the IAM user calling GetFederationToken)"
    return _Draft(name, kind, source, fields, extra, error)


@dataclass
class _Resolved:
    chain: tuple[str, ...]
    error: str | None
    broken_root: str | None = None  # where the error started (itself, or a broken ancestor)
    cycle: bool = False
    detached: bool = False  # cycle member or missing source: shown as a root


def _resolve(drafts: Mapping[str, _Draft]) -> dict[str, _Resolved]:
    """Chains and errors for every profile, each source visited once (iterative: any depth, no recursion)."""
    done: dict[str, _Resolved] = {}
    for start in drafts:
        path: list[str] = []
        position: dict[str, int] = {}
        current = start
        while current not in done:
            if current in position:
                members = path[position[current] :]
                message = "source_profile cycle: " + " -> ".join([*members, current])
                for member in members:
                    done[member] = _Resolved((), message, member, cycle=True, detached=True)
                del path[position[current] :]
                break
            position[current] = len(path)
            path.append(current)
            draft = drafts[current]
            if draft.source is None:
                own = draft.error
                done[current] = _Resolved((current,), own, current if own else None)
                path.pop()
                break
            if draft.source not in drafts:
                message = f"source_profile '{_shown(draft.source)}' does not exist"
                done[current] = _Resolved((), message, current, detached=True)
                path.pop()
                break
            current = draft.source
        for name in reversed(path):  # each one's source is resolved by now
            draft = drafts[name]
            parent = done[draft.source] if draft.source is not None else None
            assert parent is not None
            chain = (*parent.chain, name) if parent.chain else ()
            if parent.error is None:
                done[name] = _Resolved(chain, draft.error, name if draft.error else None)
            elif draft.error:
                done[name] = _Resolved(chain, draft.error, name, cycle=False)
            else:
                root = parent.broken_root or draft.source or name
                message = f"depends on broken profile '{root}' ({done[root].error})"
                done[name] = _Resolved(chain, message, root, cycle=parent.cycle)
    return done


@dataclass(frozen=True)
class ProfileTree:
    """All profiles of the AWS config files, in file order, with their source_profile tree.

    Build it with :func:`load_profiles`. Lookups are by profile name; children are precomputed.
    """

    profiles: Mapping[str, Profile]
    config_file: Path
    credentials_file: Path
    errors: list[str] = field(default_factory=list)
    sso_sessions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # [sso-session NAME] values
    _children: Mapping[str, list[Profile]] = field(default_factory=dict, repr=False)
    _roots: list[Profile] = field(default_factory=list, repr=False)
    _cycles: frozenset[str] = field(default_factory=frozenset, repr=False)
    _has_credentials: bool = False

    def get(self, name: str) -> Profile:
        """The profile called ``name``; ProfileNotFound (with a close match suggested) when there is none."""
        profile = self.profiles.get(name)
        if profile is not None:
            return profile
        where = display_path(self.config_file)
        if self._has_credentials:
            where += f" or {display_path(self.credentials_file)}"
        import difflib  # only for a name that is not there

        close = difflib.get_close_matches(name, list(self.profiles), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ProfileNotFound(f"no profile '{name}' in {where}{hint}")

    def roots(self) -> list[Profile]:
        """Top-level profiles: those with no source, and broken ones (cycle members, missing source)."""
        return list(self._roots)

    def children(self, name: str) -> list[Profile]:
        """Profiles whose source is ``name``, in file order (empty for an unknown name)."""
        return list(self._children.get(name, ()))

    def chain(self, name: str) -> list[Profile]:
        """Profiles from the root source down to ``name`` (inclusive).

        Raises ProfileNotFound for an unknown name, ProfileCycleError when a cycle is in the way and
        ConfigError when this profile or one of its sources is otherwise broken.
        """
        profile = self.get(name)
        if profile.error is not None:
            message = f"profile '{name}': {profile.error}"
            raise ProfileCycleError(message) if name in self._cycles else ConfigError(message)
        return [self.profiles[link] for link in profile.chain]


def _sso_problem(name: str, values: Mapping[str, Any], sessions: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why an SSO profile cannot be used (as botocore would refuse it), or None."""
    try:
        profile_sso(name, values, sessions)
    except SsoConfigError as exc:
        return str(exc)
    return None


def build_tree(
    raw_profiles: Mapping[str, Mapping[str, Any]],
    config_file: Path,
    credentials_file: Path,
    has_credentials: bool = False,
    sso_sessions: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProfileTree:
    """A ProfileTree from merged profile values (name -> key -> value, as botocore reads them), in order;
    ``sso_sessions`` are the ``[sso-session NAME]`` sections' values by name."""
    sessions = dict(sso_sessions or {})
    drafts = {name: _draft(name, values) for name, values in raw_profiles.items()}
    for draft in drafts.values():
        if draft.kind is ProfileKind.SSO and draft.error is None:
            draft.error = _sso_problem(draft.name, raw_profiles[draft.name], sessions)
    for draft in drafts.values():
        # GetFederationToken only works with an IAM user's long-term keys.
        source = drafts.get(draft.source) if draft.source else None
        federated = draft.kind is ProfileKind.FEDERATED_USER and draft.error is None
        if federated and source is not None and source.kind is not ProfileKind.IAM_USER:
            draft.error = f"source_profile '{source.name}' must be an IAM user with long-term keys"
    resolved = _resolve(drafts)
    profiles: dict[str, Profile] = {}
    children: dict[str, list[Profile]] = {}
    roots: list[Profile] = []
    errors: list[str] = []
    for name, draft in drafts.items():
        state = resolved[name]
        profile = Profile(
            name=name,
            kind=draft.kind,
            source=draft.source,
            chain=state.chain,
            error=state.error,
            extra=draft.extra,
            **draft.fields,
        )
        profiles[name] = profile
        if draft.source is None or state.detached:
            roots.append(profile)
        else:
            children.setdefault(draft.source, []).append(profile)
        if state.error is not None:
            errors.append(f"profile '{name}': {state.error}")
    return ProfileTree(
        profiles=MappingProxyType(profiles),
        config_file=config_file,
        credentials_file=credentials_file,
        errors=errors,
        sso_sessions=MappingProxyType(sessions),
        _children=children,
        _roots=roots,
        _cycles=frozenset(name for name, state in resolved.items() if state.cycle),
        _has_credentials=has_credentials,
    )


def load_profiles(config_file: Path | None = None, credentials_file: Path | None = None) -> ProfileTree:
    """Read the AWS config and credentials files (defaults: :func:`aws_config_paths`) into a ProfileTree.

    A missing file counts as empty. A file that cannot be parsed raises ConfigError naming the file and
    line. Broken profiles (missing source, cycle, bad duration_seconds) do not raise: they carry ``error``.
    Never modifies any file.
    """
    default_config, default_credentials = aws_config_paths()
    config_path = config_file if config_file is not None else default_config
    credentials_path = credentials_file if credentials_file is not None else default_credentials
    # The parse and the tree allocate tens of thousands of long-lived objects and no cycles; left on, the
    # collector ran full passes over the growing heap (a third of the time for 5,000 profiles).
    collecting = gc.isenabled()
    gc.disable()
    try:
        config = _read_ini(config_path)
        credentials = _read_ini(credentials_path)
        merged = _merge(config, credentials)
        return build_tree(
            merged,
            config_path,
            credentials_path,
            has_credentials=bool(credentials),
            sso_sessions=sso_session_sections(config),
        )
    finally:
        if collecting:
            gc.enable()
