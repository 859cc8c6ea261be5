"""The window's actions against the embedded emulator: settings, remove, console, who am I, the details
countdown and window state across a restart."""

from __future__ import annotations

import asyncio
import gc
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import dispose, make_gui, run, until
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from stsdesk.core.configfile import ConfigFile
from stsdesk.demo import DEMO_ACCOUNT_ALIASES
from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.settings import SettingsDialog, load_preferences, open_settings
from stsdesk.gui.tree_model import ACCOUNT, STATE

OK = QDialogButtonBox.StandardButton.Ok
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    # Dialogs and menus these tests open become garbage with their timers; a later collection that happens
    # to run on an executor thread would destroy them there ("Timers cannot be stopped from another thread").
    yield
    gc.collect()


def test_settings_dialog_validates_and_persists(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    gui.window.settings_action.trigger()
    dialog = run(loop, until(lambda: gui.window.findChild(SettingsDialog)))
    ok = dialog.buttons.button(OK)
    dialog.reminders.setText("10, soon")
    assert not ok.isEnabled() and "Reminders" in dialog.problem.text()
    dialog.reminders.setText("30, 5")
    dialog.region.setText("")
    assert not ok.isEnabled() and "region" in dialog.problem.text()
    dialog.region.setText("eu-west-1")
    assert ok.isEnabled() and dialog.problem.text() == ""
    # The console's federation endpoint and partition are per profile (AWS config), shared with the CLI.
    assert not hasattr(dialog, "federation") and not hasattr(dialog, "partition")
    dialog.shell.setCurrentText("zsh")
    dialog.clipboard.setValue(30)
    ok.click()
    run(loop, until(lambda: gui.controller.prefs.default_region == "eu-west-1"))

    saved = load_preferences(open_settings(gui.config_dir))  # read back from the INI file, not from memory
    assert (saved.default_shell, saved.reminder_minutes, saved.clipboard_clear_seconds) == ("zsh", (30, 5), 30)
    assert saved.default_region == "eu-west-1"
    assert not open_settings(gui.config_dir).contains("prefs/partition")  # no setting that nothing reads
    assert gui.window.shell_combo.currentText() == "zsh"
    assert gui.controller.broker.default_region == "eu-west-1"


def test_settings_cancel_changes_nothing(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    gui.window.settings_action.trigger()
    dialog = run(loop, until(lambda: gui.window.findChild(SettingsDialog)))
    dialog.region.setText("ap-south-1")
    dialog.reject()
    run(loop, asyncio.sleep(0.05))
    assert gui.controller.prefs.default_region == "us-east-1"
    assert load_preferences(open_settings(gui.config_dir)).default_region == "us-east-1"


def _message_box(gui: GuiApp) -> QMessageBox | None:
    boxes = [b for b in gui.window.findChildren(QMessageBox) if b.isVisible()]
    return boxes[0] if boxes else None


def test_remove_profile_updates_config_and_keeps_backup(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    config_file = Path(gui.controller.broker.tree.config_file)
    before = config_file.read_text()
    assert "[profile alice-federated]" in before
    assert gui.controller.select("alice-federated")
    gui.window.remove_action.trigger()
    box = run(loop, until(lambda: _message_box(gui)))
    assert "alice-federated" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    run(loop, until(lambda: not gui.model.index_of("alice-federated").isValid()))

    after = config_file.read_text()
    assert "[profile alice-federated]" not in after
    assert "[profile dev-readonly]" in after and "# stsdesk demo profiles" in after  # the rest and comments stay
    backup = config_file.with_name(config_file.name + ".bak")
    assert backup.read_text() == before
    assert "alice-federated" not in gui.model.profile_names()
    assert ConfigFile.open(config_file).get("alice-federated") is None


def test_remove_profile_answered_no_keeps_it(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    config_file = Path(gui.controller.broker.tree.config_file)
    before = config_file.read_text()
    assert gui.controller.select("dev-saml")
    gui.window.remove_action.trigger()
    box = run(loop, until(lambda: _message_box(gui)))
    box.button(QMessageBox.StandardButton.No).click()
    run(loop, until(lambda: _message_box(gui) is None))
    assert config_file.read_text() == before
    assert gui.model.index_of("dev-saml").isValid()


def test_open_console_and_copy_console_url(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:  # never a real browser; it gets a private page that forwards to the sign-in
        import html
        import re

        assert url.isLocalFile() and "SigninToken" not in url.toString()
        page = Path(url.toLocalFile()).read_text()
        opened.append(html.unescape(re.findall(r'content="0;url=([^"]+)"', page)[0]))
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    assert gui.controller.select("dev-readonly")
    gui.window.console_action.trigger()
    url = run(loop, until(lambda: opened))[0]

    endpoint = gui.demo.world.endpoint
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == endpoint  # the in-process emulator's federation endpoint
    query = urllib.parse.parse_qs(parts.query)
    assert query["Action"] == ["login"]
    assert query["SigninToken"][0]  # a token the emulator handed out for the role session
    assert "secret" not in url.lower()  # the login URL carries the token, not the keys

    QGuiApplication.clipboard().clear()
    gui.window.copy_console_action.trigger()
    copied = run(loop, until(lambda: QGuiApplication.clipboard().text()))
    copied_query = urllib.parse.parse_qs(urllib.parse.urlsplit(copied).query)
    assert copied.startswith(endpoint) and copied_query["Action"] == ["login"]
    assert copied_query["SigninToken"][0] != query["SigninToken"][0]  # fetched again, not reused
    assert len(opened) == 1  # copying does not open a browser
    assert "console sign-in URL for dev-readonly" in gui.window.statusBar().currentMessage()


def test_whoami_shows_caller_arn_in_details_and_status(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("dev-readonly")
    gui.window.whoami_action.trigger()
    run(loop, until(lambda: "Caller ARN" in gui.window.details.toPlainText()))
    details = gui.window.details.toPlainText()
    assert "arn:aws:sts::222222222222:assumed-role/ReadOnly/" in details
    message = gui.window.statusBar().currentMessage()
    assert message.startswith("dev-readonly is arn:aws:sts::222222222222:assumed-role/ReadOnly/")
    assert "account 222222222222" in message


def test_details_countdown_follows_the_shared_tick(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                  qtbot: Any) -> None:
    label = gui.window.session_countdown
    assert gui.controller.select("dev-readonly")
    assert not label.isVisible()  # no session yet
    assert run(loop, gui.controller.assume("dev-readonly")) is not None
    assert label.isVisible()
    assert label.font().bold()  # set when it is first shown
    assert label.font().pointSizeF() > gui.window.font().pointSizeF()
    first = label.text()
    assert first.startswith("Session of dev-readonly: 00:5") and first.endswith(" left")
    gui.countdown.start()
    with qtbot.waitSignal(gui.countdown.ticked, timeout=3000):
        pass
    qtbot.waitUntil(lambda: label.text() != first, timeout=3000)
    assert label.text().startswith("Session of dev-readonly: 00:5")

    assert gui.controller.select("alice")  # no session there: the line goes away
    assert not label.isVisible()
    assert gui.controller.select("dev-readonly")
    assert label.isVisible()
    gui.model.set_session("dev-readonly", datetime.now(UTC) - timedelta(seconds=5))
    # The model announces state changes at the next turn of the loop.
    qtbot.waitUntil(lambda: label.text() == "The session of dev-readonly has expired", timeout=3000)
    assert "#888888" in label.styleSheet()


def test_window_state_survives_a_restart(tmp_path: Path, qtbot: Any, loop: asyncio.AbstractEventLoop) -> None:
    first, demo = make_gui(tmp_path)
    second = None
    try:
        first.window.show()
        first.window.resize(790, 560)
        first.window.tree.header().resizeSection(STATE, 97)  # Name takes the rest of the width
        first.window.filter_edit.setText("prod admin")
        assert first.controller.select("prod-admin")
        first.controller.save_state()

        # The same config dir, a new window: what a restart of the app does.
        second = build_window(first.config_dir, demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
        load_engine(second, demo.secrets)
        second.window.show()
        assert (second.window.width(), second.window.height()) == (790, 560)
        assert second.window.tree.header().sectionSize(STATE) == 97
        assert second.window.filter_edit.text() == "prod admin"
        assert second.controller.current_profile() == "prod-admin"
        visible = second.window.tree.model()
        assert visible.rowCount() == 1  # the filter is applied, not just shown: only alice's branch
        assert second.model.index_of("prod-admin", ACCOUNT).data() == "prod (333333333333)"
    finally:
        if second is not None:
            second.countdown.stop()
            second.window.close()
            second.window.deleteLater()
        dispose(first, demo)  # also flushes the deferred deletes
