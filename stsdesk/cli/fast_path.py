"""``stsdesk credential-process PROFILE`` without argparse, botocore or keyring when the answer is cached.

The AWS CLI and SDKs run credential_process before every command, so this path imports only the standard
library's lightest modules and stsdesk's import-light readers (cache_index, fingerprint, paths, fast_secret),
and the process ends without the interpreter's teardown once an answer is printed (``exit_if_answered_fast``,
also used by :mod:`stsdesk.cli.fast_assume`, the cached ``assume``).
"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False  # not typing's: ~2 ms of import on a path that must cost little more than Python's start
if TYPE_CHECKING:
    from stsdesk.cli.environment import Environment

# The AWS SDKs refresh 15 minutes before expiry: hand them sessions that will not need it at once.
CREDENTIAL_PROCESS_MIN_TTL = 960.0

_answered_fast = False


def mark_answered_fast() -> None:
    """Note that a fast path (this module's, or stsdesk.cli.fast_assume) printed the command's answer."""
    global _answered_fast
    _answered_fast = True


def exit_if_answered_fast(env: Environment, status: int) -> None:
    """End the process at once with ``status`` when a fast path answered and ``env`` writes to the process's
    own stdout: the interpreter's orderly shutdown (tearing down every imported module, jeepney's and
    typing's among them) costs ~5 ms, a tenth of the whole cached answer, and has nothing left to do: the fast
    paths hold no file, lock, thread or atexit work, and stdout and stderr are flushed here first. Returns
    (and the normal exit follows) otherwise, or when a flush fails."""
    import sys

    if not _answered_fast or env.stdout is not sys.__stdout__:
        return
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return  # the normal exit reports or ignores it as it always did
    import os

    os._exit(status)


def plain_credential_process(argv: list[str]) -> SimpleNamespace | None:
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


def credential_process_fast(args: object, env: Environment | None = None) -> bool:
    """Answer credential-process without importing botocore: from the cache, else from the running GUI
    (terminal bridge, which may show its MFA prompt); False when neither can (then sets
    ``args.bridge_asked`` so the engine does not ask the GUI again). Raises BridgeError when the GUI answered
    with an error (MFA cancelled, STS refused...); OSError when the config directory cannot be created."""
    from stsdesk.cli.environment import Environment
    from stsdesk.core.cache_index import credential_process_document, fast_session
    from stsdesk.core.fingerprint import aws_config_paths_light, source_fingerprint
    from stsdesk.core.paths import keyring_namespace
    from stsdesk.core.secrets import service_name

    env = Environment(config_dir=getattr(args, "config_dir", None)) if env is None else env
    profile: str = getattr(args, "profile")  # noqa: B009 - SimpleNamespace or argparse.Namespace
    directory = env.config_dir()
    config_file, credentials_file = aws_config_paths_light(env.environ)
    fingerprint = source_fingerprint(profile, config_file, credentials_file, directory, env.environ)
    service = service_name(keyring_namespace(directory))
    found = fast_session(directory, f"profile:{profile}", CREDENTIAL_PROCESS_MIN_TTL, fingerprint, service=service)
    if found is not None:
        # Rendered without stsdesk.core.exports/model (dataclasses): a cache hit imports nothing it can skip.
        env.stdout.write(credential_process_document(found))
        env.stdout.flush()
        mark_answered_fast()
        return True
    from stsdesk.core.bridge_client import bridge_directory, bridge_request  # stdlib, no asyncio

    creds = bridge_request(bridge_directory(directory), profile, None, fmt="credential-process")
    setattr(args, "bridge_asked", True)  # noqa: B010 - no GUI: the engine must not ask it again
    if creds is None:
        return False
    from stsdesk.core.exports import credential_process_json

    env.stdout.write(credential_process_json(creds))
    env.stdout.flush()
    mark_answered_fast()
    return True


def record_keyring_backend(env: Environment) -> None:
    """After the full credential-process path (which stored or read the session through keyring): note the
    keyring backend in the config directory so the next call can skip importing keyring. Best effort."""
    from stsdesk.core.paths import keyring_namespace
    from stsdesk.core.secrets import SecretStore, service_name

    try:
        directory = env.config_dir()
        SecretStore(service_name(keyring_namespace(directory))).record_backend(directory)
    except OSError:
        pass  # the answer is already on stdout; the next call just takes the keyring way again
