"""The world a CLI command runs in: its streams, environment variables, config directory and terminal.

Commands take an :class:`Environment` instead of reaching for ``sys.stdout`` or ``os.environ``, so a test can
run them in-process with string buffers and a dictionary. Imports only the standard library's lightest
modules: this module is on the cached ``credential-process`` path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, MutableMapping

TYPE_CHECKING = False  # not typing's (~2 ms): the credential-process fast path imports this module

if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO


class UsageError(Exception):
    """A command was called wrongly (exit status 2, like argparse): ``main`` prints the usage and the message."""


def _getpass(prompt: str) -> str:
    import getpass  # termios and friends: only when a prompt is really shown

    return getpass.getpass(prompt)


def _dev_tty_available() -> bool:
    """True when this process has a controlling terminal to prompt on (even with stdin/stdout redirected)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


class Environment:
    """Streams, variables and terminal of one CLI run. Every argument defaults to this process's own.

    ``config_dir`` is the ``--config-dir`` value (None: ``STSDESK_CONFIG_DIR`` in ``environ``, then the
    platform default). ``stdin_is_tty`` says whether secrets are typed (prompt) or piped (read a line);
    ``tty_available`` whether an MFA prompt can be shown; ``getpass`` reads a secret without echo.
    """

    __slots__ = ("config_dir_arg", "environ", "getpass", "stderr", "stdin", "stdin_is_tty", "stdout",
                 "tty_available")

    def __init__(
        self,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: MutableMapping[str, str] | None = None,
        config_dir: str | None = None,
        stdin_is_tty: bool | None = None,
        tty_available: Callable[[], bool] | None = None,
        getpass: Callable[[str], str] | None = None,
    ) -> None:
        self.stdin: TextIO = sys.stdin if stdin is None else stdin
        self.stdout: TextIO = sys.stdout if stdout is None else stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr
        self.environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self.config_dir_arg: str | None = config_dir
        if stdin_is_tty is None:
            stdin_is_tty = stdin is None and bool(sys.stdin) and sys.stdin.isatty()
        self.stdin_is_tty: bool = stdin_is_tty
        self.tty_available: Callable[[], bool] = _dev_tty_available if tty_available is None else tty_available
        self.getpass: Callable[[str], str] = _getpass if getpass is None else getpass

    def use_config_dir(self, directory: str | None) -> None:
        """Make ``directory`` (``--config-dir``) the config directory of every later lookup in this run,
        including code that reads ``STSDESK_CONFIG_DIR`` from ``environ``. None or empty: no change."""
        if directory:
            self.config_dir_arg = directory
            self.environ["STSDESK_CONFIG_DIR"] = directory

    def config_dir(self) -> Path:
        """stsdesk's config directory for this run, created (0700) if missing. Raises OSError when it cannot
        be created."""
        from stsdesk.core.paths import config_dir

        return config_dir(self.config_dir_arg, self.environ)

    def out(self, text: str = "") -> None:
        """Print one line (``text`` plus a newline) on stdout."""
        self.stdout.write(text + "\n")

    def warn(self, message: str) -> None:
        """Print ``stsdesk: message`` on stderr (whitespace folded to one line)."""
        self.stderr.write(f"stsdesk: {' '.join(message.split())}\n")
        self.stderr.flush()

    def fail(self, message: str) -> int:
        """Report an expected failure as one line on stderr; returns exit status 1."""
        self.warn(message)
        return 1
