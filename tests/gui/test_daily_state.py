"""Issue 13 item 5: a session that expires while nobody looks changes its State cell with the countdown."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from gui_helpers import run, until
from PySide6.QtCore import QModelIndex

from stsdesk.gui.app import GuiApp
from stsdesk.gui.tree_presentation import STATE, TIME_LEFT

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def test_state_cell_repaints_when_the_session_expires(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("dev-saml")  # another row is current: nothing clicks the expiring one
    gui.model.set_session("dev-readonly", datetime.now(UTC) + timedelta(seconds=1.5))
    gui.countdown.start()
    announced: list[tuple[str, int]] = []

    def changed(top: QModelIndex, bottom: QModelIndex, roles: object = ()) -> None:
        for column in range(top.column(), bottom.column() + 1):
            announced.append((str(top.siblingAtColumn(0).data()), column))

    gui.model.dataChanged.connect(changed)
    assert gui.model.index_of("dev-readonly", STATE).data() == "active"
    run(loop, until(lambda: gui.model.index_of("dev-readonly", TIME_LEFT).data() == "expired", 10))
    run(loop, until(lambda: ("dev-readonly", STATE) in announced, 3))
    assert gui.model.index_of("dev-readonly", STATE).data() == "expired"
    # The window's countdown line, the State cell and the time left say the same.
    assert gui.controller.select("dev-readonly")
    assert "expired" in gui.window.session_countdown.text()
