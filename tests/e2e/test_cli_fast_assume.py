"""`stsdesk assume PROFILE` from the cache (stsdesk.cli.fast_assume) prints byte for byte what the full path
prints, in every format, and steps aside whenever it could not: other arguments, changed AWS files or region
variables, an IAM user's own key, an MFA session kept under another key, a value a format refuses. Run against
the emulator with the in-memory keyring (in-process), plus one child process that checks what the cache hit
imports."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import unmeasured_env
from helpers.keyrings import MemoryKeyring

from stsdesk.cli import Environment, main
from stsdesk.cli.credentials import cmd_assume
from stsdesk.cli.fast_assume import (
    ASSUME_MIN_TTL,
    FORMATS,
    RECORD_NAME,
    assume_fast,
    plain_assume,
)
from stsdesk.cli.parser import SHELL_CHOICES, build_parser

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

BOB_KEY = "AKIAE2EBOB0000000001"  # the e2e scenario's IAM user without MFA (tests/e2e/conftest.py)


@pytest.fixture
def world_env(world: World, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring) -> World:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return world


def _env(extra: dict[str, str] | None = None) -> tuple[Environment, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    environ = dict(os.environ, **(extra or {}))
    env = Environment(stdout=out, stderr=err, environ=environ, stdin_is_tty=False, tty_available=lambda: False)
    return env, out, err


def full(argv: list[str], extra: dict[str, str] | None = None) -> str:
    """The full path (argparse, engine, Broker) for ``assume`` arguments, whatever the fast path would do."""
    env, out, err = _env(extra)
    args = build_parser().parse_args(argv)
    env.use_config_dir(args.config_dir)
    assert cmd_assume(env, args) == 0, err.getvalue()
    return out.getvalue()


def fast(argv: list[str], extra: dict[str, str] | None = None) -> str | None:
    """The fast path's output, or None when it stepped aside (then it must have printed nothing)."""
    env, out, _err = _env(extra)
    if assume_fast(argv, env):
        return out.getvalue()
    assert out.getvalue() == ""
    return None


def test_constants_match_the_full_path() -> None:
    import inspect

    from stsdesk.core.broker import Broker

    assert inspect.signature(Broker.__init__).parameters["min_ttl"].default == ASSUME_MIN_TTL
    assert set(SHELL_CHOICES) == FORMATS


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["assume", "dev"], ("dev", "bash", None, None)),
        (["assume", "dev", "--format", "fish"], ("dev", "fish", None, None)),
        (["assume", "--format=json", "dev", "--region", "eu-west-1"], ("dev", "json", "eu-west-1", None)),
        (["--config-dir", "/x", "assume", "dev"], ("dev", "bash", None, "/x")),
        (["--config-dir=/x", "assume", "dev", "--region=us-east-2"], ("dev", "bash", "us-east-2", "/x")),
    ],
)
def test_plain_assume_reads_the_plain_forms(argv: list[str], expected: tuple[str | None, ...]) -> None:
    args = plain_assume(argv)
    assert args is not None
    assert (args.profile, args.format, args.region, args.config_dir) == expected
    # ... and means what argparse makes of the same words
    parsed = build_parser().parse_args(argv)
    assert (parsed.profile, parsed.format, parsed.region, parsed.config_dir) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["assume"],
        ["assume", "dev", "other"],
        ["assume", "dev", "--no-session"],
        ["assume", "dev", "--duration", "900"],
        ["assume", "dev", "--mfa-code", "123456"],
        ["assume", "dev", "--form", "fish"],  # an abbreviation: argparse's business
        ["assume", "dev", "--format", "tcsh"],
        ["assume", "dev", "--format", "fish", "--format", "bash"],
        ["assume", "dev", "--region", " eu-west-1"],
        ["assume", "dev", "--region="],
        ["assume", "dev", "--region"],
        ["assume", "-dev"],
        ["assume", "--", "dev"],
        ["--demo", "assume", "dev"],
        ["exec", "assume", "--", "true"],
        ["assume", "dev", "--help"],
    ],
)
def test_plain_assume_leaves_everything_else_to_argparse(argv: list[str]) -> None:
    assert plain_assume(argv) is None


