"""The GUI against bare PySide6/qasync peers, all offscreen Qt, each peer measured in the same run:

- start to first paint (--demo) vs a bare PySide6 window; boto3 before first paint;
- launch to profiles visible (--demo: the tree with the demo's rows painted) vs a bare PySide6 window painting
  the same rows from a static list (benchmarks.gui_launch_worker, benchmarks.peer_qt_rows);
- 5,000 profiles: load + tree painted (fresh processes, gui_load_worker) vs botocore's own parse of the same
  files (botocore_parse_worker), alternating;
- the app at scale (benchmarks.gui_worker): filter keystroke vs a bare proxy, RSS, longest event-loop stall
  under 200 concurrent assumes vs the same burst through a bare qasync loop, idle CPU with 500 sessions vs a bare
  Qt app with a 1 Hz timer.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gui_worker import AFTER_BURST_SECONDS
from benchmarks.harness import Row, failed_row, ms, rounds, side_by_side, top_imports
from benchmarks.servers import PYTHON, REPO

STARTUP_ROUNDS = 10
STARTUP_TARGET = 2.0
LAUNCH_ROUNDS = 10
LAUNCH_TARGET = 1.6  # launch to profiles visible vs the bare window painting the same rows
LOAD_TARGET = 2.0  # vs botocore's parse of the same files
LOAD_ROUNDS = 7
KEYSTROKE_TARGET = 1.5  # vs the bare proxy
RSS_TARGET_MB = 200
GAP_TARGET = 1.5  # vs the bare qasync burst
CPU_TARGET = 3.0  # vs the bare Qt app with a 1 Hz timer
PEER = Path(__file__).resolve().parent / "peer_qt_window.py"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


def _run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:4])} exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done


def _startup_rows(tmp: Path) -> list[Row]:
    env = _env(tmp / "home")
    ours_cmd = [PYTHON, "-m", "stsdesk", "--config-dir", str(tmp / "cfg"), "--demo", "--exit-after-first-paint"]
    peer_cmd = [PYTHON, str(PEER)]
    # The figure: process start to the first paint, stamped in each process the same way: when its event loop (the
    # app's coroutine) has returned after the first paint (benchmarks.gui_launch_worker --first-paint and
    # peer_qt_window --stamp). Until 2026-12-04 it was the whole process up to its exit, which also counted the
    # interpreter's teardown after the paint (stsdesk's ~50 ms vs the peer's ~20 ms); those stay in the note.
    ours_stamp = [PYTHON, "-m", "benchmarks.gui_launch_worker", "--first-paint", *ours_cmd[3:]]
    peer_stamp = [PYTHON, str(PEER), "--stamp"]
    ours_all: list[float] = []
    peer_all: list[float] = []
    for _ in range(rounds(STARTUP_ROUNDS, 1) + 1):  # the first round warms up
        ours_all.append(_stamp(ours_stamp, env)[0])
        peer_all.append(_stamp(peer_stamp, env)[0])
    ours, peer = statistics.median(ours_all[1:]), statistics.median(peer_all[1:])
    whole_ours, whole_peer = side_by_side(
        lambda: _run(ours_cmd, env), lambda: _run(peer_cmd, env), rounds(STARTUP_ROUNDS, 1), warmup=1
    )
    ratio = ours / peer
    passed = ratio <= STARTUP_TARGET
    timed = _run([PYTHON, "-X", "importtime", *ours_cmd[1:]], env)
    peer_timed = _run([PYTHON, "-X", "importtime", *peer_cmd[1:]], env)
    ours_imports = ", ".join(f"{name} {ms(sec)}" for name, sec in top_imports(timed.stderr))
    peer_imports = ", ".join(f"{name} {ms(sec)}" for name, sec in top_imports(peer_timed.stderr, 2))
    note = (
        f"process start to the first paint, stamped alike in both (strict A B, median of {len(ours_all) - 1} "
        f"each); the whole process, start to its exit right after the first paint: {ms(whole_ours)} vs "
        f"{ms(whole_peer)} ({whole_ours / whole_peer:.2f}x); offscreen; top imports: {ours_imports} "
        f"(peer: {peer_imports})"
    )
    if not passed:
        note = f"over by {ratio / STARTUP_TARGET:.2f}x (+{ms(ours - peer)}); " + note
    early = sorted(
        {line.split("|")[-1].strip().split(".")[0] for line in timed.stderr.splitlines() if "import time:" in line}
        & {"boto3", "botocore"}
    )
    return [
        Row(
            "GUI start to first paint (--demo)",
            ms(ours),
            f"bare PySide6 {ms(peer)}",
            f"{ratio:.2f}x",
            f"<= {STARTUP_TARGET:.0f}x",
            passed,
            note,
        ),
        Row(
            "boto3/botocore imported before first paint",
            "yes" if early else "no",
            "-",
            "-",
            "no",
            not early,
            "python -X importtime -m stsdesk --demo --exit-after-first-paint"
            + (f": {', '.join(early)}" if early else ""),
        ),
    ]


def _stamp(cmd: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Seconds from just before starting ``cmd`` to the paint stamp it prints (benchmarks.paint_stamp)."""
    t0 = time.time()
    done = _run(cmd, env)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result["painted_at"] - t0, result


