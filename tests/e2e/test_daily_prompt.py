"""Issue 13 item 2: Ctrl-C and Ctrl-D at the terminal MFA prompt end the command at once (130 / 1, one line),
driven through a real pseudo-terminal that is the child's controlling terminal (getpass reads /dev/tty)."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import sys
import termios
import time
from typing import TYPE_CHECKING

import pytest
from conftest import REPO

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
LIMIT = 60.0  # a bound on a hang, not a timing assertion


def _read_until(fd: int, marker: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + LIMIT
    while marker not in seen:
        if time.monotonic() > deadline:
            pytest.fail(f"no {marker!r} from stsdesk; got {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                pytest.fail(f"stsdesk ended before {marker!r}: {bytes(seen)!r}")
            seen += chunk


def _finish(pid: int, fd: int, seen: bytearray) -> int:
    """Read the rest of the output and reap the child; fails when it does not end within LIMIT."""
    deadline = time.monotonic() + LIMIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            with_rest = True
            while with_rest:
                ready, _, _ = select.select([fd], [], [], 0.2)
                try:
                    chunk = os.read(fd, 4096) if ready else b""
                except OSError:
                    chunk = b""
                seen += chunk
                with_rest = bool(chunk)
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(f"stsdesk did not end after the key was pressed: {bytes(seen)!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            with contextlib.suppress(OSError):
                seen += os.read(fd, 4096)


def _at_prompt(
    world: World, key: bytes, args: tuple[str, ...] = ("assume", "dev"), prompt: bytes = b"MFA code for"
) -> tuple[int, str, bool]:
    """Start `stsdesk ARGS` on a pty, wait for ``prompt``, press ``key``; (status, output, echo on again
    afterwards)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        try:
            os.chdir(REPO)
            os.execve(sys.executable, [sys.executable, "-m", "stsdesk", *args], world.env)
        finally:
            os._exit(127)
    seen = bytearray()
    try:
        _read_until(fd, prompt, seen)
        time.sleep(0.3)  # let getpass switch echo off and block in its read (ordering, not a timing check)
        os.write(fd, key)
        status = _finish(pid, fd, seen)
        echo = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    finally:
        os.close(fd)
    return status, seen.decode(errors="replace"), echo


def test_ctrl_c_at_the_mfa_prompt_ends_with_130(world: World) -> None:
    status, output, echo = _at_prompt(world, b"\x03")
    assert status == 130, output
    assert "Traceback" not in output
    assert echo, "the terminal's echo was left off"


def test_ctrl_d_at_the_mfa_prompt_is_one_line_and_exit_1(world: World) -> None:
    status, output, _echo = _at_prompt(world, b"\x04")
    assert status == 1, output
    assert "Traceback" not in output and "EOFError" not in output
    after = output.split("MFA code for", 1)[1].split("\n", 1)[1].strip()
    assert after.count("\n") == 0 and after.startswith("stsdesk: ") and "no MFA code entered" in after, output


def test_ctrl_d_at_the_secret_prompt_of_add_user_is_one_line(world: World) -> None:
    args = ("add-user", "carol", "--access-key-id", "AKIAE2ECAROL00000001")
    status, output, echo = _at_prompt(world, b"\x04", args, b"Secret access key for")
    assert status == 1, output
    assert "Traceback" not in output and "EOFError" not in output
    after = output.split("Secret access key for", 1)[1].split("\n", 1)[1].strip()
    assert after.count("\n") == 0 and after.startswith("stsdesk: "), output
    assert echo
    assert "carol" not in world.config_file.read_text()
