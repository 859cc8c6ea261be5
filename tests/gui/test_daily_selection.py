"""Issue 13 items 3 and 16: every action acts on the profile the window shows, or is disabled."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from gui_helpers import run, until
from PySide6.QtWidgets import QMessageBox

from stsdesk.gui.app import GuiApp

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _box(gui: GuiApp) -> QMessageBox | None:
    boxes = [b for b in gui.window.findChildren(QMessageBox) if b.isVisible()]
    return boxes[0] if boxes else None


def test_remove_profile_clears_details_and_disables_actions(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("alice-federated")
    run(loop, until(lambda: "alice-federated" in gui.window.details.toPlainText()))
    gui.window.remove_action.trigger()
    box = run(loop, until(lambda: _box(gui)))
    box.button(QMessageBox.StandardButton.Yes).click()
    run(loop, until(lambda: not gui.model.index_of("alice-federated").isValid()))
    run(loop, asyncio.sleep(0.05))
    shown = gui.window.details.toPlainText()
    assert "alice-federated" not in shown
    current = gui.controller.current_profile()
    # Whatever is current is what the pane shows; with nothing current, the profile actions are off.
    if current is None:
        for action in (gui.window.assume_action, gui.window.copy_exports_action, gui.window.console_action,
                       gui.window.remove_action, gui.window.edit_action, gui.window.forget_action):
            assert not action.isEnabled(), action.text()
    else:
        assert current in shown


def test_actions_disabled_without_selection(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    gui.window.tree.setCurrentIndex(gui.window.tree.model().index(-1, -1))
    run(loop, asyncio.sleep(0.05))
    assert gui.controller.current_profile() is None
    assert not gui.window.assume_action.isEnabled()
    assert not gui.window.copy_exports_action.isEnabled()
    assert gui.window.add_action.isEnabled() and gui.window.decode_action.isEnabled()
    assert gui.controller.select("dev-saml")
    assert gui.window.assume_action.isEnabled() and gui.window.copy_exports_action.isEnabled()
