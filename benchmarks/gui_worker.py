"""The GUI at scale, run by bench_gui in a child process (QT_QPA_PLATFORM=offscreen).

Runs the real app entry point, stsdesk.gui.app.main, on a generated AWS config of 5,000 role profiles
(500 accounts x 10 roles, all sourced from one IAM user) whose first ASSUMABLE accounts exist in an emulator
scenario with 50 ms of injected latency. A task started beside the app measures, then closes the window:

- config load + tree model ready, once, as the app runs it after the first paint (bench_gui also times it in
  fresh processes with gui_load_worker);
- filter keystrokes: QTest key clicks into the filter box, each timed through filtering, re-layout and a
  synchronous repaint of the tree's viewport;
- RSS once the tree is shown;
- responsiveness: 200 concurrent Controller.assume calls; a 5 ms precise QTimer records the longest gap
  between its ticks (the longest the event loop went without turning);
- countdown cost: with 500 live sessions, CPU time of this process over IDLE_SECONDS.

Prints one JSON object on stdout. Secrets go to keyring's in-memory fallback (never the user's keyring).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import time_calls
from benchmarks.servers import ALICE_KEY_ID, ALICE_SECRET, REGION, stsdesk_emulator

ACCOUNTS, ROLES = 500, 10
ASSUMABLE_ACCOUNTS = 50  # 500 roles the emulator knows: 200 for the burst, 500 sessions for the countdown
CONCURRENT = 200
SESSIONS = 500
LATENCY_MS = 50
IDLE_SECONDS = 20.0
TYPED = "acct0421-role7"
IDENTITY_ACCOUNT = "111111111111"


def account_id(a: int) -> str:
    return f"{200000000000 + a}"


def profile_name(a: int, r: int) -> str:
    return f"acct{a:04d}-role{r}"


def write_scenario(path: Path) -> None:
    """An emulator world: alice (the demo keys) may assume Role0..9 in the first ASSUMABLE_ACCOUNTS accounts."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{IDENTITY_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/*"}],
    }
    accounts = [{"id": IDENTITY_ACCOUNT}] + [{"id": account_id(a)} for a in range(ASSUMABLE_ACCOUNTS)]
    roles = [
        {"account": account_id(a), "name": f"Role{r}", "trust_policy": json.dumps(trust)}
        for a in range(ASSUMABLE_ACCOUNTS)
        for r in range(ROLES)
    ]
    users = [
        {
            "account": IDENTITY_ACCOUNT,
            "name": "alice",
            "access_keys": [{"id": ALICE_KEY_ID, "secret": ALICE_SECRET}],
            "policies": [json.dumps(allow)],
        }
    ]
    scenario = {"region": REGION, "accounts": accounts, "users": users, "roles": roles}
    path.write_text(json.dumps(dict(scenario, faults={"latency_ms": LATENCY_MS})))


def write_config(directory: Path, endpoint: str) -> tuple[Path, Path]:
    common = f"region = {REGION}\nendpoint_url = {endpoint}\n"
    parts = [f"[profile base]\n{common}"]
    for a in range(ACCOUNTS):
        for r in range(ROLES):
            parts.append(
                f"[profile {profile_name(a, r)}]\n{common}source_profile = base\n"
                f"role_arn = arn:aws:iam::{account_id(a)}:role/Role{r}\n"
            )
    config, credentials = directory / "config", directory / "credentials"
    config.write_text("\n".join(parts))
    credentials.write_text(f"[base]\naws_access_key_id = {ALICE_KEY_ID}\naws_secret_access_key = {ALICE_SECRET}\n")
    return config, credentials


