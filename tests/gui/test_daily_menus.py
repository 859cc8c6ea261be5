"""Issue 13 item 17: a menu bar (File, Profile, Session, View, Help) where every action can be found, the
context menu's and the extenders' ones too, with shortcuts shown."""

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


def _titles(gui: GuiApp) -> list[str]:
    return [act.text().replace("&", "") for act in gui.window.menuBar().actions()]


def test_menu_bar_has_every_action(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    window = gui.window
    assert _titles(gui)[:5] == ["File", "Profile", "Session", "View", "Help"]
    in_menus = set(window.all_actions())
    for act in (*window.profile_actions, window.decode_action, window.add_action, window.settings_action,
                window.reload_action, window.quit_action, window.focus_filter_action):
        assert act in in_menus, act.text()
    assert gui.controller.select("dev-readonly")
    context = gui.controller.profile_menu()
    try:
        for act in context.actions():
            if act.isSeparator():
                continue
            if act.parent() is context:  # an extender's own entry: the Profile menu gets it too
                profile_menu = window.menus["profile"]
                profile_menu.aboutToShow.emit()
                texts = [a.text() for a in profile_menu.actions()]
                assert act.text() in texts, act.text()
            else:
                assert act in in_menus, act.text()
    finally:
        context.deleteLater()


def test_shortcuts_are_listed(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    window = gui.window
    assert window.copy_exports_action.shortcut().toString() == "Ctrl+Shift+C"
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"
    window.shortcuts_action.trigger()
    box = run(loop, until(lambda: [b for b in window.findChildren(QMessageBox) if b.isVisible()]))[0]
    assert "Ctrl+Shift+C" in box.text() and "Copy exports" in box.text() and "Enter" in box.text()
    box.accept()
