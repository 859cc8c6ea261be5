"""GetAccessKeyInfo's map of issued temporary keys holds the live sessions, not every session issued."""

from __future__ import annotations

from stsdesk.emulator import state
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.state import EmulatorState


def _issue(emu: EmulatorState, seconds: int) -> str:
    creds, _ = emu.issue_session(
        kind="role", arn="arn:aws:sts::111111111111:assumed-role/r/s", account="111111111111",
        user_id="AROAEXAMPLE:s", base_arn="arn:aws:iam::111111111111:role/r", duration_seconds=seconds,
        issued_by="AKIAEXAMPLE",
    )
    return creds.access_key_id


def test_issued_accounts_are_known_while_live_and_swept_after(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(state, "_ISSUED_SWEEP_MIN", 8)
    emu = EmulatorState(scenario_from_dict({}), None, allow_time_travel=True)
    short = [_issue(emu, 900) for _ in range(7)]
    assert all(emu.account_of_key(key) == "111111111111" for key in short)
    emu.clock.advance(901)
    assert emu.account_of_key(short[0]) is None  # expired: no longer answered
    long = [_issue(emu, 3600) for _ in range(50)]  # sweeps drop the expired entries as the map grows
    assert len(emu._issued_accounts) <= 2 * len(long)
    assert not set(short) & set(emu._issued_accounts)
    assert all(emu.account_of_key(key) == "111111111111" for key in long)
    emu.clock.advance(3601)
    _issue(emu, 900)
    for _ in range(200):
        _issue(emu, 900)
        emu.clock.advance(1000)
    assert len(emu._issued_accounts) < 16  # bounded by the live sessions, not by every session issued
