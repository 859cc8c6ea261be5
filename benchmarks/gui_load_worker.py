"""One cold "config load + tree ready" in a fresh process, as the app does it after its first paint.

Builds the real window (stsdesk.gui.app.build_window), shows it, then times from the call of
stsdesk.gui.app.load_engine on the AWS config named by AWS_CONFIG_FILE until the tree's viewport has finished
its first paint after the load. Qt lays out the tree's rows lazily (on the next turn of the event loop, just
before painting), so stopping the clock when load_engine returns would leave that layout out. Inside the load,
load_profiles (botocore's parser + the profile tree) is timed too. Prints JSON
{"load": s, "returned": s, "read": s, "profiles": n}.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> int:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # memory-only secrets; never the user's keyring
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from stsdesk.core import profiles
    from stsdesk.gui import app as app_module

    qapp = QApplication(sys.argv[:1])
    reads: list[float] = []
    real_read = profiles.load_profiles

    def timed_read(*args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_read(*args)
        finally:
            reads.append(time.perf_counter() - t0)

    class PaintWatch(QObject):
        """Counts paint events reaching the watched viewport (the view paints it right after this filter)."""

        def __init__(self) -> None:
            super().__init__()
            self.paints = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.paints += 1
            return False

    setattr(profiles, "load_profiles", timed_read)  # noqa: B010 - load_engine imports it at call time
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-load-") as tmp:
        gui = app_module.build_window(Path(tmp))
        gui.window.show()
        qapp.processEvents()
        viewport = gui.window.tree.viewport()
        watch = PaintWatch()
        viewport.installEventFilter(watch)
        t0 = time.perf_counter()
        app_module.load_engine(gui)
        returned = time.perf_counter() - t0
        deadline = time.perf_counter() + 10.0
        while not watch.paints and time.perf_counter() < deadline:
            # One turn of the loop: the deferred layout of the rows, then the repaint they asked for. The clock
            # stops once the turn that painted the viewport has returned, so the paint itself is counted.
            qapp.processEvents()
        painted = time.perf_counter()
        viewport.removeEventFilter(watch)
        if not watch.paints:
            raise RuntimeError("the tree was not repainted within 10 s of the load")
        load = painted - t0
        profiles_shown = len(gui.model.profile_names())
        for close in gui.closers:
            close()
        gui.window.close()
    read = reads[0] if reads else None
    print(json.dumps({"load": load, "returned": returned, "read": read, "profiles": profiles_shown}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