class GapProbe:
    """A precise 5 ms QTimer; the longest interval between its ticks is the longest event-loop stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.longest = 0.0
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return self.longest




async def measure(gui: Any, app_module: Any, load_times: list[float], result: dict[str, Any]) -> None:
    import psutil  # type: ignore[import-untyped]
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    while gui.controller.broker is None or not load_times:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    result["profiles"] = len(gui.model.profile_names())
    result["load_in_app"] = load_times[0]
    await asyncio.sleep(0.2)
    process = psutil.Process()
    result["rss_after_start"] = process.memory_info().rss

    edit, viewport = gui.window.filter_edit, gui.window.tree.viewport()
    edit.setFocus()
    keystrokes: list[float] = []
    keys = [*TYPED, *([Qt.Key.Key_Backspace] * len(TYPED))]
    for key in keys:
        t0 = time.perf_counter()
        QTest.keyClick(edit, key)
        viewport.repaint()
        keystrokes.append(time.perf_counter() - t0)
        await asyncio.sleep(0.01)
    result["keystroke_median"] = statistics.median(keystrokes)
    result["keystroke_max"] = max(keystrokes)
    result["keystrokes"] = len(keystrokes)
    slowest = keystrokes.index(max(keystrokes))
    typing = slowest < len(TYPED)
    shown = TYPED[: slowest + 1] if typing else TYPED[: 2 * len(TYPED) - slowest - 1]
    result["keystroke_slowest"] = f"{'typing' if typing else 'deleting'} to '{shown}'"

    names = [profile_name(a, r) for a in range(ASSUMABLE_ACCOUNTS) for r in range(ROLES)]
    store_times = time_calls(type(gui.controller.broker.cache), "store")
    probe = GapProbe()
    probe.start()
    t0 = time.perf_counter()
    done = await asyncio.gather(*(gui.controller.assume(n) for n in names[:CONCURRENT]))
    result["burst_seconds"] = time.perf_counter() - t0
    result["burst_longest_gap"] = probe.stop()
    result["burst_store_longest"] = max(store_times, default=0.0)
    result["burst_store_total"] = sum(store_times)
    result["burst_completed"] = sum(1 for creds in done if creds is not None)
    errors = {gui.model.error(n) for n in names[:CONCURRENT] if gui.model.error(n)}
    result["burst_errors"] = sorted(str(e) for e in errors)[:3]

    await asyncio.gather(*(gui.controller.assume(n) for n in names[CONCURRENT:SESSIONS]))
    now = time.time()
    result["live_sessions"] = sum(1 for _, expiry in gui.model.sessions() if expiry > now)
    await asyncio.sleep(2.0)  # let the burst's after-effects (status messages, GC) settle
    before, t0 = process.cpu_times(), time.perf_counter()
    await asyncio.sleep(IDLE_SECONDS)
    after, wall = process.cpu_times(), time.perf_counter() - t0
    used = (after.user - before.user) + (after.system - before.system)
    result["idle_cpu_percent"] = 100.0 * used / wall
    result["idle_seconds"] = wall


def main() -> int:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # memory-only secrets; never the user's keyring
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-gui-") as tmp:
        scenario = Path(tmp) / "scenario.json"
        write_scenario(scenario)
        with stsdesk_emulator(scenario) as endpoint:
            config, credentials = write_config(Path(tmp), endpoint)
            os.environ["AWS_CONFIG_FILE"] = str(config)
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
            from stsdesk.gui import app as app_module

            load_times: list[float] = []
            real_load = app_module.load_engine

            def timed_load(gui: Any, secrets: Any = None) -> None:
                t0 = time.perf_counter()
                real_load(gui, secrets)
                load_times.append(time.perf_counter() - t0)

            app_module.load_engine = timed_load
            tasks: list[asyncio.Task[None]] = []

            def factory(*args: Any) -> Any:
                gui = app_module.build_window(*args)

                async def drive() -> None:
                    try:
                        await measure(gui, app_module, load_times, result)
                    except Exception as exc:  # reported by the parent as the rows' note
                        result["error"] = f"{type(exc).__name__}: {exc}"
                    finally:
                        gui.window.close()

                tasks.append(asyncio.get_running_loop().create_task(drive()))
                return gui

            args = argparse.Namespace(
                demo=False, exit_after_first_paint=False, self_test=False, config_dir=str(Path(tmp) / "stsdesk")
            )
            original_run = app_module.run

            async def run_with_factory(run_args: argparse.Namespace) -> int:
                return await original_run(run_args, gui_factory=factory)

            setattr(app_module, "run", run_with_factory)  # noqa: B010 - main() looks run up at call time
            try:
                result["exit_status"] = app_module.main(args)
            finally:
                app_module.run = original_run
                app_module.load_engine = real_load
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
