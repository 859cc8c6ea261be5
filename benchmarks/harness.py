"""Small helpers shared by the benchmarks: side-by-side timing, medians, the results table."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    figure: str
    stsdesk: str
    peer: str
    ratio: str
    target: str
    passed: bool | None  # None: reported only, no target
    note: str = ""


def side_by_side(
    a: Callable[[], object], b: Callable[[], object], rounds: int, warmup: int = 5, block: int = 1
) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b`` run alternately so that machine noise hits both alike.

    ``block`` calls of ``a``, then ``block`` of ``b``, and so on, ``rounds`` calls of each in all. With
    ``block=1`` this is strict A B A B. A larger block keeps one side's after-work (a server closing its
    connection and tearing down a thread after it has answered) from landing on every call of the other
    side; the one call per block that it still hits is outvoted by the median.
    """
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    while len(ta) < rounds:
        for fn, out in ((a, ta), (b, tb)):
            for _ in range(min(block, rounds - len(out))):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def top_imports(importtime: str, count: int = 4) -> list[tuple[str, float]]:
    """The top-level packages that cost most to import, from ``-X importtime`` output: (name, seconds)."""
    totals: dict[str, float] = {}
    for line in importtime.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        raw = parts[2].rstrip()
        if raw.startswith("  "):  # nested imports are indented below their importer
            continue
        top = raw.strip().split(".")[0]
        totals[top] = totals.get(top, 0.0) + int(parts[1]) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:count]


def time_calls(owner: Any, name: str) -> list[float]:
    """Wrap ``owner.name`` so each call's duration is appended to the returned list (to say where time goes)."""
    original = getattr(owner, name)
    times: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - t0)

    setattr(owner, name, timed)
    return times


def median_of(fn: Callable[[], float], rounds: int) -> float:
    return statistics.median(fn() for _ in range(rounds))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{mem}, Python {sys.version.split()[0]}"
    )


def render_table(rows: list[Row]) -> str:
    header = ["figure", "stsdesk", "peer", "ratio", "target", "pass"]
    body = [
        [
            r.figure,
            r.stsdesk,
            r.peer,
            r.ratio,
            r.target,
            "-" if r.passed is None else ("yes" if r.passed else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=False)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    return "\n".join(lines)


def render_markdown(rows: list[Row], started: str) -> str:
    out = [
        "# Benchmark results",
        "",
        f"Measured {started} on: {machine_description()}.",
        "Each figure is a median over repeated runs; each ratio comes from runs interleaved in one process "
        "(A B A B, or in blocks where the note says so).",
        "",
        "| figure | stsdesk | peer | ratio | target | pass | note |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ok = "-" if r.passed is None else ("yes" if r.passed else "**no**")
        out.append(f"| {r.figure} | {r.stsdesk} | {r.peer} | {r.ratio} | {r.target} | {ok} | {r.note} |")
    return "\n".join(out) + "\n"


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return "?"
