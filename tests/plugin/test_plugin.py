"""The pytest plugin (``stsdesk.testing``) used exactly as a user would: through the installed ``pytest11``
entry point, by a pytest run in a separate directory that imports nothing from stsdesk's own tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
USER_TESTS = 8  # tests in user_tests.py


def run_pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``directory`` (its own rootdir: none of stsdesk's configuration applies)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    env["HOME"] = str(directory)  # no ~/.aws of the machine
    env["COLUMNS"] = "400"  # whole error lines in the short summary
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnknownMarkWarning",
         *args],
        cwd=directory, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    shutil.copy(HERE / "user_tests.py", tmp_path / "test_user.py")
    shutil.copy(HERE / "world.toml", tmp_path / "world.toml")
    return tmp_path


def passed(done: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"(\d+) passed", done.stdout)
    return int(found.group(1)) if found else 0


def test_the_entry_point_is_installed() -> None:
    (plugin,) = [e for e in entry_points(group="pytest11") if e.name == "stsdesk"]
    assert plugin.value == "stsdesk.testing"


def test_a_users_tests_pass_in_process(user_project: Path) -> None:
    done = run_pytest(user_project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert passed(done) == USER_TESTS


def test_a_users_tests_pass_with_subprocess_emulators(user_project: Path) -> None:
    done = run_pytest(user_project, "--sts-emulator-subprocess")
    assert done.returncode == 0, done.stdout + done.stderr
    assert passed(done) == USER_TESTS


def test_the_marker_selects_a_subprocess_for_one_test(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text(
        "import pytest\n"
        "@pytest.mark.sts_emulator_subprocess\n"
        "def test_it(sts_emulator):\n"
        "    assert sts_emulator._process is not None and sts_emulator._process.poll() is None\n"
        "    assert sts_emulator.client('sts', user='alice').get_caller_identity()['Account'] == '111111111111'\n"
    )
    done = run_pytest(tmp_path)
    assert done.returncode == 0 and passed(done) == 1, done.stdout + done.stderr


def test_a_bad_world_fails_the_test_with_the_scenarios_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "test_bad.py").write_text(
        "import pytest\n"
        "from stsdesk.testing import World\n"
        "@pytest.mark.sts_scenario(World().account('12345').user('x'))\n"
        "def test_short_account(sts_emulator):\n"
        "    pass\n"
        "@pytest.mark.sts_scenario('missing.toml')\n"
        "def test_missing_file(sts_emulator):\n"
        "    pass\n"
    )
    done = run_pytest(tmp_path, "-rE")
    assert done.returncode == 1, done.stdout
    assert "2 error" in done.stdout
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(errors) == 2
    assert any("sts_scenario" in line and "12345" in line for line in errors), errors
    assert any("missing.toml" in line and "cannot read" in line for line in errors), errors
    assert "Traceback" not in done.stdout and "scenario.py" not in done.stdout
    assert "During handling" not in done.stdout


def test_markers_and_option_are_documented(tmp_path: Path) -> None:
    markers = run_pytest(tmp_path, "--markers")
    assert "@pytest.mark.sts_scenario(world)" in markers.stdout
    assert "@pytest.mark.sts_emulator_subprocess" in markers.stdout
    helptext = run_pytest(tmp_path, "--help")
    assert "--sts-emulator-subprocess" in helptext.stdout


def test_the_plugin_imports_no_qt_and_no_boto3_at_load() -> None:
    code = "import sys, stsdesk.testing; print(sorted(m for m in ('PySide6', 'boto3', 'botocore') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    readme = (HERE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your AWS code with the emulator", 1)[1]
    example = section.split("```python", 1)[1].split("```", 1)[0]
    # The example calls `aws` from PATH; here the CLI is the one installed next to this Python.
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    (tmp_path / "test_readme.py").write_text(example)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                          env={**env, "PATH": env_path, "HOME": str(tmp_path)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and passed(done) == 1, done.stdout + done.stderr
