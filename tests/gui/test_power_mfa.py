"""Issue 16: the MFA dialog lists every request waiting for its device and what each will get, and offers
"Get code from YubiKey" (a fake ``ykman`` on PATH) with "touch your key", wrong code, no device and timeout
said clearly."""

from __future__ import annotations

import asyncio
import gc
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import run, until
from PySide6.QtWidgets import QDialogButtonBox

from stsdesk.core.errors import MfaCancelled
from stsdesk.core.mfa_sources import TERMINAL
from stsdesk.demo import ALICE_MFA
from stsdesk.emulator.mfa import current_code
from stsdesk.gui.app import GuiApp
from stsdesk.gui.mfa_dialog import MfaDialog
from stsdesk.gui.mfa_waitlist import duration_text, role_name

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")
OK = QDialogButtonBox.StandardButton.Ok

FAKE_YKMAN = """#!/bin/sh
# A fake YubiKey Manager CLI: records its arguments, then behaves as $FAKE_YKMAN_MODE says.
echo "$@" > "$FAKE_YKMAN_DIR/args"
case "$FAKE_YKMAN_MODE" in
  code) echo "Touch your YubiKey..." >&2; sleep 0.2; cat "$FAKE_YKMAN_DIR/code" ;;
  nodevice) echo "ERROR: Failed connecting to the YubiKey." >&2; exit 1 ;;
  hang) echo "Touch your YubiKey..." >&2; exec sleep 30 ;;
esac
"""


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


@pytest.fixture
def ykman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``ykman`` first on PATH; returns its directory (``code`` file: what it prints)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ykman"
    script.write_text(FAKE_YKMAN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_YKMAN_DIR", str(bin_dir))
    monkeypatch.setenv("FAKE_YKMAN_MODE", "code")
    return bin_dir


def _seed() -> str:
    from stsdesk.demo import demo_scenario_path
    from stsdesk.emulator.scenario import load_scenario

    user = load_scenario(demo_scenario_path()).user_by_arn("arn:aws:iam::111111111111:user/alice")
    assert user is not None and user.mfa is not None
    return user.mfa.seed


def test_dialog_lists_every_waiting_request(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    broker = gui.controller.broker
    assert broker is not None

    async def scenario() -> Any:
        dev = asyncio.ensure_future(gui.controller.assume("dev"))
        prod = asyncio.ensure_future(gui.controller.assume("prod-admin"))
        terminal = asyncio.ensure_future(broker.credentials_for("alice", requester=TERMINAL))
        dialog: MfaDialog = await until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA))
        widget = dialog.waitlist  # type: ignore[attr-defined]
        await until(lambda: len(widget.rows()) == 3)
        rows = {row[0]: row for row in widget.rows()}
        assert rows["dev"][1:4] == ("role Developer in 222222222222", "default length", "this window")
        assert rows["prod-admin"][1:4] == ("role Admin in 333333333333", "4 h", "this window")
        assert rows["alice"][1:4] == ("an MFA session for the user", "default length", "a terminal")
        assert widget.summary.text().startswith("3 requests are waiting for this device")
        assert widget.isVisibleTo(dialog)
        # Cancel: every waiting request is told, and the list empties.
        # (a request queued behind the device's lock asks again once the first is refused: cancel that too)
        tasks = [dev, prod, terminal]
        while not all(t.done() for t in tasks):
            for open_dialog in gui.controller.prompter.open_dialogs():
                open_dialog.reject()
            await asyncio.sleep(0.02)
        return await asyncio.gather(*tasks, return_exceptions=True)

    dev, prod, alice = run(loop, scenario())
    assert dev is None and prod is None  # the window shows a cancel as no result, not as an error
    assert isinstance(alice, MfaCancelled)
    assert broker.mfa_waitlist.waiting_for(ALICE_MFA) == []


def test_waitlist_texts() -> None:
    assert role_name("arn:aws:iam::333333333333:role/team/Admin") == "role Admin in 333333333333"
    assert role_name(None) == "an MFA session for the user"
    assert (duration_text(3600), duration_text(900), duration_text(5400), duration_text(None)) == (
        "1 h", "15 min", "1 h 30 min", "default length")


def _open_dialog(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future[Any], MfaDialog]:
    task = asyncio.ensure_future(gui.controller.assume("dev"), loop=loop)
    dialog = run(loop, until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA)))
    return task, dialog


