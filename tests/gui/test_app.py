"""The real widgets against the embedded emulator (demo scenario)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import dispose, make_gui, run, until
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox

from stsdesk.core.broker import MfaRequest
from stsdesk.core.configfile import ConfigFile
from stsdesk.demo import ALICE_MFA
from stsdesk.emulator.mfa import current_code
from stsdesk.gui.app import GuiApp
from stsdesk.gui.mfa_dialog import MfaCodeValidator
from stsdesk.gui.profile_dialog import ProfileDialog
from stsdesk.gui.tree_model import NAME, TIME_LEFT

OK = QDialogButtonBox.StandardButton.Ok
# The offscreen platform plugin warns that it cannot propagate size hints; that is the test platform talking.
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


def test_tree_shows_demo_profiles_nested(gui: GuiApp) -> None:
    model = gui.model
    alice = model.index_of("alice")
    assert not alice.parent().isValid()
    deployer = model.index_of("prod-deployer")
    assert deployer.parent().data() == "dev"  # chained under the role it is assumed from
    assert model.index_of("dev", 2).data() == "dev (222222222222)"


def test_assume_with_mfa_wrong_then_right_code(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    seed = _seed()

    async def scenario() -> Any:
        task = asyncio.ensure_future(gui.controller.assume("dev"))
        dialog = await until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA))
        assert "dev" in dialog.profiles_label.text()
        assert "role/Developer" in dialog.role_label.text()
        assert dialog.hint_label.text().startswith("Demo aid")
        # A second request for the same device while the first waits shares the dialog (one per device).
        other = MfaRequest("prod-admin", "arn:aws:iam::333333333333:role/Admin", ALICE_MFA)
        second = asyncio.ensure_future(gui.controller.prompter.prompt(other))
        await asyncio.sleep(0.05)
        assert gui.controller.prompter.open_dialogs() == [dialog]
        assert dialog.profiles_label.text() == "dev, prod-admin"
        dialog.code.setText(current_code(seed, time.time() - 600))  # a stale step: wrong
        dialog.buttons.button(OK).click()
        await until(lambda: dialog.error_label.isVisible() and dialog.code.isEnabled())
        assert "MFA" in dialog.error_label.text() or "code" in dialog.error_label.text().lower()
        assert gui.controller.prompter.dialog_for(ALICE_MFA) is dialog  # still open, same dialog
        dialog.code.setText(" ".join(current_code(seed, time.time())))  # pasted with spaces
        dialog.buttons.button(OK).click()
        return await task, await second

    creds, second = run(loop, scenario())
    assert creds is not None and creds.session_token
    assert isinstance(second, str) and len(second) == 6  # the shared waiter got a code from the same dialog
    assert gui.model.index_of("dev", 3).data() == "active"
    assert gui.controller.prompter.open_dialogs() == []


def _seed() -> str:
    from stsdesk.demo import demo_scenario_path
    from stsdesk.emulator.scenario import load_scenario

    user = load_scenario(demo_scenario_path()).user_by_arn("arn:aws:iam::111111111111:user/alice")
    assert user is not None and user.mfa is not None
    return user.mfa.seed


def test_cancel_mfa_fails_every_waiting_request(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> Any:
        task = asyncio.ensure_future(gui.controller.assume("dev"))
        dialog = await until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA))
        dialog.reject()
        return await task

    assert run(loop, scenario()) is None
    # Cancelling is the person's choice, not an error (issue 13 item 16): said in the status bar only.
    assert gui.model.error("dev") is None
    assert gui.model.index_of("dev", 3).data() != "error"
    assert "cancelled" in gui.window.statusBar().currentMessage()


def test_countdown_ticks_and_copy_exports(gui: GuiApp, loop: asyncio.AbstractEventLoop, qtbot: Any) -> None:
    gui.countdown.start()
    assert gui.controller.select("dev-readonly")
    text = run(loop, gui.controller.copy_exports("dev-readonly", "fish"))
    assert text is not None
    clipboard = QGuiApplication.clipboard().text()
    assert clipboard == text
    assert "set -gx AWS_ACCESS_KEY_ID" in clipboard and "AWS_SESSION_TOKEN" in clipboard
    cell = gui.model.index_of("dev-readonly", TIME_LEFT)
    first = cell.data()
    assert first.count(":") == 2
    with qtbot.waitSignal(gui.countdown.ticked, timeout=3000):
        pass
    qtbot.waitUntil(lambda: cell.data() != first, timeout=3000)
    assert gui.window.expiry_label.text().startswith("Next expiry: dev-readonly")
    gui.window.shell_combo.setCurrentText("powershell")
    assert gui.controller.settings.value("prefs/default_shell") == "powershell"
    line = gui.controller.copy_credential_process()
    assert line is not None and line.startswith("credential_process = /")  # this stsdesk, absolute path
    assert " --config-dir " in line
    assert "AWS_SECRET" not in str(Path(gui.controller.settings.fileName()).read_text())


def test_decode_message(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    creds = run(loop, gui.controller.assume("dev-readonly"))
    assert creds is not None
    error_text = _run_instances_error(gui, creds)
    dialog = gui.controller.open_decode_dialog()
    dialog.input.setPlainText(error_text)
    dialog.profile.setCurrentText("dev")  # Developer may decode in that account; ReadOnly may not
    dialog.decode_button.click()

    async def answer_mfa() -> None:  # alice's keys need an MFA session first
        mfa = await until(lambda: gui.controller.prompter.dialog_for(ALICE_MFA))
        mfa.code.setText(current_code(_seed(), time.time()))
        mfa.buttons.button(OK).click()
        await until(lambda: dialog.status.text() not in ("", "Decoding…"))

    run(loop, answer_mfa())
    assert dialog.status.text().startswith("Denied"), dialog.status.text()
    assert "ec2:RunInstances" in dialog.verdict.toPlainText()
    assert '"allowed": false' in dialog.raw.toPlainText()
    dialog.input.setPlainText("no message in here")
    dialog.decode_button.click()
    run(loop, until(lambda: dialog.status.text() not in ("", "Decoding…")))
    assert "encoded" in dialog.status.text().lower()


def _run_instances_error(gui: GuiApp, creds: Any) -> str:
    import boto3
    import botocore.exceptions

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=gui.demo.world.endpoint,
                       aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                       aws_session_token=creds.session_token)
    try:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    except botocore.exceptions.ClientError as exc:
        return f"An error occurred: {exc}"
    raise AssertionError("RunInstances should be denied for ReadOnly")


def test_add_profile_writes_config_and_filter(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    dialog = ProfileDialog(gui.model.profile_names(), None, gui.window)
    dialog.name.setText("bad name")
    assert not dialog.buttons.button(OK).isEnabled()
    assert "spaces" in dialog.problem.text()
    dialog.name.setText("audit")
    dialog.source.setCurrentText("alice")
    dialog.role_arn.setText("arn:aws:iam::22222222222:role/Audit")
    assert "12 digits" in dialog.problem.text()
    dialog.role_arn.setText("arn:aws:iam::222222222222:role/Audit")
    dialog.duration.setText("60")
    assert "900" in dialog.problem.text()
    dialog.duration.setText("1800")
    assert dialog.buttons.button(OK).isEnabled()

    async def scenario() -> bool:
        task = asyncio.ensure_future(gui.controller.edit_profile(None, dialog))
        await until(dialog.isVisible)
        dialog.buttons.button(OK).click()
        return await task

    assert run(loop, scenario())
    saved = ConfigFile.open(gui.controller.broker.tree.config_file).get("audit")
    assert saved is not None
    assert saved["role_arn"] == "arn:aws:iam::222222222222:role/Audit"
    assert saved["source_profile"] == "alice" and saved["duration_seconds"] == "1800"
    assert gui.model.index_of("audit").parent().data() == "alice"
    gui.window.filter_edit.setText("Audit")
    tree = gui.window.tree
    top = tree.model().index(0, NAME)
    assert tree.model().rowCount() == 1 and top.data() == "alice"
    assert tree.model().index(0, NAME, top).data() == "audit"


def test_ui_not_blocked_while_sts_call_in_flight(tmp_path: Path, qtbot: Any,
                                                  loop: asyncio.AbstractEventLoop) -> None:
    gui, demo = make_gui(tmp_path, latency_ms=800)
    qtbot.addWidget(gui.window)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))

    async def scenario() -> tuple[Any, int, bool]:
        timer.start()
        task = asyncio.ensure_future(gui.controller.assume("dev-readonly"))
        await until(lambda: gui.model.index_of("dev-readonly", 3).data() == "working…")
        before = len(ticks)
        busy_rows = [n for n in gui.model.profile_names() if gui.model.index_of(n, 3).data() == "working…"]
        creds = await task
        return creds, len(ticks) - before, busy_rows == ["dev-readonly"]

    try:
        creds, ticks_during_call, only_that_row = run(loop, scenario())
    finally:
        timer.stop()
        dispose(gui, demo)
    assert creds is not None
    assert only_that_row
    assert ticks_during_call > 3  # the timer kept firing: the event loop ran while STS answered slowly


def test_mfa_validator_strips_spaces() -> None:
    validator = MfaCodeValidator()
    state, text, _ = validator.validate("123 456", 7)
    assert (state, text) == (MfaCodeValidator.State.Acceptable, "123456")
    assert validator.validate("12a", 3)[0] == MfaCodeValidator.State.Invalid
    assert validator.validate("1234567", 7)[0] == MfaCodeValidator.State.Invalid
