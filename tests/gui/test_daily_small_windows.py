"""Issue 13 item 18: small windows: at 800x500 the columns fit the tree (no sideways scrolling) and the toolbar
fits the window (no overflow arrow); at full width the columns stretch; the Add/Edit dialogs are wide enough
for their placeholders; Edit profile's Name looks read-only. Geometry, not pixels."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from gui_helpers import run
from PySide6.QtWidgets import QLineEdit, QToolButton

from stsdesk.gui.app import GuiApp
from stsdesk.gui.profile_dialog import ProfileDialog
from stsdesk.gui.tree_presentation import NAME

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _settle(gui: GuiApp, loop: asyncio.AbstractEventLoop, width: int, height: int) -> None:
    gui.window.resize(width, height)
    run(loop, asyncio.sleep(0.05))


def _visible_columns_width(gui: GuiApp) -> int:
    header = gui.window.tree.header()
    return sum(header.sectionSize(c) for c in range(header.count()) if not header.isSectionHidden(c))


def test_800x500_fits(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    _settle(gui, loop, 800, 500)
    window = gui.window
    assert window.width() <= 800
    viewport = window.tree.viewport().width()
    assert _visible_columns_width(gui) <= viewport  # no sideways scrolling
    assert not window.tree.horizontalScrollBar().isVisible()
    assert window.tree.header().sectionSize(NAME) >= 150
    assert window.toolbar.sizeHint().width() <= window.width()
    overflow = [b for b in window.toolbar.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
    assert not any(b.isVisible() for b in overflow)
    assert window.toolbar_shows(window.assume_action) and window.toolbar_shows(window.copy_exports_action)
    assert not window.toolbar_shows(window.settings_action)  # in the File menu instead


def test_full_width_stretches(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    _settle(gui, loop, 800, 500)
    narrow_name = gui.window.tree.header().sectionSize(NAME)
    _settle(gui, loop, 1900, 1000)
    viewport = gui.window.tree.viewport().width()
    assert abs(_visible_columns_width(gui) - viewport) <= 2  # the columns fill the tree
    header = gui.window.tree.header()
    assert all(not header.isSectionHidden(c) for c in range(header.count()))
    assert header.sectionSize(NAME) > narrow_name
    for act in (gui.window.settings_action, gui.window.edit_action, gui.window.decode_action):
        assert gui.window.toolbar_shows(act)


def test_profile_dialogs_fit_their_placeholders(gui: GuiApp) -> None:
    for existing in (None, gui.model.profile("dev-readonly"), gui.model.profile("alice")):
        dialog = ProfileDialog(gui.model.profile_names(), existing, gui.window)
        dialog.show()
        for edit in dialog.findChildren(QLineEdit):
            if edit.isVisible() and edit.placeholderText():
                needed = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
                assert edit.width() >= needed + 8, edit.placeholderText()
        if existing is not None:
            assert dialog.name.isReadOnly() and not dialog.name.hasFrame() and dialog.name.toolTip()
        dialog.reject()
        dialog.deleteLater()
