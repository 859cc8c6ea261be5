"""core/commands.py: the one runner of the command lines profiles name (credential_process, mfa_process)."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

import pytest

from stsdesk.core.commands import last_line, run_command_line


class Failed(Exception):
    pass


def python(code: str) -> str:
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def test_stdout_is_returned_and_messages_carry_the_prefix(tmp_path: Path) -> None:
    assert run_command_line(python("print('hi')"), "x_process", Failed, timeout=10) == b"hi\n"
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho no\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(Failed, match=rf"^profile 'p': x_process command not executable: {script}$"):
        run_command_line(str(script), "x_process", Failed, timeout=10, prefix="profile 'p': ")


def test_stdin_is_closed_by_default() -> None:
    """mfa_process gets no stdin: a command that reads it sees end of file at once instead of waiting."""
    reads = python("import sys; print(repr(sys.stdin.read()) if sys.stdin else 'none')")
    assert run_command_line(reads, "mfa_process", Failed, timeout=10) == b"''\n"


def test_environment_is_what_the_caller_gives() -> None:
    out = run_command_line(python("import os; print(os.environ.get('STSDESK_T', '-'))"), "p", Failed, timeout=10,
                           env={"STSDESK_T": "seen", "PATH": "/usr/bin:/bin"})
    assert out == b"seen\n"


def test_last_line_is_the_last_non_empty_line_cut_to_the_limit() -> None:
    assert last_line(b"first\n  second  \n\n") == "second"
    assert last_line(b"x" * 500, limit=10) == "x" * 10
    assert last_line(b"") == ""
