"""Issue 13, terminal side: a closed pipe (item 7), no display (item 8), add-user over another kind of profile
(item 9), each through the real ``python -m stsdesk`` process."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from conftest import REPO

if TYPE_CHECKING:
    from conftest import World


def _with_closed_stdout(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """Run stsdesk with a stdout pipe whose reader has already gone (what `| head` or `| true` leave)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "stsdesk", *args], stdout=write, stderr=subprocess.PIPE, text=True,
            env=world.env, cwd=world.home, timeout=60, stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [("list",), ("list", "--json"), ("assume", "readonly"), ("credential-process", "readonly"), ("--help",),
     ("assume", "--help")],
)
def test_closed_pipe_ends_quietly(world: World, args: tuple[str, ...]) -> None:
    done = _with_closed_stdout(world, *args)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)


def test_closed_pipe_after_a_long_listing(world: World) -> None:
    """More rows than a pipe holds: the write itself fails (not only the flush at exit)."""
    with world.config_file.open("a") as config:
        for i in range(2000):
            config.write(f"\n[profile many-{i:04d}]\nregion = us-east-1\n")
    done = _with_closed_stdout(world, "list")
    assert (done.returncode, done.stderr) == (141, "")
    shell = subprocess.run(
        ["sh", "-c", f"'{sys.executable}' -m stsdesk list | head -n 1"], capture_output=True, text=True,
        env=world.env, cwd=world.home, timeout=60,
    )
    assert shell.stdout.startswith("PROFILE") and shell.stderr == ""


def test_no_display_is_one_line_not_a_qt_abort(world: World) -> None:
    env = {k: v for k, v in world.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args in ((), ("--demo",)):
        done = subprocess.run(
            [sys.executable, "-m", "stsdesk", *args], capture_output=True, text=True, env=env, cwd=REPO,
            timeout=60, stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1 and "needs a display" in done.stderr


@pytest.mark.parametrize("profile", ["readonly", "dev", "readonly-cp"])
def test_add_user_refuses_to_turn_another_kind_into_a_user(world: World, profile: str) -> None:
    before = world.config_file.read_text()
    done = world.stsdesk("add-user", profile, "--access-key-id", "AKIAE2EXXXXXXXXX0001", stdin="secret\n")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert f"profile '{profile}' is already a" in done.stderr
    assert world.config_file.read_text() == before


def test_add_user_still_updates_a_user(world: World) -> None:
    done = world.stsdesk("add-user", "bob", "--access-key-id", "AKIAE2EBOB0000000002", stdin="secret\n")
    # The fail keyring of the e2e world refuses the secret: what matters is that the kind check let it through.
    assert "is already a" not in done.stderr



@pytest.mark.parametrize("redirect", [">&-", "2>&-", "<&-"])
def test_a_closed_standard_stream_is_not_a_traceback(world: World, redirect: str) -> None:
    """``stsdesk list >&-``: Python gives the process None for a closed descriptor; stsdesk runs the command
    with /dev/null there instead of ending in an AttributeError traceback (exit 1)."""
    done = subprocess.run(
        ["sh", "-c", f"'{sys.executable}' -m stsdesk list {redirect}; echo status=$?"],
        capture_output=True, text=True, env=world.env, cwd=world.home, timeout=60,
    )
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.stdout.rstrip().endswith("status=0"), (done.stdout, done.stderr)
