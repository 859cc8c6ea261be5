"""The engine-backed commands of the command line (imported only when one of them runs)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.errors import ConfigError, InvalidMfaCode, KeyringUnavailable, MfaCancelled, MfaRequired
from stsdesk.core.model import Credentials, Profile
from stsdesk.core.secrets import SecretStore

MFA_TTY_TRIES = 3


def _tty_available() -> bool:
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def _tty_code(request: MfaRequest) -> str:
    """Read a 6-digit code on the terminal (re-asking on a malformed one)."""
    role = f" for {request.role_arn}" if request.role_arn else ""
    if request.error:
        print(f"stsdesk: {request.error}", file=sys.stderr)
    for _ in range(MFA_TTY_TRIES):
        code = getpass.getpass(
            f"MFA code for {request.mfa_serial}{role} (profile {request.profile}): "
        ).strip()
        if len(code) == 6 and code.isdigit():
            return code
        print("stsdesk: an MFA code is 6 digits", file=sys.stderr)
    raise MfaCancelled("no valid MFA code entered")


async def cli_mfa_prompt(request: MfaRequest) -> str:
    """The CLI's MFA prompt when no GUI answered for it: the terminal, else fail saying what to do."""
    if _tty_available():
        return await asyncio.get_running_loop().run_in_executor(None, _tty_code, request)
    if request.error:
        raise InvalidMfaCode(request.error, "AccessDenied")
    raise MfaRequired(f"profile {request.profile} needs an MFA code: pass --mfa-code or run in a terminal")


@dataclass
class Engine:
    broker: Broker
    secrets: SecretStore
    directory: Path


def _engine(with_prompt: bool = True) -> Engine:
    from stsdesk.core.cache import SessionCache
    from stsdesk.core.paths import config_dir, keyring_namespace
    from stsdesk.core.profiles import load_profiles
    from stsdesk.core.secrets import service_name
    from stsdesk.core.sts import StsClient

    directory = config_dir()
    secrets = SecretStore(service_name(keyring_namespace(directory)))
    tree = load_profiles()
    cache = SessionCache(directory, secrets)
    prompt = cli_mfa_prompt if with_prompt else None
    return Engine(Broker(tree, StsClient(), cache, secrets, prompt), secrets, directory)


def _warn_keyring(secrets: SecretStore) -> None:
    warning = secrets.warning
    if warning:
        print(f"stsdesk: {warning}", file=sys.stderr)


def _region(engine: Engine, profile: str, creds: Credentials) -> str | None:
    from stsdesk.core.broker_sources import sts_target

    chain = engine.broker.tree.chain(profile)
    return creds.region or sts_target(chain, engine.broker.default_region).region


def _from_gui(engine: Engine, args: argparse.Namespace) -> Credentials | None:
    """The running GUI's credentials for ``args.profile`` (terminal bridge: its cache, sessions and MFA
    prompt), or None when no GUI serves this config dir, an MFA code was given on the command line, or the
    fast path already asked. Raises BridgeError with the GUI's one-line error."""
    if args.mfa_code or getattr(args, "bridge_asked", False):
        return None
    from stsdesk.core.bridge import bridge_directory, bridge_request

    return bridge_request(
        bridge_directory(engine.directory),
        args.profile,
        getattr(args, "duration", None),
        fmt=getattr(args, "format", None) or args.command,
    )


async def _credentials(engine: Engine, args: argparse.Namespace, min_ttl: float | None = None) -> Credentials:
    """Credentials from the running GUI if there is one, else from this process's own broker."""
    # Blocking on purpose, in the main thread: nothing else runs on this loop yet, and Ctrl-C must interrupt
    # the wait (an executor thread would keep asyncio.run from returning until the bridge timed out).
    creds = _from_gui(engine, args)
    if creds is not None:
        return creds
    creds = await engine.broker.credentials_for(
        args.profile, duration=getattr(args, "duration", None), mfa_code=args.mfa_code, min_ttl=min_ttl
    )
    # The session is written behind; make it durable before the output is used (and before the keyring
    # warning, which only a refused write reveals).
    engine.broker.cache.flush()
    _warn_keyring(engine.secrets)
    return creds


