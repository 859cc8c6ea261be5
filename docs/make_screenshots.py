"""Take the README screenshots from a real demo run: main window, MFA dialog and decode dialog, at 1x and 2x.

Also (issue 13): the MFA dialog after a wrong code, the Session menu open, and the first-run welcome of a
window with no AWS profiles.

    .venv/bin/python docs/make_screenshots.py [--out docs]

Needs xvfb-run and ImageMagick's ``import``. Each scale runs in its own Xvfb (1400x900 at 1x, 2800x1800 at
QT_SCALE_FACTOR=2, so that the doubled window fits on the screen) with the xcb platform plugin. Nothing is
staged: the app runs on the embedded demo emulator; ``dev`` is assumed with the MFA code the demo aid shows
(the MFA dialog is captured while that real request waits), a chained role is assumed from ``dev``, and the
decode dialog decodes the UnauthorizedOperation text that boto3 got from the emulator's RunInstances with
``dev``'s credentials. Each capture is ``import -window <X window id>``: just the window, no empty screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCREENS = {1: "1400x900x24", 2: "2800x1800x24"}
MAX_BYTES = 300_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--child-scale", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_scale:
        return take(args.out, args.child_scale)
    for tool in ("xvfb-run", "import"):
        if shutil.which(tool) is None:
            print(f"make_screenshots: {tool} is not installed (apt-get install xvfb imagemagick)", file=sys.stderr)
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for scale, screen in SCREENS.items():
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "QT_SCALE_FACTOR": str(scale)}
        command = ["xvfb-run", "-a", "-s", f"-screen 0 {screen}", sys.executable, str(Path(__file__).resolve()),
                   "--out", str(args.out), "--child-scale", str(scale)]
        done = subprocess.run(command, env=env, timeout=180)
        if done.returncode != 0:
            print(f"make_screenshots: the {scale}x run failed ({done.returncode})", file=sys.stderr)
            return done.returncode
    too_big = [p.name for p in args.out.glob("*.png") if p.stat().st_size > MAX_BYTES]
    if too_big:
        print(f"make_screenshots: over {MAX_BYTES // 1000} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


def take(out: Path, scale: int) -> int:
    """In the Xvfb child: run the demo app and capture the three windows."""
    import qasync  # type: ignore[import-untyped]
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("stsdesk")
    suffix = "" if scale == 1 else f"-{scale}x"
    with tempfile.TemporaryDirectory(prefix="stsdesk-shots-") as tmp, \
            asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        runner.run(scenario(Path(tmp), out, suffix))
    return 0


async def until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo did not get there in time")
        await asyncio.sleep(0.05)
    return value


async def capture(widget: Any, path: Path) -> None:
    """Screenshot ``widget``'s X window (after it has repainted), strip metadata, and reduce it to 256
    colours when it is over the size limit. Raises CalledProcessError when ImageMagick fails."""
    await asyncio.sleep(0.6)
    window_id = str(int(widget.winId()))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: subprocess.run(["import", "-window", window_id, str(path)],
                                                            check=True))
    await loop.run_in_executor(None, lambda: subprocess.run(["convert", str(path), "-strip", str(path)],
                                                            check=True))
    if path.stat().st_size > MAX_BYTES:
        # A 2x window full of base64 text compresses badly; 256 colours without dithering keep text crisp.
        await loop.run_in_executor(None, lambda: subprocess.run(
            ["convert", str(path), "-dither", "None", "-colors", "256", str(path)], check=True))
    print(f"{path} {path.stat().st_size // 1000} KB")


def code_seconds_left(hint: str) -> int:
    """Seconds the demo aid's code stays valid ("... (next code in 17 s)"); 0 when the hint says nothing."""
    found = re.search(r"in (\d+) s", hint)
    return int(found.group(1)) if found else 0


def run_instances_error(endpoint: str, creds: Any) -> str:
    """The whole error text boto3 prints when the emulator denies RunInstances to these credentials."""
    import boto3
    import botocore.exceptions

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint,
                       aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
                       aws_session_token=creds.session_token)
    try:
        ec2.run_instances(ImageId="ami-0abcdef1234567890", MinCount=1, MaxCount=1, InstanceType="t3.micro")
    except botocore.exceptions.ClientError as exc:
        return str(exc)
    raise RuntimeError("RunInstances was allowed; the demo's Developer role should be denied it")


