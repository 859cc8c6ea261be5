"""`stsdesk` with no command reads the GUI's options without building the full parser (stsdesk.cli._gui_arguments):
the same Namespace as the full parser for what it takes, and the full parser for anything else."""

from __future__ import annotations

import argparse

import pytest

import stsdesk.cli as cli
from stsdesk.cli import Environment, UsageError, main
from stsdesk.cli.parser import build_parser

TAKEN = [
    [],
    ["--demo"],
    ["--config-dir", "/tmp/x", "--demo"],
    ["--config-dir=/tmp/x"],
    ["--config-dir="],
    ["--config-dir", ""],
    ["--config-dir=-odd"],
    ["--config-dir", "list"],  # a directory named like a command: the option's value, as argparse reads it
    ["--demo", "--self-test", "--exit-after-first-paint"],
    ["--config-dir", "a", "--config-dir", "b"],  # the last one wins
    ["--demo", "--demo"],
]
LEFT_TO_THE_PARSER = [
    ["--dem"],  # an abbreviation: argparse takes it
    ["--config", "/tmp/x"],
    ["--config-dir", "--demo"],
    ["--config-dir"],
    ["--config-dir", "-"],
    ["--help"],
    ["-h"],
    ["--version"],
    ["list"],
    ["--demo", "list"],
    ["--", "--demo"],
    ["--bogus"],
    [""],
]


@pytest.mark.parametrize("arguments", TAKEN)
def test_the_gui_options_read_as_the_full_parser_reads_them(arguments: list[str]) -> None:
    fast = cli._gui_arguments(arguments)
    assert fast is not None
    assert fast == build_parser().parse_args(arguments)
    assert fast.command is None


@pytest.mark.parametrize("arguments", LEFT_TO_THE_PARSER)
def test_anything_else_is_left_to_the_full_parser(arguments: list[str]) -> None:
    assert cli._gui_arguments(arguments) is None


def test_the_window_opens_without_building_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[argparse.Namespace] = []

    def no_parser() -> argparse.ArgumentParser:
        raise AssertionError("the full parser was built")

    def open_gui(env: Environment, args: argparse.Namespace) -> int:
        opened.append(args)
        return 0

    monkeypatch.setattr(cli, "build_parser", no_parser)
    monkeypatch.setattr(cli, "_open_gui", open_gui)
    assert main(["--config-dir", "/tmp/somewhere", "--demo"], Environment(environ={})) == 0
    assert opened == [
        argparse.Namespace(
            command=None, config_dir="/tmp/somewhere", demo=True, exit_after_first_paint=False, self_test=False
        )
    ]


def test_a_usage_error_from_the_window_still_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def open_gui(env: Environment, args: argparse.Namespace) -> int:
        raise UsageError("--self-test needs --demo")

    monkeypatch.setattr(cli, "_open_gui", open_gui)
    with pytest.raises(SystemExit) as exited:
        main(["--self-test"], Environment(environ={}))
    assert exited.value.code == 2
    assert "--self-test needs --demo" in capsys.readouterr().err
