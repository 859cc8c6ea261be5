"""Where stsdesk keeps its own state (never secrets: those live in the OS keyring).

On the fast ``stsdesk credential-process`` path: imports nothing heavy.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from stsdesk.core.errors import StsdeskError

TYPE_CHECKING = False  # not typing's: ~2 ms of import on the credential-process fast path
if TYPE_CHECKING:
    import logging
    from typing import Any

_WARNED: set[Path] = set()


def _warn(message: str, *args: object) -> None:
    # logging only when there is something to say: the credential-process fast path never imports it
    import logging

    logging.getLogger(__name__).warning(message, *args)

APP_NAME = "stsdesk"
CONFIG_DIR_ENV = "STSDESK_CONFIG_DIR"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 hex digest of ``data``. CPython's own ``_sha256`` module when it has one: ``import hashlib``
    loads OpenSSL's bindings (~2-3 ms, a tenth of Python's start), which the credential-process fast path
    cannot afford for two short hashes; the digest is the same."""
    import importlib  # already loaded by the interpreter's start

    for name in ("_sha256", "_sha2", "hashlib"):  # _sha2 from CPython 3.12; hashlib anywhere else
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return str(module.sha256(data).hexdigest())
    raise ImportError("no SHA-256 implementation")  # unreachable: hashlib always has sha256


def _linux_config_home() -> str | None:
    """``user_config_dir`` of platformdirs' Unix class without importing platformdirs (~6-9 ms: it pulls in
    tempfile, shutil, random), for the plain case only: Linux (not Android), ``XDG_CONFIG_HOME`` absolute,
    else an absolute ``HOME`` (``~/.config``). None for anything else (then platformdirs decides); a test holds
    the two equal."""
    import sys

    environ = os.environ
    if not sys.platform.startswith("linux") or (
        environ.get("ANDROID_DATA") == "/data" and environ.get("ANDROID_ROOT") == "/system"
    ):
        return None
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg.startswith("/"):
        return xdg
    home = environ.get("HOME")
    if not home or not home.startswith("/"):
        return None  # platformdirs asks the password database, or refuses
    return os.path.expanduser("~/.config")


def default_config_dir() -> Path:
    """The per-user config directory platformdirs picks for stsdesk (not created here)."""
    light = _linux_config_home()
    if light is not None:
        return Path(os.path.join(light, APP_NAME))
    from platformdirs import user_config_dir  # a few ms; only needed when no directory was given

    # appauthor=False: on Windows platformdirs would otherwise nest "stsdesk\\stsdesk".
    return Path(user_config_dir(APP_NAME, appauthor=False))


class UnsafeDirectory(StsdeskError):
    """A directory stsdesk was to create or use is a symlink, someone else's, or open to other users."""


def ensure_private_directory(directory: Path, *, what: str = "stsdesk", tighten: bool = False) -> bool:
    """Create ``directory`` (mode 0700) or accept an existing one that is already private to this user.

    Safe in a world-writable place (the temp dir), where another user may have planted a symlink or a directory
    of their own under the name first: nothing follows a link and nothing is changed before the check.
    ``mkdir`` (which never follows a link), then ``open(O_NOFOLLOW | O_DIRECTORY)`` and ``fstat`` of that
    descriptor; ``fchmod`` only on the directory just made. Missing parents are made 0700 the same way.
    Returns True when the directory was created. Raises UnsafeDirectory (one line, ``what`` names the feature
    that is off) for a symlink, a file, someone else's directory, or one of ours that others can enter (that
    one is reported, never silently used: ``chmod 700`` it, or remove it). With ``tighten`` (stsdesk's own
    subdirectories, inside a directory that is ours) such a directory is made 0700 instead, with a warning.
    """
    directory = Path(directory)
    parent = directory.parent
    if parent != directory and not parent.exists():
        ensure_private_directory(parent, what=what, tighten=tighten)
    created = True
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        created = False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError as exc:  # ELOOP: a symlink; ENOTDIR: a file, or a link to one
        raise UnsafeDirectory(f"{directory} is a link or a file, not a private directory; {what} is off") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise UnsafeDirectory(f"{directory} belongs to another user; {what} is off")
        if st.st_mode & 0o077 and not created and tighten:
            _warn("stsdesk: warning: %s was open to other users (mode %o); made it 0700",
                  directory, stat.S_IMODE(st.st_mode))
            os.fchmod(fd, 0o700)
        elif st.st_mode & 0o077:
            if not created:
                raise UnsafeDirectory(
                    f"{directory} is open to other users (mode {stat.S_IMODE(st.st_mode):o}); {what} is off "
                    f"until it is made private (chmod 700) or removed"
                )
            os.fchmod(fd, 0o700)  # ours and just made: mkdir's mode only loses bits to the umask, but be sure
    finally:
        os.close(fd)
    return created


