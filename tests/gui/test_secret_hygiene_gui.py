"""Secret hygiene through every GUI flow, on the real window against the in-process emulator.

A canary secret access key (alice's, put into the emulator's scenario), a second one typed into the Add profile
dialog, the MFA seed, and every session secret, session token, sign-in token and console URL the emulator issues
along the way must never appear in a file under HOME (the config dir, stsdesk.log and the QSettings ini are
there), on the clipboard once its clear delay has passed, or on the process's stdout/stderr. Unexpected
exceptions carrying those values (from a Qt slot, an async slot, a loop callback) are logged redacted and the app
keeps running. The number of canary checks is printed at the end of the session.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import re
import secrets
import string
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import dispose, run, until
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox

from stsdesk.core.exports import SHELLS
from stsdesk.demo import ALICE_MFA, DEMO_ACCOUNT_ALIASES, demo_scenario_path
from stsdesk.emulator.mfa import current_code
from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.demo_session import ALICE_ARN, DemoSession, start_demo
from stsdesk.gui.errors import LOG_NAME, setup_logging
from stsdesk.gui.profile_dialog import ProfileDialog
from stsdesk.gui.settings import SettingsDialog

OK = QDialogButtonBox.StandardButton.Ok
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

# Canary checks made by this file and test_keyring_faults_gui.py; printed by the summary plugin below.
COUNTS: Counter[str] = Counter()
_SECRET_ALPHABET = string.ascii_letters + string.digits + "/+"


class CanarySummary:
    """Registered once per session: prints the canary count like tests/resilience's conftest does."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if COUNTS:
            terminalreporter.write_sep("-", "gui secret hygiene")
            terminalreporter.write_line(f"canary checks: {COUNTS['canary checks']}")


@pytest.fixture(autouse=True)
def canary_summary(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("stsdesk-gui-canaries"):
        manager.register(CanarySummary(), "stsdesk-gui-canaries")


def new_secret() -> str:
    """A fresh 40-character secret access key that contains '/' and '+' (so URL-encoding matters)."""
    body = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(38))
    return body[:10] + "/" + body[10:25] + "+" + body[25:]


def new_seed() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode()


def canary_scenario(path: Path, secret: str, seed: str) -> Path:
    """The demo scenario with alice's secret key and MFA seed replaced by fresh canaries."""
    from stsdesk.emulator.scenario import load_scenario

    alice = load_scenario(demo_scenario_path()).user_by_arn(ALICE_ARN)
    assert alice is not None and alice.mfa is not None
    text = demo_scenario_path().read_text()
    assert alice.access_keys[0].secret in text and alice.mfa.seed in text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(alice.access_keys[0].secret, secret).replace(alice.mfa.seed, seed))
    return path


