"""The API the GUI builds on: CredentialServers over a real Broker (fake STS), events, lines, stop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from helpers.keyrings import MemoryKeyring
from test_broker import Prompt, make_broker, memory_keyring  # noqa: F401  (fixture)
from test_servers import call, path_of

from stsdesk.core.errors import StsdeskError
from stsdesk.core.servers import CredentialServers, ServerEvent, ServerMode, SupplyState


def test_serve_a_profile_events_and_stop(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:  # noqa: F811
    broker, sts = make_broker(tmp_path)
    events: list[ServerEvent] = []

    async def main() -> tuple[int, str, int, str | None]:
        servers = CredentialServers(broker)
        servers.subscribe(events.append)
        served = await servers.serve("plain")
        assert servers.get("plain") is served and servers.served() == [served]
        with pytest.raises(StsdeskError, match="served already"):
            await servers.serve("plain")
        status, _, body = await call(served.server, "GET", path_of(served.server), {"Authorization": str(served.token)})
        port = served.server.port
        await servers.stop("plain")
        assert not await servers.stop("plain")
        with pytest.raises(OSError):
            await call(served.server, "GET", "/", {})
        return status, json.loads(body)["AccountId"], port, events[-1].endpoint

    status, account, port, last_endpoint = asyncio.run(main())
    assert status == 200 and account == "222222222222"
    assert events[0].state is SupplyState.READY and events[0].endpoint and str(port) in events[0].endpoint
    assert events[-1].state is SupplyState.STOPPED and last_endpoint is None
    assert sts.count("AssumeRole") == 1


def test_renewal_asks_the_brokers_prompt_in_the_background(
    tmp_path: Path, memory_keyring: MemoryKeyring  # noqa: F811
) -> None:
    """An IAM user with MFA is served MFA sessions: each renewal needs a code, asked through the prompt."""
    prompt = Prompt([])
    broker, sts = make_broker(tmp_path, prompt)
    sts.lifetime = 1400.0  # shorter than the renewal lead: the cached MFA session cannot be reused

    async def main() -> list[str]:
        servers = CredentialServers(broker)
        served = await servers.serve("alice", ServerMode.IMDS)
        assert len(prompt.requests) == 1  # the first session, before anything is served
        renewed = asyncio.Event()
        served.subscribe(lambda event: renewed.set() if event.renewals else None)
        served.supply.renew_now()
        await asyncio.wait_for(renewed.wait(), 10)
        await servers.stop_all()
        return [request.profile for request in prompt.requests]

    assert asyncio.run(main()) == ["alice", "alice"]
    assert sts.count("GetSessionToken") == 2


def test_lines_and_child_environment(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:  # noqa: F811
    broker, _sts = make_broker(tmp_path)

    async def main() -> tuple[str, str, dict[str, str]]:
        servers = CredentialServers(broker)
        served = await servers.serve("plain")
        try:
            base = {"AWS_PROFILE": "x", "AWS_ACCESS_KEY_ID": "AKIA", "PATH": "/bin", "AWS_SDK_LOAD_CONFIG": "1"}
            return served.lines("fish"), served.lines("powershell"), served.child_environment(base)
        finally:
            await servers.stop_all()

    fish, powershell, environment = asyncio.run(main())
    assert "set -gx AWS_CONTAINER_CREDENTIALS_FULL_URI 'http://127.0.0.1:" in fish
    assert "set -e AWS_PROFILE" in fish
    assert "$Env:AWS_CONTAINER_AUTHORIZATION_TOKEN = '" in powershell
    assert environment["PATH"] == "/bin" and environment["AWS_REGION"] == "us-east-1"
    assert not {"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SDK_LOAD_CONFIG"} & set(environment)
