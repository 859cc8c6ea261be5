"""stsdesk's command line: one argparse entry point; ``stsdesk`` with no command opens the GUI.

Layout: :mod:`.environment` (streams, variables, config dir: injectable in tests), :mod:`.parser` (the
argument definition, assembled from the command modules listed in ``COMMAND_MODULES``), one module per
command group (:mod:`.credentials`, :mod:`.profiles`, :mod:`.decode`, :mod:`.emulator`), :mod:`.engine` (the
Broker a command works with) and :mod:`.fast_path` (the cached ``credential-process`` answer).

Only the standard library is imported at module level so that ``--help``, ``list`` and the cached
``credential-process`` answer stay fast; the engine (botocore, keyring) is imported by the commands that need
it. Expected failures print one line on stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

from stsdesk.cli.environment import Environment, UsageError
from stsdesk.cli.fast_path import CREDENTIAL_PROCESS_MIN_TTL
from stsdesk.cli.fast_path import credential_process_fast as _credential_process_fast
from stsdesk.cli.fast_path import plain_credential_process as _plain_credential_process
from stsdesk.core.errors import StsdeskError

TYPE_CHECKING = False  # not typing's (~2 ms): `python -m stsdesk credential-process` must start fast
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["CREDENTIAL_PROCESS_MIN_TTL", "Environment", "build_parser", "entry_point", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (DESIGN.md "Command line"); see :func:`stsdesk.cli.parser.build_parser`."""
    from stsdesk.cli.parser import build_parser as build  # argparse: not on the plain credential-process path

    return build()


def _fail(env: Environment, exc: StsdeskError) -> int:
    from stsdesk.cli.remedies import cli_message

    return env.fail(cli_message(exc))


def _no_display(env: Environment) -> str | None:
    """Why Qt could not open a window here (it would abort the process with exit 134), or None.

    On X11/Wayland systems a window needs DISPLAY or WAYLAND_DISPLAY, unless QT_QPA_PLATFORM names a platform
    that needs neither (offscreen, minimal, vnc, eglfs...). macOS and Windows always have one."""
    import sys

    if sys.platform in ("darwin", "win32", "cygwin"):
        return None
    environ = env.environ
    platform = environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].split(";", 1)[0].strip().lower()
    if platform and platform not in ("xcb", "wayland", "wayland-egl"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "stsdesk's window needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set; run it in a desktop "
        "session, or use a command (stsdesk list, stsdesk assume PROFILE; see stsdesk --help)"
    )


def _open_gui(env: Environment, args: argparse.Namespace) -> int:
    import importlib

    missing = _no_display(env)
    if missing is not None:
        return env.fail(missing)
    try:
        app = importlib.import_module("stsdesk.gui.app")  # lazy: Qt only for the GUI
    except ImportError as exc:
        return env.fail(f"the GUI is not available ({exc}); use a command, see stsdesk --help")
    result = app.main(args)
    return int(result or 0)