@dataclass
class World:
    """The running app, the emulator behind it, and what must never leak."""

    gui: GuiApp
    demo: DemoSession
    home: Path
    config_dir: Path
    secret: str  # alice's secret access key (the scenario's canary)
    seed: str
    canaries: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    clears: list[int] = field(default_factory=lambda: [0, 0])  # clipboard clears seen, clears checked

    def __post_init__(self) -> None:
        self.gui.controller.clipboard.cleared.connect(self._cleared)

    def _cleared(self) -> None:
        self.clears[0] += 1

    @property
    def log_file(self) -> Path:
        return self.config_dir / LOG_NAME

    def learn(self, text: str) -> None:
        """Watch for the secrets, tokens and sign-in tokens in ``text`` (exports, URLs) too."""
        for pattern in (
            r"AWS_SECRET_ACCESS_KEY\W+([A-Za-z0-9/+=]{30,})",
            r"AWS_SESSION_TOKEN\W+([A-Za-z0-9/+=_.-]{30,})",
            r'"SecretAccessKey":\s*"([^"]+)"',
            r'"SessionToken":\s*"([^"]+)"',
            r"SigninToken=([A-Za-z0-9%_.~-]{20,})",
        ):
            for found in re.findall(pattern, text):
                self.canaries.add(found)
                self.canaries.add(urllib.parse.unquote(found))

    def learn_credentials(self, creds: Any) -> None:
        assert creds is not None and creds.session_token
        self.canaries.update((creds.secret_access_key, creds.session_token))

    def check_text(self, where: str, text: str) -> None:
        for canary in self.canaries:
            # The plain value and its URL-encoded form (a getSigninToken URL carries the secret encoded).
            for form in {canary, urllib.parse.quote(canary, safe="")}:
                COUNTS["canary checks"] += 1
                if form in text:
                    self.failures.append(f"{where} contains {canary[:6]}…")

    def check_files(self) -> list[Path]:
        # The session cache is written behind on a thread (temp file, then rename): a temp file listed here may
        # be gone when it is read. Then list again, until one whole pass read every file it listed.
        for _ in range(20):
            files = sorted(p for p in self.home.rglob("*") if p.is_file())
            try:
                contents = [(path, path.read_bytes()) for path in files]
            except FileNotFoundError:
                time.sleep(0.05)
                continue
            break
        else:
            raise AssertionError(f"files under {self.home} kept changing while they were scanned")
        for path, data in contents:
            self.check_text(str(path), data.decode("utf-8", "replace"))
        return files

    def check_clipboard_cleared(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait until the clipboard was cleared (by us: ``cleared`` fired once more); then neither its text nor
        any MIME part holds a canary."""
        run(loop, until(lambda: self.clears[0] > self.clears[1], timeout=5))
        self.clears[1] = self.clears[0]
        board = QGuiApplication.clipboard()
        self.check_text("clipboard", board.text())
        mime = board.mimeData()
        if mime is not None:
            for fmt in mime.formats():
                self.check_text(f"clipboard {fmt}", bytes(mime.data(fmt).data()).decode("utf-8", "replace"))


def build_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secrets_store: Any = "demo") -> World:
    """HOME and the config dir under ``tmp_path/home``; the scenario (which holds the canaries) outside it.

    ``secrets_store`` "demo" uses the demo's in-memory store holding alice's key; None lets load_engine build
    the real keyring-backed SecretStore (keyring fault tests)."""
    home = tmp_path / "home"
    config_dir = home / ".config" / "stsdesk"
    config_dir.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local")):
        monkeypatch.setenv(var, str(home / sub))
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):  # start_demo sets them; restored after
        monkeypatch.setenv(var, "")
    secret, seed = new_secret(), new_seed()
    demo = start_demo(config_dir, canary_scenario(tmp_path / "world" / "scenario.toml", secret, seed))
    setup_logging(config_dir)
    gui = build_window(config_dir, demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
    gui.demo = demo
    load_engine(gui, demo.secrets if secrets_store == "demo" else secrets_store)
    gui.controller.clipboard.clear_after = 0.05  # a tiny clear delay: the tests wait for it
    return World(gui, demo, home, config_dir, secret, seed, {secret, seed})


def close_world(world: World) -> None:
    dispose(world.gui, world.demo)
    root = logging.getLogger("stsdesk")
    for handler in [h for h in root.handlers if getattr(h, "_stsdesk", False)]:
        root.removeHandler(handler)
        handler.close()


@pytest.fixture
def world(tmp_path: Path, qtbot: Any, loop: asyncio.AbstractEventLoop,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    made = build_world(tmp_path, monkeypatch)
    made.gui.controller.reporter.install(loop)  # as app.run does: sys.excepthook and the loop's handler
    qtbot.addWidget(made.gui.window)
    made.gui.window.show()
    try:
        yield made
    finally:
        made.gui.controller.reporter.uninstall()
        close_world(made)
        gc.collect()


def answer_mfa(world: World, codes: list[str]) -> Any:
    """Coroutine: answer the MFA dialog for alice's device with ``codes`` in turn (a wrong one is retried)."""
    async def answer() -> None:
        prompter = world.gui.controller.prompter
        for code in codes:
            def ready() -> Any:
                dialog = prompter.dialog_for(ALICE_MFA)
                return dialog if dialog is not None and dialog.code.isEnabled() else None

            dialog = await until(ready)
            dialog.code.setText(code)
            dialog.buttons.button(OK).click()
            await until(lambda d=dialog: not d.code.isEnabled() or not d.isVisible())
    return answer()


def assume_with_mfa(world: World, loop: asyncio.AbstractEventLoop, name: str) -> Any:
    """Assume ``name``: a stale (wrong) MFA code first, then the current one."""
    async def scenario() -> Any:
        task = asyncio.ensure_future(world.gui.controller.assume(name))
        await answer_mfa(world, [current_code(world.seed, time.time() - 600),
                                 current_code(world.seed, time.time())])
        return await task
    return run(loop, scenario())


def test_no_secret_leaks_from_any_gui_flow(world: World, loop: asyncio.AbstractEventLoop,
                                          monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    gui, controller = world.gui, world.gui.controller
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:  # never a real browser; it gets a private page that forwards to the sign-in
        import html
        import re

        assert url.isLocalFile() and "SigninToken" not in url.toString()
        page = Path(url.toLocalFile()).read_text()
        opened.append(html.unescape(re.findall(r'content="0;url=([^"]+)"', page)[0]))
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)

    # Assume with MFA (wrong code, then right), refresh, plain assume.
    creds = assume_with_mfa(world, loop, "dev")
    world.learn_credentials(creds)
    assert gui.model.index_of("dev", 3).data() == "active"
    assert controller.select("dev-readonly")
    world.learn_credentials(run(loop, controller.assume("dev-readonly")))
    world.learn_credentials(run(loop, controller.assume("dev-readonly", force=True)))  # Refresh
    world.check_files()

    # Copy exports in every shell; the clipboard is cleared after its (tiny) delay each time.
    for shell in SHELLS:
        text = run(loop, controller.copy_exports("dev-readonly", shell))
        assert text is not None and "AWS_SESSION_TOKEN" in text
        world.learn(text)
        world.check_clipboard_cleared(loop)
    assert len(world.canaries) >= 2 + 6, "the flows handed out session secrets to watch for"
    line = controller.copy_credential_process()
    assert line is not None and "credential-process dev-readonly" in line
    world.check_text("credential_process line", line)
    world.check_clipboard_cleared(loop)

    # Open console (patched) and copy the console URL: the login URL and its sign-in token are secrets.
    gui.window.console_action.trigger()
    url = run(loop, until(lambda: opened))[0]
    QGuiApplication.clipboard().clear()
    gui.window.copy_console_action.trigger()
    copied = run(loop, until(lambda: QGuiApplication.clipboard().text()))
    for login in (url, copied):
        assert "SigninToken=" in login
        world.learn(login)
        world.canaries.add(login)
    world.check_clipboard_cleared(loop)

    # Who am I, decode a real RunInstances denial.
    assert run(loop, controller.whoami("dev-readonly")).startswith("arn:aws:sts::222222222222:assumed-role/")
    denial = run_instances_denial(world, creds_of(world, loop, "dev-readonly"))
    dialog = controller.open_decode_dialog()
    dialog.input.setPlainText(denial)
    dialog.profile.setCurrentText("dev")
    dialog.decode_button.click()
    run(loop, until(lambda: dialog.status.text() not in ("", "Decoding…")))
    assert dialog.status.text().startswith("Denied"), dialog.status.text()
    dialog.reject()

    # Add a user profile with a second canary secret, edit it, remove it.
    carol_secret = new_secret()
    world.canaries.add(carol_secret)
    added = ProfileDialog(gui.model.profile_names(), None, gui.window)
    added.kind.setCurrentIndex(1)  # IAM user
    added.name.setText("carol")
    added.access_key_id.setText("AKIACAROLEXAMPLE0001")
    added.secret.setText(carol_secret)
    assert added.validate(), added.problem.text()
    assert run(loop, dialog_accepted(controller.edit_profile(None, added), added))
    assert controller.secrets.get("user:carol:AKIACAROLEXAMPLE0001") == carol_secret
    edited = ProfileDialog(gui.model.profile_names(), gui.model.profile("carol"), gui.window)
    edited.region.setText("eu-west-1")
    assert run(loop, dialog_accepted(controller.edit_profile("carol", edited), edited))
    assert gui.model.profile("carol").region == "eu-west-1"
    world.check_files()
    assert controller.remove_profile("carol")

    # Settings: the dialog's values go to the ini; nothing secret with them.
    gui.window.settings_action.trigger()
    settings = run(loop, until(lambda: gui.window.findChild(SettingsDialog)))
    settings.clipboard.setValue(1)
    settings.buttons.button(OK).click()
    run(loop, until(lambda: controller.prefs.clipboard_clear_seconds == 1))
    controller.clipboard.clear_after = 0.05
    controller.save_state()

    # Errors: access denied, wrong MFA code (after forgetting every session), then the network down.
    assert controller.save_profile("denied", {"source_profile": "alice", "region": "us-east-1",
                                              "endpoint_url": world.demo.world.endpoint,
                                              "role_arn": "arn:aws:iam::222222222222:role/NoSuchRole"}, None)
    assert run(loop, controller.assume("denied")) is None
    assert "not authorized" in (gui.model.error("denied") or ""), gui.model.error("denied")
    controller.broker.forget()  # every session, the MFA session too: the next code is really checked

    async def wrong_code_then_cancel() -> Any:
        task = asyncio.ensure_future(controller.assume("dev"))
        await answer_mfa(world, ["000000"])
        dialog = await until(lambda: controller.prompter.dialog_for(ALICE_MFA))
        await until(lambda: dialog.error_label.isVisible())
        message = dialog.error_label.text()
        dialog.reject()
        return message, await task

    message, result = run(loop, wrong_code_then_cancel())
    assert result is None and "MFA" in message
    world.check_text("MFA dialog error", message)
    world.demo.stop()  # network down
    # EmulatorServer.stop() keeps answering on keep-alive connections it already accepted (its handler threads
    # live on); dropping the client's pooled connections makes the outage real for the next request.
    for close in gui.closers:
        close()
    assert run(loop, controller.assume("dev-readonly", force=True)) is None
    down = gui.model.error("dev-readonly") or ""
    assert down and "Traceback" not in down, down
    assert run(loop, controller.console_url("dev-readonly")) is None
    assert run(loop, controller.whoami("dev-readonly")) is None
    for where, text in (("status bar", gui.window.statusBar().currentMessage()), ("error", down),
                        ("details", gui.window.details.toPlainText())):
        world.check_text(where, text)

    files = world.check_files()
    names = {p.name for p in files}
    assert {LOG_NAME, "stsdesk-gui.ini", "sessions.json"} <= names, names
    out, err = capfd.readouterr()
    world.check_text("stdout", out)
    world.check_text("stderr", err)
    assert world.failures == [], world.failures


def creds_of(world: World, loop: asyncio.AbstractEventLoop, name: str) -> Any:
    creds = run(loop, world.gui.controller.assume(name))
    world.learn_credentials(creds)
    return creds


def run_instances_denial(world: World, creds: Any) -> str:
    """The text of a real RunInstances denial (EC2 on the emulator) with its encoded message."""
    import boto3
    import botocore.exceptions

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=world.demo.world.endpoint,
                       aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                       aws_session_token=creds.session_token)
    try:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    except botocore.exceptions.ClientError as exc:
        return f"An error occurred: {exc}"
    raise AssertionError("RunInstances should be denied for ReadOnly")


