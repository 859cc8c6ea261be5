"""Issue 13 item 19 (GUI): favourites are marked in the tree and in the tray menu; the times in an open tray
menu keep ticking."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator

import pytest
from gui_helpers import run
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMenu

from stsdesk.gui.app import GuiApp, start_tray
from stsdesk.gui.tree_presentation import NAME, PROFILE_NAME_ROLE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise", "grabbing")


@pytest.fixture
def wired(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> Iterator[GuiApp]:
    gc.collect()
    assert start_tray(gui, lambda: None)
    yield gui
    gui.tray.menu.hide()
    gui.tray_app.cancel_pending()
    gui.tray.stop()


def _session_titles(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if a.menu() is not None]


def test_favourites_are_starred_in_tree_and_tray(wired: GuiApp) -> None:
    gui = wired
    assert "★" not in gui.model.index_of("dev-saml", NAME).data()
    repainted: list[str] = []
    gui.model.dataChanged.connect(lambda top, bottom, roles=(): repainted.append(top.data()))
    gui.tray_app.set_favourite("dev-saml", True)
    assert gui.model.index_of("dev-saml", NAME).data() == "dev-saml  ★"
    assert any("dev-saml" in text for text in repainted)  # the row was repainted, not only the next time
    assert gui.model.index_of("dev-saml", NAME).data(PROFILE_NAME_ROLE) == "dev-saml"  # the name stays the name
    gui.tray.rebuild_menu()
    texts = [a.text() for a in gui.tray.menu.actions()]
    assert "★ dev-saml" in texts
    gui.tray_app.set_favourite("dev-saml", False)
    assert gui.model.index_of("dev-saml", NAME).data() == "dev-saml"
    gui.controller.reload()  # a reload keeps the marks
    gui.tray_app.set_favourite("dev", True)
    gui.controller.reload()
    assert gui.model.index_of("dev", NAME).data() == "dev  ★"


def test_open_tray_menu_keeps_ticking(wired: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    gui = wired
    assert run(loop, gui.controller.assume("dev-readonly")) is not None
    tray = gui.tray
    tray.menu.popup(QPoint(0, 0))
    assert tray.menu.isVisible()
    before = _session_titles(tray.menu)
    assert len(before) == 1 and before[0].startswith("dev-readonly (")
    start = time.time()
    tray._wall = lambda: start + 125  # two minutes later, the menu still open
    tray.tick()
    after = _session_titles(tray.menu)
    assert after != before and after[0].startswith("dev-readonly (")


def test_recent_list_is_written_after_a_burst_not_during_it(wired: GuiApp, qtbot: object) -> None:
    # Each write of the settings file is a file replace with fsync on the event loop: not while other requests
    # are still being answered; once they are, the list is written (and nothing is lost).
    from stsdesk.gui.settings import load_names
    from stsdesk.gui.tray_adapter import RECENT_KEY

    gui = wired
    writes: list[list[str]] = []
    real_sync = gui.tray_app.settings.sync

    def sync() -> None:
        writes.append(load_names(gui.tray_app.settings, RECENT_KEY))
        real_sync()

    gui.tray_app.settings.sync = sync  # type: ignore[method-assign]
    gui.controller.requests_in_flight = 3  # a burst: others are still being answered
    gui.controller.assumed.emit("dev")
    gui.controller.assumed.emit("dev-saml")
    assert gui.tray_app.recent[:2] == ["dev-saml", "dev"]
    qtbot.wait(1300)  # type: ignore[attr-defined]  # past RECENT_SAVE_MS: still answering, still not written
    assert ["dev-saml", "dev"] not in [w[:2] for w in writes]
    gui.controller.requests_in_flight = 0
    qtbot.waitUntil(lambda: any(w[:2] == ["dev-saml", "dev"] for w in writes), timeout=5000)  # type: ignore[attr-defined]
