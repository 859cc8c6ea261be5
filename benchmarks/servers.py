"""Servers the benchmarks measure against: the stsdesk emulator and moto, each in its own subprocess.

Each server runs in a child process so that the client process (boto3, the Broker, the AWS CLI) measures the
round trip only, and neither server shares a GIL with the client or with the other server.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO_SCENARIO = REPO / "resources" / "demo.toml"
PYTHON = sys.executable

# The demo world's IAM user and a role it may assume without MFA (resources/demo.toml).
ALICE_KEY_ID = "AKIADEMOALICE0000001"
ALICE_SECRET = "demo/alice/wJalrXUtnFEMI/K7MDENGbPxRfiCYEX"
READONLY_ROLE = "arn:aws:iam::222222222222:role/ReadOnly"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_endpoint(proc: subprocess.Popen[str], timeout: float) -> str:
    """The ``endpoint: URL`` line the emulator prints when ready; RuntimeError with its stderr otherwise."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("endpoint: "):
                return line.split(" ", 1)[1].strip()
            if not line and proc.poll() is not None:
                break
    err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
    raise RuntimeError(f"stsdesk emulator did not report its endpoint: {err.strip()[-300:]}")


@contextlib.contextmanager
def stsdesk_emulator(scenario: Path = DEMO_SCENARIO, timeout: float = 30.0) -> Iterator[str]:
    """Run ``python -m stsdesk emulator`` on a free port; yields its endpoint URL."""
    proc = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "stsdesk",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--scenario",
            str(scenario),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield _read_endpoint(proc, timeout)
    finally:
        _stop(proc)


@contextlib.contextmanager
def canned_server(body: bytes, timeout: float = 30.0) -> Iterator[str]:
    """Run benchmarks.canned_server answering every request with ``body``; yields its endpoint URL."""
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="stsdesk-bench-canned-", suffix=".xml") as f:
        f.write(body)
        f.flush()
        proc = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.canned_server", f.name],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield _read_endpoint(proc, timeout)
        finally:
            _stop(proc)


@contextlib.contextmanager
def minimal_sts_server(timeout: float = 30.0) -> Iterator[str]:
    """Run benchmarks.minimal_sts_server (the least faithful STS work, in Python); yields its endpoint URL."""
    proc = subprocess.Popen([PYTHON, "-m", "benchmarks.minimal_sts_server"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        yield _read_endpoint(proc, timeout)
    finally:
        _stop(proc)


@contextlib.contextmanager
def moto_server(timeout: float = 60.0) -> Iterator[str]:
    """Run ``python -m moto.server`` on a free loopback port; yields its endpoint URL once it answers."""
    port = free_port()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(
        [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with status {proc.returncode}")
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError("moto server did not answer within the timeout") from None
                time.sleep(0.1)
        yield url
    finally:
        _stop(proc)


def sts_client(endpoint: str, key_id: str = ALICE_KEY_ID, secret: str = ALICE_SECRET) -> object:
    """A boto3 STS client for ``endpoint`` with the demo user's keys; no retries, so a failure shows."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def write_aws_files(directory: Path, endpoint: str, extra: str = "") -> tuple[Path, Path]:
    """An AWS config/credentials pair under ``directory``: ``alice`` (keys in the credentials file) and
    ``readonly`` (alice assumes the ReadOnly role, no MFA), both on ``endpoint``; ``extra`` is appended to the
    config. Returns (config, credentials)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config"
    credentials = directory / "credentials"
    common = f"region = {REGION}\nendpoint_url = {endpoint}\n"
    config.write_text(
        f"[profile alice]\n{common}\n"
        f"[profile readonly]\n{common}source_profile = alice\nrole_arn = {READONLY_ROLE}\n"
        f"role_session_name = bench\n\n{extra}"
    )
    credentials.write_text(f"[alice]\naws_access_key_id = {ALICE_KEY_ID}\naws_secret_access_key = {ALICE_SECRET}\n")
    credentials.chmod(0o600)
    return config, credentials
