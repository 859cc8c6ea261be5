"""``stsdesk emulator``: the STS emulator in the foreground."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stsdesk.cli.environment import Environment


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add emulator to ``sub``."""
    from stsdesk.cli.parser import add_command

    p = add_command(
        sub, "emulator", "run the STS emulator in the foreground",
        "Serve an AWS STS emulator (with IAM Identity Center and a little EC2) on 127.0.0.1 until Ctrl-C, for "
        "trying stsdesk or testing AWS code without an AWS account. It prints its endpoint: point endpoint_url "
        "(or AWS_ENDPOINT_URL) at it.",
        ("stsdesk emulator", "stsdesk emulator --scenario world.toml --port 4566 --state-dir ./emulator-state"),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port; see the endpoint: line)")
    p.add_argument("--scenario", metavar="FILE", help="world to serve, .toml or .json (default: the demo world)")
    p.add_argument("--state-dir", metavar="DIR", help="keep keys and MFA history here, so tokens survive a restart")
    p.add_argument(
        "--allow-time-travel",
        action="store_true",
        help="enable POST /_stsdesk/advance (seconds=N) to move the emulator's clock forward",
    )
    p.set_defaults(handler=cmd_emulator)


def cmd_emulator(env: Environment, args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM (0), or 1 with one line on stderr for a bad scenario or address.
    The emulator prints on this process's own stdout/stderr (its ``endpoint:`` line is read by scripts)."""
    from stsdesk.emulator.server import run_emulator

    return run_emulator(args.host, args.port, args.scenario, args.state_dir, args.allow_time_travel)