def _launch_row(tmp: Path) -> Row:
    env = _env(tmp / "home")
    rows_file = tmp / "demo-rows.json"
    ours_cmd = [PYTHON, "-m", "benchmarks.gui_launch_worker", str(rows_file)]
    ours_cmd += ["--config-dir", str(tmp / "cfg"), "--demo"]
    peer_cmd = [PYTHON, "-m", "benchmarks.peer_qt_rows", str(rows_file)]
    _stamp(ours_cmd, env)  # warm-up; writes the rows stsdesk showed, for the peer
    _stamp(peer_cmd, env)
    ours: list[float] = []
    peer: list[float] = []
    steps: list[dict[str, float]] = []
    for _ in range(rounds(LAUNCH_ROUNDS, 1)):
        seconds, result = _stamp(ours_cmd, env)
        ours.append(seconds)
        start = result["painted_at"] - seconds
        steps.append({k: v - start for k, v in result["marks"].items()})
        peer.append(_stamp(peer_cmd, env)[0])
    o, p = statistics.median(ours), statistics.median(peer)
    ratio = o / p

    def step(name: str) -> float:
        return statistics.median(s[name] for s in steps)

    note = (
        f"process start to the tree's first paint with rows, wall clock; strict A B, median of {len(ours)} each; "
        f"peer: the same {len(json.loads(rows_file.read_text()))} top-level rows (and children, expanded alike) "
        "from a static list; stsdesk's steps (median, from process start): "
        f"window built {ms(step('build_window_end'))}, "
        f"first paint {ms(step('first_paint'))}, profiles from the config files "
        f"{ms(step('show_config_profiles_start'))} to {ms(step('show_config_profiles_end'))}, rows painted "
        f"{ms(o)} (the stamp); after it: power features "
        f"{ms(step('install_power_start'))} to {ms(step('install_power_end'))}, demo emulator started "
        f"{ms(step('start_demo_start'))} to {ms(step('start_demo_end'))}, load_engine {ms(step('load_engine_start'))} "
        f"to {ms(step('load_engine_end'))}"
    )
    passed = ratio <= LAUNCH_TARGET
    if not passed:
        note = f"over by {ratio / LAUNCH_TARGET:.2f}x (+{ms(o - p)}; the target is {ms(p * LAUNCH_TARGET)}); " + note
    return Row(
        "launch to profiles visible (--demo)",
        ms(o),
        f"bare PySide6 + rows {ms(p)}",
        f"{ratio:.2f}x",
        f"<= {LAUNCH_TARGET}x",
        passed,
        note,
    )


