"""The engine (Broker + real StsClient) against an in-process emulator that injects faults: retryable faults
are retried with backoff and survived; persistent ones end in one clear error; nothing partial, expired or
skewed is ever returned or cached."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from resilience_support import (
    COUNTS,
    LONG_TERM_SECRETS,
    CountingEmulator,
    CountingProxy,
    config_text,
    credentials_text,
    start_counting_emulator,
)

from stsdesk.core.broker import Broker
from stsdesk.core.cache import SessionCache
from stsdesk.core.errors import ClockSkew, NetworkError, StsCallError, Throttled
from stsdesk.core.profiles import load_profiles
from stsdesk.core.secrets import SecretStore
from stsdesk.core.sts import StsClient


@pytest.fixture(autouse=True)
def _fail_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def make_broker(tmp_path: Path, endpoint: str) -> Broker:
    (tmp_path / "config").write_text(config_text(endpoint))
    (tmp_path / "credentials").write_text(credentials_text())
    secrets = SecretStore("stsdesk:resilience-engine")
    sts = StsClient(max_attempts=4)
    sts.backoff_base = 0.01  # still exponential with jitter, just short
    tree = load_profiles(tmp_path / "config", tmp_path / "credentials")
    return Broker(tree, sts, SessionCache(tmp_path / "cache", secrets), secrets)


def burn_requests(emulator: CountingEmulator, n: int) -> None:
    """Use up the emulator's first ``n`` request numbers (the every-Nth faults count them) with unsigned
    requests, so that the engine's first request is the one that gets the fault."""
    for _ in range(n):
        try:
            with urllib.request.urlopen(f"{emulator.endpoint}/?Action=GetCallerIdentity", timeout=10):
                pass
        except Exception:  # an error answer or a drop is all the same here
            pass
    emulator.faults.clear()
    emulator.actions.clear()


@pytest.fixture
def emulators() -> Iterator[list[CountingEmulator]]:
    started: list[CountingEmulator] = []
    yield started
    for emulator in started:
        emulator.server.stop()


def emulator_with(emulators: list[CountingEmulator], **faults: int) -> CountingEmulator:
    emulator = start_counting_emulator(**faults)
    emulators.append(emulator)
    return emulator


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({"throttle_every": 2}, "throttle"),
        ({"error_5xx_every": 2}, "5xx"),
        ({"drop_every": 2}, "drop"),
        ({"throttle_every": 2, "latency_ms": 30}, "throttle"),
    ],
)
def test_a_retryable_fault_is_retried_and_survived(
    tmp_path: Path, emulators: list[CountingEmulator], faults: dict[str, int], kind: str
) -> None:
    emulator = emulator_with(emulators, **faults)
    burn_requests(emulator, 1)  # request #2 (the engine's first) is faulted, #3 (its retry) is not
    broker = make_broker(tmp_path, emulator.endpoint)
    try:
        creds = asyncio.run(broker.credentials_for("readonly"))
        assert creds.access_key_id.startswith("ASIA") and creds.session_token
        assert emulator.faults[kind] == 1
        assert emulator.actions["AssumeRole"] == 2  # the faulted try and the retry: no more
        meta = broker.session_state("readonly")
        assert meta is not None and meta.access_key_id == creds.access_key_id
        COUNTS["faults injected"] += emulator.injected()
        COUNTS["faults survived"] += emulator.injected()
    finally:
        broker.sts.close()


def test_every_other_request_faulted_across_a_chain_and_whoami(
    tmp_path: Path, emulators: list[CountingEmulator]
) -> None:
    # Requests fail in runs of up to three (throttled, 5xx, dropped: every 3rd, 5th, 7th): each call gets through.
    emulator = emulator_with(emulators, throttle_every=3, error_5xx_every=5, drop_every=7)
    broker = make_broker(tmp_path, emulator.endpoint)
    try:
        for _ in range(3):
            asyncio.run(broker.credentials_for("readonly", force_refresh=True))
            identity = asyncio.run(broker.whoami("readonly"))
            assert identity.arn.startswith("arn:aws:sts::222222222222:assumed-role/ReadOnly/")
        assert emulator.injected() >= 4
        COUNTS["faults injected"] += emulator.injected()
        COUNTS["faults survived"] += emulator.injected()
    finally:
        broker.sts.close()


