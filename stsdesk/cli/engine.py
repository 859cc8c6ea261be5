"""The engine a CLI command works with: a Broker over the AWS files, the session cache and the keyring, with
the terminal MFA prompt; and the running GUI, asked first through the terminal bridge.

Imports botocore's side of stsdesk (broker, sts): import this module inside a command handler only.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stsdesk.cli.environment import Environment
from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.errors import ENTER_MFA_CODE, InvalidMfaCode, MfaCancelled, MfaRequired, Remedy
from stsdesk.core.model import Credentials
from stsdesk.core.secrets import SecretStore

MFA_TTY_TRIES = 3


def _tty_code(env: Environment, request: MfaRequest) -> str:
    """Read a 6-digit code on the terminal (re-asking on a malformed one). Raises MfaCancelled after
    MFA_TTY_TRIES malformed codes or at end of input (Ctrl-D)."""
    role = f" for {request.role_arn}" if request.role_arn else ""
    if request.error:
        env.warn(request.error)
    for _ in range(MFA_TTY_TRIES):
        try:
            typed = env.getpass(f"MFA code for {request.mfa_serial}{role} (profile {request.profile}): ")
        except EOFError:
            env.stderr.write("\n")  # the cursor is still on the prompt line
            raise MfaCancelled("no MFA code entered (end of input)") from None
        code = typed.strip()
        if len(code) == 6 and code.isdigit():
            return code
        env.warn("an MFA code is 6 digits")
    raise MfaCancelled("no valid MFA code entered")


async def _prompt_in_thread(env: Environment, request: MfaRequest) -> str:
    """:func:`_tty_code` on a daemon thread, so that the event loop keeps running (a credential server keeps
    serving) while the person types.

    Not the loop's default executor: Ctrl-C cancels this await (asyncio.run's SIGINT handler) and asyncio.run
    would then wait for every executor thread, one of them blocked in the terminal read, forever. A daemon
    thread is left behind instead, and the terminal's echo, which getpass switched off, is put back here."""
    import threading

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    saved = _terminal_state()

    def settle(value: str | None, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(str(value))

    def read() -> None:
        try:
            code = _tty_code(env, request)
        except BaseException as exc:  # delivered to the awaiting coroutine, raised there
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, code, None)

    threading.Thread(target=read, name="stsdesk-mfa-prompt", daemon=True).start()
    cancelled = False
    try:
        return await answer
    except asyncio.CancelledError:
        cancelled = True  # Ctrl-C: asyncio.run turns this into KeyboardInterrupt, main() exits 130
        raise
    finally:
        _restore_terminal(saved, cancelled)


def _terminal_state() -> tuple[int, list[Any]] | None:
    """The controlling terminal's settings (to restore echo if the prompt is abandoned), or None."""
    import os

    try:
        import termios

        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except (ImportError, OSError):
        return None
    try:
        return fd, list(termios.tcgetattr(fd))
    except termios.error:
        os.close(fd)
        return None


def _restore_terminal(saved: tuple[int, list[Any]] | None, restore: bool) -> None:
    """Close the terminal :func:`_terminal_state` opened, first putting back its settings when ``restore``.
    Best effort."""
    if saved is None:
        return
    import os
    import termios

    fd, attrs = saved
    try:
        if restore:
            termios.tcsetattr(fd, termios.TCSAFLUSH, attrs)
    except termios.error:
        pass
    finally:
        os.close(fd)


def cli_mfa_prompt(env: Environment) -> Callable[[MfaRequest], Awaitable[str]]:
    """The CLI's MFA prompt when no GUI answered for it: the terminal, else fail saying what to do
    (MfaRequired, or InvalidMfaCode when the code given was refused)."""

    async def prompt(request: MfaRequest) -> str:
        if env.tty_available():
            return await _prompt_in_thread(env, request)
        if request.error:
            raise InvalidMfaCode(request.error, "AccessDenied")
        raise MfaRequired(
            f"profile {request.profile} needs an MFA code", remedy=Remedy(ENTER_MFA_CODE, request.profile)
        )

    return prompt


@dataclass
class Engine:
    """One command's Broker, the SecretStore it uses and stsdesk's config directory."""

    broker: Broker
    secrets: SecretStore
    directory: Path


def make_engine(env: Environment, with_prompt: bool = True) -> Engine:
    """The engine for ``env``'s config directory and AWS files. Raises ConfigError for unreadable AWS files,
    OSError when the config directory cannot be created."""
    from stsdesk.core.cache import SessionCache
    from stsdesk.core.paths import keyring_namespace
    from stsdesk.core.profiles import aws_config_paths, load_profiles
    from stsdesk.core.secrets import service_name
    from stsdesk.core.sts import StsClient

    directory = env.config_dir()
    secrets = SecretStore(service_name(keyring_namespace(directory)))
    tree = load_profiles(*aws_config_paths(env.environ))
    cache = SessionCache(directory, secrets)
    prompt = cli_mfa_prompt(env) if with_prompt else None
    return Engine(Broker(tree, StsClient(), cache, secrets, prompt), secrets, directory)


def warn_keyring(env: Environment, secrets: SecretStore) -> None:
    """Print the keyring's warning (sessions kept in memory only...), if it has one."""
    warning = secrets.warning
    if warning:
        env.warn(warning)


def export_region(
    env: Environment, engine: Engine, profile: str, creds: Credentials, chosen: str | None = None
) -> str:
    """The region exported with ``profile``'s credentials: :func:`stsdesk.core.region.export_region`, as the
    GUI and the bridge export it; ``chosen`` is ``--region``."""
    from stsdesk.core.region import export_region as region_for

    return region_for(
        engine.broker.tree, profile, engine.broker.default_region, creds.region, env.environ,
        chosen=chosen,
    )


def _from_gui(engine: Engine, args: argparse.Namespace) -> Credentials | None:
    """The running GUI's credentials for ``args.profile`` (terminal bridge: its cache, sessions and MFA
    prompt), or None when no GUI serves this config dir, an MFA code was given on the command line, or the
    fast path already asked, or ``--no-session`` asks for an IAM user's own keys. Raises BridgeError with the
    GUI's one-line error."""
    if args.mfa_code or getattr(args, "bridge_asked", False) or getattr(args, "no_session", False):
        return None  # the GUI hands out sessions only; --no-session is this process's own keyring read
    from stsdesk.core.bridge import bridge_directory, bridge_request

    return bridge_request(
        bridge_directory(engine.directory),
        args.profile,
        getattr(args, "duration", None),
        fmt=getattr(args, "format", None) or args.command,
    )


async def credentials(
    env: Environment, engine: Engine, args: argparse.Namespace, min_ttl: float | None = None
) -> Credentials:
    """Credentials from the running GUI if there is one, else from this process's own broker. Raises the
    engine's StsdeskErrors (ProfileNotFound, MfaRequired, StsCallError, BridgeError...)."""
    # Blocking on purpose, in the main thread: nothing else runs on this loop yet, and Ctrl-C must interrupt
    # the wait (an executor thread would keep asyncio.run from returning until the bridge timed out).
    creds = _from_gui(engine, args)
    if creds is not None:
        return creds
    creds = await engine.broker.credentials_for(
        args.profile,
        duration=getattr(args, "duration", None),
        mfa_code=args.mfa_code,
        min_ttl=min_ttl,
        long_term=getattr(args, "no_session", False),
        region=getattr(args, "region", None),
    )
    # The session is written behind; make it durable before the output is used (and before the keyring
    # warning, which only a refused write reveals).
    engine.broker.cache.flush()
    warn_keyring(env, engine.secrets)
    return creds
