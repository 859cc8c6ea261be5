"""Safe, comment-preserving writes of one AWS config (or credentials) file, plus input validators.

The file is read once with configupdater (which keeps comments, blank lines and order) and written back
atomically: temp file in the same directory, fsync, os.replace, a ``.bak`` of the previous content. A file
changed by someone else since it was read is never overwritten.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from configupdater import ConfigUpdater, Section

from stsdesk.core.errors import ConfigError
from stsdesk.core.profiles import describe_parse_error, display_path, profile_name_of_section

_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")
# C0 controls (NUL, tab, VT, FF, CR, LF...), DEL, C1 controls (NEL) and the Unicode line/paragraph separators:
# Python's str.splitlines() and other readers of these files break lines at several of them, so a value holding
# one could start a new line, a section or a key (credential_process!) for some reader.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as a config value (completing "the value of KEY ..."), or None."""
    found = _CONTROL.search(value)
    if found is None:
        return None
    char = found.group(0)
    if char in "\r\n":
        return "must be a single line"
    return f"contains a control character (U+{ord(char):04X}); remove it"


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{display_path(path)}: cannot be read ({exc.strerror})") from None


class ConfigFile:
    """One AWS config (or credentials) file, read once, written back atomically."""

    def __init__(self, path: Path, credentials: bool, original: bytes | None, updater: ConfigUpdater) -> None:
        self.path = path
        self.credentials = credentials
        self._digest = _digest(original)
        self._updater = updater
        self._dirty = False

    @classmethod
    def open(cls, path: Path, *, credentials: bool = False) -> ConfigFile:
        """Read ``path`` (a missing file is empty). ``credentials=True``: section names are bare ("[x]").

        Raises ConfigError naming the file and line when the file cannot be parsed (the file is untouched).
        """
        path = Path(os.path.expanduser(path))
        original = _read_bytes(path)
        text = ""
        if original is not None:
            try:
                text = original.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(describe_parse_error(path, exc)) from None
        if text and not text.endswith("\n"):
            text += "\n"  # so that a section appended later starts on a line of its own
        updater = ConfigUpdater()
        try:
            updater.read_string(text, source=str(path))
        except configparser.Error as exc:
            raise ConfigError(describe_parse_error(path, exc)) from None
        return cls(path, credentials, original, updater)

    def _find(self, profile: str) -> Section | None:
        if self.credentials:
            return self._updater[profile] if self._updater.has_section(profile) else None
        found: Section | None = None
        for section in self._updater.iter_sections():
            # The last one wins, as in botocore's build_profile_map ("[default]" vs "[profile default]").
            if profile_name_of_section(section.name) == profile:
                found = section
        return found

    def section_for(self, profile: str) -> str:
        """The section holding ``profile``: the existing one if any, else "profile x" / "default" / "x"."""
        existing = self._find(profile)
        if existing is not None:
            return str(existing.name)
        if self.credentials or profile == "default":
            return profile
        return f"profile {profile}"

    def profiles(self) -> list[str]:
        """Profile names defined in this file, in file order."""
        if self.credentials:
            return list(self._updater.sections())
        names = (profile_name_of_section(name) for name in self._updater.sections())
        return list(dict.fromkeys(name for name in names if name is not None))

    def get(self, profile: str) -> dict[str, str] | None:
        """The keys and values of ``profile``'s section, or None when it has none."""
        section = self._find(profile)
        if section is None:
            return None
        return {key: option.value or "" for key, option in section.items()}

    def set_profile(self, profile: str, values: Mapping[str, str | None]) -> None:
        """Set (str) or delete (None) keys of ``profile``; the section is appended when missing.

        Other keys, comments, order and other sections are kept. Raises ConfigError for an invalid new
        profile name, key, or a value that spans lines (it could inject sections).
        """
        for key, value in values.items():
            if not _KEY.match(key):
                raise ConfigError(f"'{key}' is not a valid config key (letters, digits, _ . - only)")
            if value is not None:
                problem = value_problem(value)
                if problem is not None:
                    raise ConfigError(f"the value of {key} {problem}")
        section = self._find(profile)
        if section is None:
            if all(value is None for value in values.values()):
                return
            problem = validate_profile_name(profile)
            if problem:
                raise ConfigError(f"profile name '{profile}': {problem}")
            section = self._append_section(self.section_for(profile))
        for key, value in values.items():
            if value is None:
                if key in section:
                    del section[key]
                    self._dirty = True
                continue
            value = value.strip()
            if key in section:
                if section[key].value != value:
                    section[key].value = value
                    self._dirty = True
                continue
            options = section.option_blocks()
            if options:
                # After the last option, not after trailing blank lines or the next section's comments.
                options[-1].add_after.option(key, value)
            else:
                section[key] = value
            self._dirty = True

    def append_profiles(self, profiles: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Append a section for each profile not defined yet (existing ones are not touched); returns the names
        added, in order. One re-parse for all of them: :meth:`set_profile` per profile re-renders the whole
        file each time (2,500 new profiles took minutes). Raises ConfigError as :meth:`set_profile` does for a
        bad name, key or value; nothing is changed then.
        """
        present = set(self.profiles())
        blocks: list[str] = []
        added: list[str] = []
        for profile, values in profiles.items():
            if profile in present or profile in added:
                continue
            problem = validate_profile_name(profile)
            if problem:
                raise ConfigError(f"profile name '{profile}': {problem}")
            lines = [f"[{profile if self.credentials or profile == 'default' else f'profile {profile}'}]"]
            for key, value in values.items():
                if not _KEY.match(key):
                    raise ConfigError(f"'{key}' is not a valid config key (letters, digits, _ . - only)")
                problem = value_problem(value)
                if problem is not None:
                    raise ConfigError(f"the value of {key} {problem}")
                lines.append(f"{key} = {value.strip()}")
            blocks.append("\n".join(lines) + "\n")
            added.append(profile)
        if not added:
            return []
        current = str(self._updater)
        gap = "" if not current.strip() or current.endswith("\n\n") else "\n" if current.endswith("\n") else "\n\n"
        updater = ConfigUpdater()
        updater.read_string(current + gap + "\n".join(blocks), source=str(self.path))
        self._updater = updater
        self._dirty = True
        return added

    def _append_section(self, name: str) -> Section:
        current = str(self._updater)
        if current.strip() and not current.endswith("\n\n"):
            last = self._updater.last_block
            assert last is not None
            last.add_after.space(1)
        self._updater.add_section(name)
        self._dirty = True
        section: Section = self._updater[name]
        return section

    def remove_profile(self, profile: str) -> None:
        """Remove ``profile``'s section (every section that defines it). A missing profile is a no-op."""
        while (section := self._find(profile)) is not None:
            self._updater.remove_section(section.name)
            self._dirty = True

    def text(self) -> str:
        """The file's content as :meth:`save` would write it."""
        return str(self._updater)

    def save(self) -> None:
        """Write the changes back atomically (nothing to do when nothing changed).

        Raises ConfigError when the file changed on disk since it was read (nothing is written) or the
        write failed (the original file is intact and no temp file is left). Creates the directory (0700)
        and the file (0600) when missing; keeps the previous content in ``<file>.bak``.
        """
        if not self._dirty:
            return
        # A symlinked file (dotfile managers) is written through the link, not replaced by a file.
        target = Path(os.path.realpath(self.path))
        current = _read_bytes(target)
        if _digest(current) != self._digest:
            raise ConfigError(
                f"{display_path(self.path)} changed on disk since it was read; nothing was written, try again"
            )
        directory = target.parent
        try:
            if not directory.exists():
                directory.mkdir(mode=0o700, parents=True)
            mode = stat.S_IMODE(target.stat().st_mode) if current is not None else 0o600
            data = self.text().encode("utf-8")
            if current is not None:
                _atomic_write(target.with_name(target.name + ".bak"), current, mode)
            _atomic_write(target, data, mode)
        except OSError as exc:
            raise ConfigError(
                f"could not write {display_path(self.path)} ({exc.strerror or exc}); the file is unchanged"
            ) from None
        self._digest = _digest(data)
        self._dirty = False


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    """Replace ``target`` with ``data`` all at once: a reader sees the old or the new file, never half."""
    from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator (fsync, dir fsync)

    atomic_write(target, data, mode=mode)


_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_.@+/:=,\-]+$")
_PARTITION = "aws|aws-us-gov|aws-cn"
_IAM_NAME = r"[\w+=,.@-]"
_ROLE_ARN = re.compile(
    rf"^arn:(?:{_PARTITION}):iam::\d{{12}}:role/(?:{_IAM_NAME}+/)*{_IAM_NAME}{{1,64}}$", re.A
)
_MFA_ARN = re.compile(rf"^arn:(?:{_PARTITION}):iam::\d{{12}}:mfa/[\w+=/:,.@-]+$", re.A)
_HARDWARE_SERIAL = re.compile(r"^[\w+=/:,.@-]{9,256}$", re.A)


