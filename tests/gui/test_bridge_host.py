"""BridgeHost on the qasync loop with the real Broker against the in-process demo emulator: terminals get the
broker's credentials (region filled in from the chain), share one MFA prompt (the broker's own single-flight),
see the broker's errors as one line, and a second window leaves the first one's bridge alone."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

import stsdesk.gui  # noqa: F401  (PySide6 and the emit fix before qasync)

import qasync  # isort: skip

from helpers.demo_world import DemoWorld, close_broker, demo_world

from stsdesk.core.bridge import BridgeError, bridge_request
from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.errors import MfaCancelled
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.gui.bridge_host import BridgeHost

# A role with no region of its own whose source (alice) has one that is not the broker's default: the region
# a terminal gets must come from the chain, as the CLI would pick it.
EXTRA_PROFILES = """
[profile alice-eu]
region = eu-central-1
endpoint_url = {endpoint}
stsdesk_access_key_id = AKIADEMOALICE0000001

[profile eu-readonly]
endpoint_url = {endpoint}
source_profile = alice-eu
role_arn = arn:aws:iam::222222222222:role/ReadOnly
"""


class Prompt:
    """The GUI's MFA dialog, as the broker sees it: counts prompts, answers with a fresh code of alice's device
    once ``release`` is set (or cancels, like the dialog's Cancel button)."""

    def __init__(self, world: DemoWorld, *, cancel: bool = False) -> None:
        self.world = world
        self.cancel = cancel
        self.requests: list[MfaRequest] = []
        self.release = asyncio.Event()

    async def __call__(self, request: MfaRequest) -> str:
        self.requests.append(request)
        if self.cancel:
            raise MfaCancelled(f"the MFA prompt for {request.profile} was cancelled")
        await self.release.wait()
        return self.world.mfa_code()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path) as running:
        with running.config.open("a") as config:
            config.write(EXTRA_PROFILES.format(endpoint=running.endpoint))
        running.credentials.write_text(
            f"[alice-eu]\naws_access_key_id = AKIADEMOALICE0000001\naws_secret_access_key = {running.alice_secret}\n"
        )
        yield running


@pytest.fixture
def brokers(world: DemoWorld, tmp_path: Path) -> Iterator[list[Broker]]:
    made: list[Broker] = []
    yield made
    for broker in made:
        close_broker(broker)


def real_broker(world: DemoWorld, brokers: list[Broker], prompt: Prompt | None = None) -> Broker:
    broker = world.broker(world.directory / f"state-{len(brokers)}", prompt)
    brokers.append(broker)
    return broker


def caller_arn(world: DemoWorld, creds: Credentials) -> str:
    """GetCallerIdentity with boto3 (the oracle), at the emulator."""
    import boto3

    client = boto3.client(
        "sts", region_name="us-east-1", endpoint_url=world.endpoint, aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key, aws_session_token=creds.session_token,
    )
    try:
        return str(client.get_caller_identity()["Arn"])
    finally:
        client.close()


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


def host(broker: Broker, directory: Path, **kwargs: Any) -> BridgeHost:
    return BridgeHost(broker, directory.parent / "config", directory=directory, **kwargs)


async def terminal(directory: Path, profile: str, duration: int | None = None) -> Credentials | None:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: bridge_request(directory, profile, duration, 20.0))


def test_terminal_gets_the_brokers_session_with_the_chains_region(
    loop: asyncio.AbstractEventLoop, short_dir: Path, world: DemoWorld, brokers: list[Broker]
) -> None:
    broker = real_broker(world, brokers)
    asked: list[str] = []
    bridge = host(broker, short_dir, on_request=asked.append)

    async def main() -> tuple[Credentials | None, Credentials | None, Credentials]:
        assert await bridge.start()
        try:
            first = await terminal(short_dir, "eu-readonly", 900)
            second = await terminal(short_dir, "eu-readonly", 900)  # the broker's cache: no second AssumeRole
            own = await broker.credentials_for("eu-readonly")
            return first, second, own
        finally:
            await bridge.close()

    first, second, own = loop.run_until_complete(main())
    assert first is not None and second is not None
    assert first.access_key_id == second.access_key_id == own.access_key_id
    assert first.kind is CredentialKind.ASSUMED_ROLE
    assert first.region == "eu-central-1"  # from the chain (alice-eu), not the broker's default us-east-1
    assert broker.default_region == "us-east-1"
    assert caller_arn(world, first).startswith("arn:aws:sts::222222222222:assumed-role/ReadOnly/")
    assert asked == ["eu-readonly", "eu-readonly"]
    assert not bridge.running
    assert bridge_request(short_dir, "eu-readonly") is None  # closed: terminals work on their own again


