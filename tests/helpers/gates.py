"""The one gate for tests that need something from the machine: a real Secret Service (`keyring` marker) or
an X server (`display` marker).

tests/conftest.py applies the markers centrally and calls these gates before each marked test. A test that
cannot get what it needs is skipped with the reason (shown by ``-ra``), except when ``CI=true``: then it fails,
so that a CI machine missing gnome-keyring or Xvfb cannot go green by skipping.

The Secret Service is used only when ``STSDESK_TEST_SECRET_SERVICE=1`` says that this D-Bus session's keyring is
a disposable test keyring (tools/test.sh sets it after its own probe, inside a private D-Bus session with its
own HOME): a developer running pytest straight from a desktop session never writes test items into their
login keyring. It is then probed once per session (store, read back, delete) in a child process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tools" / "secret_service_probe.py"
SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"


def on_ci() -> bool:
    """True when the run is CI's (``CI=true``, as CI systems set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(marker: str, reason: str) -> NoReturn:
    """Skip the running test because ``reason`` — or fail it under CI=true."""
    if on_ci():
        pytest.fail(f"CI=true and this `{marker}` test cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@cache
def secret_service_problem() -> str | None:
    """Why the real Secret Service cannot be used by this run, or None when a probe round-tripped an item."""
    if os.environ.get("STSDESK_TEST_SECRET_SERVICE") != "1":
        if os.environ.get("STSDESK_TEST_KEYRING_PROBLEM"):  # tools/test.sh tried and says why it failed
            return os.environ["STSDESK_TEST_KEYRING_PROBLEM"]
        return (
            "no disposable test keyring (STSDESK_TEST_SECRET_SERVICE=1 is set by tools/test.sh after its probe; "
            "run the suite with `make test`)"
        )
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env["PYTHON_KEYRING_BACKEND"] = SECRET_SERVICE_BACKEND
    try:
        # In a child: a locked or absent Secret Service can hang, or leak a D-Bus socket (a ResourceWarning that
        # filterwarnings=error would pin on an unrelated test).
        done = subprocess.run(
            [sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "the Secret Service probe did not finish within 30 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        return f"the Secret Service probe failed: {last[:200]}"
    return None


def require_secret_service() -> None:
    """Skip (fail under CI=true) unless the disposable test keyring works."""
    problem = secret_service_problem()
    if problem is not None:
        unavailable("keyring", problem)


def display_problem(*tools: str) -> str | None:
    """Why an X server cannot be had here (Xvfb, plus ``tools``, must be on PATH), or None."""
    missing = [tool for tool in ("Xvfb", *tools) if shutil.which(tool) is None]
    if missing:
        packages = " ".join(["xvfb", *tools])
        return f"needs {' and '.join(missing)} on PATH (apt-get install {packages})"
    return None


def require_display(*tools: str) -> None:
    """Skip (fail under CI=true) unless Xvfb and ``tools`` are installed."""
    problem = display_problem(*tools)
    if problem is not None:
        unavailable("display", problem)
