"""CLI commands run in-process through stsdesk.cli.main with an injected Environment (string streams, a fake
terminal, the test's variables) against the emulator: what a subprocess test sees, without the subprocess."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.cli import Environment, main
from stsdesk.cli.parser import COMMAND_MODULES, build_parser

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

BOB_KEY = "AKIAE2EBOB0000000001"  # the e2e scenario's (tests/e2e/conftest.py)
MFA_SERIAL = "arn:aws:iam::111111111111:mfa/alice"


@dataclass
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def cli(world: World, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring) -> Iterator[CliRunner]:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    yield CliRunner(world)


class CliRunner:
    """Runs ``main(argv, env)`` with string streams; ``tty`` says whether an MFA prompt could be shown and
    ``typed`` what the terminal answers to each prompt."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.prompts: list[str] = []

    def __call__(self, *argv: str, stdin: str = "", tty: bool = False, typed: tuple[str, ...] = ()) -> Run:
        answers = iter(typed)

        def getpass(prompt: str) -> str:
            self.prompts.append(prompt)
            return next(answers)

        out, err = io.StringIO(), io.StringIO()
        env = Environment(
            stdin=io.StringIO(stdin), stdout=out, stderr=err, stdin_is_tty=False,
            tty_available=lambda: tty, getpass=getpass,
        )
        status = main(list(argv), env)
        return Run(status, out.getvalue(), err.getvalue())


def test_list_json_in_process(cli: CliRunner) -> None:
    run = cli("list", "--json")
    assert (run.status, run.err) == (0, "")
    rows = {row["name"]: row for row in json.loads(run.out)}
    assert {"alice", "bob", "readonly", "dev", "deployer"} <= set(rows)
    assert rows["deployer"]["depth"] == 2 and rows["deployer"]["state"] == "none"


def test_assume_json_then_cached_credential_process(cli: CliRunner) -> None:
    run = cli("assume", "readonly", "--format", "json")
    assert run.status == 0, run.err
    exported = json.loads(run.out)
    assert exported["AWS_ACCESS_KEY_ID"].startswith("ASIA") and exported["AWS_ACCESS_KEY_ID"] != BOB_KEY
    # The session is cached: credential-process answers it from the cache on the fast path, same key.
    again = cli("credential-process", "readonly")
    assert again.status == 0, again.err
    assert json.loads(again.out)["AccessKeyId"] == exported["AWS_ACCESS_KEY_ID"]
    listed = {row["name"]: row for row in json.loads(cli("list", "--json").out)}
    assert listed["readonly"]["state"] == "active"


def test_mfa_without_a_terminal_says_what_to_do(cli: CliRunner) -> None:
    run = cli("assume", "dev")
    assert run.status == 1
    assert run.out == ""
    assert run.err.count("\n") == 1 and "needs an MFA code" in run.err and "--mfa-code" in run.err


def test_mfa_prompt_on_the_terminal(cli: CliRunner) -> None:
    code = cli.world.emulator.mfa_code()
    run = cli("whoami", "dev", tty=True, typed=("12", code))  # a malformed code first: asked again
    assert run.status == 0, run.err
    assert "Arn:     arn:aws:sts::222222222222:assumed-role/Developer/" in run.out
    assert len(cli.prompts) == 2 and MFA_SERIAL in cli.prompts[0]
    assert "an MFA code is 6 digits" in run.err


def test_usage_errors_exit_2(cli: CliRunner, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in ((("exec", "bob"), "exec needs a command"), (("forget",), "forget needs a PROFILE")):
        with pytest.raises(SystemExit) as exited:
            cli(*argv)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err


def test_add_user_reads_the_secret_from_stdin(cli: CliRunner, memory_keyring: MemoryKeyring) -> None:
    secret = "in/process/Secret0000000000000000000001"
    run = cli("add-user", "carol", "--access-key-id", "AKIAINPROCESS0000001", "--region", "eu-west-1",
              stdin=secret + "\n")
    assert run.status == 0, run.err
    assert "profile carol: access key AKIAINPROCESS0000001 stored in the keyring" in run.out
    assert secret in memory_keyring.items.values()
    text = cli.world.config_file.read_text()
    assert "[profile carol]" in text and "stsdesk_access_key_id = AKIAINPROCESS0000001" in text
    assert secret not in text


def test_decode_without_a_message_is_one_line(cli: CliRunner) -> None:
    run = cli("decode", "--profile", "bob", stdin="An error occurred (AccessDenied) but nothing encoded\n")
    assert run.status == 1 and run.out == ""
    assert run.err.startswith("stsdesk: ") and run.err.count("\n") == 1


def test_every_command_module_registers_handlers() -> None:
    import argparse

    def leaves(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return [(path, parser)]
        return [leaf for sub in subs for name, child in sub.choices.items() for leaf in leaves(child, f"{path} {name}")]

    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
    commands = leaves(build_parser(), "stsdesk")
    assert len(commands) >= 11
    for path, command_parser in commands:
        assert callable(command_parser.get_default("handler")), path
