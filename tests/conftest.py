"""Suite-wide settings: Qt runs offscreen unless a test asks for a display; no test touches the real HOME."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
                "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(var, raising=False)
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
