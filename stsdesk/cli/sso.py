"""``stsdesk sso login|logout|status|sync``: IAM Identity Center from the terminal.

The work is :mod:`stsdesk.core.sso`'s; this module prints. ``login --no-browser`` prints ``open: URL`` (and
``code: USER-CODE`` for the device flow) on stdout, one per line, flushed, then waits; Ctrl+C cancels with
exit status 130 and one line.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from stsdesk.cli.engine import Engine
    from stsdesk.cli.environment import Environment
    from stsdesk.core.sso.service import SsoService
    from stsdesk.core.sso.signin import SignInEvent


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sso`` with its login, logout, status and sync subcommands to ``sub``."""
    sso = sub.add_parser("sso", help="IAM Identity Center: sign in, sign out, status, discover roles")
    actions = sso.add_subparsers(dest="sso_command", metavar="ACTION", required=True)

    p = actions.add_parser("login", help="sign in (PKCE in the browser; --device-code for another device)")
    p.add_argument("session", nargs="?", metavar="SESSION", help="sso-session name (default: the only one)")
    p.add_argument("--device-code", action="store_true", help="sign in with a code, e.g. on another device")
    p.add_argument("--no-browser", action="store_true", help="print the URL (and code) instead of opening it")
    p.set_defaults(handler=cmd_login)

    p = actions.add_parser("logout", help="sign out: server-side Logout, token and cached role sessions removed")
    p.add_argument("session", nargs="?", metavar="SESSION")
    p.add_argument("--all", action="store_true", help="every sign-in session")
    p.set_defaults(handler=cmd_logout)

    p = actions.add_parser("status", help="sign-in sessions and when each expires")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = actions.add_parser("sync", help="accounts and roles you may use; --write adds the missing profiles")
    p.add_argument("session", nargs="?", metavar="SESSION")
    p.add_argument("--write", action="store_true", help="add profiles for them to the AWS config file")
    p.add_argument("--prefix", default="", metavar="P", help="start the new profile names with P")
    p.set_defaults(handler=cmd_sync)


def _engine(env: Environment) -> tuple[Engine, SsoService]:
    from stsdesk.cli.engine import make_engine
    from stsdesk.core.sso.service import SsoService

    engine = make_engine(env, with_prompt=False)
    service = SsoService(engine.directory, engine.secrets, env=env.environ)
    engine.broker.sso = service
    return engine, service


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    from datetime import UTC, datetime

    left = (moment - datetime.now(UTC)).total_seconds()
    stamp = moment.astimezone().strftime("%Y-%m-%d %H:%M")
    if left <= 0:
        return f"{stamp} (expired)"
    hours, rest = divmod(int(left), 3600)
    return f"{stamp} (in {hours} h {rest // 60} min)" if hours else f"{stamp} (in {rest // 60} min)"


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url, new=2))
    except Exception:  # no browser, broken BROWSER variable...: the URL is printed instead
        return False


# -- login -------------------------------------------------------------------------------------------------


def cmd_login(env: Environment, args: argparse.Namespace) -> int:
    """Sign in; 0 signed in, 1 failed (one line), 130 cancelled."""
    import asyncio

    from stsdesk.core.sso.errors import SignInCancelled
    from stsdesk.core.sso.signin import EventKind

    engine, service = _engine(env)
    session = service.session(engine.broker.tree, args.session)
    flow = service.sign_in(session, device_code=args.device_code)

    def show(event: SignInEvent) -> None:
        if event.kind is EventKind.OPEN_URL and event.url:
            if args.no_browser or not _open_browser(event.url):
                env.stdout.write(f"open: {event.url}\n")
                env.stdout.flush()
            else:
                env.warn(f"opened the sign-in page in your browser (if it did not open, visit {event.url})")
        elif event.kind is EventKind.USER_CODE and event.user_code:
            env.stdout.write(f"code: {event.user_code}\n")
            env.stdout.flush()
        elif event.kind is EventKind.WAITING and not args.no_browser:
            env.warn(f"waiting for the sign-in to be approved in the browser (until {_when(event.until)})")

    flow.on_event(show)
    try:
        state = asyncio.run(flow.run())
    except SignInCancelled as exc:
        env.warn(str(exc))
        return 130
    except KeyboardInterrupt:
        env.warn("sign-in cancelled")
        return 130
    renew = f"; renewed automatically, at most until {_when(state.sign_in_ends())}" if state.refreshable else ""
    env.out(f"signed in to {session.label} (access token until {_when(state.access_expires)}{renew})")
    return 0


# -- status --------------------------------------------------------------------------------------------------


