"""Concurrency: 50 concurrent credentials_for for one profile make exactly one STS call (counted at the
emulator); two CLI processes refreshing the same profile at once leave one consistent cache entry."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from resilience_keyring import SharedFileKeyring
from resilience_support import (
    COUNTS,
    CountingEmulator,
    TotpSource,
    config_text,
    credentials_text,
    make_world,
    start_counting_emulator,
)

from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.cache import SessionCache
from stsdesk.core.profiles import load_profiles
from stsdesk.core.secrets import SecretStore
from stsdesk.core.sts import StsClient

CALLERS = 50
SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
@pytest.fixture
def emulator() -> Iterator[CountingEmulator]:
    started = start_counting_emulator()
    yield started
    started.server.stop()


def broker_for(tmp_path: Path, emulator: CountingEmulator, monkeypatch: pytest.MonkeyPatch) -> Broker:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    (tmp_path / "config").write_text(config_text(emulator.endpoint))
    (tmp_path / "credentials").write_text(credentials_text())
    secrets = SecretStore("stsdesk:resilience-concurrency")
    tree = load_profiles(tmp_path / "config", tmp_path / "credentials")
    return Broker(tree, StsClient(), SessionCache(tmp_path / "cache", secrets), secrets)


def test_fifty_concurrent_callers_make_one_sts_call(
    tmp_path: Path, emulator: CountingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = broker_for(tmp_path, emulator, monkeypatch)

    async def everyone() -> list[str]:
        results = await asyncio.gather(*(broker.credentials_for("readonly") for _ in range(CALLERS)))
        return [creds.access_key_id for creds in results]

    try:
        keys = asyncio.run(everyone())
    finally:
        broker.sts.close()
    assert len(keys) == CALLERS and len(set(keys)) == 1
    assert emulator.actions["AssumeRole"] == 1
    assert sum(emulator.actions.values()) == 1
    COUNTS["concurrent callers served by one STS call"] += CALLERS


def test_fifty_concurrent_callers_of_an_mfa_role_share_one_prompt_and_one_session(
    tmp_path: Path, emulator: CountingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = broker_for(tmp_path, emulator, monkeypatch)
    totp = TotpSource()
    prompts: list[MfaRequest] = []

    async def prompt(request: MfaRequest) -> str:
        prompts.append(request)
        await asyncio.sleep(0.05)  # the user typing: everyone else piles up meanwhile
        return totp.code()

    broker.mfa_prompt = prompt

    async def everyone() -> set[str]:
        results = await asyncio.gather(*(broker.credentials_for("dev") for _ in range(CALLERS)))
        return {creds.access_key_id for creds in results}

    try:
        keys = asyncio.run(everyone())
    finally:
        broker.sts.close()
    assert len(keys) == 1 and len(prompts) == 1
    assert emulator.actions["GetSessionToken"] == 1 and emulator.actions["AssumeRole"] == 1
    assert sum(emulator.actions.values()) == 2


@pytest.mark.parametrize("backend", [pytest.param("secret-service", marks=pytest.mark.keyring), "shared-file"])
def test_two_processes_refreshing_one_profile_leave_one_consistent_entry(
    tmp_path: Path, emulator: CountingEmulator, backend: str
) -> None:
    store = tmp_path / "keyring-store.json"  # outside HOME: the stand-in keyring's own storage
    if backend == "secret-service":
        # The `keyring` marker's gate (tests/conftest.py) has checked the test keyring works.
        world = make_world(tmp_path / "home", emulator.endpoint, SECRET_SERVICE)
        world.env["DBUS_SESSION_BUS_ADDRESS"] = os.environ["DBUS_SESSION_BUS_ADDRESS"]
    else:
        world = make_world(tmp_path / "home", emulator.endpoint, "resilience_keyring.SharedFileKeyring")
        world.env["RESILIENCE_KEYRING_FILE"] = str(store)
    try:
        for _round in range(3):
            assert world.stsdesk("forget", "--all").returncode == 0
            before = emulator.actions["AssumeRole"]
            racers = [world.popen("credential-process", "readonly") for _ in range(2)]
            outputs = [racer.communicate(timeout=60) for racer in racers]
            for racer, (out, err) in zip(racers, outputs, strict=True):
                assert racer.returncode == 0, err
                assert json.loads(out)["Version"] == 1
            assert 1 <= emulator.actions["AssumeRole"] - before <= 2  # no cross-process single-flight
            index = json.loads((world.config_dir / "sessions.json").read_text())
            assert list(index["sessions"]) == ["profile:readonly"]
            entry = index["sessions"]["profile:readonly"]
            assert entry["memory_only"] is False
            if backend == "shared-file":
                items = SharedFileKeyring.dump(store)
                secret = next(v for k, v in items.items() if k.endswith("\0session:profile:readonly"))
                assert json.loads(secret)["access_key_id"] == entry["access_key_id"]
            # A third process reads the entry back from the cache: index and keyring agree.
            again = world.stsdesk("credential-process", "readonly")
            assert again.returncode == 0, again.stderr
            assert json.loads(again.stdout)["AccessKeyId"] == entry["access_key_id"]
    finally:
        world.stsdesk("forget", "--all")
