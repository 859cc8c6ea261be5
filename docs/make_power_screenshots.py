"""Take docs/account-view.png and docs/mfa-waiting.png from the real window on the demo emulator (issue 16).

account-view.png: the "By account" view, prod coloured red and labelled PROD, dev green, with sessions.
mfa-waiting.png: the MFA dialog while three requests wait for alice's device (two profiles of this window and
a terminal's), with "Get code from YubiKey" (shown because a ``ykman`` is on PATH: a stand-in that is never run).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/make_power_screenshots.py docs
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import tempfile
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "gui"))


async def shoot(out: Path) -> None:
    from gui_helpers import dispose, make_gui, until

    from stsdesk.core.mfa_sources import TERMINAL
    from stsdesk.demo import ALICE_MFA

    work = Path(tempfile.mkdtemp(prefix="stsdesk-shot-"))
    bin_dir = work / "bin"
    bin_dir.mkdir()
    ykman = bin_dir / "ykman"
    ykman.write_text("#!/bin/sh\nexit 1\n")
    ykman.chmod(ykman.stat().st_mode | stat.S_IXUSR)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    gui, demo = make_gui(work)
    try:
        power = gui.power
        broker = gui.controller.broker
        assert power is not None and broker is not None
        gui.window.resize(1180, 560)
        gui.window.show()
        power.labels.set("333333333333", "#c62828", "PROD")
        power.labels.set("222222222222", "#2e7d32", None)
        for name in ("dev-readonly", "dev-saml", "ci-deployer"):
            await gui.controller.assume(name)
        header = gui.window.tree.header()
        for column, width in ((1, 110), (2, 170), (3, 150), (4, 80)):
            header.resizeSection(column, width)
        power.set_by_account(True)  # the account view takes the source tree's column widths
        gui.controller.select("dev-readonly")
        power.region_picker.choose("eu-west-2")
        await asyncio.sleep(1.0)
        gui.window.grab().save(str(out / "account-view.png"))

        tasks = [asyncio.ensure_future(gui.controller.assume("dev")),
                 asyncio.ensure_future(gui.controller.assume("prod-admin")),
                 asyncio.ensure_future(broker.credentials_for("alice", requester=TERMINAL))]
        dialog = await until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA))
        await until(lambda: len(dialog.waitlist.rows()) == 3)  # type: ignore[attr-defined]
        dialog.resize(720, dialog.sizeHint().height())
        await asyncio.sleep(2.5)  # the Waiting column counts
        dialog.grab().save(str(out / "mfa-waiting.png"))
        while not all(t.done() for t in tasks):
            for open_dialog in gui.controller.prompter.open_dialogs():
                open_dialog.reject()
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        dispose(gui, demo)


def main() -> int:
    app = QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(shoot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
