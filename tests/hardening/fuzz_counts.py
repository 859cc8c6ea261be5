"""Shared bits of the hardening tests: how many examples hypothesis runs, and a per-area case counter.

``STSDESK_FUZZ_EXAMPLES`` sets the example count of every fuzz test (default 150, `make fuzz` uses 5000).
Each fuzz test calls ``count(area)`` once per generated case; the hardening conftest prints the totals.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 150
CASES: Counter[str] = Counter()
KNOWN_BUGS: Counter[str] = Counter()  # cases that hit a bug already pinned by an xfail test


def examples() -> int:
    """The example count from STSDESK_FUZZ_EXAMPLES (a positive integer), else the default."""
    raw = os.environ.get("STSDESK_FUZZ_EXAMPLES", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_EXAMPLES
    return value if value > 0 else DEFAULT_EXAMPLES


def fuzz_settings(scale: float = 1.0) -> settings:
    """Hypothesis settings for a fuzz test: ``scale`` times the configured examples (at least 10), no
    deadline (a loaded CI box must not turn slowness into a failure)."""
    return settings(
        max_examples=max(10, int(examples() * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def count(area: str, n: int = 1) -> None:
    """Record ``n`` fuzz cases run in ``area`` (e.g. "emulator http", "config")."""
    CASES[area] += n


def known_bug(what: str) -> None:
    """Record a case that hit a known (xfail-pinned) bug and was tolerated."""
    KNOWN_BUGS[what] += 1