def check_private_directory(directory: Path) -> str | None:
    """Why an existing ``directory`` of this user is not private (a one-line warning), or None when it is.

    For directories a person chose (``--config-dir``, ``~/.config/stsdesk`` made by an older version): they
    are used, but a group- or world-accessible mode is reported rather than silently accepted or changed.
    """
    try:
        st = os.lstat(directory)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode) and mode & 0o077:
        return (
            f"stsdesk: warning: {directory} is open to other users (mode {mode:o}); "
            f"run `chmod 700 {directory}` to keep stsdesk's state private"
        )
    return None


def config_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Return stsdesk's config directory, creating it (mode 0700) when it does not exist.

    Precedence: ``explicit`` (``--config-dir``) > ``STSDESK_CONFIG_DIR`` in ``env`` (default ``os.environ``)
    > platformdirs' user config dir. ``~`` is expanded; an empty value counts as unset. An existing directory
    is used as it is (its mode is not changed, but a mode open to other users is logged as a warning, once).
    Raises ``OSError`` when the directory cannot be created or the
    path exists but is not a directory.
    """
    environ = os.environ if env is None else env
    chosen = (
        str(explicit) if explicit is not None and str(explicit) != "" else environ.get(CONFIG_DIR_ENV, "")
    )
    path = Path(chosen).expanduser() if chosen else default_config_dir()
    if not path.is_dir():
        try:
            ensure_private_directory(path)  # missing parents 0700 too, whatever the umask
        except UnsafeDirectory as exc:
            raise NotADirectoryError(str(exc)) from None
    elif path not in _WARNED:
        warning = check_private_directory(path)
        if warning is not None:
            _WARNED.add(path)  # once per process: the CLI resolves the directory more than once
            _warn("%s", warning)
    return path.absolute()


def keyring_namespace(directory: Path) -> str | None:
    """The keyring namespace for a config directory: None for the default one, else a short stable hash.

    Separate config directories (``--config-dir`` in tests, demos, a second identity) thereby never read or
    overwrite each other's secrets: the keyring service becomes ``stsdesk:<namespace>``.
    """
    resolved = directory.expanduser().resolve()
    if resolved == default_config_dir().expanduser().resolve():
        return None
    return sha256_hex(os.fsencode(resolved))[:12]


def open_private_file(path: Path, flags: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open (creating it) ``path`` as a 0600 file of this user and return the descriptor.

    Never follows a symlink; an existing file of ours with a looser mode is tightened to 0600 (through the
    descriptor, so it is the file opened that changes). Raises OSError (ELOOP for a link, EPERM when the file
    is someone else's and cannot be made private).
    """
    fd = os.open(path, flags | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid():
            raise PermissionError(f"{path} belongs to another user")
        if stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically as a 0600 file, whatever the umask and whatever was there
    (a temp file made with O_EXCL beside it, then ``os.replace``; a symlink at ``path`` is replaced, not
    followed). Raises OSError; no temp file is left behind."""
    from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

    atomic_write(path, data, fsync=False)


def private_log_handler(path: Path, max_bytes: int, backup_count: int) -> logging.Handler:
    """A rotating file handler for ``path`` whose file (and each new one after a rollover) is 0600 whatever the
    umask, never opened through a symlink; logging's own handler opens with the umask's mode (0644 under the
    usual umask, 0666 under umask 000). Raises OSError when the file cannot be opened."""
    import logging.handlers  # 20+ ms of imports: only for the GUI, never on the credential-process path

    class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
        def _open(self) -> Any:
            fd = open_private_file(Path(self.baseFilename))
            return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)

    return PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