def validate_profile_name(name: str) -> str | None:
    """Why ``name`` cannot be a profile name (short, for the user as they type), or None when it can."""
    if not name.strip():
        return "enter a profile name"
    if name != name.strip():
        return "remove the spaces at the start or end"
    if any(ch.isspace() for ch in name):
        return "no spaces: the AWS CLI cannot read profile names with spaces"
    if "[" in name or "]" in name:
        return "no brackets [ ]"
    if len(name) > 128:
        return "at most 128 characters"
    if not _PROFILE_NAME.match(name):
        return "use letters, digits and _ - . @ + / : = , only"
    return None


def _arn_problem(arn: str, resource: str, example: str) -> str | None:
    """A specific hint for the first wrong part of an IAM ARN, or None when the parts look right."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"should look like {example}"
    if parts[1] not in _PARTITION.split("|"):
        return "partition must be aws, aws-us-gov or aws-cn"
    if parts[2] != "iam":
        return f"must be an IAM ARN (arn:{parts[1]}:iam::…)"
    if parts[3]:
        return f"IAM ARNs have no region: arn:{parts[1]}:iam::…"
    if not re.fullmatch(r"\d{12}", parts[4]):
        return "account ID must be 12 digits"
    if not parts[5].startswith(resource + "/"):
        return f"must end with :{resource}/NAME"
    return None


def validate_role_arn(arn: str) -> str | None:
    """Why ``arn`` is not an IAM role ARN (arn:aws:iam::123456789012:role/path/Name), or None."""
    arn = arn.strip()
    if not arn:
        return "enter a role ARN"
    problem = _arn_problem(arn, "role", "arn:aws:iam::123456789012:role/Name")
    if problem:
        return problem
    if not _ROLE_ARN.match(arn):
        return "role name: letters, digits and + = , . @ _ - only (1–64 characters)"
    return None


def validate_mfa_serial(serial: str) -> str | None:
    """Why ``serial`` is not an MFA device (virtual device ARN or hardware serial number), or None."""
    serial = serial.strip()
    if not serial:
        return "enter the MFA device ARN or serial number"
    if serial.startswith("arn:"):
        problem = _arn_problem(serial, "mfa", "arn:aws:iam::123456789012:mfa/NAME")
        if problem:
            return problem
        return None if _MFA_ARN.match(serial) else "device name: letters, digits and + = / : , . @ _ - only"
    if not _HARDWARE_SERIAL.match(serial):
        return "an ARN (arn:aws:iam::123456789012:mfa/NAME) or a serial of 9–256 letters/digits"
    return None


def validate_duration(seconds: str | int) -> str | None:
    """Why ``seconds`` is not a session duration STS accepts (900..43200), or None."""
    if isinstance(seconds, str):
        text = seconds.strip()
        if not text.isdigit():
            return "enter a whole number of seconds"
        seconds = int(text)
    if seconds < 900:
        return "at least 900 seconds (15 minutes)"
    if seconds > 43200:
        return "at most 43200 seconds (12 hours)"
    return None
