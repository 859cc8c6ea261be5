"""The emulator's ``--state-dir``: a directory only its owner can reach, and key files created exclusively.

The state directory holds the sealing key (whoever has it can forge session tokens) and the demo IdP keys.
A directory another local user can write to, or a key file planted there, would let that user mint or read
credentials, so: the directory must be ours and closed to group and others (created 0700 when missing, never
silently chmod-ed when it exists), it is opened without following a symlink, and keys are created with
``O_EXCL | O_NOFOLLOW`` in a temporary name and linked into place (never clobbering, never half-written).
Existing key files must be regular files of ours with mode 0600 or stricter.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["StateDirError", "ensure_private_dir", "read_or_create_key"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class StateDirError(OSError):
    """The state directory or a key file in it is not private; the message says what to do."""


def _check_private(st: os.stat_result, path: Path, kind: str) -> None:
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise StateDirError(
            f"{path} is owned by uid {st.st_uid}, not by you; use a {kind} of your own for --state-dir"
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise StateDirError(
            f"{path} is accessible to other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"use a private {kind} (chmod 700 for a directory, 600 for a file) or another --state-dir"
        )


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700; parents as needed) or check the existing one: a real directory (not a
    symlink) owned by the current user with no group/other permission bits.

    Raises StateDirError when it exists but is not private, OSError when it cannot be created or opened.
    """
    created = False
    if not path.is_symlink() and not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
            created = True
        except FileExistsError:
            pass  # created meanwhile: checked below like any existing directory
    try:
        fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise StateDirError(f"{path} is a symbolic link; give --state-dir a real directory") from None
        raise StateDirError(f"{path} cannot be used as the state directory: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if created and stat.S_IMODE(st.st_mode) != 0o700:
            os.fchmod(fd, 0o700)  # our own new directory: the umask may have taken bits we need
            st = os.fstat(fd)
        _check_private(st, path, "directory")
    finally:
        os.close(fd)


def _read_key(path: Path, size: int) -> bytes | None:
    """The key in ``path``, or None when it does not exist. Raises StateDirError for a link, a non-regular
    file, another owner or loose permissions; ValueError for a wrong length."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateDirError(f"{path} cannot be read as a key file ({exc.strerror}); remove it") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateDirError(f"{path} is not a regular file; remove it")
        _check_private(st, path, "file")
        data = os.read(fd, size + 1)
    finally:
        os.close(fd)
    if len(data) != size:
        raise ValueError(f"{path} does not hold a {size}-byte key; remove it to start afresh")
    return data


def read_or_create_key(directory: Path, name: str, size: int) -> bytes:
    """The ``size``-byte key in ``directory/name`` (a directory ``ensure_private_dir`` accepted), created
    with random bytes when missing. Two processes racing both end up with the same key.

    Raises StateDirError (a symlink, not ours, mode looser than 0600), ValueError (wrong length), OSError.
    """
    path = directory / name
    existing = _read_key(path, size)
    if existing is not None:
        return existing
    tmp = directory / f".{name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        key = secrets.token_bytes(size)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic and never replaces an existing file
        except FileExistsError:
            raced = _read_key(path, size)
            if raced is None:
                raise
            return raced
        return key
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