def test_two_terminals_share_one_mfa_prompt(
    loop: asyncio.AbstractEventLoop, short_dir: Path, world: DemoWorld, brokers: list[Broker]
) -> None:
    prompt = Prompt(world)
    broker = real_broker(world, brokers, prompt)
    asked: list[str] = []
    bridge = host(broker, short_dir, on_request=asked.append)

    async def main() -> list[Credentials | None]:
        assert await bridge.start()
        try:
            both = asyncio.gather(terminal(short_dir, "dev"), terminal(short_dir, "dev"))
            # Both requests reach the broker while the one prompt is open; then the code is "typed".
            await asyncio.wait_for(_until(lambda: len(asked) == 2 and len(prompt.requests) == 1), 20)
            prompt.release.set()
            return list(await both)
        finally:
            await bridge.close()

    first, second = loop.run_until_complete(main())
    assert len(prompt.requests) == 1  # the real broker's single-flight, not this test's
    assert prompt.requests[0].mfa_serial == "arn:aws:iam::111111111111:mfa/alice"
    assert first is not None and first == second
    assert caller_arn(world, first).startswith("arn:aws:sts::222222222222:assumed-role/Developer/")


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.02)


def test_broker_errors_reach_the_terminal(
    loop: asyncio.AbstractEventLoop, short_dir: Path, world: DemoWorld, brokers: list[Broker]
) -> None:
    bridge = host(real_broker(world, brokers, Prompt(world, cancel=True)), short_dir)

    async def main() -> tuple[str, str]:
        assert await bridge.start()
        try:
            with pytest.raises(BridgeError) as cancelled:
                await terminal(short_dir, "dev")
            with pytest.raises(BridgeError) as unknown:
                await terminal(short_dir, "no-such-profile")
            return str(cancelled.value), str(unknown.value)
        finally:
            await bridge.close()

    cancelled, unknown = loop.run_until_complete(main())
    assert cancelled == "the MFA prompt for dev was cancelled"
    assert "no-such-profile" in unknown and "\n" not in unknown


def test_second_window_does_not_take_over(
    loop: asyncio.AbstractEventLoop,
    short_dir: Path,
    world: DemoWorld,
    brokers: list[Broker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first_broker = real_broker(world, brokers)
    first, second = host(first_broker, short_dir), host(real_broker(world, brokers), short_dir)

    async def main() -> tuple[bool, Credentials | None]:
        assert await first.start()
        try:
            started = await second.start()
            return started, await terminal(short_dir, "dev-readonly")
        finally:
            await second.close()
            await first.close()

    started, creds = loop.run_until_complete(main())
    assert started is False
    assert "another stsdesk window" in second.status
    assert creds is not None  # still served by the first window's broker
    assert first_broker.session_state("dev-readonly") is not None
    assert brokers[1].session_state("dev-readonly") is None
    assert "terminal bridge off" in caplog.text


def test_default_directory_follows_the_config_dir(tmp_path: Path, world: DemoWorld, brokers: list[Broker]) -> None:
    broker = real_broker(world, brokers)
    a = BridgeHost(broker, tmp_path / "one")
    b = BridgeHost(broker, tmp_path / "two")
    assert a.directory != b.directory
    assert a.status == "terminal bridge not started"


def test_terminal_requests_hold_a_due_full_collection(
    loop: asyncio.AbstractEventLoop, short_dir: Path, world: DemoWorld, brokers: list[Broker]
) -> None:
    # Like a GUI assume, each terminal request tells the running collector to keep a due full collection back
    # until after the burst (gc_guard.hold), so many terminals asking at once are not stalled by one.
    from stsdesk.gui import gc_guard

    broker = real_broker(world, brokers)
    collector = gc_guard.GuiThreadCollector()
    holds: list[float] = []
    bridge = host(broker, short_dir, on_request=lambda profile: holds.append(collector._hold_until))

    async def main() -> Credentials | None:
        assert await bridge.start()
        try:
            return await terminal(short_dir, "eu-readonly", 900)
        finally:
            await bridge.close()

    collector.start()
    try:
        assert collector._hold_until == 0.0
        creds = loop.run_until_complete(main())
    finally:
        collector.stop()
    assert creds is not None
    assert len(holds) == 1 and holds[0] > 0.0  # held as the request started, before the broker was asked
    assert collector._hold_until >= holds[0] > 0.0
