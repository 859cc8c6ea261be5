"""Resilience tests (faults, concurrency, secret hygiene, keyring faults): the figures they gathered are
printed at the end of the session ("faults injected: N, survived: M", "canary checks: K")."""

from __future__ import annotations

import pytest
from resilience_support import COUNTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COUNTS:
        return
    terminalreporter.write_sep("-", "resilience")
    terminalreporter.write_line(
        f"faults injected: {COUNTS['faults injected']}, survived: {COUNTS['faults survived']} "
        f"(retried to success; the rest ended in the one-line error the tests expect: "
        f"{COUNTS['faults injected'] - COUNTS['faults survived']})"
    )
    terminalreporter.write_line(f"canary checks: {COUNTS['canary checks']}")
    others = {k: v for k, v in COUNTS.items() if k not in ("faults injected", "faults survived", "canary checks")}
    for key, value in sorted(others.items()):
        terminalreporter.write_line(f"{key}: {value}")
