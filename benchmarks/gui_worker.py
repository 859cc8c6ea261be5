"""The GUI at scale, run by bench_gui in a child process (QT_QPA_PLATFORM=offscreen).

Runs the real app entry point, stsdesk.gui.app.main, on a generated AWS config of 5,000 role profiles
(500 accounts x 10 roles, all sourced from one IAM user) whose first ASSUMABLE accounts exist in an emulator
scenario with 50 ms of injected latency. A task started beside the app measures, then closes the window:

- config load + tree model ready, once, as the app runs it after the first paint (bench_gui also times it in
  fresh processes with gui_load_worker, against botocore's own parse);
- filter keystrokes: QTest key clicks into the filter box, each timed through filtering, re-layout and a
  synchronous repaint of the tree's viewport, alternating with the same keystroke in a bare
  QSortFilterProxyModel window over 5,000 plain rows (BareFilterWindow);
- RSS once the tree is shown;
- responsiveness: 200 concurrent Controller.assume(force=True) calls; a 5 ms precise QTimer records the longest
  gap between its ticks (the longest the event loop went without turning). Before each burst the app's
  collector is put where an app open for hours is just before a full collection (full_collection_due), so one
  lands in the window; then the same again with gc.unfreeze() (the
  worst case: the whole heap scanned, as after a config reload built a new tree). Each burst alternates with
  the same 200 requests through a bare qasync loop in a fresh process (benchmarks.peer_qasync_burst);
- countdown cost: with 500 live sessions, CPU time of this process over IDLE_SECONDS, and over the same
  seconds of a bare Qt app with one 1 Hz timer (benchmarks.peer_qt_idle) and of the floor, a bare Qt tree over
  Qt's own C++ model updating as many visible countdown cells as stsdesk shows (benchmarks.peer_qt_countdowns),
  and of that floor keeping all 500 countdown cells current (its ``--all``).

``--only idle`` (or ``keystrokes``, ``bursts``, comma-separated) measures just those parts, for a quick look.
Prints one JSON object on stdout. Secrets go to keyring's in-memory fallback (never the user's keyring).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import rounds, smoke, time_calls
from benchmarks.servers import ALICE_KEY_ID, ALICE_SECRET, REGION, stsdesk_emulator

ACCOUNTS, ROLES = 500, 10
ASSUMABLE_ACCOUNTS = 50  # 500 roles the emulator knows: 200 for the burst, 500 sessions for the countdown
CONCURRENT = 200
SESSIONS = 500
LATENCY_MS = 50
IDLE_SECONDS = 20.0
AFTER_BURST_SECONDS = 2.5  # watched after each burst too
BURST_ROUNDS = 5  # per phase: with a full collection due, then with the heap unfrozen
TYPED = "acct0421-role7"
PARTS = ("keystrokes", "bursts", "idle")
ONLY: set[str] = set(PARTS)  # --only PART[,PART]: measure just those (for a quick look; bench_gui runs them all)
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




def cpu_seconds() -> float:
    """CPU seconds of this process so far: every thread, exited ones too (executor and cache-writer threads come
    and go), microsecond resolution (getrusage; psutil's cpu_times counts 10 ms clock ticks)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BareFilterWindow:
    """The filter peer: a QLineEdit over a QTreeView of a bare QSortFilterProxyModel on 5,000 plain rows (the same
    names, kinds and account ids), filtering on every column, case-insensitive, at each text change."""

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        from PySide6.QtCore import QSortFilterProxyModel, Qt
        from PySide6.QtGui import QStandardItem, QStandardItemModel
        from PySide6.QtWidgets import QLineEdit, QTreeView, QVBoxLayout, QWidget

        self.window = QWidget()
        self.model = QStandardItemModel(0, 5, self.window)
        self.model.setHorizontalHeaderLabels(["Name", "Kind", "Account", "State", "Time left"])
        for name, kind, account in rows:
            self.model.appendRow([QStandardItem(name), QStandardItem(kind), QStandardItem(account),
                                  QStandardItem(""), QStandardItem("")])
        self.proxy = QSortFilterProxyModel(self.window)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.edit = QLineEdit()
        self.edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.tree = QTreeView()
        self.tree.setUniformRowHeights(True)
        self.tree.setModel(self.proxy)
        layout = QVBoxLayout(self.window)
        layout.addWidget(self.edit)
        layout.addWidget(self.tree)
        self.window.resize(1100, 640)
        self.window.show()


async def keystrokes(gui: Any, result: dict[str, Any]) -> None:
    """TYPED typed then deleted, one keystroke in stsdesk's filter box then the same in the bare peer's."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    rows = [(profile_name(a, r), "role", account_id(a)) for a in range(ACCOUNTS) for r in range(ROLES)]
    bare = BareFilterWindow(rows)
    await asyncio.sleep(0.2)
    typed = TYPED if not smoke() else TYPED[:3]
    keys = [*typed, *([Qt.Key.Key_Backspace] * len(typed))]
    sides = ((gui.window.filter_edit, gui.window.tree.viewport()), (bare.edit, bare.tree.viewport()))
    times: tuple[list[float], list[float]] = ([], [])
    for edit, _ in sides:
        edit.setFocus()
    for key in keys:
        for (edit, viewport), out in zip(sides, times, strict=True):
            t0 = time.perf_counter()
            QTest.keyClick(edit, key)
            viewport.repaint()
            out.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
    if bare.proxy.rowCount() != ACCOUNTS * ROLES:
        raise RuntimeError(f"the bare filter shows {bare.proxy.rowCount()} rows after deleting the text")
    bare.window.close()
    bare.window.deleteLater()  # its items and their Python wrappers must not sit in the app's heap for the bursts
    del bare
    await asyncio.sleep(0.1)
    ours, peer = times
    result["keystroke_median"] = statistics.median(ours)
    result["keystroke_peer_median"] = statistics.median(peer)
    result["keystroke_max"] = max(ours)
    result["keystroke_peer_max"] = max(peer)
    result["keystrokes"] = len(ours)
    slowest = ours.index(max(ours))
    typing = slowest < len(typed)
    shown = typed[: slowest + 1] if typing else typed[: 2 * len(typed) - slowest - 1]
    result["keystroke_slowest"] = f"{'typing' if typing else 'deleting'} to '{shown}'"


class FullCollections:
    """Counts full (generation 2) garbage collections and their durations while installed."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                self.durations.append(time.perf_counter() - self._started)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def collector_of_app() -> Any:
    """The app's GuiThreadCollector (a child of the QApplication)."""
    from PySide6.QtWidgets import QApplication

    from stsdesk.gui.gc_guard import GuiThreadCollector

    found = QApplication.instance().findChildren(GuiThreadCollector)  # type: ignore[union-attr]
    if len(found) != 1:
        raise RuntimeError(f"expected one GuiThreadCollector in the app, found {len(found)}")
    return found[0]


async def our_burst(gui: Any, names: list[str], store_times: list[float]) -> dict[str, Any]:
    first_store = len(store_times)
    tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()  # what a full collection scans, what it skips
    probe = GapProbe()
    with FullCollections() as full:
        probe.start()
        t0 = time.perf_counter()
        done = await asyncio.gather(*(gui.controller.assume(n, force=True) for n in names))
        seconds = time.perf_counter() - t0
        gap = probe.stop()
    # The seconds after the burst: a collection the collector held back while the loop was busy runs here.
    after_probe = GapProbe()
    with FullCollections() as after:
        after_probe.start()
        await asyncio.sleep(AFTER_BURST_SECONDS)
        after_gap = after_probe.stop()
    stores = store_times[first_store:]
    errors = {gui.model.error(n) for n in names if gui.model.error(n)}
    return {
        "gap": gap,
        "seconds": seconds,
        "completed": sum(1 for creds in done if creds is not None),
        "full_collections": len(full.durations),
        "longest_full_collection": max(full.durations, default=0.0),
        "after_gap": after_gap,
        "after_full_collections": len(after.durations),
        "after_longest_full_collection": max(after.durations, default=0.0),
        "store_longest": max(stores, default=0.0),
        "store_total": sum(stores),
        "tracked_objects": tracked,
        "frozen_objects": frozen,
        "errors": sorted(str(e) for e in errors)[:3],
    }


def peer_burst(endpoint: str, names_arns: list[str]) -> dict[str, Any]:
    """One burst of the bare qasync peer (benchmarks.peer_qasync_burst) in a fresh process; this one waits."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.peer_qasync_burst", endpoint, *names_arns],
        capture_output=True, text=True, timeout=120, check=False,
    )
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"the qasync peer exited {done.returncode}: {done.stderr.strip()[-300:]}") from None
    return result


def full_collection_due(collector: Any) -> None:
    """Put the app's collector where an app open for hours is just before a full collection: its last full
    collection long ago (more than FULL_COLLECTION_EVERY_S) and a full collection's worth of younger ones done
    (generation 2's count past its threshold). Its next check, 0.5 s at most into the burst, collects everything
    not frozen."""
    collector._last_full = time.monotonic() - 3600.0  # the clock, not the collector's logic, is faked
    while gc.get_count()[2] <= gc.get_threshold()[2]:
        gc.collect(1)  # each one adds one to generation 2's count, as the collector's own would


async def bursts(gui: Any, endpoint: str, result: dict[str, Any]) -> None:
    """BURST_ROUNDS of (stsdesk burst, bare qasync burst) with a full collection due, then the same with the
    heap unfrozen (the worst case). Results under burst_due, burst_due_peer, burst_unfrozen, burst_unfrozen_peer."""
    names = [profile_name(a, r) for a in range(ASSUMABLE_ACCOUNTS) for r in range(ROLES)][:CONCURRENT]
    arns = [f"arn:aws:iam::{account_id(a)}:role/Role{r}" for a in range(ASSUMABLE_ACCOUNTS) for r in range(ROLES)]
    arns = arns[:CONCURRENT]
    warm = profile_name(ASSUMABLE_ACCOUNTS - 1, ROLES - 1)  # outside the burst: the client and connection exist
    if await gui.controller.assume(warm) is None:
        raise RuntimeError(f"the warm-up assume failed: {gui.model.error(warm)}")
    collector = collector_of_app()
    store_times = time_calls(type(gui.controller.broker.cache), "store")
    for phase in ("due", "unfrozen"):
        if phase == "unfrozen":
            gc.unfreeze()  # what load_engine froze is scanned again, as after a config reload built a new tree
        ours_runs, peer_runs = [], []
        for _ in range(rounds(BURST_ROUNDS, 1)):
            await asyncio.sleep(0.5)
            full_collection_due(collector)
            ours_runs.append(await our_burst(gui, names, store_times))
            peer_runs.append(peer_burst(endpoint, arns))
            await asyncio.sleep(0.2)
        result[f"burst_{phase}"] = ours_runs
        result[f"burst_{phase}_peer"] = peer_runs


def visible_countdowns(gui: Any) -> int:
    """How many time-left cells with a countdown the tree's viewport shows (partly shown rows count)."""
    from stsdesk.gui.tree_model import TIME_LEFT

    tree = gui.window.tree
    index = tree.indexAt(tree.viewport().rect().topLeft())
    bottom = tree.viewport().rect().bottom()
    count = 0
    while index.isValid() and tree.visualRect(index).top() <= bottom:
        count += bool(index.siblingAtColumn(TIME_LEFT).data())
        index = tree.indexBelow(index)
    return count


class CpuPeer:
    """A peer process speaking peer_qt_idle's protocol: ``ready`` (then any lines of its own), then its CPU
    seconds for each line written to it."""

    def __init__(self, module: str, *args: str, extra_lines: int = 0) -> None:
        self.module = module
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin, self._stdout = self.process.stdin, self.process.stdout
        if self._stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"{module} did not start (exit {self.process.poll()})")
        self.said = [self._stdout.readline().strip() for _ in range(extra_lines)]

    def cpu(self) -> float:
        self._stdin.write("?\n")
        self._stdin.flush()
        return float(self._stdout.readline())

    def close(self) -> None:
        self._stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def idle(gui: Any, result: dict[str, Any]) -> None:
    """CPU over IDLE_SECONDS of this process (500 live sessions) and, over the same seconds, of the bare Qt peer,
    of the floor (the same visible countdowns through Qt's own model) and of that floor keeping every session's
    countdown current (``--all``)."""
    now = time.time()
    result["live_sessions"] = sum(1 for _, expiry in gui.model.sessions() if expiry > now)
    result["idle_visible_countdowns"] = cells = visible_countdowns(gui)
    peers: dict[str, CpuPeer] = {}
    try:
        peers["peer"] = CpuPeer("benchmarks.peer_qt_idle")
        peers["floor"] = CpuPeer("benchmarks.peer_qt_countdowns", "--rows", str(cells), extra_lines=1)
        peers["floor_all"] = CpuPeer("benchmarks.peer_qt_countdowns", "--rows", str(cells), "--all", extra_lines=1)
        result["idle_floor_visible_countdowns"] = int(peers["floor"].said[0])
        await asyncio.sleep(2.0)  # the burst's after-effects (status messages, GC) settle; the peers too
        seconds = rounds(int(IDLE_SECONDS), 1)
        before = {name: peer.cpu() for name, peer in peers.items()}
        ours0, t0 = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        ours1, wall = cpu_seconds(), time.perf_counter() - t0
        after = {name: peer.cpu() for name, peer in peers.items()}
    finally:
        for peer in peers.values():
            peer.close()
    result["idle_cpu_percent"] = 100.0 * (ours1 - ours0) / wall
    for name in peers:
        result[f"idle_{name}_cpu_percent"] = 100.0 * (after[name] - before[name]) / wall
    result["idle_seconds"] = wall


async def measure(gui: Any, load_times: list[float], result: dict[str, Any], endpoint: str) -> None:
    import psutil  # type: ignore[import-untyped]

    while gui.controller.broker is None or not load_times:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    result["profiles"] = len(gui.model.profile_names())
    result["load_in_app"] = load_times[0]
    await asyncio.sleep(0.2)
    result["rss_after_start"] = psutil.Process().memory_info().rss
    if "keystrokes" in ONLY:
        await keystrokes(gui, result)
    if "bursts" in ONLY:
        await bursts(gui, endpoint, result)
    if "idle" in ONLY:
        names = [profile_name(a, r) for a in range(ASSUMABLE_ACCOUNTS) for r in range(ROLES)]
        first = CONCURRENT if "bursts" in ONLY else 0  # the bursts assumed the first CONCURRENT already
        await asyncio.gather(*(gui.controller.assume(n) for n in names[first:SESSIONS]))
        await idle(gui, result)


def main() -> int:
    global ONLY
    parser = argparse.ArgumentParser(description="The GUI at scale (see the module docstring); prints one JSON object.")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS} (default: all)")
    ONLY = set(parser.parse_args().only.split(",")) & set(PARTS)
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

            def timed_load(gui: Any, *args: Any, **kwargs: Any) -> None:  # load_engine's own arguments
                t0 = time.perf_counter()
                real_load(gui, *args, **kwargs)
                load_times.append(time.perf_counter() - t0)

            app_module.load_engine = timed_load
            tasks: list[asyncio.Task[None]] = []
            original_serve = app_module.serve

            async def serve_and_measure(launch: Any) -> int:
                # The measurements start with the app's asyncio loop (the window and the config's rows are shown
                # before it exists); measure() waits for load_engine as before.
                gui = launch.gui

                async def drive() -> None:
                    try:
                        await measure(gui, load_times, result, endpoint)
                    except Exception as exc:  # reported by the parent as the rows' note
                        result["error"] = f"{type(exc).__name__}: {exc}"
                    finally:
                        gui.window.close()

                tasks.append(asyncio.get_running_loop().create_task(drive()))
                return await original_serve(launch)

            args = argparse.Namespace(
                demo=False, exit_after_first_paint=False, self_test=False, config_dir=str(Path(tmp) / "stsdesk")
            )
            setattr(app_module, "serve", serve_and_measure)  # noqa: B010 - run() looks serve up at call time
            try:
                result["exit_status"] = app_module.main(args)
            finally:
                app_module.serve = original_serve
                app_module.load_engine = real_load
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
