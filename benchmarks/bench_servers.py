"""The local credential servers: what a served fetch costs next to a cached ``credential-process`` call, and
the CPU that serving costs while nothing asks.

- fetch: botocore's own ContainerMetadataFetcher (what an SDK does on every refresh) against ``stsdesk serve``
  vs ``stsdesk credential-process P`` with the session cached (what the AWS CLI runs before each command);
  strict A B; target: the served fetch at least 10x faster.
- idle CPU: one process serving 20 profiles through the core API (as the GUI would), its CPU time over a quiet
  interval after start-up; target < 1% of one core.

Both need the session cache shared between processes, so the measurement runs in a private D-Bus session with
its own gnome-keyring and a throwaway HOME (``python -m benchmarks.bench_servers`` is that worker).
Entry point for ``python -m benchmarks``: :func:`run`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, failed_row, keyring_tools, ms, rounds, run_with_private_keyring, side_by_side
from benchmarks.servers import PYTHON, READONLY_ROLE, REGION, stsdesk_emulator, write_aws_files

FETCH_TARGET = 10.0
IDLE_TARGET = 1.0  # percent of one core
FETCH_FIGURE = "served credential fetch (container endpoint) vs cached credential-process"
IDLE_FIGURE = "CPU while idle-serving 20 profiles (one process)"
PROFILES = 20
IDLE_SECONDS = 30.0

# The GUI-like server process: 20 profiles served through CredentialServers, then quiet.
_SERVE_MANY = r"""
import asyncio, os, sys
from stsdesk.cli.engine import make_engine
from stsdesk.cli.environment import Environment
from stsdesk.core.servers import CredentialServers

async def main():
    engine = make_engine(Environment(), with_prompt=False)
    servers = CredentialServers(engine.broker)
    for index in range(int(sys.argv[1])):
        await servers.serve(f"serve{index}")
    engine.broker.cache.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _fetch_pair(env: dict[str, str]) -> dict[str, Any]:
    from botocore.utils import ContainerMetadataFetcher

    serve = subprocess.Popen(
        [PYTHON, "-m", "stsdesk", "serve", "readonly", "--format", "json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    try:
        assert serve.stdout is not None
        text = ""
        while not text.rstrip().endswith("}"):
            line = serve.stdout.readline()
            if not line:
                raise RuntimeError(f"stsdesk serve ended: {serve.communicate(timeout=10)[1][-300:]}")
            text += line
        variables = json.loads(text)
        url = variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        headers = {"Authorization": variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}
        fetcher = ContainerMetadataFetcher()
        cached = [PYTHON, "-m", "stsdesk", "credential-process", "readonly"]
        served_key = fetcher.retrieve_full_uri(url, headers=headers)["AccessKeyId"]
        cached_key = json.loads(_run(cached, env).stdout)["AccessKeyId"]
        n = rounds(60, 2)
        fetch, child = side_by_side(
            lambda: fetcher.retrieve_full_uri(url, headers=headers), lambda: _run(cached, env), n, warmup=3
        )
        return {"fetch": fetch, "child": child, "rounds": n, "same_session": served_key == cached_key}
    finally:
        serve.terminate()
        serve.communicate(timeout=30)


def _idle(env: dict[str, str]) -> dict[str, Any]:
    process = subprocess.Popen(
        [PYTHON, "-c", _SERVE_MANY, str(PROFILES)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the serving process failed: {process.communicate(timeout=10)[1][-300:]}")
        time.sleep(1.0)  # start-up work (written-behind cache, first timers) settles
        seconds = 2.0 if os.environ.get("STSDESK_BENCH_SMOKE") == "1" else IDLE_SECONDS
        before, t0 = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _cpu_seconds(process.pid) - before, time.monotonic() - t0
        return {"idle_percent": 100.0 * used / elapsed, "idle_seconds": elapsed, "idle_cpu": used}
    finally:
        process.terminate()
        process.communicate(timeout=30)


def measure() -> dict[str, Any]:
    """The figures, in the private keyring session set up by run_with_private_keyring."""
    home = Path(os.environ["HOME"])
    with stsdesk_emulator() as endpoint:
        extra = "".join(
            f"[profile serve{i}]\nregion = {REGION}\nendpoint_url = {endpoint}\nsource_profile = alice\n"
            f"role_arn = {READONLY_ROLE}\nrole_session_name = serve{i}\n\n"
            for i in range(PROFILES)
        )
        config, credentials = write_aws_files(home / ".aws", endpoint, extra)
        env = dict(os.environ, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(name, None)
        _run([PYTHON, "-m", "stsdesk", "credential-process", "readonly"], env)  # prime the cache
        return {**_fetch_pair(env), **_idle(env)}


def run() -> list[Row]:
    """The rows of this suite (``python -m benchmarks``)."""
    targets = {FETCH_FIGURE: f">= {FETCH_TARGET:g}x faster", IDLE_FIGURE: f"< {IDLE_TARGET:g}% of a core"}
    missing = keyring_tools()
    if missing:
        return [failed_row(figure, target, f"not available: {missing}") for figure, target in targets.items()]
    try:
        result = run_with_private_keyring("benchmarks.bench_servers", timeout=600)
        if "error" in result:
            raise RuntimeError(str(result["error"]))
    except Exception as exc:
        return [failed_row(figure, target, exc) for figure, target in targets.items()]
    speedup = result["child"] / result["fetch"]
    fetch_note = (
        f"strict A B, median of {result['rounds']} each; botocore ContainerMetadataFetcher (new connection per "
        f"fetch) against `stsdesk serve`; credential-process from the Secret Service cache; "
        f"{'same session on both sides' if result['same_session'] else 'the two sides served different sessions'}"
    )
    idle_note = (
        f"{PROFILES} profiles in one process through core CredentialServers (the GUI's way); CPU "
        f"{result['idle_cpu'] * 1000:.0f} ms over {result['idle_seconds']:.0f} s of quiet (/proc/PID/stat, "
        f"{1000 / os.sysconf('SC_CLK_TCK'):.0f} ms resolution); renewal tasks wake once a minute each"
    )
    return [
        Row(FETCH_FIGURE, ms(result["fetch"]), f"credential-process {ms(result['child'])}", f"{speedup:.1f}x",
            targets[FETCH_FIGURE], speedup >= FETCH_TARGET, fetch_note),
        Row(IDLE_FIGURE, f"{result['idle_percent']:.3f}%", "-", "-", targets[IDLE_FIGURE],
            result["idle_percent"] < IDLE_TARGET, idle_note),
    ]


if __name__ == "__main__":
    try:
        print(json.dumps(measure()))
    except Exception as exc:  # the parent turns this into a failed row
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.exit(1)
