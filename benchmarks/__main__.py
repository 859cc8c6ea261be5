"""Run every benchmark, print one table, write benchmarks/RESULTS.md.

Usage: python -m benchmarks [name ...]
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

from benchmarks.harness import Row, git_revision, render_markdown, render_table

# Each module exposes run() -> list[Row]. Order: cheap first.
SUITES = ["bench_emulator", "bench_engine", "bench_credential_process", "bench_gui"]


def main(argv: list[str]) -> int:
    wanted = argv or SUITES
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[Row] = []
    for name in wanted:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            rows.append(Row(name, "-", "-", "-", "-", None, f"not available: {exc}"))
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            rows.extend(module.run())
        except Exception as exc:  # a broken benchmark is reported, the others still run
            traceback.print_exc()
            rows.append(Row(name, "-", "-", "-", "-", False, f"failed: {type(exc).__name__}: {exc}"))
    print(render_table(rows))
    if argv:  # a subset: RESULTS.md stays the record of the last full run
        return 0
    out = Path(__file__).resolve().parent / "RESULTS.md"
    out.write_text(render_markdown(rows, f"{started} (rev {git_revision()})"))
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
