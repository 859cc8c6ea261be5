"""Atomic, private file writes: the one helper stsdesk's core and emulator share (standard library only).

A reader sees the old content or the new, never half a file: the data goes to a temporary file created
exclusively (``O_EXCL | O_NOFOLLOW``) beside the target, which then replaces it with ``os.replace``. The file
gets ``mode`` (0600 unless said otherwise) whatever the umask, set through the descriptor before any data is
written; missing parent directories are created 0700, whatever the umask. A failure leaves no temporary file
and the target as it was.

Imported on the CLI's credential-process path (the keyring-backend record): nothing here is heavier than ``os``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["atomic_write", "make_private_dirs"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents with mode 0700 (whatever the umask); existing ones are left
    as they are. Raises OSError (FileExistsError when a file is in the way)."""
    missing: list[Path] = []
    current = Path(directory)
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not path.is_dir():
                raise
            continue  # made meanwhile by someone else: left as it is
        os.chmod(path, 0o700)  # mkdir's mode went through the umask


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; not possible (nor needed) on Windows.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: Path | str,
    data: bytes,
    *,
    mode: int = 0o600,
    fsync: bool = True,
    make_parents: bool = False,
) -> None:
    """Replace ``path`` with ``data`` all at once, as a file of mode ``mode`` (default 0600) whatever the umask.

    ``fsync``: flush the data and the directory entry to disk before returning (False for files that are a
    regenerable cache, where a lost write costs a miss and an fsync would cost more than the work it saves).
    ``make_parents``: create missing parent directories 0700. A symlink at ``path`` is replaced, not followed.
    Raises OSError (unwritable directory, disk full...); then ``path`` is unchanged and no temporary file is
    left behind.
    """
    target = Path(path)
    if make_parents:
        make_private_dirs(target.parent)
    while True:
        temp = target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
        except FileExistsError:  # 48 random bits taken: try another name
            continue
        break
    try:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)  # exactly ``mode``: the umask filtered the one given to open
            view = memoryview(data)
            while view:  # os.write may write less than asked (signals, quotas)
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if not hasattr(os, "fchmod"):
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if fsync:
        _fsync_directory(target.parent)
