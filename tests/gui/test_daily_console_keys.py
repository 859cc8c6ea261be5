"""Issue 13 items 4, 16 and 19 (GUI): Open console says what happened and never shows the sign-in URL; a
cancelled MFA prompt is not an error; the credential_process line names this stsdesk by absolute path; an
IAM user's Copy exports is a session and its long-term key needs an explicit, confirmed action."""

from __future__ import annotations

import asyncio
import gc
import os
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from gui_helpers import run, until
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from stsdesk.demo import ALICE_KEY_ID
from stsdesk.gui.app import GuiApp
from stsdesk.gui.mfa_dialog import MfaDialog

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _messages(gui: GuiApp) -> list[str]:
    seen: list[str] = []
    gui.window.statusBar().messageChanged.connect(seen.append)
    return seen


def test_open_console_without_a_browser_says_so_and_hides_the_url(
        gui: GuiApp, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    handed: list[str] = []

    def no_browser(url: QUrl) -> bool:
        handed.append(url.toString())
        return False

    monkeypatch.setenv("STSDESK_CONSOLE_BROWSER", "default")
    monkeypatch.setattr(QDesktopServices, "openUrl", no_browser)
    seen = _messages(gui)
    assert gui.controller.select("dev-readonly")
    assert run(loop, gui.controller.open_console("dev-readonly")) is False
    assert handed and all(url.startswith("file:") and "SigninToken" not in url for url in handed)
    assert "no web browser could be opened" in gui.window.statusBar().currentMessage()
    assert not [m for m in seen if "done" in m or "Opened" in m]
    out, err = capfd.readouterr()
    assert "SigninToken" not in out + err and "SigninToken" not in " ".join(seen)
    assert gui.model.error("dev-readonly") is None  # no browser is not the profile's fault


def test_open_console_with_a_browser_says_opened(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STSDESK_CONSOLE_BROWSER", "default")
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: url.isLocalFile())
    assert gui.controller.select("dev-readonly")
    gui.window.console_action.trigger()
    run(loop, until(lambda: "Opened the console for dev-readonly" in gui.window.statusBar().currentMessage()))


def test_cancelled_mfa_prompt_is_not_an_error(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("dev")
    task = asyncio.ensure_future(gui.controller.assume("dev"), loop=loop)
    dialog = run(loop, until(lambda: gui.window.findChild(MfaDialog)))
    dialog.reject()
    assert run(loop, task) is None
    run(loop, asyncio.sleep(0.05))
    assert gui.model.error("dev") is None
    assert "error" not in gui.model.index_of("dev", 3).data()
    assert "failed" not in gui.window.statusBar().currentMessage()
    assert "cancelled" in gui.window.statusBar().currentMessage()
    assert "Last error" not in gui.window.details.toPlainText()


def test_credential_process_line_names_this_stsdesk_absolutely(gui: GuiApp) -> None:
    assert gui.controller.select("dev-readonly")
    line = gui.controller.copy_credential_process()
    assert line is not None and line.startswith("credential_process = ")
    argv = shlex.split(line.split("=", 1)[1])
    assert os.path.isabs(argv[0]) and os.path.exists(argv[0])
    assert argv[-2:] == ["credential-process", "dev-readonly"]
    assert argv[argv.index("--config-dir") + 1] == str(gui.config_dir.absolute())


def _iam_user_without_mfa(gui: GuiApp) -> str:
    values: dict[str, Any] = {"stsdesk_access_key_id": ALICE_KEY_ID, "region": "us-east-1",
                              "endpoint_url": gui.demo.world.endpoint}
    assert gui.controller.save_profile("plain-user", values, gui.demo.world.alice_secret)
    assert gui.controller.select("plain-user")
    return "plain-user"


def test_iam_user_copy_exports_is_a_session_long_term_is_explicit(
        gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    name = _iam_user_without_mfa(gui)
    text = run(loop, gui.controller.copy_exports(name, "bash"))
    assert text and "export AWS_SESSION_TOKEN" in text and ALICE_KEY_ID not in text
    assert gui.demo.world.alice_secret not in text

    assert gui.window.copy_long_term_action.isEnabled()
    QGuiApplication.clipboard().clear()
    gui.window.copy_long_term_action.trigger()
    box = run(loop, until(lambda: [b for b in gui.window.findChildren(QMessageBox) if b.isVisible()]))[0]
    assert "long-term" in box.text() and "does not expire" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    run(loop, asyncio.sleep(0.1))
    assert ALICE_KEY_ID not in QGuiApplication.clipboard().text()

    key = run(loop, gui.controller.copy_long_term_exports(name, "bash"))
    assert key and ALICE_KEY_ID in key and gui.demo.world.alice_secret in key and "export AWS_SESSION_TOKEN" not in key
    assert "LONG-TERM" in gui.window.statusBar().currentMessage()

    assert gui.controller.select("dev-readonly")
    assert not gui.window.copy_long_term_action.isEnabled()  # a role has no long-term key


def test_open_console_with_a_broken_browser_is_said_not_a_profile_error(
        gui: GuiApp, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
        capfd: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o600)  # not executable: core refuses it with a one-line reason
    monkeypatch.setenv("STSDESK_CONSOLE_BROWSER", str(broken))
    assert gui.controller.select("dev-readonly")
    assert run(loop, gui.controller.open_console("dev-readonly")) is False
    message = gui.window.statusBar().currentMessage()
    assert "Open console dev-readonly failed" in message and "done" not in message
    assert gui.model.error("dev-readonly") is None
    out, err = capfd.readouterr()
    assert "SigninToken" not in out + err + message
