"""Take docs/sso-tree.png (and, with QT_SCALE_FACTOR=2, docs/sso-tree-2x.png) from the real window on the demo
emulator: sign in to the demo's Identity Center (approved with the dialog's demo aid as ana), assume
ic-dev-developer, serve it, and grab the window.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/make_sso_screenshot.py docs/sso-tree.png
    xvfb-run -a -s "-screen 0 2800x1800x24" env QT_SCALE_FACTOR=2 \\
        .venv/bin/python docs/make_sso_screenshot.py docs/sso-tree-2x.png
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gui"))


async def shoot(out: Path) -> None:
    from gui_helpers import dispose, make_gui, until

    gui, demo = make_gui(Path(tempfile.mkdtemp(prefix="stsdesk-shot-")))
    try:
        gui.window.resize(1360, 560)
        gui.window.show()
        sso = gui.sso
        assert sso is not None and sso.rows is not None and gui.serving is not None
        sso.open_url = lambda url: True  # no browser: the demo aid approves
        row = next(iter(sso.rows.sessions))
        task = sso.sign_in(row)
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and sso.dialogs[row].url else None)
        await until(lambda: "Waiting" in dialog.status.text())
        dialog.demo_button.click()
        assert await task
        await gui.controller.assume("ic-dev-developer")
        gui.controller.show_tree()
        header = gui.window.tree.header()
        for column, width in enumerate((250, 185, 250)):
            header.resizeSection(column, width)
        gui.window.tree.expandAll()
        gui.controller.select("ic-dev-developer")
        await gui.serving.serve("ic-dev-developer")
        await asyncio.sleep(1.0)
        gui.window.grab().save(str(out))
        await gui.serving.close()
    finally:
        dispose(gui, demo)


def main() -> int:
    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/sso-tree.png")))
    loop.close()  # joins the executor's threads before Qt goes away
    return 0


if __name__ == "__main__":
    sys.exit(main())
