"""The state keeps one Caller per long-term key, and only for the scenario it was built from."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from sts_world import ALICE_KEY, world

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.sigv4 import SignedRequest
from stsdesk.emulator.state import EmulatorState


def _signed(key_id: str) -> SignedRequest:
    return SignedRequest(key_id, None, "us-east-1", "sts", datetime.now(UTC))


def test_a_long_term_key_caller_is_built_once_and_follows_a_new_scenario() -> None:
    state = EmulatorState(scenario_from_dict(world()))
    first = state.caller(_signed(ALICE_KEY[0]))
    assert state.caller(_signed(ALICE_KEY[0])) is first
    assert first.arn.endswith(":user/alice") and first.policies

    changed = copy.deepcopy(world())
    alice = next(u for u in changed["users"] if u["name"] == "alice")
    alice["policies"] = []
    state.scenario = scenario_from_dict(changed)
    fresh = state.caller(_signed(ALICE_KEY[0]))
    assert fresh is not first and fresh.policies == ()


def test_an_unknown_key_is_still_refused_after_a_known_one_was_kept() -> None:
    state = EmulatorState(scenario_from_dict(world()))
    state.caller(_signed(ALICE_KEY[0]))
    with pytest.raises(EmulatorError) as raised:
        state.caller(_signed("AKIAUNKNOWNKEY000001"))
    assert raised.value.code == "InvalidClientTokenId"
