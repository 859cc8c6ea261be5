"""Issue 17: `stsdesk --demo` paints its rows without building PySide6's Qt namespace (its first use builds all of
its ~93 enums, 22-34 ms of CPU): run in a child up to the tree's first paint with rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, os, sys
import PySide6.QtCore as core
from stsdesk.cli import main
from stsdesk.gui import app
from PySide6.QtCore import QEvent, QObject, QTimer

class Painted(QObject):
    def __init__(self, view):
        super().__init__()
        self.view = view
        view.viewport().installEventFilter(self)
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and self.view.model().rowCount():
            built = "Qt" in vars(core)
            QTimer.singleShot(0, lambda: (print(json.dumps({"qt_built": built, "rows": self.view.model().rowCount()}),
                                                flush=True), os._exit(0)))
        return False

watches = []
def factory(*args):
    gui = app.build_window(*args)
    watches.append(Painted(gui.window.tree))
    return gui

original = app.run
app.run = lambda args: original(args, gui_factory=factory)
sys.exit(main(sys.argv[1:]))
"""


def test_the_rows_are_painted_without_the_qt_namespace(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    env.pop("DISPLAY", None)
    (tmp_path / "cfg").mkdir(mode=0o700)
    done = subprocess.run([sys.executable, "-c", CHILD, "--config-dir", str(tmp_path / "cfg"), "--demo"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows"] > 0
    assert result["qt_built"] is False
