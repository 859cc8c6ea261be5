"""Local credential servers on the command line: ``serve`` and ``exec --server`` / ``exec --imds``.

``serve PROFILE`` prints the lines to paste and serves until SIGINT/SIGTERM. ``exec --server PROFILE -- CMD``
runs CMD with a server that lives exactly as long as CMD; the exit status is CMD's. Renewals that need an
MFA code ask on the terminal that started the command, ahead of expiry, never inside an SDK's request.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
from typing import TYPE_CHECKING

from stsdesk.cli.parser import SHELL_CHOICES, add_mfa_option

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from stsdesk.cli.engine import Engine
    from stsdesk.cli.environment import Environment
    from stsdesk.core.servers import ServedProfile, ServerEvent, ServerMode

# Forwarded to CMD. SIGINT and SIGQUIT only when they cannot have come from our terminal (which sends them to
# the whole foreground process group, CMD included: forwarding would deliver them twice).
_FORWARDED = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2")
_TERMINAL = ("SIGINT", "SIGQUIT")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to ``sub``."""
    p = sub.add_parser(
        "serve",
        help="serve one profile's credentials on a local endpoint until stopped; prints the lines to set",
    )
    p.add_argument("profile")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--imds", action="store_true", help="the IMDSv2 flow instead of the container provider")
    p.add_argument("--format", choices=SHELL_CHOICES, default="bash", help="shell of the lines printed")
    from stsdesk.cli.credentials import add_region_option  # one definition of --region

    add_region_option(p)
    add_mfa_option(p)
    p.set_defaults(handler=cmd_serve)


def exec_command(args: argparse.Namespace) -> list[str]:
    """The command of ``exec`` from ``args.cmd`` (argparse's remainder after PROFILE).

    Options written after PROFILE but before ``--`` (``exec P --duration 900 -- CMD``) are exec's own: they
    are parsed by exec's own parser (``args.exec_parser``, so every exec option works there) into ``args``
    instead of being taken for the command. Exits with status 2 (usage) for an unknown option there."""
    rest = list(args.cmd)
    parser: argparse.ArgumentParser | None = getattr(args, "exec_parser", None)
    if parser is not None and rest and rest[0].startswith("-") and rest[0] != "--" and "--" in rest:
        cut = rest.index("--")
        parsed = parser.parse_args([*rest[:cut], args.profile])  # options first: CMD is a remainder
        for name, value in vars(parsed).items():
            if name not in ("profile", "cmd") and value != parser.get_default(name):
                setattr(args, name, value)
        rest = rest[cut:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    return rest


def _mode(args: argparse.Namespace) -> ServerMode:
    from stsdesk.cli.environment import UsageError
    from stsdesk.core.servers import ServerMode

    if getattr(args, "server", False) and getattr(args, "imds", False):
        raise UsageError("choose one of --server and --imds")
    if getattr(args, "no_session", False):
        raise UsageError("--no-session does not go with a credential server: it hands out temporary sessions only")
    if not 0 <= getattr(args, "port", 0) <= 65535:
        raise UsageError("--port must be 0 to 65535")
    return ServerMode.IMDS if getattr(args, "imds", False) else ServerMode.CONTAINER


async def _start(env: Environment, args: argparse.Namespace) -> tuple[ServedProfile, Engine]:
    """The engine and the served profile (first session obtained, listening)."""
    from stsdesk.cli.engine import make_engine, warn_keyring
    from stsdesk.core.servers import ServedProfile

    mode = _mode(args)
    engine = make_engine(env)
    served = await ServedProfile.start(
        engine.broker, args.profile, mode, port=getattr(args, "port", 0), mfa_code=args.mfa_code,
        duration=getattr(args, "duration", None), on_event=_reporter(env), region=getattr(args, "region", None),
    )
    # Sessions are written behind; make them durable for other stsdesk processes (and learn of a refusal).
    engine.broker.cache.flush()
    warn_keyring(env, engine.secrets)
    warning = served.short_session_warning()
    if warning:
        env.warn(warning)
    return served, engine


def _reporter(env: Environment) -> Callable[[ServerEvent], None]:
    """A listener that tells the terminal when a renewal fails and when it works again (one line each)."""
    last: list[str | None] = [None]

    def report(event: ServerEvent) -> None:
        if event.error != last[0]:
            if event.error:
                until = event.expiration
                left = f"; serving the current session until {until:%H:%M:%S} UTC" if until else ""
                env.warn(f"renewing {event.profile} failed: {event.error}{left}")
            elif last[0] is not None:
                env.warn(f"renewing {event.profile} works again")
            last[0] = event.error

    return report


def cmd_serve(env: Environment, args: argparse.Namespace) -> int:
    """Serve ``args.profile`` until SIGINT/SIGTERM; print the lines to paste on stdout. Exit 0 when stopped,
    1 (one line) when the first session or the port cannot be had."""
    import asyncio

    async def main() -> int:
        served, engine = await _start(env, args)
        try:
            env.stdout.write(served.lines(args.format))
            env.stdout.flush()
            env.warn(f"serving {args.profile} at {served.endpoint} ({served.mode.value}); Ctrl-C stops it")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for name in ("SIGINT", "SIGTERM", "SIGHUP"):
                loop.add_signal_handler(getattr(signal, name), stop.set)
            try:
                await stop.wait()
            finally:
                for name in ("SIGINT", "SIGTERM", "SIGHUP"):
                    loop.remove_signal_handler(getattr(signal, name))
        finally:
            await served.stop()
            engine.broker.cache.flush()
        env.warn(f"stopped serving {args.profile}; its token no longer works")
        return 0

    return asyncio.run(main())


def _from_our_terminal() -> bool:
    """True when we are in our terminal's foreground process group: a SIGINT typed there reached CMD too."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _forward_signals(loop: asyncio.AbstractEventLoop, process: asyncio.subprocess.Process) -> list[int]:
    installed: list[int] = []

    def forward(signum: int, terminal: bool) -> None:
        if terminal and _from_our_terminal():
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                process.send_signal(signum)

    for name in (*_FORWARDED, *_TERMINAL):
        signum = getattr(signal, name, None)
        if signum is not None:
            loop.add_signal_handler(signum, forward, signum, name in _TERMINAL)
            installed.append(signum)
    return installed


def exec_served(env: Environment, args: argparse.Namespace, command: list[str]) -> int:
    """``exec --server``/``--imds``: run ``command`` against a local credential server for ``args.profile``.
    Returns the command's exit status (128+N when killed by signal N). ConfigError when it cannot start."""
    import asyncio

    from stsdesk.core.errors import ConfigError

    async def main() -> int:
        served, engine = await _start(env, args)
        try:
            child_env = served.child_environment(env.environ)
            env.stdout.flush()
            env.stderr.flush()
            try:
                process = await asyncio.create_subprocess_exec(*command, env=child_env)
            except FileNotFoundError:
                raise ConfigError(f"command not found: {command[0]}") from None
            except PermissionError:
                raise ConfigError(f"command not executable: {command[0]}") from None
            loop = asyncio.get_running_loop()
            installed = _forward_signals(loop, process)
            try:
                code = await process.wait()
            finally:
                for signum in installed:
                    loop.remove_signal_handler(signum)
        finally:
            await served.stop()  # the server lives exactly as long as the command
            engine.broker.cache.flush()
        return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell

    return asyncio.run(main())
