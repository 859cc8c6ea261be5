"""Run every benchmark, print one table, write benchmarks/RESULTS.md.

Usage: python -m benchmarks [--smoke] [suite ...]

Exit status: 0 when every target was met; 1 when a target was missed or a suite failed (raised, or its
worker died). With ``--smoke`` every suite runs a tiny number of rounds, no target is judged, RESULTS.md is
left alone, and the status is 1 only when a suite failed: CI runs it (``make bench-smoke``) so that the
benchmark code cannot rot.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from benchmarks.harness import (
    SMOKE_ENV,
    Row,
    failed_row,
    git_revision,
    load_average,
    render_markdown,
    render_table,
)

HERE = Path(__file__).resolve().parent
# Each module exposes run() -> list[Row]. Order: cheap first. bench_servers (the credential server) is run when
# its file exists.
SUITES = [
    "bench_emulator", "bench_adversarial", "bench_engine", "bench_credential_process", "bench_servers", "bench_gui",
    "bench_sso_tree",
]


def available_suites() -> list[str]:
    return [name for name in SUITES if (HERE / f"{name}.py").is_file()]


def run_suite(name: str) -> list[Row]:
    """The rows of one suite; a suite that cannot be imported or raises gives one crashed row."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except Exception as exc:
        traceback.print_exc()
        return [failed_row(name, "-", f"cannot import: {type(exc).__name__}: {exc}")]
    print(f"running {name} … (load {load_average()})", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        rows: list[Row] = module.run()
    except Exception as exc:  # a broken benchmark is reported, the others still run
        traceback.print_exc()
        return [failed_row(name, "-", exc)]
    print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str]) -> int:
    smoke = "--smoke" in argv
    names = [a for a in argv if a != "--smoke"]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    if smoke:
        os.environ[SMOKE_ENV] = "1"  # inherited by every worker process
    wanted = names or available_suites()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()
    rows: list[Row] = []
    for name in wanted:
        rows.extend(run_suite(name))
    load = f"{load_before} at the start, {load_average()} at the end"
    crashed = [r.figure for r in rows if r.crashed]
    if smoke:
        for r in rows:
            r.passed = None  # a smoke run's figures mean nothing: too few rounds
    missed = [r.figure for r in rows if r.passed is False and not r.crashed]
    print(render_table(rows))
    if not smoke:  # the notes say how each figure was taken and hold the floors (RESULTS.md has them too)
        print("\nnotes:")
        for r in rows:
            if r.note:
                print(f"- {r.figure}: {r.note}")
    print(f"\nload average: {load}")
    if not (names or smoke):  # a subset or a smoke run: RESULTS.md stays the record of the last full run
        out = HERE / "RESULTS.md"
        out.write_text(render_markdown(rows, f"{started} (rev {git_revision()})", load))
        print(f"written: {out}")
    if crashed:
        print(f"FAILED: {len(crashed)} measurement(s) failed: {'; '.join(crashed)}", file=sys.stderr)
    if missed:
        print(f"MISSED: {len(missed)} target(s): {'; '.join(missed)}", file=sys.stderr)
    return 1 if crashed or missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