def test_cached_assume_is_byte_identical_in_every_format(world_env: World) -> None:
    # readonly: a role whose region comes from its source (bob); bob: an IAM user without MFA, whose
    # GetSessionToken session is cached as the profile's own.
    cases: list[tuple[list[str], dict[str, str]]] = [
        (["assume", "readonly"], {}),
        (["assume", "bob"], {}),
        (["assume", "readonly", "--region", "eu-west-1"], {}),
        (["assume", "readonly"], {"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "ap-south-2"}),
    ]
    for base, extra in cases:
        for shell in sorted(FORMATS):
            argv = [*base, "--format", shell]
            expected = full(argv, extra)
            assert fast(argv, extra) == expected, (argv, extra)
            env, out, err = _env(extra)
            assert main(argv, env) == 0 and out.getvalue() == expected and err.getvalue() == ""
    bash = fast(["assume", "bob"])
    assert bash is not None and BOB_KEY not in bash and "export AWS_ACCESS_KEY_ID='ASIA" in bash


def test_fast_path_steps_aside_when_an_input_changed(world_env: World) -> None:
    full(["assume", "readonly"])
    assert fast(["assume", "readonly"]) is not None
    # Region variables the decision did not see, another --region, another profile: no record for them.
    assert fast(["assume", "readonly"], {"AWS_REGION": "eu-central-1"}) is None
    assert fast(["assume", "readonly", "--region", "eu-west-3"]) is None
    assert fast(["assume", "bob"]) is None
    # The AWS files changed (the region might have): the full path decides, and records anew.
    world_env.config_file.write_text(world_env.config_file.read_text() + "\n# edited\n")
    assert fast(["assume", "readonly"]) is None
    again = full(["assume", "readonly"])
    assert fast(["assume", "readonly"]) == again


def test_no_session_and_mfa_users_never_take_the_fast_path(world_env: World) -> None:
    full(["assume", "bob"])
    own_key = full(["assume", "bob", "--no-session"])  # asked for explicitly: the long-term key
    assert f"AWS_ACCESS_KEY_ID='{BOB_KEY}'" in own_key
    assert fast(["assume", "bob", "--no-session"]) is None
    session = fast(["assume", "bob"])
    assert session is not None and BOB_KEY not in session
    # alice has an MFA device: her session is cached under the device's key, never recorded here.
    full(["assume", "alice", "--mfa-code", world_env.emulator.mfa_code()])
    assert fast(["assume", "alice"]) is None
    records = json.loads((world_env.config_dir / RECORD_NAME).read_text())["profiles"]
    assert set(records) == {"bob"}


def test_a_control_character_sends_the_command_to_the_full_path(world_env: World) -> None:
    full(["assume", "readonly"])
    path = world_env.config_dir / RECORD_NAME
    data = json.loads(path.read_text())
    data["profiles"]["readonly"]["region"] = "eu-west-1\x1b]0;pwned\x07"
    path.write_text(json.dumps(data))
    for shell in sorted(FORMATS - {"json"}):
        assert fast(["assume", "readonly", "--format", shell]) is None


CHILD = r"""
import json, sys
import keyring
from keyring.backend import KeyringBackend

class Memory(KeyringBackend):
    priority = 1
    items = {tuple(k.split("\0")): v for k, v in json.loads(sys.argv[1]).items()}
    def get_password(self, service, username):
        return self.items.get((service, username))
    def set_password(self, service, username, password):
        raise RuntimeError("the cache hit writes nothing")
    def delete_password(self, service, username):
        raise RuntimeError("the cache hit deletes nothing")

keyring.set_keyring(Memory())
before = set(sys.modules)
from stsdesk.cli import main
status = main(sys.argv[2:])
added = sorted(set(sys.modules) - before)
print(json.dumps({"status": status, "added": added}), file=sys.stderr)
"""

HEAVY = ("argparse", "asyncio", "botocore", "boto3", "dataclasses", "inspect", "logging", "stsdesk.core.model",
         "stsdesk.core.cache", "stsdesk.core.broker", "stsdesk.cli.engine", "stsdesk.cli.parser")


def test_cached_assume_imports_nothing_heavy(world_env: World, memory_keyring: MemoryKeyring) -> None:
    argv = ["assume", "readonly", "--format", "fish"]
    expected = full(argv)
    secrets = {"\0".join(key): value for key, value in memory_keyring.items.items()}
    env = dict(unmeasured_env(), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(secrets), *argv],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["status"] == 0
    assert done.stdout == expected
    assert [m for m in report["added"] if m in HEAVY or m.split(".")[0] in HEAVY] == []


PROCESS = r"""
import atexit, json, sys
import keyring
from keyring.backend import KeyringBackend

class Memory(KeyringBackend):
    priority = 1
    items = {tuple(k.split("\0")): v for k, v in json.loads(sys.argv[1]).items()}
    def get_password(self, service, username):
        return self.items.get((service, username))
    def set_password(self, service, username, password):
        self.items[(service, username)] = password
    def delete_password(self, service, username):
        self.items.pop((service, username), None)

keyring.set_keyring(Memory())
atexit.register(lambda: print("orderly shutdown", file=sys.stderr))
sys.argv = ["stsdesk", *sys.argv[2:]]
from stsdesk.cli import main
sys.exit(main())
"""


def test_the_process_ends_at_once_after_a_fast_answer(world_env: World, memory_keyring: MemoryKeyring) -> None:
    expected = full(["assume", "readonly", "--format", "json"])
    secrets = json.dumps({"\0".join(key): value for key, value in memory_keyring.items.items()})
    env = dict(unmeasured_env(), PYTHONPATH=str(Path(__file__).resolve().parents[2]))

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", PROCESS, secrets, *argv], capture_output=True, text=True, env=env, timeout=60,
            check=False,
        )

    fast_run = run("assume", "readonly", "--format", "json")
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (0, expected, "")  # flushed, no shutdown
    cp = run("credential-process", "readonly")
    assert cp.returncode == 0 and cp.stderr == ""
    assert json.loads(cp.stdout)["AccessKeyId"] == json.loads(expected)["AWS_ACCESS_KEY_ID"]
    # Any other answer takes the interpreter's orderly way out, as before.
    missing = run("assume", "no-such-profile")
    assert missing.returncode == 1 and missing.stderr.endswith("orderly shutdown\n")


def test_credential_process_no_session_is_never_answered_from_the_cache(world_env: World) -> None:
    env, out, err = _env()
    assert main(["credential-process", "bob"], env) == 0, err.getvalue()
    assert json.loads(out.getvalue())["AccessKeyId"] != BOB_KEY  # a GetSessionToken session, cached
    env, out, err = _env()
    assert main(["credential-process", "bob", "--no-session"], env) == 0, err.getvalue()
    assert json.loads(out.getvalue())["AccessKeyId"] == BOB_KEY  # asked for explicitly: the key itself
