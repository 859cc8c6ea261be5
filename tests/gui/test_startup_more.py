"""The real program in a subprocess: ``--exit-after-first-paint`` and ``--self-test`` (offscreen, temp config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
           "AWS_CONFIG_FILE": str(tmp_path / "no-config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-creds")}
    env.pop("STSDESK_CONFIG_DIR", None)
    command = [sys.executable, *python_flags, "-m", "stsdesk", *args, "--config-dir", str(tmp_path / "cfg")]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)


def test_exit_after_first_paint(tmp_path: Path) -> None:
    done = _run(tmp_path, "--demo", "--exit-after-first-paint")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (tmp_path / "cfg").is_dir()  # it ran against the given config dir


def test_self_test_assumes_a_demo_role(tmp_path: Path) -> None:
    done = _run(tmp_path, "--demo", "--self-test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test ok" in done.stdout
    assert "Traceback" not in done.stderr


def test_self_test_needs_demo(tmp_path: Path) -> None:
    done = _run(tmp_path, "--self-test")
    assert done.returncode == 2
    assert "--self-test needs --demo" in done.stderr


def test_window_shells_match_core_exports() -> None:
    # main_window keeps its own copy so that core.exports stays out of the imports before the first paint.
    from stsdesk.core.exports import SHELLS
    from stsdesk.gui import main_window

    assert main_window.SHELLS == SHELLS


def test_no_urllib_request_or_botocore_before_first_paint(tmp_path: Path) -> None:
    done = _run(tmp_path, "--demo", "--exit-after-first-paint", python_flags=("-X", "importtime"))
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "import time:" in line}
    assert "stsdesk.gui.main_window" in imported  # the import log is there
    assert not imported & {"urllib.request", "botocore", "boto3", "stsdesk.core.exports", "asyncio", "qasync"}


# Stops `stsdesk --demo` right after the demo's rows are painted (app.run's plain Qt event loop has returned) and
# says what was imported by then and what the tree showed.
_AT_ROWS_PAINTED = """
import json, os, sys
from PySide6.QtCore import QEvent, QObject
from stsdesk.cli import main
from stsdesk.gui import app, startup

painted = []

class Paints(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            painted.append(app_gui[0].model.rowCount())
        return False

watch = Paints()
app_gui = []
real_factory, real_rows_painted = app.build_window, startup.rows_painted

def factory(*args):
    gui = real_factory(*args)
    app_gui.append(gui)
    gui.window.tree.viewport().installEventFilter(watch)
    return gui

def rows_painted(gui, *args):
    real_rows_painted(gui, *args)
    print(json.dumps({"asyncio": "asyncio" in sys.modules, "qasync": "qasync" in sys.modules,
                      "rows": gui.model.rowCount(), "painted_rows": max(painted, default=0),
                      "profiles": gui.model.profile_names()}), flush=True)
    os._exit(0)

real_run = app.run
app.run = lambda args: real_run(args, gui_factory=factory)
startup.rows_painted = rows_painted
main(sys.argv[1:])
"""


def test_demo_rows_are_painted_before_asyncio_and_qasync_are_imported(tmp_path: Path) -> None:
    import json

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home")}
    env.pop("STSDESK_CONFIG_DIR", None)
    command = [sys.executable, "-c", _AT_ROWS_PAINTED, "--demo", "--config-dir", str(tmp_path / "cfg")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["rows"] > 0 and seen["painted_rows"] == seen["rows"]  # the demo's rows were painted
    assert "dev-readonly" in seen["profiles"]
    assert not seen["asyncio"] and not seen["qasync"]  # by a plain Qt event loop: neither is imported yet
