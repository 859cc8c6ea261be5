"""Commands that hand out a profile's credentials: assume, exec, credential-process, console, whoami."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stsdesk.cli.parser import SHELL_CHOICES, add_command, add_mfa_option, add_no_session_option

if TYPE_CHECKING:
    from stsdesk.cli.environment import Environment
    from stsdesk.core.model import Identity


def region_argument(text: str) -> str:
    """argparse ``type`` for ``--region``: a valid AWS region name (usage error, status 2, otherwise)."""
    from stsdesk.core.errors import ConfigError
    from stsdesk.core.region import validate_region

    try:
        return validate_region(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_region_option(p: argparse.ArgumentParser) -> None:
    """``--region REGION``: the session's region (STS endpoint and SigV4 scope, exports, console)."""
    p.add_argument(
        "--region", type=region_argument, metavar="REGION",
        help="the session's region (default: the profile's region): STS is called there and it is exported",
    )


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add assume, exec, credential-process, console and whoami to ``sub``."""
    p = add_command(
        sub, "assume", "print exports for a profile's credentials",
        "Print shell commands that set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and the "
        "region for PROFILE, from the session cache or a fresh STS session (asking for an MFA code when one "
        "is needed). IAM users get a temporary session, not their long-term key (see --no-session).",
        ('eval "$(stsdesk assume dev)"', "stsdesk assume dev --format fish | source",
         "stsdesk assume prod-admin --duration 14400 --format json"),
    )
    p.add_argument("profile")
    p.add_argument("--format", choices=SHELL_CHOICES, default="bash")
    p.add_argument("--duration", type=int, metavar="S", help="session length in seconds")
    add_region_option(p)
    add_mfa_option(p)
    add_no_session_option(p)
    p.set_defaults(handler=cmd_assume)

    p = add_command(
        sub, "exec", "run CMD with the credentials in its environment",
        "Run CMD with PROFILE's credentials (and region) in its environment and exit with its status; with "
        "--server or --imds CMD gets a local endpoint that keeps its credentials fresh instead.",
        ("stsdesk exec dev -- aws s3 ls", "stsdesk exec --server prod-admin -- terraform apply"),
    )
    p.add_argument("profile")
    p.add_argument("--duration", type=int, metavar="S", help="session length in seconds")
    add_region_option(p)
    add_mfa_option(p)
    add_no_session_option(p)
    served = p.add_mutually_exclusive_group()  # stsdesk.cli.serve: a local endpoint instead of variables
    served.add_argument("--server", action="store_true", help="CMD gets a local container-provider endpoint")
    served.add_argument("--imds", action="store_true", help="CMD gets a local IMDSv2-style endpoint")
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")
    p.set_defaults(handler=cmd_exec, exec_parser=p)  # exec_parser: options written after PROFILE (serve.py)

    p = add_command(
        sub, "credential-process", "Version 1 JSON for credential_process in ~/.aws/config",
        "Print PROFILE's credentials as the credential_process Version 1 JSON the AWS CLI and SDKs read. "
        "Put the line below into another profile of ~/.aws/config; a cached session is answered in a few "
        "milliseconds.",
        ("[profile dev-cli]\n  credential_process = /usr/bin/stsdesk credential-process dev",
         "stsdesk credential-process dev"),
    )
    p.add_argument("profile")
    add_mfa_option(p)
    add_no_session_option(p)
    p.set_defaults(handler=cmd_credential_process)

    p = add_command(
        sub, "console", "print (or open) a console sign-in URL",
        "Print a sign-in URL for the AWS console as PROFILE (valid 15 minutes: treat it as a secret), or open "
        "it in the web browser with --open. IAM users sign in through a federation token. With --browser "
        "chromium or chrome each profile gets its own browser profile (under stsdesk's config dir), so several "
        "accounts stay signed in side by side; firefox opens each in its own container (needs the 'Open external "
        "links in a container' add-on with Multi-Account Containers).",
        ("stsdesk console dev --open", "stsdesk console prod-admin --open --browser chromium --service ec2 "
         "--region eu-west-1", "stsdesk console prod-admin --destination https://console.aws.amazon.com/s3/"),
    )
    p.add_argument("profile")
    p.add_argument("--open", action="store_true", help="open it in the web browser")
    p.add_argument("--duration", type=int, metavar="S", help="console session length in seconds")
    p.add_argument("--destination", metavar="URL", help="the console page to land on")
    p.add_argument("--service", metavar="NAME", help="land on this service's console (ec2, s3, iam...)")
    add_region_option(p)
    p.add_argument(
        "--browser", metavar="NAME",
        help="with --open: chromium, chrome or firefox (each profile in its own browser context), default "
        "(the system's), or the path of a Chromium-family browser; default: the console_browser setting",
    )
    add_mfa_option(p)
    p.set_defaults(handler=cmd_console)

    p = add_command(
        sub, "whoami", "GetCallerIdentity, readable",
        "Call GetCallerIdentity with PROFILE's credentials and print the account, ARN and user id.",
        ("stsdesk whoami dev",),
    )
    p.add_argument("profile")
    add_mfa_option(p)
    p.set_defaults(handler=cmd_whoami)


def cmd_assume(env: Environment, args: argparse.Namespace) -> int:
    """Print the exports of ``args.profile``'s credentials in ``args.format``."""
    import asyncio

    from stsdesk.cli.engine import credentials, export_region, make_engine
    from stsdesk.core.exports import render_exports

    engine = make_engine(env)
    creds = asyncio.run(credentials(env, engine, args))
    region = export_region(env, engine, args.profile, creds, args.region)
    env.stdout.write(render_exports(creds, args.format, region, args.profile))
    from stsdesk.cli.fast_assume import remember_export_region  # the next cached assume skips the engine

    remember_export_region(env, args, engine.directory, creds, region)
    return 0


