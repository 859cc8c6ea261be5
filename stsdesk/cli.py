"""stsdesk's command line: one argparse entry point; ``stsdesk`` with no command opens the GUI.

Only the standard library is imported at module level so that ``--help``, ``list`` and the cached
``credential-process`` answer stay fast; the engine (botocore, keyring) is imported by the commands that need
it. Expected failures print one line on stderr and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

from stsdesk import __version__
from stsdesk.core.errors import StsdeskError

SHELL_CHOICES = ("bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")
# The AWS SDKs refresh 15 minutes before expiry: hand them sessions that will not need it at once.
CREDENTIAL_PROCESS_MIN_TTL = 960.0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (DESIGN.md "Command line")."""
    import argparse  # ~1.5 ms: not on the plain credential-process path, which never builds the parser

    parser = argparse.ArgumentParser(prog="stsdesk", description="Desktop credential manager for AWS STS.")
    parser.add_argument("--version", action="version", version=f"stsdesk {__version__}")
    parser.add_argument(
        "--config-dir", metavar="DIR", help="stsdesk's own state (default: STSDESK_CONFIG_DIR)"
    )
    parser.add_argument("--demo", action="store_true", help="open the GUI on the embedded emulator")
    parser.add_argument("--exit-after-first-paint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--self-test", action="store_true", help="with --demo: assume a demo role and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="profiles as a tree, with state and time left")
    p.add_argument("--json", action="store_true")

    def mfa(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mfa-code", metavar="CODE", help="the 6-digit MFA code, if one is needed")

    p = sub.add_parser("assume", help="print exports for a profile's credentials")
    p.add_argument("profile")
    p.add_argument("--format", choices=SHELL_CHOICES, default="bash")
    p.add_argument("--duration", type=int, metavar="S")
    mfa(p)

    p = sub.add_parser("exec", help="run CMD with the credentials in its environment")
    p.add_argument("profile")
    p.add_argument("--duration", type=int, metavar="S")
    mfa(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")

    p = sub.add_parser("credential-process", help="Version 1 JSON for credential_process in ~/.aws/config")
    p.add_argument("profile")
    mfa(p)

    p = sub.add_parser("console", help="print (or open) a console sign-in URL")
    p.add_argument("profile")
    p.add_argument("--open", action="store_true", help="open it in the web browser")
    p.add_argument("--duration", type=int, metavar="S")
    p.add_argument("--destination", metavar="URL")
    mfa(p)

    p = sub.add_parser("whoami", help="GetCallerIdentity, readable")
    p.add_argument("profile")
    mfa(p)

    p = sub.add_parser("decode", help="decode an encoded authorization failure message")
    p.add_argument("--profile", help="profile that may call sts:DecodeAuthorizationMessage")
    p.add_argument("text", nargs="?", default="-", help="the message or error text (- or none: read stdin)")
    p.add_argument("--json", action="store_true")
    mfa(p)

    p = sub.add_parser("add-user", help="long-term keys into the keyring (secret from stdin or a prompt)")
    p.add_argument("profile")
    p.add_argument("--access-key-id", required=True, metavar="ID")
    p.add_argument("--mfa-serial", metavar="ARN")
    p.add_argument("--region")

    p = sub.add_parser("import-credentials", help="move keys from ~/.aws/credentials into the keyring")
    p.add_argument("profiles", nargs="*", metavar="PROFILE")

    p = sub.add_parser("forget", help="drop cached sessions")
    p.add_argument("profile", nargs="?")
    p.add_argument("--all", action="store_true")

    p = sub.add_parser("emulator", help="run the STS emulator in the foreground")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port; see the endpoint: line)")
    p.add_argument("--scenario", metavar="FILE", help="world to serve, .toml or .json (default: the demo world)")
    p.add_argument("--state-dir", metavar="DIR", help="keep keys and MFA history here, so tokens survive a restart")
    p.add_argument("--allow-time-travel", action="store_true",
                   help="enable POST /_stsdesk/advance (seconds=N) to move the emulator's clock forward")
    return parser


def _fail(message: str) -> int:
    print(f"stsdesk: {' '.join(message.split())}", file=sys.stderr)
    return 1


def _plain_credential_process(argv: list[str]) -> SimpleNamespace | None:
    """The arguments of exactly ``[--config-dir DIR | --config-dir=DIR] credential-process PROFILE``, the form
    written into ~/.aws/config, without building the parser; None for anything else (argparse decides)."""
    rest = argv
    config: str | None = None
    if rest and rest[0].startswith("--config-dir="):
        config, rest = rest[0].partition("=")[2], rest[1:]
    elif len(rest) >= 2 and rest[0] == "--config-dir" and not rest[1].startswith("-"):
        config, rest = rest[1], rest[2:]
    if len(rest) != 2 or rest[0] != "credential-process" or rest[1].startswith("-"):
        return None
    return SimpleNamespace(config_dir=config, command="credential-process", profile=rest[1], mfa_code=None)


def _credential_process_fast(args: argparse.Namespace | SimpleNamespace) -> bool:
    """Answer credential-process without importing botocore: from the cache, else from the running GUI
    (terminal bridge, which may show its MFA prompt); False when neither can. Raises BridgeError when the
    GUI answered with an error (MFA cancelled, STS refused...)."""
    from stsdesk.core.cache_index import credential_process_document, fast_session
    from stsdesk.core.fingerprint import aws_config_paths_light, source_fingerprint
    from stsdesk.core.paths import config_dir, keyring_namespace
    from stsdesk.core.secrets import service_name

    directory = config_dir(args.config_dir)
    config_file, credentials_file = aws_config_paths_light()
    fingerprint = source_fingerprint(args.profile, config_file, credentials_file, directory)
    service = service_name(keyring_namespace(directory))
    found = fast_session(
        directory, f"profile:{args.profile}", CREDENTIAL_PROCESS_MIN_TTL, fingerprint, service=service
    )
    if found is not None:
        # Rendered without stsdesk.core.exports/model (dataclasses): a cache hit imports nothing it can skip.
        sys.stdout.write(credential_process_document(found))
        sys.stdout.flush()
        return True
    from stsdesk.core.bridge import bridge_directory, bridge_request

    creds = bridge_request(bridge_directory(directory), args.profile, None, fmt="credential-process")
    args.bridge_asked = True  # no GUI: the engine below must not ask it again
    if creds is None:
        return False
    from stsdesk.core.exports import credential_process_json

    sys.stdout.write(credential_process_json(creds))
    sys.stdout.flush()
    return True


def _record_keyring_backend() -> None:
    """After the full credential-process path (which stored or read the session through keyring): note the
    keyring backend in the config directory so the next call can skip importing keyring. Best effort."""
    from stsdesk.core.paths import config_dir, keyring_namespace
    from stsdesk.core.secrets import SecretStore, service_name

    try:
        directory = config_dir()
        SecretStore(service_name(keyring_namespace(directory))).record_backend(directory)
    except OSError:
        pass  # the answer is already on stdout; the next call just takes the keyring way again


def _open_gui(args: argparse.Namespace) -> int:
    import importlib

    try:
        app = importlib.import_module("stsdesk.gui.app")  # lazy: Qt only for the GUI
    except ImportError as exc:
        return _fail(f"the GUI is not available ({exc}); use a command, see stsdesk --help")
    result = app.main(args)
    return int(result or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run stsdesk with ``argv`` (default: sys.argv[1:]).

    Returns the exit status: 0 ok, 1 the operation failed (one line on stderr), 2 usage (argparse exits)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    quick = _plain_credential_process(arguments)
    if quick is not None:
        # Building the full parser costs ~10 ms (argparse's help formatter imports shutil, gettext, locale):
        # too much for a call the AWS CLI makes before every command. The fast path needs only two values.
        if quick.config_dir:
            os.environ["STSDESK_CONFIG_DIR"] = quick.config_dir
        try:
            if _credential_process_fast(quick):
                return 0
        except StsdeskError as exc:
            return _fail(str(exc))
        except KeyboardInterrupt:
            print(file=sys.stderr)
            return 130
    parser = build_parser()
    args = parser.parse_args(arguments)
    if quick is not None:
        args.fast_path_tried = True
        args.bridge_asked = getattr(quick, "bridge_asked", False)
    if args.config_dir:
        os.environ["STSDESK_CONFIG_DIR"] = args.config_dir  # one source of truth for every later lookup
    try:
        if args.command is None:
            return _open_gui(args)
        if args.command == "emulator":
            from stsdesk.emulator.server import run_emulator

            return run_emulator(args.host, args.port, args.scenario, args.state_dir, args.allow_time_travel)
        if (
            args.command == "credential-process"
            and not args.mfa_code
            and not getattr(args, "fast_path_tried", False)
            and _credential_process_fast(args)
        ):
            return 0
        from stsdesk.cli_commands import run_command

        status = run_command(parser, args)
        if args.command == "credential-process" and status == 0:
            _record_keyring_backend()
        return status
    except StsdeskError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except Exception as exc:
        from stsdesk.emulator.scenario import ScenarioError

        if isinstance(exc, ScenarioError):
            return _fail(str(exc))
        raise


def entry_point() -> None:
    """Console-script wrapper: exits with main()'s status."""
    sys.exit(main())
