"""`stsdesk assume PROFILE` from the cache with the real Secret Service (gnome-keyring in CI): separate
processes, the first a full assume, the next ones the fast path (the last one reading the secret over D-Bus
directly), each printing the same bytes, and the direct read importing neither keyring nor botocore.

Gated by the `secret_service` fixture (skipped with the reason without the test keyring; failed under CI=true).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.keyring

HEAVY = ("keyring", "secretstorage", "jeepney", "cryptography", "botocore", "boto3", "asyncio", "argparse",
         "dataclasses", "typing")


@pytest.fixture
def keyring_world(world: World, secret_service: str) -> World:
    world.env["PYTHON_KEYRING_BACKEND"] = secret_service
    return world


def _modules(importtime: str) -> set[str]:
    """The modules a ``-X importtime`` report lists."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _imported(importtime: str) -> set[str]:
    """Top-level package names of the modules a ``-X importtime`` report lists."""
    return {name.split(".")[0] for name in _modules(importtime)}


@pytest.mark.parametrize("shell", ["bash", "fish", "powershell", "json"])
def test_cached_assume_across_processes_is_byte_identical(keyring_world: World, shell: str) -> None:
    world = keyring_world
    argv = ("assume", "readonly", "--format", shell)
    try:
        first = world.stsdesk(*argv)  # full path: STS through the emulator, session stored in the keyring
        assert first.returncode == 0, first.stderr
        second = world.stsdesk(*argv)  # fast path through keyring (then the backend is noted)
        assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")
        # Not measured by coverage: its subprocess hook would import dataclasses and more into the child.
        unmeasured = {k: v for k, v in world.env.items() if not k.startswith("COVERAGE_")}
        timed = world.run([sys.executable, "-X", "importtime", "-m", "stsdesk", *argv], env=unmeasured)
        assert timed.returncode == 0 and timed.stdout == first.stdout
        imported = _imported(timed.stderr)
        assert "stsdesk.core.dbus_wire" in _modules(timed.stderr)  # the direct Secret Service read (no jeepney)
        assert sorted(imported & set(HEAVY)) == []
        no_session = world.stsdesk("assume", "bob", "--no-session", "--format", shell)
        assert no_session.returncode == 0 and world.bob_key in no_session.stdout  # explicit: the full path
    finally:
        world.stsdesk("forget", "--all")