@pytest.mark.parametrize(
    ("faults", "error", "what"),
    [
        ({"throttle_every": 1}, Throttled, "Throttling"),
        ({"error_5xx_every": 1}, StsCallError, "InternalFailure"),
        ({"drop_every": 1}, NetworkError, "cannot reach the STS endpoint"),
    ],
)
def test_when_every_request_fails_the_engine_gives_up_with_one_line(
    tmp_path: Path, emulators: list[CountingEmulator], faults: dict[str, int], error: type[Exception], what: str
) -> None:
    emulator = emulator_with(emulators, **faults)
    broker = make_broker(tmp_path, emulator.endpoint)
    try:
        with pytest.raises(error) as caught:
            asyncio.run(broker.credentials_for("readonly"))
        message = str(caught.value)
        assert what in message and "gave up after 4 attempts" in message
        assert "\n" not in message and not any(secret in message for secret in LONG_TERM_SECRETS)
        assert emulator.actions["AssumeRole"] == 4 and emulator.injected() == 4
        assert broker.session_state("readonly") is None  # nothing cached
        assert broker.last_error("readonly") == message
        COUNTS["faults injected"] += emulator.injected()
    finally:
        broker.sts.close()


@pytest.mark.parametrize("offset", [3600, -3600, 16 * 60, -16 * 60])
def test_a_clock_offset_beyond_15_minutes_is_a_clock_skew_error(
    tmp_path: Path, emulators: list[CountingEmulator], offset: int
) -> None:
    emulator = emulator_with(emulators, clock_offset_seconds=offset)
    broker = make_broker(tmp_path, emulator.endpoint)
    try:
        with pytest.raises(ClockSkew) as caught:
            asyncio.run(broker.credentials_for("readonly"))
        message = str(caught.value)
        assert "clock" in message and "set the system clock right" in message and "\n" not in message
        assert emulator.actions["AssumeRole"] == 1  # not retried: it cannot get better by itself
        assert broker.session_state("readonly") is None
        COUNTS["faults injected"] += 1
    finally:
        broker.sts.close()


def test_a_clock_offset_within_15_minutes_still_works(tmp_path: Path, emulators: list[CountingEmulator]) -> None:
    emulator = emulator_with(emulators, clock_offset_seconds=-14 * 60)
    broker = make_broker(tmp_path, emulator.endpoint)
    try:
        creds = asyncio.run(broker.credentials_for("readonly"))
        assert creds.expiration is not None
        COUNTS["faults injected"] += 1
        COUNTS["faults survived"] += 1
    finally:
        broker.sts.close()


def _strip(element: bytes) -> object:
    return lambda body: re.sub(rb"<%s>[^<]*</%s>" % (element, element), b"", body)


@pytest.mark.parametrize(
    ("proxy_args", "needle"),
    [
        ({"truncate": True}, "cut off or malformed"),
        ({"rewrite": _strip(b"SessionToken")}, "incomplete credentials (no SessionToken)"),
        ({"rewrite": _strip(b"SecretAccessKey")}, "incomplete credentials (no SecretAccessKey)"),
        ({"rewrite": _strip(b"Expiration")}, "incomplete credentials (no Expiration)"),
        (
            {"rewrite": lambda body: re.sub(rb"<Expiration>[^<]*<", b"<Expiration>2001-01-01T00:00:00Z<", body)},
            "already expired",
        ),
    ],
)
def test_partial_or_expired_credentials_are_an_error_and_never_cached(
    tmp_path: Path, emulators: list[CountingEmulator], proxy_args: dict[str, object], needle: str
) -> None:
    emulator = emulator_with(emulators)
    proxy = CountingProxy(emulator.endpoint, **proxy_args)  # type: ignore[arg-type]
    broker = make_broker(tmp_path, proxy.endpoint)
    broker.sts._max_attempts = 2  # a truncated answer is retried once (it is truncated again)
    try:
        with pytest.raises(StsCallError) as caught:
            asyncio.run(broker.credentials_for("readonly"))
        message = str(caught.value)
        assert needle in message and "\n" not in message
        assert "SecretAccessKey>" not in message and "<" not in message  # the raw body is never quoted
        assert broker.session_state("readonly") is None
        assert broker.cache.sessions() == []
        assert proxy.counts["requests"] >= 1
        COUNTS["faults injected"] += proxy.counts["requests"]
    finally:
        proxy.stop()
        broker.sts.close()