# -- commands ------------------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    engine = _engine(with_prompt=False)
    tree = engine.broker.tree
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []

    def walk(profile: Profile, depth: int) -> None:
        meta = engine.broker.session_state(profile.name)
        left = meta.seconds_left(now) if meta is not None else None
        state = (
            "error"
            if profile.error
            else "none"
            if meta is None
            else "active"
            if left and left > 0
            else "expired"
        )
        rows.append(
            {
                "name": profile.name,
                "depth": depth,
                "kind": profile.kind.value,
                "account": profile.account_id,
                "source": profile.source,
                "state": state,
                "expiration": meta.expiration.isoformat() if meta is not None else None,
                "seconds_left": int(left)
                if left is not None and left > 0
                else (0 if meta is not None else None),
                "error": profile.error,
            }
        )
        for child in tree.children(profile.name):
            walk(child, depth + 1)

    for root in tree.roots():
        walk(root, 0)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no profiles in {tree.config_file}")
        return 0
    width = max(len("PROFILE"), *(2 * r["depth"] + len(r["name"]) for r in rows))
    print(f"{'PROFILE':<{width}}  {'KIND':<18} {'ACCOUNT':<12}  {'STATE':<8} TIME LEFT")
    for r in rows:
        left = r["seconds_left"]
        shown = "-" if left is None else f"{left // 3600}h{left % 3600 // 60:02d}m" if left else "0"
        name = "  " * r["depth"] + r["name"]
        print(
            f"{name:<{width}}  {r['kind']:<18} {r['account'] or '-':<12}  {r['state']:<8} {shown}"
            + (f"  ({r['error']})" if r["error"] else "")
        )
    return 0


def cmd_assume(args: argparse.Namespace) -> int:
    from stsdesk.core.exports import render_exports

    engine = _engine()
    creds = asyncio.run(_credentials(engine, args))
    sys.stdout.write(render_exports(creds, args.format, _region(engine, args.profile, creds), args.profile))
    return 0


