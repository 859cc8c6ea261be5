"""Hardening tests: a demo emulator per module, and the count of fuzz cases each area ran, printed at the end
of the session ("fuzz cases run: N (emulator http), M (config), ...")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emu_client import DEMO_SCENARIO
from fuzz_counts import CASES, KNOWN_BUGS, examples

from stsdesk.emulator.app import build_server
from stsdesk.emulator.scenario import load_scenario
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState


@pytest.fixture(scope="module")
def demo_emulator() -> Iterator[EmulatorServer]:
    """The full emulator (STS, EC2, federation, console, demo IdP) over resources/demo.toml, in memory, with
    time travel allowed, started once per test module."""
    server = build_server(EmulatorState(load_scenario(DEMO_SCENARIO), None, allow_time_travel=True))
    server.start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CASES:
        return
    parts = ", ".join(f"{n} ({area})" for area, n in sorted(CASES.items()))
    terminalreporter.write_sep("-", "fuzz")
    terminalreporter.write_line(f"fuzz cases run: {parts}; total {sum(CASES.values())}")
    for what, n in sorted(KNOWN_BUGS.items()):
        terminalreporter.write_line(f"known bug tolerated in {n} cases: {what}")
    terminalreporter.write_line(f"(STSDESK_FUZZ_EXAMPLES={examples()} examples per property)")
