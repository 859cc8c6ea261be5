"""``stsdesk decode``: explain an encoded authorization failure message."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from stsdesk.cli.parser import add_mfa_option

if TYPE_CHECKING:
    from stsdesk.cli.environment import Environment
    from stsdesk.core.decode import Verdict


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add decode to ``sub``."""
    p = sub.add_parser("decode", help="decode an encoded authorization failure message")
    p.add_argument("--profile", help="profile that may call sts:DecodeAuthorizationMessage")
    p.add_argument("text", nargs="?", default="-", help="the message or error text (- or none: read stdin)")
    p.add_argument("--json", action="store_true")
    add_mfa_option(p)
    p.set_defaults(handler=cmd_decode)


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
    profile = args.profile or env.environ.get("AWS_PROFILE") or "default"
    engine = make_engine(env)

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