def _cold_loads(tmp: Path) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """LOAD_ROUNDS fresh processes each of stsdesk (load_engine plus the tree's first paint, 5,000 profiles) and of
    botocore parsing the same files, alternating."""
    from benchmarks.gui_worker import write_config

    aws = tmp / "aws-5000"
    aws.mkdir()
    config, credentials = write_config(aws, "http://127.0.0.1:9")  # never called: loading only
    env = dict(_env(tmp / "home"), AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    ours, peer = [], []
    for _ in range(rounds(LOAD_ROUNDS, 1)):
        done = _run([PYTHON, "-m", "benchmarks.gui_load_worker"], env)
        ours.append(json.loads(done.stdout.strip().splitlines()[-1]))
        done = _run([PYTHON, "-m", "benchmarks.botocore_parse_worker"], env)
        peer.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return ours, peer


def _load_row(loads: list[dict[str, float]], parses: list[dict[str, float]], in_app: float) -> Row:
    load = statistics.median(run["load"] for run in loads)
    read = statistics.median(run["read"] for run in loads)
    parse = statistics.median(run["parse"] for run in parses)
    ratio = load / parse
    ok = ratio <= LOAD_TARGET
    note = (
        f"fresh processes, alternating, median of {len(loads)} each; stsdesk: app.load_engine up to the tree's first "
        f"paint (imports the engine); of which load_profiles (core.awsini's parse, as botocore's raw_config_parse, "
        f"+ the profile tree) {ms(read)}; inside the full app run, load_engine {ms(in_app)} (there the config files "
        f"were read before it, when the window showed the profiles: it reuses that tree while they are unchanged); "
        f"peer: botocore.configloader.load_config (what Session.full_config calls) + raw_config_parse of the "
        f"credentials file, botocore imported before its clock starts"
    )
    if not ok:
        note = f"over by {ratio / LOAD_TARGET:.2f}x (+{ms(load - parse)}); " + note
    return Row(
        "5,000 profiles: config load + tree painted",
        ms(load),
        f"botocore parse {ms(parse)}",
        f"{ratio:.2f}x",
        f"<= {LOAD_TARGET}x",
        ok,
        note,
    )


def _ratio_row(figure: str, ours: float, peer: float, peer_name: str, target: float, note: str,
               fmt: Any = ms) -> Row:
    ratio = ours / peer if peer > 0 else float("inf")
    ok = ratio <= target
    if not ok:
        note = f"over by {ratio / target:.2f}x; " + note
    return Row(figure, fmt(ours), f"{peer_name} {fmt(peer)}", f"{ratio:.2f}x", f"<= {target}x", ok, note)


def _longest(runs: list[dict[str, Any]], key: str) -> str:
    longest = max((r[key] for r in runs), default=0.0)
    return f" (longest {ms(longest)})" if longest else ""


def _burst_row(result: dict[str, Any], phase: str, figure: str, how: str) -> Row:
    ours, peers = result[f"burst_{phase}"], result[f"burst_{phase}_peer"]
    gap = statistics.median(r["gap"] for r in ours)
    peer_gap = statistics.median(r["gap"] for r in peers)
    completed = min(r["completed"] for r in ours)
    peer_completed = min(r["completed"] for r in peers)
    full = [r["longest_full_collection"] for r in ours if r["full_collections"]]
    note = (
        f"{how}; median of {len(ours)} bursts each, alternating (peer in a fresh process); stsdesk "
        f"{completed}/200 completed in {statistics.median(r['seconds'] for r in ours):.2f} s, "
        f"full collections in the window: {sum(r['full_collections'] for r in ours)} in {len(ours)} bursts"
        f"{f', longest {ms(max(full))}' if full else ''} (objects it scans: "
        f"{statistics.median(r['tracked_objects'] for r in ours):,.0f}; frozen, skipped: "
        f"{statistics.median(r['frozen_objects'] for r in ours):,.0f}); in the {AFTER_BURST_SECONDS:.1f} s after "
        f"each burst: {sum(r['after_full_collections'] for r in ours)} full collections"
        f"{_longest(ours, 'after_longest_full_collection')}, longest stall "
        f"{ms(max(r['after_gap'] for r in ours))}; longest SessionCache.store on the loop "
        f"{ms(max(r['store_longest'] for r in ours))}; peer {peer_completed}/200, its own full collections: "
        f"{sum(r['full_collections'] for r in peers)}; 5 ms precise QTimer probe; worst stall "
        f"{ms(max(r['gap'] for r in ours))} vs {ms(max(r['gap'] for r in peers))}"
    )
    errors = sorted({e for r in ours + peers for e in r["errors"]})
    if errors:
        note += f"; errors: {'; '.join(errors[:3])}"
    row = _ratio_row(figure, gap, peer_gap, "bare qasync", GAP_TARGET, note)
    if completed < 200 or peer_completed < 200:
        row.passed = False
        row.note = "not every request completed; " + row.note
    return row


def _scale_rows(result: dict[str, Any], loads: list[dict[str, float]], parses: list[dict[str, float]]) -> list[Row]:
    rows = [_load_row(loads, parses, result["load_in_app"])]
    note = (
        f"median of {result['keystrokes']} keystrokes each (typed then deleted), alternating stsdesk / peer, each "
        f"through filter, re-layout and a synchronous repaint; peer: a bare QSortFilterProxyModel (fixed string, "
        f"every column, case-insensitive) over 5,000 plain rows of a QStandardItemModel; slowest "
        f"{ms(result['keystroke_max'])} ({result['keystroke_slowest']}) vs {ms(result['keystroke_peer_max'])}"
    )
    rows.append(_ratio_row("5,000 profiles: filter keystroke", result["keystroke_median"],
                           result["keystroke_peer_median"], "bare proxy", KEYSTROKE_TARGET, note))
    rss = result["rss_after_start"] / 1024 / 1024
    rows.append(
        Row(
            "5,000 profiles: RSS after start",
            f"{rss:.0f} MB",
            "-",
            "-",
            f"< {RSS_TARGET_MB} MB",
            rss < RSS_TARGET_MB,
            "psutil RSS once the tree is shown and the engine is loaded",
        )
    )
    rows.append(_burst_row(
        result, "due", "200 concurrent assumes (50 ms latency): longest event-loop stall, full collection due",
        "before each burst the app's collector is where an app open for hours is just before a full collection "
        "(last one > 30 s ago, generation 2 past its threshold): one is due as the burst starts; the app holds it "
        "while requests are being answered (gc_guard.hold, called as each request starts and answers) and runs it "
        "at the first quiet check after them, as it would for a user: in the window or just after, both counted "
        "below; the heap load_engine froze stays frozen"))
    rows.append(_burst_row(
        result, "unfrozen", "200 concurrent assumes: longest event-loop stall, worst case (heap unfrozen)",
        "as above after gc.unfreeze(): the full collection scans the whole heap (5,000 profiles, botocore's "
        "models), as after a config reload built a new tree"))
    rows.append(_idle_row(result))
    return rows


def _idle_row(result: dict[str, Any]) -> Row:
    peer, floor, current = (result["idle_peer_cpu_percent"], result["idle_floor_cpu_percent"],
                            result["idle_floor_all_cpu_percent"])
    floor_ratio = floor / peer if peer > 0 else float("inf")
    current_ratio = current / peer if peer > 0 else float("inf")
    verdict = (
        f"above {CPU_TARGET}x by itself, so {CPU_TARGET}x is out of reach for an app that shows these countdowns "
        "in a Qt tree" if floor_ratio > CPU_TARGET else f"within {CPU_TARGET}x"
    )
    return _ratio_row(
        "500 sessions ticking: idle CPU", result["idle_cpu_percent"], peer, "bare Qt 1 Hz", CPU_TARGET,
        f"{result['live_sessions']} live sessions, {result['idle_visible_countdowns']} countdown cells visible; "
        f"the four processes measured over the same {result['idle_seconds']:.0f} s (getrusage of each process: "
        "every thread, µs resolution); peer: an offscreen window whose one 1 Hz timer sets a label's text; the "
        "floor, a bare PySide6 tree over Qt's own C++ model (QStandardItemModel, Qt's delegate) updating "
        f"{result['idle_floor_visible_countdowns']} visible countdown cells and a label once a second, nothing "
        f"else: {floor:.2f}% of a core, {floor_ratio:.2f}x the peer, {verdict}, but its model leaves the "
        "countdowns of rows not on screen stale; the same floor keeping all "
        f"{result['live_sessions']} countdown cells current (as stsdesk's model answers them, for screen readers "
        f"and the other views), painting the same cells: {current:.2f}% of a core, {current_ratio:.2f}x the peer; "
        f"stsdesk is {result['idle_cpu_percent'] / floor:.2f}x the floor and "
        f"{result['idle_cpu_percent'] / current:.2f}x the floor kept current",
        fmt=lambda v: f"{v:.2f}% of a core")


SCALE_FIGURES = [
    ("5,000 profiles: config load + tree painted", f"<= {LOAD_TARGET}x"),
    ("5,000 profiles: filter keystroke", f"<= {KEYSTROKE_TARGET}x"),
    ("5,000 profiles: RSS after start", f"< {RSS_TARGET_MB} MB"),
    ("200 concurrent assumes (50 ms latency): longest event-loop stall, full collection due", f"<= {GAP_TARGET}x"),
    ("200 concurrent assumes: longest event-loop stall, worst case (heap unfrozen)", f"<= {GAP_TARGET}x"),
    ("500 sessions ticking: idle CPU", f"<= {CPU_TARGET}x"),
]


def run() -> list[Row]:
    import stsdesk.gui.app  # noqa: F401 - the GUI must import; a failure here fails the suite
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-gui-") as tmp:
        (Path(tmp) / "home").mkdir()
        try:
            rows += _startup_rows(Path(tmp))
        except Exception as exc:
            rows += [failed_row("GUI start to first paint (--demo)", f"<= {STARTUP_TARGET:.0f}x", exc),
                     failed_row("boto3/botocore imported before first paint", "no", exc)]
        try:
            rows.append(_launch_row(Path(tmp)))
        except Exception as exc:
            rows.append(failed_row("launch to profiles visible (--demo)", f"<= {LAUNCH_TARGET}x", exc))
        try:
            loads, parses = _cold_loads(Path(tmp))
            done = _run([PYTHON, "-m", "benchmarks.gui_worker"], _env(Path(tmp) / "home"), timeout=600)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if "error" in result:
                raise RuntimeError(result["error"])
            rows += _scale_rows(result, loads, parses)
        except Exception as exc:
            rows += [failed_row(figure, target, exc) for figure, target in SCALE_FIGURES]
    return rows
