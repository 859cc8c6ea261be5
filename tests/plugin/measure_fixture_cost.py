"""Measure what the ``sts_emulator`` fixture costs per test: set-up, one AssumeRole, tear-down (in-process).

A script, not a test (no timed assertions): ``.venv/bin/python tests/plugin/measure_fixture_cost.py [N]``.
It runs two pytest sessions of N tests in a scratch directory, one whose tests each assume a role through
the fixture and one whose tests do nothing, and prints (with - without) / N. Target: <= 20 ms per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WITH_FIXTURE = '''
import pytest
from stsdesk.testing import World, allow

WORLD = World().account("111111111111").user("bob", policies=[allow("sts:AssumeRole")]).role(
    "Reader", trust="111111111111", policies=[allow("ec2:Describe*")])

@pytest.mark.sts_scenario(WORLD)
@pytest.mark.parametrize("n", range({n}))
def test_assume(sts_emulator, n):
    assert sts_emulator.credentials("bob", role="Reader")["AccessKeyId"].startswith("ASIA")
'''
WITHOUT = '''
import pytest

@pytest.mark.parametrize("n", range({n}))
def test_nothing(n):
    assert n >= 0
'''


def session_seconds(directory: Path, body: str, n: int) -> float:
    (directory / "test_it.py").write_text(body.replace("{n}", str(n)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=directory,
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        best_with = min(session_seconds(directory, WITH_FIXTURE, n) for _ in range(3))
        best_without = min(session_seconds(directory, WITHOUT, n) for _ in range(3))
    per_test_ms = (best_with - best_without) * 1000 / n
    print(f"sts_emulator fixture set-up + one AssumeRole + tear-down: {per_test_ms:.1f} ms per test "
          f"(best of 3 sessions of {n} tests; {best_with:.2f} s with, {best_without:.2f} s without)")


if __name__ == "__main__":
    main()