async def scenario(directory: Path, out: Path, suffix: str) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    from stsdesk.demo import ALICE_MFA, DEMO_ACCOUNT_ALIASES
    from stsdesk.gui.app import build_window, load_engine
    from stsdesk.gui.demo_session import start_demo

    demo = start_demo(directory / "demo")
    gui = build_window(directory / "demo", demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
    gui.demo = demo
    try:
        load_engine(gui, demo.secrets)
        gui.window.setWindowTitle(f"stsdesk — demo ({demo.world.endpoint})")
        gui.countdown.start()
        gui.window.show()
        controller = gui.controller

        # A real MFA request: assuming dev waits on alice's device; capture, then answer with the demo aid.
        assume_dev = asyncio.ensure_future(controller.assume("dev"))
        mfa = await until(lambda: controller.prompter.dialog_for(ALICE_MFA))
        # A wrong code first: STS refuses it and the same dialog asks again, with the error under the field.
        mfa.code.setText("000000")
        mfa.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        await until(lambda: mfa.error_label.isVisible() and mfa.code.isEnabled())
        await capture(mfa, out / f"mfa-wrong-code{suffix}.png")
        # Read the code with a few seconds of its 30-second step left, so it is still valid when submitted.
        await until(lambda: code_seconds_left(mfa.hint_label.text()) >= 4, timeout=40)
        code = re.search(r"\b(\d{6})\b", mfa.hint_label.text())
        assert code is not None, mfa.hint_label.text()
        mfa.code.setText(code.group(1))
        await capture(mfa, out / f"mfa-dialog{suffix}.png")
        mfa.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        if await assume_dev is None:
            raise RuntimeError(f"assuming dev failed: {gui.model.error('dev')}")

        # More real sessions: the chained role (from dev's session) and a role without MFA.
        for name in ("prod-deployer", "dev-readonly"):
            if await controller.assume(name) is None:
                raise RuntimeError(f"assuming {name} failed: {gui.model.error(name)}")
        controller.select("prod-deployer")
        await asyncio.sleep(2.2)  # a couple of countdown ticks
        controller.update_details()
        await capture(gui.window, out / f"main-window{suffix}.png")

        # The Session menu, open, with its shortcuts.
        menu = gui.window.menus["session"]
        bar = gui.window.menuBar()
        menu.popup(bar.mapToGlobal(bar.actionGeometry(menu.menuAction()).bottomLeft()))
        await until(menu.isVisible)
        await capture(menu, out / f"menu-session{suffix}.png")
        menu.hide()

        # The decode dialog on a real denial: RunInstances with dev's credentials, decoded as dev.
        creds = await controller.broker.credentials_for("dev")
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(None, run_instances_error, demo.world.endpoint, creds)
        dialog = controller.open_decode_dialog()
        dialog.input.setPlainText(text)
        dialog.profile.setCurrentText("dev")
        dialog.decode_button.click()
        await until(lambda: dialog.status.text() not in ("", "Decoding…"))
        if not dialog.status.text().startswith("Denied"):
            raise RuntimeError(f"decode did not give a verdict: {dialog.status.text()}")
        await capture(dialog, out / f"decode-dialog{suffix}.png")
        dialog.close()
        await welcome(directory, out, suffix)
    finally:
        gui.countdown.stop()
        controller.prompter.cancel_all()
        for close in gui.closers:
            close()
        demo.stop()
        gui.window.close()


async def welcome(directory: Path, out: Path, suffix: str) -> None:
    """A window on an empty AWS config (first run): the welcome in the details pane."""
    from stsdesk.gui.app import build_window, load_engine
    from stsdesk.gui.demo_session import MemorySecretStore

    empty = directory / "empty"
    (empty / "aws").mkdir(parents=True)
    saved = {key: os.environ.get(key) for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    os.environ["AWS_CONFIG_FILE"] = str(empty / "aws" / "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(empty / "aws" / "credentials")
    gui = build_window(empty / "stsdesk")
    try:
        load_engine(gui, MemorySecretStore())
        gui.window.resize(900, 560)
        gui.window.show()
        await until(gui.window.welcome.isVisible)
        await capture(gui.window, out / f"welcome{suffix}.png")
    finally:
        for close in gui.closers:
            close()
        gui.window.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


if __name__ == "__main__":
    sys.exit(main())
