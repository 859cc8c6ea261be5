"""Issue 16: the browser for Open console is a setting (the one `stsdesk console` reads too); a
Chromium-family console window is titled with the profile's account label; account labels and colours show in
the tray's menu."""

from __future__ import annotations

import asyncio
import gc
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_helpers import run, until
from PySide6.QtWidgets import QDialogButtonBox

from stsdesk.core.browsers import browser_setting
from stsdesk.gui.app import GuiApp, start_tray
from stsdesk.gui.settings import SettingsDialog, load_preferences, save_preferences

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

FAKE_CHROMIUM = """#!/bin/sh
# A stand-in Chromium: records its arguments and the forwarding page it was given, then exits. Each record
# appears whole (written aside, then renamed): the test reads them as soon as they exist.
r=$FAKE_BROWSER_RECORD
printf '%s\\n' "$@" > "$r/argv.part" && mv "$r/argv.part" "$r/argv"
for arg in "$@"; do
  case "$arg" in file://*) cat "${arg#file://}" > "$r/page.part" && mv "$r/page.part" "$r/page" ;; esac
done
"""


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture
def fake_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    record = tmp_path / "record"
    record.mkdir()
    script = tmp_path / "fake-chromium"
    script.write_text(FAKE_CHROMIUM)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("FAKE_BROWSER_RECORD", str(record))
    monkeypatch.delenv("STSDESK_CONSOLE_BROWSER", raising=False)
    return script


def test_browser_setting_in_the_settings_dialog(gui: GuiApp, fake_chromium: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STSDESK_CONSOLE_BROWSER", raising=False)
    dialog = SettingsDialog(gui.controller.prefs, gui.window)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.browser.currentText() == "default"
    dialog.browser.setCurrentText(str(fake_chromium.parent / "no-such-browser"))
    assert not ok.isEnabled() and dialog.problem.text().startswith("Browser: browser '")
    dialog.browser.setCurrentText("not-a-browser-on-path-xyz")
    assert not ok.isEnabled() and "unknown browser 'not-a-browser-on-path-xyz'" in dialog.problem.text()
    dialog.browser.setCurrentText(str(fake_chromium))
    assert ok.isEnabled()
    prefs = dialog.preferences()
    save_preferences(gui.controller.settings, prefs)
    assert load_preferences(gui.controller.settings).console_browser == str(fake_chromium)
    assert browser_setting(gui.config_dir) == str(fake_chromium)  # what Open console and `stsdesk console` read
    dialog.deleteLater()


def test_console_window_titled_with_the_account_label(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                       fake_chromium: Path) -> None:
    power = gui.power
    assert power is not None
    prefs = gui.controller.prefs
    prefs.console_browser = str(fake_chromium)
    save_preferences(gui.controller.settings, prefs)
    power.labels.set("222222222222", "#2e7d32", "sandbox")
    assert gui.controller.select("dev-readonly")
    assert power.region_picker.choose("eu-west-2")
    broker = gui.controller.broker
    assert broker is not None
    asked: list[dict[str, object]] = []
    original = broker.console_url

    async def console_url(profile: str, **kwargs: object) -> str:
        asked.append(kwargs)
        return await original(profile, **kwargs)  # type: ignore[arg-type]

    broker.console_url = console_url  # type: ignore[method-assign]
    assert run(loop, gui.controller.open_console("dev-readonly"))
    assert asked == [{"region": "eu-west-2"}]  # the console opens in the region picked for this profile
    record = Path(os.environ["FAKE_BROWSER_RECORD"])
    argv = run(loop, until(lambda: (record / "page").is_file() and (record / "argv").read_text().splitlines()))
    assert "--window-name=[sandbox] dev-readonly (222222222222) - AWS console" in argv
    assert any(a.startswith("--user-data-dir=") for a in argv)  # its own browser profile: side by side
    assert "SigninToken=" in (record / "page").read_text()  # the sign-in went through the private page
    assert not any("SigninToken" in a for a in argv)  # never on a command line
    # Firefox and the system browser get nothing: there is no window title to give from outside.
    from stsdesk.core.browsers import Browser, BrowserKind

    assert power.console_window_args("dev", Browser("firefox", BrowserKind.FIREFOX, "/x/firefox")) == []


def test_tray_menu_shows_account_labels_and_colours(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    power = gui.power
    assert power is not None
    start_tray(gui, lambda: None)
    tray = gui.tray
    assert tray is not None
    try:
        power.labels.set("222222222222", "#2e7d32", "sandbox")
        assert run(loop, gui.controller.assume("dev-readonly")) is not None
        tray.menu.aboutToShow.emit()
        texts = {a.text(): a for a in tray.menu.actions()}
        entry = next(a for t, a in texts.items() if t.startswith("[sandbox] dev-readonly ("))
        assert not entry.icon().isNull()
        assert not any(t.startswith("[sandbox] prod") for t in texts)  # other accounts: no label
    finally:
        tray.stop()
