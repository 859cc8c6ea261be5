"""Fixtures for attacks by a second local user: created with ``useradd``, acting through ``runuser``.

The tests run as root here and in CI. Where a second user cannot be made (not root, no useradd/runuser) they
skip with the reason, except under ``CI=true``, where that is a failure: CI must really run the attacks.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from helpers import gates

INTRUDER = "stsdesk-intruder"


@dataclass(frozen=True)
class OtherUser:
    """A second local account and a way to run commands as it."""

    name: str
    uid: int
    gid: int

    def run(self, *argv: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as this user (no shell), capturing text output."""
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            ["runuser", "-u", self.name, "--", *argv], check=check, capture_output=True, text=True, **kwargs
        )


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail when running in CI (where the attack must really be run)."""
    gates.unavailable("second local user", reason)


@pytest.fixture(scope="session")
def other_user() -> OtherUser:
    """The second local user (created once; kept, since deleting users from a shared machine is rude)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        unavailable("creating a second local user needs root (useradd)")
    if shutil.which("useradd") is None or shutil.which("runuser") is None:
        unavailable("useradd and runuser (util-linux) are needed to act as a second local user")
    try:
        entry = pwd.getpwnam(INTRUDER)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/bin/sh", "--user-group", INTRUDER],
            check=True, capture_output=True,
        )
        entry = pwd.getpwnam(INTRUDER)
    return OtherUser(INTRUDER, entry.pw_uid, entry.pw_gid)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A fresh world-writable sticky directory like /tmp (made inside the system temp dir, which every user
    can traverse), so an attack planted there does not touch the real /tmp's namespace."""
    path = Path(tempfile.mkdtemp(prefix="stsdesk-shared-", dir="/tmp" if Path("/tmp").is_dir() else None))
    path.chmod(0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# The e2e emulator and world (a HOME with AWS config for it), for attacks on whole CLI flows.
from e2e.conftest import emulator, world  # noqa: E402, F401
