"""BridgeHost on the qasync loop: terminals get the broker's credentials (region filled in), share one MFA
"dialog", see the broker's errors as one line, and a second window leaves the first one's bridge alone."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtWidgets import QApplication

import stsdesk.gui  # noqa: F401  (PySide6 and the emit fix before qasync)

import qasync  # isort: skip

from stsdesk.core.bridge import BridgeError, bridge_request
from stsdesk.core.errors import MfaCancelled
from stsdesk.core.model import CredentialKind, Credentials, Profile, ProfileKind
from stsdesk.gui.bridge_host import BridgeHost

EXPIRY = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


class FakeTree:
    def chain(self, name: str) -> list[Profile]:
        return [
            Profile("alice", ProfileKind.IAM_USER, region="eu-central-1"),
            Profile(name, ProfileKind.ROLE, source="alice", role_arn="arn:aws:iam::222222222222:role/Dev"),
        ]


class FakeBroker:
    """The broker's contract as the bridge sees it: credentials_for with single-flight and a prompt."""

    default_region = "us-east-1"

    def __init__(self) -> None:
        self.tree = FakeTree()
        self.calls: list[tuple[str, int | None]] = []
        self.prompts = 0
        self.waiting = asyncio.Event()
        self.flight: asyncio.Future[Credentials] | None = None
        self.code_entered: asyncio.Event | None = None

    async def credentials_for(self, profile: str, *, duration: int | None = None) -> Credentials:
        self.calls.append((profile, duration))
        if profile == "cancel":
            raise MfaCancelled("the MFA prompt for cancel was cancelled")
        if self.code_entered is None:
            return Credentials("ASIACACHED", "s", "t", EXPIRY, CredentialKind.ASSUMED_ROLE)
        if self.flight is None:
            self.prompts += 1
            self.flight = asyncio.get_running_loop().create_future()
        if len(self.calls) == 2:
            self.waiting.set()
        return await self.flight


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    try:
        yield event_loop
    finally:
        asyncio.set_event_loop(None)
        event_loop.close()


@pytest.fixture
def short_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="bh", dir="/tmp"))
    try:
        yield base / "b"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def host(broker: FakeBroker, directory: Path, **kwargs: Any) -> BridgeHost:
    return BridgeHost(cast(Any, broker), directory.parent / "config", directory=directory, **kwargs)


async def terminal(directory: Path, profile: str, duration: int | None = None) -> Credentials | None:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: bridge_request(directory, profile, duration, 20.0))


def test_terminal_gets_cached_credentials_with_region(loop: asyncio.AbstractEventLoop, short_dir: Path) -> None:
    broker = FakeBroker()
    asked: list[str] = []
    bridge = host(broker, short_dir, on_request=asked.append)

    async def main() -> Credentials | None:
        assert await bridge.start()
        try:
            return await terminal(short_dir, "dev", 900)
        finally:
            await bridge.close()

    creds = loop.run_until_complete(main())
    assert creds is not None
    assert creds.access_key_id == "ASIACACHED"
    assert creds.region == "eu-central-1"  # from the chain, as the CLI would pick it
    assert broker.calls == [("dev", 900)]
    assert asked == ["dev"]
    assert not bridge.running
    assert bridge_request(short_dir, "dev") is None  # closed: terminals work on their own again


def test_two_terminals_one_prompt(loop: asyncio.AbstractEventLoop, short_dir: Path) -> None:
    broker = FakeBroker()
    bridge = host(broker, short_dir)

    async def main() -> list[Credentials | None]:
        broker.code_entered = asyncio.Event()
        assert await bridge.start()
        try:
            both = asyncio.gather(terminal(short_dir, "prod"), terminal(short_dir, "prod"))
            await asyncio.wait_for(broker.waiting.wait(), 10)
            assert broker.flight is not None
            broker.flight.set_result(
                Credentials("ASIAMFA", "s2", "t2", EXPIRY, CredentialKind.ASSUMED_ROLE, "ap-south-1")
            )
            return list(await both)
        finally:
            await bridge.close()

    first, second = loop.run_until_complete(main())
    assert broker.prompts == 1
    assert first == second
    assert first is not None and first.access_key_id == "ASIAMFA" and first.region == "ap-south-1"


def test_broker_errors_reach_the_terminal(loop: asyncio.AbstractEventLoop, short_dir: Path) -> None:
    bridge = host(FakeBroker(), short_dir)

    async def main() -> str:
        assert await bridge.start()
        try:
            with pytest.raises(BridgeError) as caught:
                await terminal(short_dir, "cancel")
            return str(caught.value)
        finally:
            await bridge.close()

    assert loop.run_until_complete(main()) == "the MFA prompt for cancel was cancelled"


def test_second_window_does_not_take_over(
    loop: asyncio.AbstractEventLoop, short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = host(FakeBroker(), short_dir), host(FakeBroker(), short_dir)

    async def main() -> tuple[bool, Credentials | None]:
        assert await first.start()
        try:
            started = await second.start()
            return started, await terminal(short_dir, "dev")
        finally:
            await second.close()
            await first.close()

    started, creds = loop.run_until_complete(main())
    assert started is False
    assert "another stsdesk window" in second.status
    assert creds is not None  # still served by the first window
    assert "terminal bridge off" in caplog.text


def test_default_directory_follows_the_config_dir(tmp_path: Path) -> None:
    a = BridgeHost(cast(Any, FakeBroker()), tmp_path / "one")
    b = BridgeHost(cast(Any, FakeBroker()), tmp_path / "two")
    assert a.directory != b.directory
    assert a.status == "terminal bridge not started"
