"""A running emulator per test over the STS test world (127.0.0.1, port 0)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import botocore.auth
import pytest
from sts_world import Emu, start, world

from stsdesk.emulator.scenario import scenario_from_dict


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    """A running emulator over ``world()``; botocore signs with the emulator's (time-travelling) clock."""
    running = start(scenario_from_dict(world()), tmp_path / "state")
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: running.state.clock.wall().replace(tzinfo=None)
    )
    yield running
    running.server.stop()
