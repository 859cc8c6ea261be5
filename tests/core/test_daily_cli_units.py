"""Issue 13 item 19 (terminal side): every stsdesk subcommand's --help says what it does, with an example;
the credential_process command names the running stsdesk by absolute path (core.self_command)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import pytest

from stsdesk.cli.parser import build_parser
from stsdesk.core.self_command import credential_process_command, credential_process_line, stsdesk_command

# The groups of this engineer's modules; sso and serve belong to their own modules' owners.
OWN = ("list", "add-user", "import-credentials", "forget", "assume", "exec", "credential-process", "console",
       "whoami", "decode", "emulator")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", OWN)
def test_help_says_what_the_command_does_with_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    sub = _subparsers()[name]
    with pytest.raises(SystemExit) as exited:
        sub.parse_args(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert sub.description and len(sub.description) > 60  # a sentence, not the one-line summary again
    assert sub.description.split()[0] in shown
    examples = shown.split("examples:\n", 1)[1]
    assert f"stsdesk {name}" in examples


def test_stsdesk_command_is_the_console_script_that_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "bin" / "stsdesk"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert stsdesk_command(str(script)) == [str(script)]
    monkeypatch.setenv("PATH", str(script.parent))  # started as a bare name, found on PATH
    assert stsdesk_command("stsdesk") == [str(script)]
    monkeypatch.chdir(tmp_path / "bin")
    assert stsdesk_command("./stsdesk") == [str(script)]  # relative: made absolute


def test_python_m_stsdesk_falls_back_to_the_script_beside_python_or_the_module(tmp_path: Path) -> None:
    python = tmp_path / "venv" / "bin" / "python3"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert stsdesk_command("/x/stsdesk/__main__.py", str(python)) == [str(python), "-m", "stsdesk"]
    beside = python.with_name("stsdesk")
    beside.write_text("#!/bin/sh\n")
    beside.chmod(0o755)
    assert stsdesk_command("/x/stsdesk/__main__.py", str(python)) == [str(beside)]


def test_credential_process_line_is_absolute_and_quoted(tmp_path: Path) -> None:
    directory = tmp_path / "my config"
    line = credential_process_line("dev admin", directory)
    assert line.startswith("credential_process = ")
    argv = shlex.split(line.split("=", 1)[1])  # as botocore splits it
    assert os.path.isabs(argv[0])
    assert argv[-4:] == ["--config-dir", str(directory), "credential-process", "dev admin"]
    assert credential_process_command("dev").endswith("credential-process dev")
    assert "--config-dir" not in credential_process_command("dev")


def test_the_line_runs_this_stsdesk() -> None:
    argv = shlex.split(credential_process_command("x"))
    runner = argv[0] if argv[1:2] != ["-m"] else sys.executable
    assert Path(runner).exists()
