"""GUI fixtures: a qasync loop on pytest-qt's QApplication, and the real window against the demo emulator."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from gui_helpers import dispose, make_gui

from stsdesk.gui.app import GuiApp


@pytest.fixture
def loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    # Free the loop's Qt objects (timers) here, on the GUI thread: left to a later collection that happens to
    # run on an executor thread, they fail with "Timers cannot be stopped from another thread".
    gc.collect()
    asyncio.set_event_loop(None)


@pytest.fixture
def gui(tmp_path: Path, qtbot: Any, loop: asyncio.AbstractEventLoop) -> Iterator[GuiApp]:
    app, demo = make_gui(tmp_path)
    qtbot.addWidget(app.window)
    app.window.show()
    yield app
    dispose(app, demo)
