"""Small helpers shared by the benchmarks: side-by-side timing, medians, smoke mode, private keyrings, the table."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Set by ``python -m benchmarks --smoke`` and inherited by the worker processes: a few rounds of everything, so
# that CI runs the benchmark code without judging any figure.
SMOKE_ENV = "STSDESK_BENCH_SMOKE"


def smoke() -> bool:
    """True in a smoke run (``--smoke``): every suite runs a tiny number of rounds and no target is judged."""
    return os.environ.get(SMOKE_ENV) == "1"


def rounds(full: int, smoke_rounds: int = 2) -> int:
    """``full`` in a real run, ``smoke_rounds`` in a smoke run."""
    return smoke_rounds if smoke() else full


@dataclass
class Row:
    figure: str
    stsdesk: str
    peer: str
    ratio: str
    target: str
    passed: bool | None  # None: reported only, no target
    note: str = ""
    crashed: bool = False  # the measurement itself failed (an exception, a worker that died)


def failed_row(figure: str, target: str, exc: BaseException | str) -> Row:
    """The row of a figure whose measurement raised: not met, and counted as a crashed suite."""
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return Row(figure, "-", "-", "-", target, False, f"failed: {why}", crashed=True)


def over_note(ratio: float, target: float, ours: float, peer: float) -> str:
    """"over by 1.20x (+0.61 ms per call)" for a ratio above its target."""
    return f"over by {ratio / target:.2f}x (+{ms(ours - peer)})"


def keyring_tools() -> str | None:
    """None when a private Secret Service can be started here, else why not."""
    if shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon"):
        return None
    return "needs dbus-run-session and gnome-keyring-daemon for a private Secret Service"


# Unlock a fresh login keyring (password irrelevant: the home is thrown away), then run the worker module.
_KEYRING_INNER = (
    "echo -n stsdesk-bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
    'exec "$0" -m "$1"'
)


def run_with_private_keyring(module: str, timeout: float = 300) -> dict[str, Any]:
    """Run ``python -m module`` in a private D-Bus session with its own gnome-keyring and a throwaway HOME (as
    tools/test.sh does), so the real Secret Service is measured and the user's keyring and ~/.aws are never
    touched. The worker prints one JSON object as its last stdout line; returned as a dict. RuntimeError when
    the worker died or printed nothing parseable; a worker's own ``{"error": ...}`` is returned as is."""
    repo = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-kr-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = dict(
            os.environ,
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_RUNTIME_DIR=str(Path(tmp)),
            STSDESK_CONFIG_DIR=str(home / "stsdesk"),
            PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
            PYTHONPATH=str(repo),
        )
        done = subprocess.run(
            ["dbus-run-session", "--", "bash", "-c", _KEYRING_INNER, sys.executable, module],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    lines = done.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"{module} exited {done.returncode}: {done.stderr.strip()[-300:]}") from None
    return result


def side_by_side(
    a: Callable[[], object], b: Callable[[], object], rounds: int, warmup: int = 5, block: int = 1
) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b`` run alternately so that machine noise hits both alike.

    ``block`` calls of ``a``, then ``block`` of ``b``, and so on, ``rounds`` calls of each in all. With
    ``block=1`` this is strict A B A B. A larger block keeps one side's after-work (a server closing its
    connection and tearing down a thread after it has answered) from landing on every call of the other
    side; the one call per block that it still hits is outvoted by the median.
    """
    ta, tb = alternate(a, b, rounds, warmup, block)
    return statistics.median(ta), statistics.median(tb)


def alternate(
    a: Callable[[], object], b: Callable[[], object], rounds: int, warmup: int = 5, block: int = 1
) -> tuple[list[float], list[float]]:
    """The seconds of every timed call of ``a`` and ``b``, run as :func:`side_by_side` runs them."""
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
    return ta, tb


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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: a busy one skews every figure)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def render_markdown(rows: list[Row], started: str, load: str = "") -> str:
    judged = [r for r in rows if r.passed is not None]
    met = sum(1 for r in judged if r.passed)
    out = [
        "# Benchmark results",
        "",
        f"Measured {started} on: {machine_description()}.",
        f"Load average (1, 5, 15 min): {load}. The machine is shared: a loaded machine slows both sides of a "
        "ratio, but not always alike." if load else "",
        "",
        "Each figure is a median over repeated runs; each peer is measured in the same run, interleaved with "
        "stsdesk (A B A B, or in blocks, or at the same time, as the note says), and the target is the ratio. "
        "Where a target is out of reach, the note shows the floor measured beside it. Where the time goes, and "
        "what would help: [FINDINGS.md](FINDINGS.md).",
        "",
        f"**{met} of {len(judged)} targets met.**",
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
