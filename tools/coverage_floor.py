"""Hold the coverage floor: fail when the total is under 90% or any module is under 70%.

Reads the JSON report of ``coverage json`` (path as the first argument) and prints the total, the lowest
modules, and — when the floor is not held — every module under it, exiting 1. Modules without statements
(empty ``__init__.py``) count as covered.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TOTAL_FLOOR = 90.0
MODULE_FLOOR = 70.0


def check(report: dict[str, object], total_floor: float, module_floor: float) -> tuple[float, list[str], list[str]]:
    """(total percent, lines for the lowest modules, lines for modules under ``module_floor``).

    Raises KeyError/TypeError when ``report`` is not coverage's JSON report.
    """
    totals = report["totals"]
    files = report["files"]
    assert isinstance(totals, dict) and isinstance(files, dict)
    total = float(totals["percent_covered"])
    rows: list[tuple[float, str, int, int]] = []
    for path, data in files.items():
        summary = data["summary"]
        statements = int(summary["num_statements"])
        if statements == 0:
            continue
        rows.append((float(summary["percent_covered"]), path, int(summary["missing_lines"]), statements))
    rows.sort()
    lowest = [f"  {pct:5.1f}%  {path} ({missing} of {n} lines not run)" for pct, path, missing, n in rows[:8]]
    under = [f"  {pct:5.1f}%  {path}" for pct, path, _missing, _n in rows if pct < module_floor]
    return total, lowest, under


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="coverage JSON report (coverage json -o FILE)")
    parser.add_argument("--total", type=float, default=TOTAL_FLOOR, help="floor for the total, in percent")
    parser.add_argument("--module", type=float, default=MODULE_FLOOR, help="floor for each module, in percent")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text(encoding="utf-8"))
        total, lowest, under = check(report, args.total, args.module)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        print(f"coverage floor: cannot read {args.report} as a coverage JSON report ({exc})", file=sys.stderr)
        return 2
    print(f"coverage total: {total:.1f}% (floor {args.total:.0f}%, every module at least {args.module:.0f}%)")
    print("lowest modules:")
    print("\n".join(lowest))
    failed = False
    if total < args.total:
        print(f"coverage floor NOT held: total {total:.1f}% is under {args.total:.0f}%", file=sys.stderr)
        failed = True
    if under:
        print(f"coverage floor NOT held: {len(under)} module(s) under {args.module:.0f}%:", file=sys.stderr)
        print("\n".join(under), file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
