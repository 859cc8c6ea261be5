"""The renewal behind a credential server: ahead of expiry, never inside a request, errors kept and shown."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from test_servers import call, creds, fixed, path_of

from stsdesk.core.errors import MfaCancelled, NetworkError
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.servers import (
    CredentialServer,
    CredentialSupply,
    NoTemporaryCredentials,
    ServerMode,
    SupplyState,
)


def test_schedule_renews_twenty_minutes_ahead_or_at_half_life() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    async def main() -> list[float]:
        delays = []
        for lifetime in (3600.0, 900.0):
            answer = Credentials("ASIAX", "s", "t", now + timedelta(seconds=lifetime), CredentialKind.ASSUMED_ROLE)
            supply = CredentialSupply(fixed(answer), now=lambda: now)
            supply._accept(answer)
            delays.append(supply._seconds_until_due())
        return delays

    hour, short = asyncio.run(main())
    assert hour == pytest.approx(3600 - 1200)  # 20 minutes ahead: what is served keeps >= 15 minutes
    assert short == pytest.approx(450)  # a 900-second role: at half-life


def test_short_sessions_are_renewed_in_the_background() -> None:
    """Sessions of 0.6 s are renewed at half-life again and again, without any request asking."""
    fetched: list[Credentials] = []

    async def fetch(min_ttl: float) -> Credentials:
        assert min_ttl == 1200  # the broker is asked for 20 minutes (fresh when its cache has less)
        answer = creds(0.6, key=f"ASIASHORT{len(fetched):011d}")
        fetched.append(answer)
        return answer

    async def main() -> SupplyState:
        supply = CredentialSupply(fetch, min_interval=0.05, serve_floor=0.01)
        await supply.start()
        while len(fetched) < 4:
            await asyncio.sleep(0.02)
        current = supply.current()
        state = supply.status().state
        await supply.stop()
        assert current is not None and current.access_key_id != fetched[0].access_key_id
        assert supply.current() is None  # stopped: nothing served
        return state

    assert asyncio.run(main()) in (SupplyState.READY, SupplyState.REFRESHING)


def test_requests_are_answered_while_a_renewal_waits_for_an_mfa_code() -> None:
    """The renewal's prompt is open (never answered here); every request still gets the current session."""
    prompt_open = asyncio.Event()
    first = creds(3600, key="ASIAFIRST00000000001")

    async def main() -> tuple[int, str, SupplyState]:
        answers = iter([first])

        async def fetch(min_ttl: float) -> Credentials:
            answer = next(answers, None)
            if answer is not None:
                return answer
            prompt_open.set()
            await asyncio.Event().wait()  # the person has not typed the code yet
            raise AssertionError("unreachable")

        supply = CredentialSupply(fetch)
        await supply.start()
        server = CredentialServer(supply, ServerMode.CONTAINER)
        await server.start()
        try:
            supply.renew_now()
            await asyncio.wait_for(prompt_open.wait(), 10)
            status, _, payload = await asyncio.wait_for(
                call(server, "GET", path_of(server), {"Authorization": str(server.token)}), 10
            )
            return status, json.loads(payload)["AccessKeyId"], supply.status().state
        finally:
            await server.stop()
            await supply.stop()  # cancels the waiting prompt

    status, key, state = asyncio.run(main())
    assert (status, key, state) == (200, "ASIAFIRST00000000001", SupplyState.REFRESHING)


def test_a_failed_renewal_keeps_serving_and_reports_the_error() -> None:
    async def main() -> tuple[str | None, Credentials | None, float]:
        calls = [0]

        async def fetch(min_ttl: float) -> Credentials:
            calls[0] += 1
            if calls[0] == 1:
                return creds(3600)
            raise NetworkError("could not reach STS")

        supply = CredentialSupply(fetch)
        await supply.start()
        supply.renew_now()
        while supply.status().error is None:
            await asyncio.sleep(0.01)
        retry_in = supply._seconds_until_due()
        result = supply.status().error, supply.current(), retry_in
        await supply.stop()
        return result

    error, current, retry_in = asyncio.run(main())
    assert error == "could not reach STS"
    assert current is not None and current.access_key_id == "ASIATESTKEY000000001"
    assert 0 < retry_in <= 5  # retried soon, with backoff


def test_a_cancelled_prompt_is_not_asked_again_at_once() -> None:
    async def main() -> float:
        calls = [0]

        async def fetch(min_ttl: float) -> Credentials:
            calls[0] += 1
            if calls[0] == 1:
                return creds(3600)
            raise MfaCancelled("MFA prompt cancelled")

        supply = CredentialSupply(fetch)
        await supply.start()
        supply.renew_now()
        while supply.status().error is None:
            await asyncio.sleep(0.01)
        wait = supply._seconds_until_due()
        await supply.stop()
        return wait

    assert asyncio.run(main()) > 200


def test_long_term_keys_are_not_served() -> None:
    keys = Credentials("AKIAEXAMPLE000000001", "secret", None, None, CredentialKind.LONG_TERM)

    async def main() -> None:
        supply = CredentialSupply(fixed(keys))
        with pytest.raises(NoTemporaryCredentials, match="temporary sessions only"):
            await supply.start()
        assert supply.current() is None and supply.status().state is SupplyState.STOPPED

    asyncio.run(main())


def test_first_fetch_failure_propagates_and_nothing_runs() -> None:
    async def failing(min_ttl: float) -> Credentials:
        raise NetworkError("no STS")

    async def main() -> None:
        supply = CredentialSupply(failing)
        with pytest.raises(NetworkError):
            await supply.start()
        assert supply._task is None

    asyncio.run(main())


def test_an_older_session_never_replaces_a_newer_one() -> None:
    newer, older = creds(3600, key="ASIANEWER00000000001"), creds(1800, key="ASIAOLDER00000000001")

    async def main() -> str:
        supply = CredentialSupply(fixed(newer, older))
        await supply.start()
        supply.renew_now()
        while supply.status().renewals == 0:
            await asyncio.sleep(0.01)
        current = supply.current()
        await supply.stop()
        assert current is not None
        return current.access_key_id

    assert asyncio.run(main()) == "ASIANEWER00000000001"
