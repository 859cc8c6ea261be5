"""Issue 13 item 13: the MFA dialog keeps its layout at every state (after a wrong code the Code field shrank
to a few pixels), at 1x and 2x, with long ARNs. Geometry is compared, not pixels."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from gui_helpers import run, until
from PySide6.QtCore import QRect

from stsdesk.gui.app import GuiApp
from stsdesk.gui.mfa_dialog import MfaDialog

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

LONG_ROLE = "arn:aws:iam::333333333333:role/team/platform/very/long/path/OrganizationAccountAccessRoleForAudits"


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _check_layout(dialog: MfaDialog) -> None:
    inside = dialog.rect()
    shown = [w for w in (dialog.heading, dialog.profiles_label, dialog.role_label, dialog.device_label,
                         dialog.code, dialog.error_label, dialog.hint_label, dialog.buttons) if w.isVisible()]
    for widget in shown:
        assert inside.contains(widget.geometry()), widget.objectName()
        assert widget.height() >= widget.minimumSizeHint().height() - 1, widget.objectName()
    assert dialog.code.height() >= dialog.code.sizeHint().height()
    assert dialog.code.width() >= 150
    from PySide6.QtWidgets import QTreeView

    for table in dialog.findChildren(QTreeView):  # a list in the dialog (the requests waiting) shows its rows
        if table.isVisible() and table.model() is not None and table.model().rowCount() > 0:
            first = table.visualRect(table.model().index(0, 0))
            assert table.viewport().rect().contains(first), table.objectName()
    # Nothing covers anything else: the rows are stacked.
    rects = [QRect(w.mapTo(dialog, w.rect().topLeft()), w.size()) for w in shown]
    for i, first in enumerate(rects):
        for second in rects[i + 1:]:
            assert not first.intersects(second), (shown[rects.index(first)].objectName(),)


def test_wrong_code_keeps_the_code_field(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    task = asyncio.ensure_future(gui.controller.assume("dev"), loop=loop)
    dialog = run(loop, until(lambda: gui.window.findChild(MfaDialog)))
    dialog.set_requests(["dev", "prod-admin"], ["arn:aws:iam::222222222222:role/Developer", LONG_ROLE])
    run(loop, asyncio.sleep(0.05))
    _check_layout(dialog)
    before = dialog.code.height()
    dialog.code.setText("000000")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    run(loop, until(lambda: dialog.error_label.isVisible() and dialog.code.isEnabled(), 15))
    run(loop, asyncio.sleep(0.05))
    _check_layout(dialog)
    assert dialog.code.height() == before
    from PySide6.QtWidgets import QTreeView

    for table in dialog.findChildren(QTreeView):  # long texts: a horizontal scroll bar must not cover the rows
        table.header().resizeSection(1, 3000)
    run(loop, asyncio.sleep(0.05))
    _check_layout(dialog)
    dialog.reject()
    assert run(loop, task) is None


PROBE = r'''
import json, sys
from PySide6.QtWidgets import QApplication
from stsdesk.gui.mfa_dialog import MfaDialog
app = QApplication(sys.argv)
d = MfaDialog("arn:aws:iam::111111111111:mfa/alice-with-a-long-device-name", lambda: "Demo aid: 123456")
d.set_requests(["prod-admin"], [sys.argv[1]])
d.show()
out = {}
def snap(tag):
    app.processEvents()
    out[tag] = {"dialog": d.size().toTuple(), "code": d.code.geometry().getRect(),
                "code_hint": d.code.sizeHint().height(), "error": d.error_label.geometry().getRect(),
                "buttons": d.buttons.geometry().getRect(), "ratio": d.devicePixelRatioF()}
snap("start")
d.code.setText("123456"); d._submit(); snap("checking")
d.show_error("The MFA code was not accepted (wrong or already used): wait for the next code and type it. " * 2)
d.set_checking(False); snap("error")
print(json.dumps(out))
'''


@pytest.mark.parametrize("scale", ["1", "2"])
def test_layout_at_every_state_and_scale(scale: str) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR=scale)
    done = subprocess.run([sys.executable, "-c", PROBE, LONG_ROLE], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    states = json.loads(done.stdout.strip().splitlines()[-1])
    assert states["start"]["ratio"] == float(scale)
    heights = {tag: state["code"][3] for tag, state in states.items()}
    assert len(set(heights.values())) == 1, heights  # the same at every state
    for state in states.values():
        _x, y, w, h = state["code"]
        assert h >= state["code_hint"] and w >= 150
        _bx, by, _bw, bh = state["buttons"]
        assert by >= y + h  # the buttons stay below the field
        assert state["dialog"][1] >= by + bh
    _ex, ey, _ew, eh = states["error"]["error"]
    _x, y, w, h = states["error"]["code"]
    assert ey >= y + h and eh > 0  # the error line is under the field, not on it
