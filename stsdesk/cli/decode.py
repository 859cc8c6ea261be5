"""``stsdesk decode``: explain an encoded authorization failure message."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stsdesk.cli.parser import add_command, add_mfa_option

if TYPE_CHECKING:
    from stsdesk.cli.engine import Engine
    from stsdesk.cli.environment import Environment
    from stsdesk.core.decode import Verdict


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add decode to ``sub``."""
    p = add_command(
        sub, "decode", "decode an encoded authorization failure message",
        "Find the encoded authorization failure message in TEXT (or in what is pasted on stdin), decode it with "
        "sts:DecodeAuthorizationMessage and say which statement denied the request. Without --profile (and "
        "AWS_PROFILE), the profile that is the refused principal named in the text decodes it.",
        ("aws ec2 run-instances ... 2> error.txt; stsdesk decode < error.txt",
         "stsdesk decode --profile dev --json 'Encoded authorization failure message: ...'"),
    )
    p.add_argument("--profile", help="profile that may call sts:DecodeAuthorizationMessage")
    p.add_argument("text", nargs="?", default="-", help="the message or error text (- or none: read stdin)")
    p.add_argument("--json", action="store_true", help="the verdict as JSON")
    add_mfa_option(p)
    p.set_defaults(handler=cmd_decode)


def _profile_from_text(env: Environment, engine: Engine, text: str) -> str:
    """The profile to decode with when none was named: the one that is the principal refused in ``text``
    (said on stderr), else ``default``. ConfigError listing the candidates when several match, or when none
    does and there is no default profile."""
    from stsdesk.core.decode_profile import decode_candidates
    from stsdesk.core.errors import ConfigError

    tree = engine.broker.tree
    principal, candidates = decode_candidates(tree, text)
    if len(candidates) > 1:
        # Several are that principal: one with a live session decodes without asking for anything.
        live = [name for name in candidates if _has_live_session(engine, name)]
        candidates = live if len(live) == 1 else candidates
    if len(candidates) == 1:
        if principal is not None:
            env.warn(f"decoding as profile {candidates[0]} ({principal.arn} was refused)")
        return candidates[0]
    if candidates:
        raise ConfigError(
            f"several profiles could decode as {principal.arn if principal else 'that principal'}: "
            f"{', '.join(candidates)}; choose one with --profile"
        )
    if "default" in tree.profiles:
        return "default"
    who = f"matches {principal.arn}" if principal is not None else "is named in the text"
    raise ConfigError(f"no profile {who} and there is no default profile; choose one with --profile PROFILE")


def _has_live_session(engine: Engine, name: str) -> bool:
    meta = engine.broker.session_state(name)
    left = meta.seconds_left() if meta is not None else None
    return bool(left and left > 60)


def cmd_decode(env: Environment, args: argparse.Namespace) -> int:
    """Decode the message in ``args.text`` (or stdin) as ``--profile`` (else AWS_PROFILE, else default) and
    print the verdict. DecodeInputError when the text holds no encoded message."""
    import asyncio
    import json
    from dataclasses import asdict

    from stsdesk.cli.engine import make_engine
    from stsdesk.core.decode import render_verdict

    if args.text in (None, "-"):
        if env.stdin_is_tty:
            env.stderr.write("Paste the error text, then press Ctrl-D:\n")
        text = env.stdin.read()
    else:
        text = args.text
    engine = make_engine(env)
    profile = args.profile or env.environ.get("AWS_PROFILE") or _profile_from_text(env, engine, text)

    async def run() -> Verdict:
        if args.mfa_code:
            await engine.broker.credentials_for(profile, mfa_code=args.mfa_code)
        return await engine.broker.decode(text, profile)

    verdict = asyncio.run(run())
    engine.broker.cache.flush()  # sessions made on the way are written behind
    if args.json:
        env.out(json.dumps(asdict(verdict), indent=2, default=str))
    else:
        env.out(render_verdict(verdict).rstrip("\n"))
    return 0