# What a shell reports for a command killed by SIGPIPE (128 + 13): `stsdesk list | head` ends quietly.
BROKEN_PIPE_STATUS = 141


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run stsdesk with ``argv`` (default: sys.argv[1:]) in ``env`` (default: this process's streams and
    environment).

    Returns the exit status: 0 ok, 1 the operation failed (one line on stderr), 2 usage (argparse exits with
    SystemExit(2)), 130 interrupted, 141 stdout closed by the reader (``| head``), without a traceback."""
    if env is None:
        _open_closed_streams()
        env = Environment()
    try:
        try:
            status = _main(argv, env)
        finally:
            env.stdout.flush()  # here, not at interpreter exit, so that a closed pipe is caught below
    except BrokenPipeError:
        _silence_stdout(env)
        return BROKEN_PIPE_STATUS
    if argv is None:  # this process's own command line (console script, python -m stsdesk)
        from stsdesk.cli.fast_path import exit_if_answered_fast

        exit_if_answered_fast(env, status)
    return status


def _open_closed_streams() -> None:
    """A process started with stdin, stdout or stderr closed (``stsdesk list >&-``) has None there: give it
    /dev/null instead, so a command runs (its output goes nowhere, as the caller asked) rather than ending in an
    AttributeError traceback."""
    import os
    import sys

    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - lives as long as the process


def _silence_stdout(env: Environment) -> None:
    """After the reader of stdout went away: point the process's stdout at /dev/null, so that Python's own
    flush at exit does not print "Exception ignored ... BrokenPipeError" (the Python docs' recipe)."""
    import os
    import sys

    if env.stdout is not sys.stdout or sys.stdout is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # no real file descriptor (a test's stream): nothing is flushed at exit anyway


# The options of `stsdesk` with no command (the GUI), as the full parser defines them (stsdesk.cli.parser).
_GUI_FLAGS = {"--demo": "demo", "--exit-after-first-paint": "exit_after_first_paint", "--self-test": "self_test"}


def _gui_arguments(arguments: list[str]) -> argparse.Namespace | None:
    """What the full parser makes of ``arguments`` when they only open the window (no command; --demo,
    --config-dir DIR or --config-dir=DIR, --exit-after-first-paint, --self-test, each spelled in full), without
    building it: its command modules and subparsers cost ~8 ms before the window shows (issue 17). None for
    anything else (a command, --help, --version, an abbreviation, a value that looks like an option...): the full
    parser reads those, with its messages and errors. tests/cli checks both give the same Namespace."""
    values: dict[str, str | bool | None] = {
        "config_dir": None, "demo": False, "exit_after_first_paint": False, "self_test": False,
    }  # fmt: skip
    i = 0
    while i < len(arguments):
        arg = arguments[i]
        if arg in _GUI_FLAGS:
            values[_GUI_FLAGS[arg]] = True
        elif arg == "--config-dir" and i + 1 < len(arguments) and not arguments[i + 1].startswith("-"):
            i += 1
            values["config_dir"] = arguments[i]
        elif arg.startswith("--config-dir="):
            values["config_dir"] = arg.partition("=")[2]
        else:
            return None
        i += 1
    import argparse

    return argparse.Namespace(command=None, **values)


def _main(argv: Sequence[str] | None, env: Environment) -> int:
    import sys

    arguments = list(sys.argv[1:] if argv is None else argv)
    quick = _plain_credential_process(arguments)
    if quick is not None:
        # Building the full parser costs ~10 ms (argparse's help formatter imports shutil, gettext, locale):
        # too much for a call the AWS CLI makes before every command. The fast path needs only two values.
        env.use_config_dir(quick.config_dir)
        try:
            if _credential_process_fast(quick, env):
                return 0
        except StsdeskError as exc:
            return _fail(env, exc)
        except KeyboardInterrupt:
            env.stderr.write("\n")
            return 130
    if quick is None and "assume" in arguments:
        from stsdesk.cli.fast_assume import assume_fast  # the cached session's exports, without the engine

        if assume_fast(arguments, env):
            return 0
    parser = None
    args = _gui_arguments(arguments) if quick is None else None
    if args is None:
        parser = build_parser()
        args = parser.parse_args(arguments)
    if quick is not None:
        args.fast_path_tried = True
        args.bridge_asked = getattr(quick, "bridge_asked", False)
    env.use_config_dir(args.config_dir)  # one source of truth for every later lookup
    try:
        if args.command is None:
            return _open_gui(env, args)
        status: int = args.handler(env, args)
        return status
    except UsageError as exc:
        (parser or build_parser()).error(str(exc))  # exits 2 with the usage line
    except StsdeskError as exc:
        return _fail(env, exc)
    except KeyboardInterrupt:
        env.stderr.write("\n")
        return 130
    except EOFError:  # Ctrl-D at a prompt (a secret, a code): the person ended the input
        env.stderr.write("\n")
        return env.fail("no input given (end of input)")
    except Exception as exc:
        from stsdesk.emulator.scenario import ScenarioError

        if isinstance(exc, ScenarioError):
            return env.fail(str(exc))
        raise


def entry_point() -> None:
    """Console-script wrapper: exits with main()'s status."""
    import sys

    sys.exit(main())
