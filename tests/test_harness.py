"""The test harness itself: the one keyring/display gate skips with the reason (shown by -ra) and fails under
CI=true; child-only tests are left out of a normal run; the coverage floor checker fails below its floors and
names the modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import unmeasured_env

REPO = Path(__file__).resolve().parent.parent
KEYRING_TEST = "tests/core/test_secrets.py::test_real_secret_service_round_trip"


def inner_pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = unmeasured_env()
    for name in ("CI", "STSDESK_TEST_SECRET_SERVICE", "STSDESK_TEST_KEYRING_PROBLEM"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )


def test_without_the_test_keyring_a_keyring_test_is_skipped_with_the_reason() -> None:
    done = inner_pytest(KEYRING_TEST)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 skipped" in done.stdout
    assert "SKIPPED [1]" in done.stdout and "no disposable test keyring" in done.stdout  # -ra, with the reason


def test_under_ci_a_keyring_test_without_the_keyring_fails() -> None:
    done = inner_pytest(KEYRING_TEST, CI="true", STSDESK_TEST_KEYRING_PROBLEM="gnome-keyring-daemon did not start")
    assert done.returncode == 1, done.stdout[-2000:]
    assert "CI=true and this `keyring` test cannot run: gnome-keyring-daemon did not start" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]


def test_under_ci_a_display_test_without_xvfb_fails(tmp_path: Path) -> None:
    # PATH without Xvfb: the display gate has nothing to start.
    done = inner_pytest("tests/gui/test_tray.py::test_under_xvfb_with_tray_host", CI="true", PATH=str(tmp_path))
    assert done.returncode == 1, done.stdout[-2000:]
    assert "CI=true and this `display` test cannot run: needs Xvfb on PATH (apt-get install xvfb)" in done.stdout


def test_child_only_tests_are_left_out_of_a_normal_run() -> None:
    done = inner_pytest("--collect-only", "tests/gui/test_tray.py")
    assert done.returncode == 0, done.stdout[-2000:]
    assert "test_child_real_tray" not in done.stdout
    assert "1 deselected" in done.stdout


def test_xfail_is_strict_and_skips_are_reported() -> None:
    import tomllib

    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert options["xfail_strict"] is True
    assert "-ra" in options["addopts"].split()


def floor(tmp_path: Path, files: dict[str, tuple[int, int]], *args: str) -> subprocess.CompletedProcess[str]:
    """Run tools/coverage_floor.py on a report with ``files``: path -> (statements, missing)."""
    report = {
        "files": {
            path: {"summary": {"num_statements": n, "missing_lines": miss,
                               "percent_covered": 100.0 * (n - miss) / n if n else 100.0}}
            for path, (n, miss) in files.items()
        },
        "totals": {
            "percent_covered": 100.0 * sum(n - m for n, m in files.values()) / sum(n for n, _ in files.values())
        },
    }
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report))
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "coverage_floor.py"), str(path), *args],
        capture_output=True, text=True, timeout=60, check=False, env=dict(os.environ),
    )


def test_coverage_floor_holds(tmp_path: Path) -> None:
    # 95% overall, the weakest module at 70% exactly, an empty __init__ without statements.
    done = floor(tmp_path, {"stsdesk/a.py": (500, 0), "stsdesk/b.py": (100, 30), "stsdesk/empty.py": (0, 0)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("coverage total: 95.0%")
    assert "70.0%  stsdesk/b.py (30 of 100 lines not run)" in done.stdout  # the lowest modules are listed


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"stsdesk/a.py": (100, 15), "stsdesk/b.py": (100, 15)}, "total 85.0% is under 90%"),
        ({"stsdesk/a.py": (1000, 0), "stsdesk/weak.py": (100, 31)}, "69.0%  stsdesk/weak.py"),
    ],
)
def test_coverage_floor_fails_and_names_what_is_under_it(
    tmp_path: Path, files: dict[str, tuple[int, int]], says: str
) -> None:
    done = floor(tmp_path, files)
    assert done.returncode == 1
    assert says in done.stderr
    assert "stsdesk/a.py" not in done.stderr  # only what is under a floor is named


def test_coverage_floor_refuses_what_is_not_a_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "coverage_floor.py"), str(bad)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "Traceback" not in done.stderr
