"""One cold "config load + tree model ready" in a fresh process, as the app does it after its first paint.

Builds the real window (stsdesk.gui.app.build_window), then times stsdesk.gui.app.load_engine on the AWS config
named by AWS_CONFIG_FILE, and inside it load_profiles (botocore's parser + the profile tree). The window is
shown first, so the tree view lays out its rows as it would in the app. Prints JSON {"load": s, "read": s}.
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

    setattr(profiles, "load_profiles", timed_read)  # noqa: B010 - load_engine imports it at call time
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-load-") as tmp:
        gui = app_module.build_window(Path(tmp))
        gui.window.show()
        qapp.processEvents()
        t0 = time.perf_counter()
        app_module.load_engine(gui)
        load = time.perf_counter() - t0
        profiles_shown = len(gui.model.profile_names())
        for close in gui.closers:
            close()
        gui.window.close()
    print(json.dumps({"load": load, "read": reads[0] if reads else None, "profiles": profiles_shown}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