def test_yubikey_fills_the_code_and_it_works(gui: GuiApp, loop: asyncio.AbstractEventLoop, ykman: Path) -> None:
    task, dialog = _open_dialog(gui, loop)
    row = dialog.yubikey  # type: ignore[attr-defined]
    assert row.button.text() == "Get code from YubiKey"
    code = current_code(_seed(), time.time())
    (ykman / "code").write_text(code + "\n")
    row.button.click()
    run(loop, until(lambda: "Touch your YubiKey" in row.status.text()))  # said while ykman waits
    run(loop, until(lambda: dialog.code.text() == code))
    assert (ykman / "args").read_text().split() == ["oath", "accounts", "code", "--single", ALICE_MFA]
    assert row.status.text() == "Code from the YubiKey filled in"
    dialog.buttons.button(OK).click()
    creds = run(loop, task)
    assert creds is not None and creds.session_token


def test_yubikey_wrong_code_is_said_by_the_dialog(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                  ykman: Path) -> None:
    task, dialog = _open_dialog(gui, loop)
    (ykman / "code").write_text(current_code(_seed(), time.time() - 600) + "\n")  # a stale step
    dialog.yubikey.button.click()  # type: ignore[attr-defined]
    run(loop, until(lambda: len(dialog.code.text()) == 6))
    dialog.buttons.button(OK).click()
    run(loop, until(lambda: dialog.error_label.isVisible() and dialog.code.isEnabled()))
    assert "code" in dialog.error_label.text().lower()
    dialog.reject()
    assert run(loop, task) is None


def test_yubikey_missing_device(gui: GuiApp, loop: asyncio.AbstractEventLoop, ykman: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_YKMAN_MODE", "nodevice")
    task, dialog = _open_dialog(gui, loop)
    dialog.yubikey.button.click()  # type: ignore[attr-defined]
    run(loop, until(lambda: dialog.error_label.isVisible()))
    assert dialog.error_label.text() == "YubiKey: no YubiKey found: insert it and try again"
    assert dialog.code.text() == "" and dialog.yubikey.button.isEnabled()  # type: ignore[attr-defined]
    dialog.reject()
    assert run(loop, task) is None


def test_yubikey_not_touched_in_time(gui: GuiApp, loop: asyncio.AbstractEventLoop, ykman: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_YKMAN_MODE", "hang")
    task, dialog = _open_dialog(gui, loop)
    row = dialog.yubikey  # type: ignore[attr-defined]
    row.timeout = 1.0
    row.button.click()
    run(loop, until(lambda: "Touch your YubiKey" in row.status.text()))
    run(loop, until(lambda: dialog.error_label.isVisible(), timeout=15))
    assert dialog.error_label.text() == "YubiKey: the YubiKey was not touched within 1 s"
    dialog.reject()
    assert run(loop, task) is None


def test_no_yubikey_button_without_ykman(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    task, dialog = _open_dialog(gui, loop)
    assert getattr(dialog, "yubikey", None) is None
    dialog.reject()
    assert run(loop, task) is None


def test_waitlist_widget_follows_changes_from_another_thread(qtbot: Any) -> None:
    """The broker's own YubiKey attempt says "touch" from ykman's watcher thread: the widget hears it on the
    Qt thread (queued), and requests coming and going."""
    import threading

    from stsdesk.core.mfa_sources import SERVED, MfaWaitlist
    from stsdesk.gui.mfa_waitlist import MfaWaitlistWidget

    waitlist = MfaWaitlist()
    widget = MfaWaitlistWidget(waitlist, ALICE_MFA)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.rows() == [] and widget.summary.text() == "Nothing else is waiting for this device."
    with waitlist.waiting("prod-admin", "arn:aws:iam::333333333333:role/Admin", ALICE_MFA, 900, SERVED):
        qtbot.waitUntil(lambda: len(widget.rows()) == 1)
        assert widget.rows()[0][:4] == ("prod-admin", "role Admin in 333333333333", "15 min",
                                        "served credentials (renewal)")
        helper = threading.Thread(target=waitlist.note_touch, args=(ALICE_MFA, True))
        helper.start()
        helper.join()
        qtbot.waitUntil(widget.touch_label.isVisible)
        waitlist.note_touch(ALICE_MFA, False)
        qtbot.waitUntil(lambda: not widget.touch_label.isVisible())
    qtbot.waitUntil(lambda: widget.rows() == [])
    widget.close_watch()
    assert waitlist._subscribers == []  # no listener left behind by a closed dialog
