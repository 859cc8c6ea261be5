"""Issue 13 item 15: first run with no AWS config: a welcome in the empty pane with Add profile, Sign in to
Identity Center (how to add a sign-in) and Try the demo; Add profile defaults to a kind that can work."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import run, until
from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QMessageBox

from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.demo_session import MemorySecretStore
from stsdesk.gui.profile_dialog import USER, ProfileDialog

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture
def empty(tmp_path: Path, qtbot: Any, loop: asyncio.AbstractEventLoop,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[GuiApp]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    gui = build_window(tmp_path / "stsdesk")
    qtbot.addWidget(gui.window)
    load_engine(gui, MemorySecretStore())
    gui.window.show()
    yield gui
    gui.countdown.stop()
    for close in gui.closers:
        close()
    gui.window.close()


def test_welcome_shows_with_no_profiles(empty: GuiApp, loop: asyncio.AbstractEventLoop,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    window = empty.window
    assert empty.model.rowCount() == 0
    assert window.right_stack.currentWidget() is window.welcome and window.welcome.isVisible()
    for button in (window.welcome.add_button, window.welcome.sso_button, window.welcome.demo_button):
        assert button.isVisible() and button.isEnabled() and button.accessibleName()

    window.welcome.sso_button.click()
    box = run(loop, until(lambda: [b for b in window.findChildren(QMessageBox) if b.isVisible()]))[0]
    assert "[sso-session" in box.text() and "sso_start_url" in box.text()
    box.accept()

    started: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(QProcess, "startDetached", lambda program, args: (started.append((program, args)), 1)
                        and (True, 4242))
    window.welcome.demo_button.click()
    assert started and os.path.isabs(started[0][0]) and started[0][1][-1] == "--demo"

    window.welcome.add_button.click()
    dialog = run(loop, until(lambda: window.findChild(ProfileDialog)))
    assert dialog.kind.currentText() == USER  # a role has nothing to be assumed from yet
    dialog.reject()


def test_welcome_leaves_once_a_profile_exists(empty: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.parent.mkdir()
    config.write_text("[profile first]\nregion = us-east-1\nstsdesk_access_key_id = AKIAEXAMPLE000000001\n")
    run(loop, until(lambda: "first" in empty.model.profile_names(), 5))  # the directory appeared: watched too
    assert empty.window.right_stack.currentWidget() is not empty.window.welcome
