"""`aws sts get-caller-identity` through `credential_process = stsdesk credential-process P` (cached session) vs
the same call with the same credentials in environment variables.

The cached session's secret must outlive one process, so the measurement (credential_process_worker) runs in
a private D-Bus session with its own gnome-keyring and a throwaway HOME: the real Secret Service read is part
of the figure, and the user's own keyring and ~/.aws are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from benchmarks.harness import Row, ms
from benchmarks.servers import PYTHON, REPO

TARGET = 1.15
FIGURE = "aws sts get-caller-identity via credential_process (cached) vs env credentials"
IMPORT_FIGURE = "botocore/boto3 imported by cached credential-process"
# Unlock a fresh login keyring (password irrelevant: the home is thrown away), then run the worker.
INNER = (
    "echo -n stsdesk-bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
    'exec "$0" -m benchmarks.credential_process_worker'
)


def _unavailable(why: str) -> list[Row]:
    return [
        Row(FIGURE, "-", "-", "-", f"<= {TARGET}x", None, f"not available: {why}"),
        Row(IMPORT_FIGURE, "-", "-", "-", "no", None, f"not available: {why}"),
    ]


def run() -> list[Row]:
    if not (shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon")):
        return _unavailable("needs dbus-run-session and gnome-keyring-daemon for a cross-process keyring")
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-cp-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        env = dict(
            os.environ,
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_RUNTIME_DIR=str(Path(tmp)),
            STSDESK_CONFIG_DIR=str(home / "stsdesk"),
            PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
            PYTHONPATH=str(REPO),
        )
        done = subprocess.run(
            ["dbus-run-session", "--", "bash", "-c", INNER, PYTHON],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return _unavailable(f"worker exited {done.returncode}: {done.stderr.strip()[-200:]}")
    if "error" in result:
        return _unavailable(str(result["error"]))
    ours, peer = float(result["ours"]), float(result["peer"])
    ratio = ours / peer
    passed = ratio <= TARGET
    note = f"median of {result['rounds']} A B rounds; Secret Service keyring (gnome-keyring) in a private D-Bus"
    if not result["fast_path"]:
        note += "; the cached session was NOT reused (new AccessKeyId)"
    imports = ", ".join(f"{name} {ms(sec)}" for name, sec in result["top_imports"])
    note += (
        f"; the child alone: {ms(result['child'])} (bare python start {ms(result['python_startup'])}); "
        f"top imports: {imports}"
    )
    if not passed:
        note = f"over by {ratio / TARGET:.2f}x (+{ms(ours - peer)} per call: the credential-process child); " + note
    imported = bool(result["botocore_imported"])
    return [
        Row(FIGURE, ms(ours), f"env vars {ms(peer)}", f"{ratio:.2f}x", f"<= {TARGET}x", passed, note),
        Row(
            IMPORT_FIGURE,
            "yes" if imported else "no",
            "-",
            "-",
            "no",
            not imported,
            "python -X importtime -m stsdesk credential-process P, grep botocore",
        ),
    ]