def cmd_exec(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from stsdesk.core.exports import exec_environment

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.error("exec needs a command: stsdesk exec PROFILE -- CMD [ARG...]")
    engine = _engine()
    creds = asyncio.run(_credentials(engine, args))
    env = exec_environment(os.environ, creds, _region(engine, args.profile, creds))
    try:
        completed = subprocess.run(command, env=env, check=False)
    except FileNotFoundError:
        raise ConfigError(f"command not found: {command[0]}") from None
    except PermissionError:
        raise ConfigError(f"command not executable: {command[0]}") from None
    code = completed.returncode
    return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell


def cmd_credential_process(args: argparse.Namespace) -> int:
    from stsdesk.cli import CREDENTIAL_PROCESS_MIN_TTL
    from stsdesk.core.exports import credential_process_json

    engine = _engine()
    creds = asyncio.run(_credentials(engine, args, CREDENTIAL_PROCESS_MIN_TTL))
    sys.stdout.write(credential_process_json(creds))
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    engine = _engine()
    url = asyncio.run(
        engine.broker.console_url(args.profile, duration=args.duration, destination=args.destination)
        if not args.mfa_code
        else _console_with_code(engine, args)
    )
    engine.broker.cache.flush()  # sessions made on the way are written behind
    if args.open:
        import webbrowser

        if not webbrowser.open(url):
            print(url)
            print(
                "stsdesk: no web browser could be opened; the URL above signs in (valid 15 minutes)",
                file=sys.stderr,
            )
        return 0
    print(url)
    return 0


async def _console_with_code(engine: Engine, args: argparse.Namespace) -> str:
    await engine.broker.credentials_for(args.profile, mfa_code=args.mfa_code)  # primes the cache
    return await engine.broker.console_url(args.profile, duration=args.duration, destination=args.destination)


def cmd_whoami(args: argparse.Namespace) -> int:
    engine = _engine()

    async def run() -> Any:
        if args.mfa_code:
            await engine.broker.credentials_for(args.profile, mfa_code=args.mfa_code)
        return await engine.broker.whoami(args.profile)

    identity = asyncio.run(run())
    engine.broker.cache.flush()  # sessions made on the way are written behind
    print(f"Account: {identity.account}\nArn:     {identity.arn}\nUserId:  {identity.user_id}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from stsdesk.core.decode import render_verdict

    if args.text in (None, "-"):
        if sys.stdin.isatty():
            print("Paste the error text, then press Ctrl-D:", file=sys.stderr)
        text = sys.stdin.read()
    else:
        text = args.text
    profile = args.profile or os.environ.get("AWS_PROFILE") or "default"
    engine = _engine()

    async def run() -> Any:
        if args.mfa_code:
            await engine.broker.credentials_for(profile, mfa_code=args.mfa_code)
        return await engine.broker.decode(text, profile)

    verdict = asyncio.run(run())
    engine.broker.cache.flush()  # sessions made on the way are written behind
    if args.json:
        print(json.dumps(asdict(verdict), indent=2, default=str))
    else:
        print(render_verdict(verdict).rstrip("\n"))
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    from stsdesk.core.configfile import ConfigFile, validate_mfa_serial, validate_profile_name
    from stsdesk.core.profiles import aws_config_paths
    from stsdesk.core.secrets import user_key

    for problem in (
        validate_profile_name(args.profile),
        args.mfa_serial and validate_mfa_serial(args.mfa_serial),
    ):
        if problem:
            raise ConfigError(problem)
    akid = args.access_key_id.strip()
    if not (16 <= len(akid) <= 128 and akid.isalnum()):
        raise ConfigError(f"'{akid}' does not look like an access key id (AKIA... , 20 characters)")
    if sys.stdin.isatty():
        secret = getpass.getpass(f"Secret access key for {akid}: ").strip()
    else:
        secret = sys.stdin.readline().strip()
    if not secret:
        raise ConfigError("no secret access key given (pipe it on stdin or type it at the prompt)")
    config_path, _credentials_path = aws_config_paths()
    config = ConfigFile.open(config_path)  # parse before touching the keyring: a broken file stops here
    engine_secrets = _engine(with_prompt=False).secrets
    try:
        engine_secrets.set(user_key(args.profile, akid), secret)
    except KeyringUnavailable as exc:
        raise KeyringUnavailable(f"{exc} Nothing was written.") from None
    values: dict[str, str | None] = {"stsdesk_access_key_id": akid}
    if args.mfa_serial:
        values["mfa_serial"] = args.mfa_serial
    if args.region:
        values["region"] = args.region
    config.set_profile(args.profile, values)
    config.save()
    print(f"profile {args.profile}: access key {akid} stored in the keyring; {config_path} updated")
    return 0


def cmd_import_credentials(args: argparse.Namespace) -> int:
    from stsdesk.core.configfile import ConfigFile
    from stsdesk.core.profiles import aws_config_paths
    from stsdesk.core.secrets import user_key

    config_path, credentials_path = aws_config_paths()
    credentials = ConfigFile.open(credentials_path, credentials=True)
    config = ConfigFile.open(config_path)
    wanted = args.profiles or credentials.profiles()
    secrets = _engine(with_prompt=False).secrets
    if not secrets.persistent:
        raise KeyringUnavailable(
            f"{secrets.warning} Refusing to remove keys from {credentials_path}: they would be lost."
        )
    moved: list[str] = []
    for name in wanted:
        values = credentials.get(name)
        if values is None:
            raise ConfigError(f"no profile '{name}' in {credentials_path}")
        akid, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
        if not akid or not secret or values.get("aws_session_token"):
            if args.profiles:
                raise ConfigError(
                    f"profile '{name}' in {credentials_path} has no long-term key pair to import"
                )
            continue
        try:
            secrets.set(user_key(name, akid), secret)
        except KeyringUnavailable as exc:  # the files are saved only after the loop: nothing removed yet
            raise KeyringUnavailable(f"{exc} Nothing was removed from {credentials_path}.") from None
        if secrets.get(user_key(name, akid)) != secret:
            raise KeyringUnavailable(f"the keyring did not keep the secret of '{name}'; nothing removed")
        config.set_profile(name, {"stsdesk_access_key_id": akid})
        credentials.set_profile(name, {"aws_access_key_id": None, "aws_secret_access_key": None})
        if not credentials.get(name):
            credentials.remove_profile(name)
        moved.append(name)
    config.save()
    credentials.save()
    if moved:
        _drop_backup(credentials_path)
    for name in moved:
        print(f"profile {name}: key moved into the keyring")
    if not moved:
        print(f"no long-term keys to import in {credentials_path}")
    return 0


def _drop_backup(path: Path) -> None:
    """Remove ``<path>.bak``: ConfigFile.save keeps the previous content there, which would leave the keys
    just moved into the keyring in plaintext on disk."""
    backup = Path(os.path.realpath(path))
    backup = backup.with_name(backup.name + ".bak")
    try:
        backup.unlink(missing_ok=True)
    except OSError as exc:
        print(
            f"stsdesk: could not remove {backup} ({exc.strerror}); it still holds the imported keys: delete it",
            file=sys.stderr,
        )


def cmd_forget(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.all and not args.profile:
        parser.error("forget needs a PROFILE or --all")
    engine = _engine(with_prompt=False)
    if args.profile and not args.all:
        engine.broker.tree.get(args.profile)  # ProfileNotFound for a typo
    dropped = engine.broker.forget(None if args.all else args.profile)
    engine.broker.cache.flush()  # forgetting is written behind, like storing
    print(f"forgot {len(dropped)} cached session(s)")
    return 0


def run_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Dispatch an engine command; StsdeskError propagates to cli.main, which prints it."""
    command = args.command
    if command == "exec":
        return cmd_exec(parser, args)
    if command == "forget":
        return cmd_forget(parser, args)
    handlers = {
        "list": cmd_list,
        "assume": cmd_assume,
        "credential-process": cmd_credential_process,
        "console": cmd_console,
        "whoami": cmd_whoami,
        "decode": cmd_decode,
        "add-user": cmd_add_user,
        "import-credentials": cmd_import_credentials,
    }
    return handlers[command](args)