def cmd_status(env: Environment, args: argparse.Namespace) -> int:
    """Print every sign-in session's state; 0 always when the config can be read."""
    import json

    engine, service = _engine(env)
    rows: list[dict[str, Any]] = []
    for session in service.sessions(engine.broker.tree):
        state = service.status(session)
        left = state.seconds_left()
        rows.append(
            {
                "session": session.name,
                "start_url": session.start_url,
                "region": session.region,
                "storage": service.storage,
                "signed_in": state.signed_in,
                "state": "damaged"
                if state.problem
                else "signed out"
                if not state.signed_in
                else ("active" if left is not None and left > 0 else "expired")
                + (", renewable" if state.refreshable else ""),
                "user": service.signed_in_user(engine.broker.tree, session, engine.broker.cache.sessions()),
                "access_token_expires": state.access_expires.isoformat() if state.access_expires else None,
                "access_token_seconds_left": int(left) if left is not None and left > 0 else 0 if left else None,
                "sign_in_ends": (ends.isoformat() if (ends := state.sign_in_ends()) else None),
                "refreshable": state.refreshable,
                "problem": state.problem,
            }
        )
    if args.json:
        env.out(json.dumps(rows, indent=2))
        return 0
    if not rows:
        env.out("no IAM Identity Center sessions in the AWS config file")
        return 0
    from datetime import datetime

    for row in rows:
        label = row["session"] or row["start_url"]
        env.out(f"{label}: {row['state']}  ({row['start_url']}, {row['region']}, tokens in {row['storage']})")
        if row["user"]:
            env.out(f"  signed in as: {row['user']}")
        if row["signed_in"]:
            access = row["access_token_expires"]
            env.out(f"  access token: {_when(datetime.fromisoformat(access) if access else None)}")
            ends = row["sign_in_ends"]
            # The refresh token's own life is not told to clients: the registration's expiry bounds it.
            what = "sign-in renewed automatically, at most until" if row["refreshable"] else "sign-in ends"
            env.out(f"  {what}: {_when(datetime.fromisoformat(ends) if ends else None)}")
        if row["problem"]:
            env.out(f"  problem: {row['problem']}")
    return 0


# -- logout --------------------------------------------------------------------------------------------------


def cmd_logout(env: Environment, args: argparse.Namespace) -> int:
    """Sign out of one session (or all with --all); 0 done (also when not signed in)."""
    from stsdesk.cli.environment import UsageError

    if args.all and args.session:
        raise UsageError("give a SESSION or --all, not both")
    engine, service = _engine(env)
    tree = engine.broker.tree
    sessions = service.sessions(tree) if args.all else [service.session(tree, args.session)]
    for session in sessions:
        result = service.sign_out(session, tree, forget=engine.broker.forget)
        what = "signed out of" if result.had_sign_in else "was not signed in to"
        extra = f"; {result.sessions_dropped} cached role session(s) dropped" if result.sessions_dropped else ""
        cli = f"; {result.cli_cache_files} AWS CLI cache file(s) removed" if result.cli_cache_files else ""
        env.out(f"{what} {session.label}{extra}{cli}")
    engine.broker.cache.flush()
    return 0


# -- sync ----------------------------------------------------------------------------------------------------


def cmd_sync(env: Environment, args: argparse.Namespace) -> int:
    """Discover accounts and roles, print them; with --write add the missing profiles. 0 ok, 1 failed."""
    from stsdesk.cli.environment import UsageError
    from stsdesk.core.sso import sync
    from stsdesk.core.sso.errors import SsoConfigError

    problem = sync.check_prefix(args.prefix)
    if problem:
        raise UsageError(problem)
    engine, service = _engine(env)
    tree = engine.broker.tree
    session = service.session(tree, args.session)
    if session.name is None:
        raise SsoConfigError(
            f"{session.label} is a legacy start URL: sync writes profiles that use an [sso-session]; add one"
        )
    accounts = service.discover(session)
    existing = {
        name: {"sso_session": p.sso_session, "sso_account_id": p.sso_account_id, "sso_role_name": p.sso_role_name}
        for name, p in tree.profiles.items()
    }
    plan = sync.plan(session.name, session.region, accounts, existing, args.prefix)
    roles = sum(len(a.roles) for a in accounts)
    env.out(f"{len(accounts)} account(s), {roles} role(s) in {session.label}")
    for profile in plan.profiles:
        mark = "" if profile.existing else "  (new)"
        env.out(f"{profile.account_id}  {sync.safe_part(profile.account_name) or '-'}  {profile.role_name}  "
                f"{profile.name}{mark}")
    for skipped in plan.skipped:
        env.warn(f"skipped {skipped}")
    if not args.write:
        if plan.missing:
            env.out(f"{len(plan.missing)} profile(s) missing; add them with: stsdesk sso sync {session.name} --write")
        return 0
    from stsdesk.core.profiles import display_path

    written = sync.write(tree.config_file, plan)
    env.out(f"added {len(written)} profile(s) to {display_path(tree.config_file)}")
    return 0
