"""The CLI (a subprocess) against `stsdesk emulator --scenario` with injected faults, seen through a counting
proxy: retryable faults are survived; persistent ones end in exit 1 with one line on stderr, nothing on
stdout, nothing cached; a response cut off mid-way exports nothing; a skewed clock says to fix the clock."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from resilience_support import (
    COUNTS,
    LONG_TERM_SECRETS,
    CliWorld,
    CountingProxy,
    EmulatorProcess,
    assert_one_line_failure,
    make_world,
    start_emulator_process,
)

Setup = Callable[..., tuple[CliWorld, CountingProxy]]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    started: list[tuple[EmulatorProcess, CountingProxy]] = []

    def make(burn: int = 0, truncate: bool = False, **faults: int) -> tuple[CliWorld, CountingProxy]:
        emulator = start_emulator_process(tmp_path / "emulator", **faults)
        for _ in range(burn):  # use up request numbers so that the CLI's first request is the faulted one
            try:
                with urllib.request.urlopen(f"{emulator.endpoint}/?Action=GetCallerIdentity", timeout=10):
                    pass
            except Exception:
                pass
        proxy = CountingProxy(emulator.endpoint, truncate=truncate)
        started.append((emulator, proxy))
        return make_world(tmp_path / "home", proxy.endpoint), proxy

    yield make
    for emulator, proxy in started:
        proxy.stop()
        emulator.stop()


def cached_sessions(world: CliWorld) -> dict[str, object]:
    index = world.config_dir / "sessions.json"
    if not index.exists():
        return {}
    return dict(json.loads(index.read_text())["sessions"])


def issued_secrets(proxy: CountingProxy) -> list[str]:
    """Secret keys and session tokens in every STS answer the emulator sent (before any truncation)."""
    found: list[str] = []
    for response in proxy.responses:
        for tag in (b"SecretAccessKey", b"SessionToken"):
            found += [m.decode() for m in re.findall(rb"<%s>([^<]+)</%s>" % (tag, tag), response)]
    return found


@pytest.mark.parametrize(
    "faults", [{"throttle_every": 2}, {"error_5xx_every": 2}, {"drop_every": 2}], ids=["throttle", "5xx", "drop"]
)
def test_cli_survives_a_retryable_fault(setup: Setup, faults: dict[str, int]) -> None:
    world, proxy = setup(burn=1, **faults)
    result = world.stsdesk("assume", "readonly", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert "Traceback" not in result.stderr
    assert proxy.faults() == 1 and proxy.counts["requests"] == 2
    COUNTS["faults injected"] += proxy.faults()
    COUNTS["faults survived"] += proxy.faults()


@pytest.mark.parametrize(
    ("faults", "needle"),
    [({"error_5xx_every": 1}, "InternalFailure"), ({"drop_every": 1}, "cannot reach the STS endpoint")],
    ids=["5xx", "drop"],
)
def test_cli_gives_up_with_one_line_when_every_request_fails(
    setup: Setup, faults: dict[str, int], needle: str
) -> None:
    world, proxy = setup(**faults)
    result = world.stsdesk("credential-process", "readonly")
    assert_one_line_failure(result, needle, "gave up after 4 attempts")
    assert not any(secret in result.stderr for secret in LONG_TERM_SECRETS)
    assert cached_sessions(world) == {}
    assert proxy.faults() == 4
    COUNTS["faults injected"] += proxy.faults()


def test_a_response_cut_off_mid_way_exports_nothing(setup: Setup) -> None:
    world, proxy = setup(truncate=True)
    result = world.stsdesk("assume", "readonly", "--format", "bash")
    assert_one_line_failure(result, "cut off or malformed")
    secrets = issued_secrets(proxy)
    assert secrets, "the emulator issued credentials that the proxy cut off"
    assert not any(secret in result.stderr for secret in secrets)
    assert cached_sessions(world) == {}
    COUNTS["faults injected"] += proxy.counts["truncated"]


@pytest.mark.parametrize("offset", [3600, -1200])
def test_a_skewed_clock_says_to_fix_the_clock(setup: Setup, offset: int) -> None:
    world, proxy = setup(clock_offset_seconds=offset)
    result = world.stsdesk("whoami", "readonly")
    assert_one_line_failure(result, "clock", "set the system clock right")
    assert proxy.counts["requests"] == 1  # a skewed clock is not retried
    assert cached_sessions(world) == {}
    COUNTS["faults injected"] += 1
