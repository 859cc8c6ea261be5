"""Broker rules with a fake StsClient: cache, min TTL, single-flight, MFA sessions, durations, wrong codes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import keyring
import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.cache import SessionCache
from stsdesk.core.errors import (
    DurationError,
    InvalidMfaCode,
    MfaRequired,
    ProfileCycleError,
)
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.profiles import build_tree
from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.core.sts import StsClient

GOOD = "123456"
USER_SERIAL = "arn:aws:iam::111111111111:mfa/alice"
AKID = "AKIAALICE00000000001"
SECRET = "alice-secret-value-000000000000000000000"


class FakeSts:
    """Records calls; a code other than GOOD is refused like STS does; creds live ``lifetime`` seconds."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lifetime = 3600.0
        self.counter = 0

    def _creds(self, kind: CredentialKind, duration: int | None) -> Credentials:
        self.counter += 1
        life = self.lifetime if duration is None else min(float(duration), self.lifetime * 100)
        return Credentials(
            f"ASIAFAKE{self.counter:012d}",
            f"secret-{self.counter}",
            f"token-{self.counter}",
            datetime.now(UTC) + timedelta(seconds=life),
            kind,
            "us-east-1",
        )

    async def _check(self, action: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((action, kwargs))
        await asyncio.sleep(0.01)  # let concurrent callers pile up
        code = kwargs.get("mfa_code")
        if code is not None and code != GOOD:
            raise InvalidMfaCode("STS failed: wrong or already used MFA code", "AccessDenied")

    async def assume_role(self, source: Credentials, **kwargs: Any) -> tuple[Credentials, str]:
        await self._check("AssumeRole", {"source": source, **kwargs})
        chained = source.kind not in (CredentialKind.LONG_TERM, CredentialKind.SESSION_TOKEN)
        kind = CredentialKind.CHAINED_ROLE if chained else CredentialKind.ASSUMED_ROLE
        account, name = kwargs["role_arn"].split(":")[4], kwargs["role_arn"].rsplit("/", 1)[-1]
        return self._creds(kind, kwargs.get("duration")), f"arn:aws:sts::{account}:assumed-role/{name}/s"

    async def get_session_token(self, source: Credentials, **kwargs: Any) -> Credentials:
        await self._check("GetSessionToken", {"source": source, **kwargs})
        return self._creds(CredentialKind.SESSION_TOKEN, kwargs.get("duration"))

    def count(self, action: str) -> int:
        return sum(1 for name, _ in self.calls if name == action)


CONFIG: dict[str, dict[str, Any]] = {
    "alice": {"stsdesk_access_key_id": AKID, "mfa_serial": USER_SERIAL, "region": "us-east-1"},
    "plain": {"role_arn": "arn:aws:iam::222222222222:role/ReadOnly", "source_profile": "alice"},
    "dev": {
        "role_arn": "arn:aws:iam::222222222222:role/Developer",
        "source_profile": "alice",
        "mfa_serial": USER_SERIAL,
    },
    "ops": {
        "role_arn": "arn:aws:iam::222222222222:role/Ops",
        "source_profile": "alice",
        "mfa_serial": USER_SERIAL,
    },
    "admin": {
        "role_arn": "arn:aws:iam::333333333333:role/Admin",
        "source_profile": "alice",
        "mfa_serial": USER_SERIAL,
        "duration_seconds": "14400",
    },
    "deployer": {"role_arn": "arn:aws:iam::333333333333:role/Deployer", "source_profile": "dev"},
    "loop-a": {"role_arn": "arn:aws:iam::222222222222:role/A", "source_profile": "loop-b"},
    "loop-b": {"role_arn": "arn:aws:iam::222222222222:role/B", "source_profile": "loop-a"},
}


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    while CACHES:  # written behind: finish before the next test's keyring is installed
        CACHES.pop().flush()
    keyring.set_keyring(previous)


class Prompt:
    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        self.requests: list[MfaRequest] = []

    async def __call__(self, request: MfaRequest) -> str:
        self.requests.append(request)
        await asyncio.sleep(0.005)
        return self.codes.pop(0) if self.codes else GOOD


CACHES: list[SessionCache] = []


def make_broker(
    tmp_path: Path, prompt: Prompt | None = None, min_ttl: float = 300.0
) -> tuple[Broker, FakeSts]:
    tree = build_tree(CONFIG, tmp_path / "config", tmp_path / "credentials")
    secrets = SecretStore("stsdesk-test")
    secrets.set(user_key("alice", AKID), SECRET)
    fake = FakeSts()
    cache = SessionCache(tmp_path / "state", secrets)
    CACHES.append(cache)
    broker = Broker(tree, cast(StsClient, fake), cache, secrets, prompt, min_ttl=min_ttl)
    return broker, fake


pytestmark = pytest.mark.usefixtures("memory_keyring")


def test_cache_hit_skips_sts(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    first = asyncio.run(broker.credentials_for("plain"))
    second = asyncio.run(broker.credentials_for("plain"))
    assert first == second
    assert fake.count("AssumeRole") == 1
    assert broker.session_state("plain") is not None


def test_session_below_min_ttl_is_refreshed(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path, min_ttl=300)
    fake.lifetime = 200  # less than the minimum TTL: never good enough from the cache
    asyncio.run(broker.credentials_for("plain"))
    asyncio.run(broker.credentials_for("plain"))
    assert fake.count("AssumeRole") == 2


def test_fifty_concurrent_callers_make_one_sts_call(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)

    async def many() -> list[Credentials]:
        return await asyncio.gather(*(broker.credentials_for("plain") for _ in range(50)))

    results = asyncio.run(many())
    assert fake.count("AssumeRole") == 1
    assert len({creds.access_key_id for creds in results}) == 1


def test_two_roles_on_one_device_share_one_prompt_and_mfa_session(tmp_path: Path) -> None:
    prompt = Prompt([GOOD])
    broker, fake = make_broker(tmp_path, prompt)

    async def both() -> list[Credentials]:
        return await asyncio.gather(broker.credentials_for("dev"), broker.credentials_for("ops"))

    dev, ops = asyncio.run(both())
    assert len(prompt.requests) == 1
    assert prompt.requests[0].mfa_serial == USER_SERIAL
    assert fake.count("GetSessionToken") == 1
    assert fake.count("AssumeRole") == 2
    # Roles of up to an hour are assumed from the MFA session, without a code of their own.
    for _name, kwargs in fake.calls[1:]:
        assert kwargs["source"].kind is CredentialKind.SESSION_TOKEN
        assert kwargs.get("mfa_code") is None
    assert dev.access_key_id != ops.access_key_id


def test_mfa_session_is_reused_later(tmp_path: Path) -> None:
    prompt = Prompt([])
    broker, fake = make_broker(tmp_path, prompt)
    asyncio.run(broker.credentials_for("dev"))
    asyncio.run(broker.credentials_for("ops"))
    assert len(prompt.requests) == 1
    assert fake.count("GetSessionToken") == 1


def test_long_role_is_assumed_from_long_term_keys_with_fresh_code(tmp_path: Path) -> None:
    prompt = Prompt([])
    broker, fake = make_broker(tmp_path, prompt)
    asyncio.run(broker.credentials_for("dev"))  # an MFA session exists, but cannot give 4 hours
    creds = asyncio.run(broker.credentials_for("admin"))
    assert len(prompt.requests) == 2
    name, kwargs = fake.calls[-1]
    assert name == "AssumeRole"
    assert kwargs["source"].kind is CredentialKind.LONG_TERM
    assert kwargs["mfa_code"] == GOOD and kwargs["duration"] == 14400
    assert creds.kind is CredentialKind.ASSUMED_ROLE


def test_chained_role_longer_than_an_hour_is_refused_before_any_call(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path, Prompt([]))
    with pytest.raises(DurationError, match="role chaining"):
        asyncio.run(broker.credentials_for("deployer", duration=7200))
    assert fake.calls == []
    assert broker.last_error("deployer") is not None


def test_chain_across_accounts_needs_one_prompt(tmp_path: Path) -> None:
    prompt = Prompt([])
    broker, fake = make_broker(tmp_path, prompt)
    creds = asyncio.run(broker.credentials_for("deployer"))
    assert len(prompt.requests) == 1
    assert prompt.requests[0].profile == "deployer"
    assert creds.kind is CredentialKind.CHAINED_ROLE
    assert [name for name, _ in fake.calls] == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert fake.calls[-1][1].get("mfa_code") is None


def test_wrong_code_prompts_again_with_the_error(tmp_path: Path) -> None:
    prompt = Prompt(["000000", GOOD])
    broker, _fake = make_broker(tmp_path, prompt)
    asyncio.run(broker.credentials_for("dev"))
    assert [r.error is None for r in prompt.requests] == [True, False]
    assert "MFA code" in str(prompt.requests[1].error)


def test_wrong_code_without_prompt_raises(tmp_path: Path) -> None:
    broker, _fake = make_broker(tmp_path)
    with pytest.raises(InvalidMfaCode):
        asyncio.run(broker.credentials_for("dev", mfa_code="000000"))


def test_no_code_and_no_prompt_says_what_to_do(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    with pytest.raises(MfaRequired, match="profile dev needs an MFA code") as raised:
        asyncio.run(broker.credentials_for("dev"))
    assert raised.value.remedy is not None and raised.value.remedy.action == "enter-mfa-code"  # words: cli/gui
    assert fake.calls == []


def test_given_code_is_used_without_prompt(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    asyncio.run(broker.credentials_for("dev", mfa_code=GOOD))
    assert fake.calls[0][1]["mfa_code"] == GOOD


def test_iam_user_with_mfa_gets_a_session_token(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path, Prompt([]))
    creds = asyncio.run(broker.credentials_for("alice"))
    assert creds.kind is CredentialKind.SESSION_TOKEN
    assert fake.calls[0][1]["source"].secret_access_key == SECRET
    state = broker.session_state("alice")
    assert state is not None and state.mfa_serial == USER_SERIAL


def test_cycle_is_an_error_and_other_profiles_still_work(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    with pytest.raises(ProfileCycleError, match="cycle"):
        asyncio.run(broker.credentials_for("loop-a"))
    asyncio.run(broker.credentials_for("plain"))
    assert fake.count("AssumeRole") == 1


def test_forget_drops_session_and_notifies(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    seen: list[str] = []
    unsubscribe = broker.subscribe(seen.append)
    asyncio.run(broker.credentials_for("plain"))
    assert "plain" in seen
    assert broker.forget("plain") == ["profile:plain"]
    assert broker.session_state("plain") is None
    asyncio.run(broker.credentials_for("plain"))
    assert fake.count("AssumeRole") == 2
    unsubscribe()
    count = len(seen)
    broker.forget()
    assert len(seen) == count


def test_force_refresh_calls_sts_again_but_keeps_mfa_session(tmp_path: Path) -> None:
    prompt = Prompt([])
    broker, fake = make_broker(tmp_path, prompt)
    asyncio.run(broker.credentials_for("dev"))
    asyncio.run(broker.credentials_for("dev", force_refresh=True))
    assert fake.count("AssumeRole") == 2
    assert fake.count("GetSessionToken") == 1
    assert len(prompt.requests) == 1


def test_session_reaches_another_process_once_flushed(tmp_path: Path) -> None:
    broker, fake = make_broker(tmp_path)
    first = asyncio.run(broker.credentials_for("plain"))
    assert broker.cache.flush()
    other, other_fake = make_broker(tmp_path)  # another process: its own cache instance, same directory
    assert asyncio.run(other.credentials_for("plain")) == first
    assert other_fake.count("AssumeRole") == 0 and fake.count("AssumeRole") == 1


def test_turn_budget_admits_a_few_per_turn_in_order_and_never_delays_one() -> None:
    """TurnBudget: the first ``per_turn`` callers of a turn go on at once; the rest on the following turns, first
    come first served, a cancelled waiter gives its place up, and every caller is admitted in the end."""
    from stsdesk.core.broker import TurnBudget

    async def scenario() -> tuple[list[tuple[int, int]], bool]:
        budget = TurnBudget(3)
        turn = 0
        admitted: list[tuple[int, int]] = []  # (caller, turn admitted)

        async def caller(i: int) -> None:
            await budget.admit()
            admitted.append((i, turn))

        async def clock() -> None:
            nonlocal turn
            while True:
                await asyncio.sleep(0)
                turn += 1

        ticking = asyncio.ensure_future(clock())
        single = asyncio.ensure_future(budget.admit())
        await asyncio.sleep(0)
        alone = single.done()  # one caller: admitted on its first step
        tasks = [asyncio.ensure_future(caller(i)) for i in range(10)]
        tasks[7].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        ticking.cancel()
        return admitted, alone

    admitted, alone = asyncio.run(scenario())
    assert alone
    order = [i for i, _ in admitted]
    assert order == [0, 1, 2, 3, 4, 5, 6, 8, 9]  # in order; 7 cancelled while waiting
    per_turn: dict[int, int] = {}
    for _, turn in admitted:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) <= 3 and len(per_turn) >= 3  # spread over turns, never more than 3 in one
