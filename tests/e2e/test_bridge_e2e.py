"""The terminal bridge end to end: the GUI (controller + BridgeHost on the qasync loop, offscreen, against the
in-process demo emulator) serves two `stsdesk credential-process` subprocesses that ask at the same time for a
role that needs MFA: one MFA dialog, answered here, and both get the same session. A client without the
per-run secret is refused."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QDialogButtonBox

from stsdesk.core.bridge import SOCKET_NAME, bridge_directory
from stsdesk.demo import ALICE_MFA, DEMO_ACCOUNT_ALIASES
from stsdesk.emulator.mfa import current_code
from stsdesk.gui.app import GuiApp, build_window, load_engine, start_bridge, stop_tray_and_bridge
from stsdesk.gui.demo_session import DemoSession, start_demo

REPO = Path(__file__).resolve().parents[2]
PROFILE = "dev"  # alice -> Developer, trust policy requires MFA
pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture
def loop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)
    del event_loop
    gc.collect()  # the closed loop's Qt timers: freed here, not by a later collection on another thread


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Short and private (AF_UNIX path limit), shared by the GUI and the terminals through XDG_RUNTIME_DIR.
    path = Path(tempfile.mkdtemp(prefix="sd-run-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


async def until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return value


@pytest.fixture
def app(tmp_path: Path, qapp: Any, loop: asyncio.AbstractEventLoop, runtime_dir: Path) -> Iterator[GuiApp]:
    # Qt objects with timers must be freed on this thread, never by a collection on an executor thread.
    gc.collect()
    config_dir = tmp_path / "cfg"
    demo: DemoSession = start_demo(config_dir)
    gui = build_window(config_dir, demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
    gui.demo = demo
    load_engine(gui, demo.secrets)
    yield gui
    # Torn down here rather than by qtbot: the bridge must close on the loop before the window goes.
    run(loop, stop_tray_and_bridge(gui))
    gui.controller.prompter.cancel_all()
    for close in gui.closers:
        close()
    demo.stop()
    gui.window.close()
    gui.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def terminal_env(gui: GuiApp, runtime_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        STSDESK_CONFIG_DIR=str(gui.config_dir),
        XDG_RUNTIME_DIR=str(runtime_dir),
        AWS_CONFIG_FILE=str(gui.demo.world.config_file),
        AWS_SHARED_CREDENTIALS_FILE=str(gui.demo.world.credentials_file),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(REPO),
    )
    return env


def test_two_terminals_share_one_mfa_prompt(
    app: GuiApp, loop: asyncio.AbstractEventLoop, runtime_dir: Path
) -> None:
    asked: list[str] = []
    assert run(loop, start_bridge(app, asked.append))
    assert app.bridge_label is not None and app.bridge_label.text() == "terminal bridge on"
    prompts: list[str] = []
    real_prompt = app.controller.broker.mfa_prompt

    async def counting_prompt(request: Any) -> str:
        prompts.append(request.profile)
        return str(await real_prompt(request))

    app.controller.broker.mfa_prompt = counting_prompt
    env = terminal_env(app, runtime_dir)
    command = [sys.executable, "-m", "stsdesk", "credential-process", PROFILE]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, cwd=REPO)
        for _ in range(2)
    ]
    try:
        async def scenario() -> None:
            # Both terminals are waiting on the GUI before the one dialog is answered.
            await until(lambda: len(asked) == 2 or any(p.poll() is not None for p in procs))
            assert asked == [PROFILE, PROFILE], [p.communicate() for p in procs if p.poll() is not None]
            dialog = await until(lambda: app.controller.prompter.dialog_for(ALICE_MFA))
            assert app.controller.prompter.open_dialogs() == [dialog]
            dialog.code.setText(current_code(app.demo.world.mfa_seed, time.time()))
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
            await until(lambda: all(p.poll() is not None for p in procs))

        run(loop, scenario())
        outputs = [p.communicate(timeout=10) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert [p.returncode for p in procs] == [0, 0], outputs
    documents = [json.loads(out) for out, _err in outputs]
    assert all(doc["Version"] == 1 and doc["SessionToken"] for doc in documents)
    assert documents[0]["AccessKeyId"] == documents[1]["AccessKeyId"]
    assert prompts == [PROFILE]  # exactly one MFA prompt for both terminals
    assert app.controller.prompter.open_dialogs() == []
    # The GUI's tree shows the session the terminals got.
    meta = app.controller.broker.session_state(PROFILE)
    assert meta is not None and meta.seconds_left() > 0


def _raw_request(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    return answer


def test_client_without_the_secret_is_refused(
    app: GuiApp, loop: asyncio.AbstractEventLoop, runtime_dir: Path
) -> None:
    asked: list[str] = []
    assert run(loop, start_bridge(app, asked.append))
    directory = bridge_directory(app.config_dir)
    assert directory.parent == runtime_dir
    request = {"op": "credentials", "profile": "dev-readonly", "duration": None, "format": None}

    async def ask(payload: dict[str, Any]) -> dict[str, Any]:
        return await asyncio.get_running_loop().run_in_executor(
            None, _raw_request, directory / SOCKET_NAME, payload
        )

    for payload in ({**request, "secret": "0" * 64}, request):
        answer = run(loop, ask(payload))
        assert answer == {"ok": False, "error": "refused"}
    assert asked == []  # refused before the broker was asked
    # With the per-run secret the same request is served (the secret file is the only difference).
    secret = (directory / "bridge.secret").read_text().strip()
    answer = run(loop, ask({**request, "secret": secret}))
    assert answer["ok"] is True and answer["credentials"]["access_key_id"].startswith("ASIA")
    assert asked == ["dev-readonly"]


def test_assume_asks_the_gui_unless_a_code_is_given(
    app: GuiApp, loop: asyncio.AbstractEventLoop, runtime_dir: Path
) -> None:
    asked: list[str] = []
    assert run(loop, start_bridge(app, asked.append))
    env = terminal_env(app, runtime_dir)

    def stsdesk(*args: str) -> tuple[int, str, str]:
        proc = subprocess.Popen([sys.executable, "-m", "stsdesk", *args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=REPO)
        try:
            run(loop, until(lambda: proc.poll() is not None))
        finally:
            if proc.poll() is None:
                proc.kill()
        out, err = proc.communicate(timeout=10)
        return proc.returncode, out, err

    code, out, err = stsdesk("assume", "dev-readonly")
    assert code == 0, err
    assert asked == ["dev-readonly"]
    assert "export AWS_SESSION_TOKEN=" in out and "export AWS_REGION='us-east-1'" in out
    # With --mfa-code the terminal works alone: alice's key lives only in this GUI's memory, so it fails
    # saying so, and the GUI was not asked.
    code, out, err = stsdesk("assume", "dev", "--mfa-code", "123456")
    assert code == 1 and out == "" and err.startswith("stsdesk: ") and err.count("\n") == 1
    assert asked == ["dev-readonly"]
