"""Issue 13 item 14: the filter: several words in any order, Enter assumes the first match, Down moves into
the results, and a parent shown only for context is never the selection."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from gui_helpers import run, until
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from stsdesk.gui.app import GuiApp
from stsdesk.gui.tree_presentation import STATE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _visible_names(gui: GuiApp) -> list[str]:
    proxy, names = gui.window.tree.model(), []

    def walk(parent: object) -> None:
        for row in range(proxy.rowCount(parent)):
            index = proxy.index(row, 0, parent)
            names.append(index.data())
            walk(index)

    from PySide6.QtCore import QModelIndex

    walk(QModelIndex())
    return names


def test_words_in_any_order(gui: GuiApp) -> None:
    gui.window.filter_edit.setText("admin prod")
    shown = _visible_names(gui)
    assert "prod-admin" in shown and "dev-readonly" not in shown and "prod-deployer" not in shown
    assert gui.controller.current_profile() == "prod-admin"  # alice is only there for context
    gui.window.filter_edit.setText("prod admin")
    assert "prod-admin" in _visible_names(gui)


def test_a_context_parent_is_never_the_selection(gui: GuiApp) -> None:
    gui.window.filter_edit.setText("prod admin")
    proxy = gui.window.tree.model()
    parent = proxy.index(0, 0)
    assert parent.data() == "alice" and not proxy.is_match(parent)
    gui.window.tree.setCurrentIndex(parent)  # a click on alice
    assert gui.controller.current_profile() == "prod-admin"
    assert "prod-admin" in gui.window.details.toPlainText()


def test_down_moves_into_the_results(gui: GuiApp, qtbot: object) -> None:
    gui.window.activateWindow()
    gui.window.filter_edit.setFocus()
    QTest.keyClicks(gui.window.filter_edit, "deployer")
    gui.window.tree.setCurrentIndex(gui.window.tree.model().index(0, 0))  # alice: context only
    QTest.keyClick(gui.window.filter_edit, Qt.Key.Key_Down)
    assert gui.window.tree.hasFocus() or gui.window.focusWidget() is gui.window.tree
    assert gui.controller.current_profile() in ("prod-deployer", "ci-deployer")
    assert gui.window.tree.model().is_match(gui.window.tree.currentIndex())


def test_enter_assumes_the_first_match(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    gui.window.filter_edit.setFocus()
    QTest.keyClicks(gui.window.filter_edit, "readonly dev")
    QTest.keyClick(gui.window.filter_edit, Qt.Key.Key_Return)
    run(loop, until(lambda: gui.model.index_of("dev-readonly", STATE).data() == "active", 15))
    assert gui.controller.current_profile() == "dev-readonly"
