"""Suite-wide settings: Qt runs offscreen unless a test asks for a display; no test touches the real HOME; the
`keyring` and `display` markers are applied here and gated in one place (tests/helpers/gates.py)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import gates
from helpers.keyrings import MemoryKeyring

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own HOME and AWS/stsdesk paths, so nothing reads or writes the developer's files."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("STSDESK_CONFIG_DIR", str(home / "stsdesk"))
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
                "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_EC2"):
        # setenv first records the value before the test, so one the test's code sets (the demo sets the
        # endpoint variables in its own process) is removed again afterwards, not left to the next test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield home


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_main_thread() -> Iterator[None]:
    """Once Qt is loaded, collect garbage after every test, on the main thread.

    Otherwise Qt objects a GUI test left behind may be collected later on a worker thread (an executor running
    boto3 in an unrelated test), and Qt warns "Timers cannot be stopped from another thread" there.
    """
    yield
    if "PySide6" in sys.modules:
        gc.collect()


# A test that uses one of these fixtures needs what its marker says, whatever its file forgot to mark.
_MARK_BY_FIXTURE = {"secret_service": "keyring", "xvfb_with_tray": "display"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark keyring/display tests by the fixtures they use; leave out `child_only` tests outside their child
    run (they run inside the child pytest another test starts, and would only be skipped here)."""
    in_child = os.environ.get("STSDESK_TRAY_CHILD") == "1"
    kept, dropped = [], []
    for item in items:
        for fixture, marker in _MARK_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if item.get_closest_marker("child_only") is not None and not in_child:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _machine_gates(request: pytest.FixtureRequest) -> None:
    """The one gate: a `keyring` test needs the disposable test keyring, a `display` test an X server; without
    it the test is skipped with the reason, or fails when CI=true."""
    if request.node.get_closest_marker("keyring") is not None:
        gates.require_secret_service()
    if request.node.get_closest_marker("display") is not None:
        gates.require_display()


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The shared in-memory keyring fake (tests/helpers/keyrings.py) installed as keyring's backend for one
    test; the previous backend is restored afterwards."""
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def secret_service(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real Secret Service of this run's disposable test keyring (the test is marked `keyring`); keyring's
    backend is chosen afresh for the test. Returns the backend's name for PYTHON_KEYRING_BACKEND."""
    gates.require_secret_service()
    import keyring.core

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    return gates.SECRET_SERVICE_BACKEND
