"""The tray wired into the real app (offscreen, demo emulator): sessions from the real controller, quick
profiles, per-profile auto-refresh from the context menu, copy exports through SecretClipboard, refresh
failures as tray messages, and Settings applied to the tray."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from gui_helpers import run, until
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu

from stsdesk.gui.app import GuiApp, start_tray
from stsdesk.gui.clipboard import KDE_PASSWORD_HINT
from stsdesk.gui.settings import Preferences, load_preferences, open_settings
from stsdesk.gui.tray import TrayState
from stsdesk.gui.tray_adapter import FAVOURITES_KEY, RECENT_KEY, RECENT_LIMIT

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture
def wired(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> Iterator[tuple[GuiApp, list[str]]]:
    # Earlier tests' Qt garbage must be freed on this thread, not by a collection on an executor thread.
    gc.collect()
    quits: list[str] = []
    assert start_tray(gui, lambda: quits.append("quit"))  # offscreen: no tray, so the window stays shown
    yield gui, quits
    # No loop run here: qtbot has already scheduled the window's deletion, which a loop run would carry out.
    gui.tray_app.cancel_pending()
    gui.tray.stop()


def texts(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if a.text()]


def test_tray_gets_sessions_from_the_real_controller(wired: tuple[GuiApp, list[str]],
                                                    loop: asyncio.AbstractEventLoop) -> None:
    gui, quits = wired
    tray, tray_app = gui.tray, gui.tray_app
    assert tray_app.sessions() == []
    tray.tick()
    assert tray.state is TrayState.IDLE
    assert QApplication.instance().quitOnLastWindowClosed()  # no tray here: closing the window quits
    assert run(loop, gui.controller.assume("dev-readonly")) is not None
    sessions = tray_app.sessions()
    assert [s.profile for s in sessions] == ["dev-readonly"]
    assert sessions[0].expiration.timestamp() == gui.model.expiry("dev-readonly")
    # dev's role needs MFA (no MFA session cached yet); alice's own device does not make dev-readonly need it.
    assert [(s.profile, s.needs_mfa) for s in tray_app.sessions()] == [("dev-readonly", False)]
    assert tray_app._mfa_state("dev") == (True, None)
    assert tray_app._mfa_state("prod-deployer") == (True, None)
    tray.tick()
    assert tray.state is TrayState.ACTIVE
    assert "dev-readonly:" in tray.icon.toolTip()
    tray.rebuild_menu()
    entries = texts(tray.menu)
    assert any(t.startswith("dev-readonly (") and t.endswith("left)") for t in entries), entries
    # Recently assumed profiles are remembered (persisted); a live one is offered under Sessions instead.
    assert tray_app.recent == ["dev-readonly"]
    assert open_settings(gui.config_dir).value(RECENT_KEY) in ("dev-readonly", ["dev-readonly"])
    assert "Assume" not in entries
    tray_app.set_favourite("prod-admin", True)
    tray.rebuild_menu()
    assert "★ prod-admin" in texts(tray.menu)  # a favourite is starred (as in the tree)
    assert tray_app.quick_profiles() == ["prod-admin", "dev-readonly"]
    quit_action = next(a for a in tray.menu.actions() if a.text() == "Quit")
    quit_action.trigger()
    assert quits == ["quit"]


def test_recent_keeps_the_last_five(wired: tuple[GuiApp, list[str]]) -> None:
    gui, _ = wired
    names = ["alice", "dev", "dev-readonly", "prod-admin", "prod-deployer", "dev-saml"]
    for name in names:
        gui.controller.assumed.emit(name)
    assert gui.tray_app.recent == list(reversed(names))[:RECENT_LIMIT]
    gui.controller.assumed.emit("dev")
    assert gui.tray_app.recent[0] == "dev" and gui.tray_app.recent.count("dev") == 1
    assert open_settings(gui.config_dir).value(FAVOURITES_KEY) is None


def test_copy_exports_goes_through_secret_clipboard(wired: tuple[GuiApp, list[str]],
                                                   loop: asyncio.AbstractEventLoop) -> None:
    gui, _ = wired
    assert gui.controller.clipboard.clear_after == 45  # the Settings default
    gui.controller.clipboard.clear_after = 0.3
    board = QGuiApplication.clipboard()
    board.clear()  # the clipboard is the process's: an earlier test's exports must not pass for these

    async def scenario() -> str:
        gui.tray_app.copy_exports("dev-readonly")
        text = await until(lambda: "AWS_SESSION_TOKEN" in board.text() and board.text())
        mime = board.mimeData(QClipboard.Mode.Clipboard)
        assert mime is not None and bytes(mime.data(KDE_PASSWORD_HINT).data()) == b"secret"
        assert gui.controller.clipboard.pending
        assert gui.window.statusBar().currentMessage().endswith("cleared in 0.3 s")
        await until(lambda: board.text() == "")
        return str(text)

    text = run(loop, scenario())
    assert "export AWS_ACCESS_KEY_ID=" in text  # bash, the default shell
    assert not gui.controller.clipboard.pending


def test_context_menu_toggles_auto_refresh_and_favourite(wired: tuple[GuiApp, list[str]]) -> None:
    gui, _ = wired
    assert gui.controller.select("dev-readonly")
    menu = gui.controller.profile_menu()
    auto = next(a for a in menu.actions() if a.text() == "Auto-refresh before expiry")
    favourite = next(a for a in menu.actions() if a.text().startswith("Favourite"))
    assert auto.isCheckable() and not auto.isChecked()  # off by default
    auto.trigger()
    favourite.trigger()
    assert gui.tray.scheduler.auto_refresh("dev-readonly")
    assert load_preferences(open_settings(gui.config_dir)).auto_refresh_profiles == ("dev-readonly",)
    assert gui.tray_app.favourites == ["dev-readonly"]
    again = gui.controller.profile_menu()
    assert next(a for a in again.actions() if a.text() == "Auto-refresh before expiry").isChecked()
    next(a for a in again.actions() if a.text() == "Auto-refresh before expiry").trigger()
    assert not gui.tray.scheduler.auto_refresh("dev-readonly")
    assert load_preferences(open_settings(gui.config_dir)).auto_refresh_profiles == ()


def test_refresh_failure_becomes_a_tray_message(wired: tuple[GuiApp, list[str]],
                                               loop: asyncio.AbstractEventLoop,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    gui, _ = wired
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(gui.tray, "notify_error", lambda profile, message: shown.append((profile, message)))
    gui.tray_app.refresh("no-such-profile")
    run(loop, until(lambda: shown))
    assert shown[0][0] == "no-such-profile" and "no-such-profile" in shown[0][1]


def test_settings_apply_to_the_tray(wired: tuple[GuiApp, list[str]]) -> None:
    gui, _ = wired
    assert gui.tray.scheduler.thresholds == (600, 120)  # 10 and 2 minutes by default
    gui.controller.prefs = Preferences(reminder_minutes=(30, 5), keep_in_tray=False,
                                       auto_refresh_profiles=("dev",))
    gui.controller.preferences_changed.emit()
    assert gui.tray.scheduler.thresholds == (1800, 300)
    assert gui.tray.keep_in_tray is False
    assert gui.tray.scheduler.auto_refresh("dev")


def test_preferences_defaults_and_round_trip(tmp_path: Any) -> None:
    from stsdesk.gui.settings import save_preferences

    settings = open_settings(tmp_path)
    prefs = load_preferences(settings)
    assert prefs.clipboard_clear_seconds == 45 and prefs.keep_in_tray and prefs.auto_refresh_profiles == ()
    prefs.keep_in_tray = False
    prefs.auto_refresh_profiles = ("dev", "prod,admin")
    save_preferences(settings, prefs)
    again = load_preferences(open_settings(tmp_path))
    assert again.keep_in_tray is False and again.auto_refresh_profiles == ("dev", "prod,admin")
    settings.setValue("prefs/reminder_minutes", ["30", " 5"])  # how Qt reads an unquoted "30, 5"
    assert load_preferences(settings).reminder_minutes == (30, 5)