def cmd_exec(env: Environment, args: argparse.Namespace) -> int:
    """Run ``args.cmd`` with the credentials in its environment; returns its exit status (128+N when killed
    by signal N). ConfigError when the command cannot be started."""
    import asyncio
    import subprocess

    from stsdesk.cli.engine import credentials, export_region, make_engine
    from stsdesk.cli.environment import UsageError
    from stsdesk.cli.serve import exec_command, exec_served
    from stsdesk.core.errors import ConfigError
    from stsdesk.core.exports import exec_environment

    command = exec_command(args)  # also takes exec's options written between PROFILE and --
    if not command:
        raise UsageError("exec needs a command: stsdesk exec PROFILE -- CMD [ARG...]")
    if args.server or args.imds:
        return exec_served(env, args, command)
    engine = make_engine(env)
    creds = asyncio.run(credentials(env, engine, args))
    child_env = exec_environment(env.environ, creds, export_region(env, engine, args.profile, creds, args.region))
    env.stdout.flush()
    env.stderr.flush()
    try:
        completed = subprocess.run(command, env=child_env, check=False)
    except FileNotFoundError:
        raise ConfigError(f"command not found: {command[0]}") from None
    except PermissionError:
        raise ConfigError(f"command not executable: {command[0]}") from None
    code = completed.returncode
    return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell


def cmd_credential_process(env: Environment, args: argparse.Namespace) -> int:
    """Print credential_process Version 1 JSON: the cache or the GUI first (no botocore), else the engine;
    then note the keyring backend so the next call can skip importing keyring."""
    import asyncio

    from stsdesk.cli.engine import credentials, make_engine
    from stsdesk.cli.fast_path import CREDENTIAL_PROCESS_MIN_TTL, credential_process_fast, record_keyring_backend
    from stsdesk.core.exports import credential_process_json

    fast = not args.mfa_code and not args.no_session and not getattr(args, "fast_path_tried", False)
    if fast and credential_process_fast(args, env):  # --no-session: never the cached session instead
        return 0
    engine = make_engine(env)
    creds = asyncio.run(credentials(env, engine, args, CREDENTIAL_PROCESS_MIN_TTL))
    env.stdout.write(credential_process_json(creds))
    env.stdout.flush()
    record_keyring_backend(env)
    return 0


def cmd_console(env: Environment, args: argparse.Namespace) -> int:
    """Print (or open with ``--open``) a console sign-in URL for ``args.profile``; ``--service``/``--region``
    choose the page, ``--browser`` (else the console_browser setting) the browser and its per-profile context."""
    import asyncio

    from stsdesk.cli.engine import make_engine
    from stsdesk.cli.environment import UsageError

    if args.service and args.destination:
        raise UsageError("choose one of --service and --destination")
    if args.browser and not args.open:
        raise UsageError("--browser opens the console: add --open")
    browser = None
    if args.open:
        from stsdesk.core.browsers import browser_setting, resolve_browser

        browser = resolve_browser(args.browser or browser_setting(env.config_dir(), env.environ))
    engine = make_engine(env)

    async def run() -> str:
        if args.mfa_code:  # primes the cache
            await engine.broker.credentials_for(args.profile, mfa_code=args.mfa_code, region=args.region)
        return await engine.broker.console_url(
            args.profile, duration=args.duration, destination=args.destination, region=args.region,
            service=args.service,
        )

    url = asyncio.run(run())
    engine.broker.cache.flush()  # sessions made on the way are written behind
    if browser is not None:
        from stsdesk.core.console_fetch import launch_console  # never on the browser's command line

        launched = launch_console(url, args.profile, browser, engine.directory)
        if not launched.opened:
            env.out(url)
            env.warn("no web browser could be opened; the URL above signs in (valid 15 minutes)")
        elif launched.context is not None:
            env.warn(f"opened {args.profile} in {browser.name} ({launched.context})")
        return 0
    env.out(url)
    return 0


def cmd_whoami(env: Environment, args: argparse.Namespace) -> int:
    """Print GetCallerIdentity for ``args.profile``'s credentials."""
    import asyncio

    from stsdesk.cli.engine import make_engine

    engine = make_engine(env)

    async def run() -> Identity:
        if args.mfa_code:
            await engine.broker.credentials_for(args.profile, mfa_code=args.mfa_code)
        return await engine.broker.whoami(args.profile)

    identity = asyncio.run(run())
    engine.broker.cache.flush()  # sessions made on the way are written behind
    env.out(f"Account: {identity.account}\nArn:     {identity.arn}\nUserId:  {identity.user_id}")
    return 0
