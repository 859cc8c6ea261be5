"""Running a command line a profile names (``credential_process``, ``mfa_process``) the way botocore and aws-vault
do: split like a POSIX shell (``shlex``), no shell, with a timeout. One home for the ways that can fail and the
one-line messages they get; the callers check what the command printed.

A command's output is never put in a message: only its last stderr line, which is what a person needs to act on.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable, Mapping

__all__ = ["last_line", "run_command_line"]


def last_line(data: bytes, limit: int = 300) -> str:
    """The last non-empty line of ``data`` (a process's stderr), stripped and cut to ``limit`` characters."""
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip()[:limit] if lines else ""


def run_command_line(
    line: str,
    what: str,
    error: Callable[[str], Exception],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    close_stdin: bool = True,
    prefix: str = "",
) -> bytes:
    """Run ``line`` and return its stdout. ``what`` names it in messages (``credential_process``), ``prefix``
    goes before each message (``profile 'x': ``), ``error`` makes the exception raised. With ``close_stdin``
    False the command inherits stdin and the terminal (it may prompt).

    Raises ``error(message)`` (one line) when the line cannot be split or is empty, the command is missing or not
    executable, cannot be started, runs longer than ``timeout`` seconds (it is killed), or exits non-zero (its
    last stderr line is quoted)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise error(f"{prefix}{what} cannot be split into a command ({exc})") from None
    if not argv:
        raise error(f"{prefix}{what} is empty")
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL if close_stdin else None,
            capture_output=True,
            timeout=timeout,
            check=False,
            env=None if env is None else dict(env),
        )
    except FileNotFoundError:
        raise error(f"{prefix}{what} command not found: {argv[0]}") from None
    except PermissionError:
        raise error(f"{prefix}{what} command not executable: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise error(f"{prefix}{what} did not finish within {timeout:g} s (stopped it)") from None
    except OSError as exc:
        raise error(f"{prefix}cannot run {what} ({exc.strerror or exc})") from None
    if done.returncode != 0:
        said = last_line(done.stderr)
        raise error(f"{prefix}{what} failed (exit {done.returncode}){': ' + said if said else ''}")
    return done.stdout