async def dialog_accepted(call: Any, dialog: Any) -> Any:
    """Run ``call`` (which opens ``dialog``) and press OK once the dialog shows."""
    task = asyncio.ensure_future(call)
    await until(dialog.isVisible)
    dialog.buttons.button(OK).click()
    return await task


def leaky_text(world: World, creds: Any, login: str) -> str:
    """What a careless exception message could carry: keys, token, the login URL, a getSigninToken URL."""
    session = json.dumps({"sessionId": creds.access_key_id, "sessionKey": creds.secret_access_key,
                          "sessionToken": creds.session_token})
    request = f"{world.demo.world.endpoint}/federation?" + urllib.parse.urlencode(
        {"Action": "getSigninToken", "Session": session})
    return (f"secret={creds.secret_access_key} token {creds.session_token} login: {login} "
            f"request: {request} alice key {world.secret} MFA seed={world.seed}")


def test_crash_handler_logs_redacted_and_app_keeps_running(
        world: World, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    gui, controller = world.gui, world.gui.controller
    creds = creds_of(world, loop, "dev-readonly")
    login = run(loop, controller.console_url("dev-readonly"))
    assert login
    world.learn(login)
    world.canaries.add(login)
    leak = leaky_text(world, creds, login)
    assert controller.select("dev-readonly")

    # 1. A plain Qt slot raises (Forget -> broker.forget): sys.excepthook -> the reporter.
    def broken_forget(name: str) -> Any:
        raise RuntimeError(f"forget failed: {leak}")

    monkeypatch.setattr(controller.broker, "forget", broken_forget)
    gui.window.forget_action.trigger()
    run(loop, until(lambda: "RuntimeError" in gui.window.statusBar().currentMessage()))
    monkeypatch.undo()

    # 2. An async slot raises past its own error handling (the copy after a successful console URL).
    def broken_copy(text: str) -> None:
        raise ValueError(f"clipboard exploded: {text} {leak}")

    monkeypatch.setattr(controller.clipboard, "copy", broken_copy)
    gui.window.copy_console_action.trigger()
    run(loop, until(lambda: "ValueError" in gui.window.statusBar().currentMessage()))
    monkeypatch.undo()

    # 3. A callback on the qasync loop, and 4. a task whose exception nobody retrieves.
    def broken_callback() -> None:
        raise KeyError(f"callback: {leak}")

    loop.call_soon(broken_callback)
    run(loop, until(lambda: "KeyError" in gui.window.statusBar().currentMessage()))

    async def broken_task() -> None:
        raise LookupError(f"task: {leak}")

    task = asyncio.ensure_future(broken_task())
    run(loop, until(task.done))
    del task
    gc.collect()
    run(loop, until(lambda: "LookupError" in gui.window.statusBar().currentMessage()))

    # The app still works: the window is up and a new request succeeds.
    assert gui.window.isVisible()
    assert run(loop, controller.whoami("dev-readonly"))
    log_text = world.log_file.read_text()
    for kind in ("RuntimeError", "ValueError", "KeyError", "LookupError"):
        assert kind in log_text, kind
    assert "Traceback" in log_text and "***" in log_text
    assert "Action=login" in log_text  # redacted, not dropped: the log still says what happened
    world.check_text("leaky text itself (sanity)", leak)
    assert world.failures, "the sanity check must see the canaries in the unredacted text"
    world.failures.clear()
    world.check_files()
    out, err = capfd.readouterr()
    world.check_text("stdout", out)
    world.check_text("stderr", err)
    assert world.failures == [], world.failures


@pytest.mark.parametrize("shell", SHELLS)
def test_redact_masks_every_export_format_and_keeps_key_ids(shell: str) -> None:
    from datetime import UTC, datetime, timedelta

    from stsdesk.core.exports import render_exports
    from stsdesk.core.model import CredentialKind, Credentials
    from stsdesk.gui.errors import redact

    secret, token = new_secret(), "IQoJb3JpZ2luX2Vj" + new_secret() + new_secret()  # a short (88-char) token
    creds = Credentials("ASIAEXAMPLEKEY000001", secret, token, datetime.now(UTC) + timedelta(hours=1),
                        CredentialKind.ASSUMED_ROLE)
    text = render_exports(creds, shell, "us-east-1", "dev")
    redacted = redact(text)
    for value in (secret, token):
        for form in (value, urllib.parse.quote(value, safe="")):
            COUNTS["canary checks"] += 1
            assert form not in redacted, (shell, redacted)
    assert "ASIAEXAMPLEKEY000001" in redacted  # an access key id is not a secret: the log stays useful
    encoded = "Session=" + urllib.parse.quote(json.dumps({"sessionKey": secret, "sessionToken": token}))
    COUNTS["canary checks"] += 1
    assert secret not in urllib.parse.unquote(redact(encoded)) and token not in redact(encoded)
