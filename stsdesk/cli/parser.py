"""The argument definition: global options here, each command group's subcommands in its own module.

A command module (listed in ``COMMAND_MODULES``) has ``add_parsers(sub)``, which adds its subcommands to the
``sub`` action and sets ``handler=<callable(env: Environment, args) -> int>`` on each. A module imports only
the standard library at module level: building the parser must stay cheap (``--help``, ``list``).
"""

from __future__ import annotations

import argparse
import importlib

from stsdesk import __version__

# stsdesk.cli.<name> for each; a new command group is one more name here.
COMMAND_MODULES: tuple[str, ...] = ("profiles", "credentials", "decode", "emulator", "sso", "serve")

SHELL_CHOICES = ("bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")


def add_mfa_option(p: argparse.ArgumentParser) -> None:
    """``--mfa-code CODE``, for commands that may need to start an MFA session."""
    p.add_argument("--mfa-code", metavar="CODE", help="the 6-digit MFA code, if one is needed")


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    examples: tuple[str, ...],
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does (``description``) and shows ``examples``; ``summary`` is
    its line in ``stsdesk --help``."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_no_session_option(p: argparse.ArgumentParser) -> None:
    """``--no-session``: an IAM user profile's long-term key itself instead of a session (explicit only)."""
    p.add_argument(
        "--no-session",
        action="store_true",
        help="IAM user profiles: hand out the long-term access key itself instead of a temporary "
        "GetSessionToken session (the default); other profiles are unaffected",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (DESIGN.md "Command line"). Raises ImportError/AttributeError only for a
    broken entry in COMMAND_MODULES (a bug)."""
    parser = argparse.ArgumentParser(prog="stsdesk", description="Desktop credential manager for AWS STS.")
    parser.add_argument("--version", action="version", version=f"stsdesk {__version__}")
    parser.add_argument(
        "--config-dir", metavar="DIR", help="stsdesk's own state (default: STSDESK_CONFIG_DIR)"
    )
    parser.add_argument("--demo", action="store_true", help="open the GUI on the embedded emulator")
    parser.add_argument("--exit-after-first-paint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--self-test", action="store_true", help="with --demo: assume a demo role and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"stsdesk.cli.{name}").add_parsers(sub)
    return parser
