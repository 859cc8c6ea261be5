"""ReminderScheduler's quiet ticks (the same sessions, nothing due before the next deadline: no pass over every
session) decide exactly what a full look at every session would, tick by tick, through thresholds, expiries,
auto-refresh and its retries, MFA margins, renewed and forgotten sessions, sleeps and clocks set back."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from stsdesk.core.reminders import Decision, ReminderScheduler, WatchedSession

T0 = 1_700_000_000.0


class AlwaysLooks(ReminderScheduler):
    """The reference: forgets its quiet deadline before every tick, so every tick looks at every session."""

    def tick(self, sessions: object) -> Decision:  # type: ignore[override]
        self._quiet = None
        return super().tick(sessions)  # type: ignore[arg-type]


class Clocks:
    def __init__(self) -> None:
        self.wall_now, self.mono_now = T0, 5000.0

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        return self.mono_now


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_quiet_ticks_decide_what_a_full_look_decides(seed: int) -> None:
    rng = random.Random(seed)
    clocks = Clocks()
    ours = ReminderScheduler((600, 120, 30), refresh_lead=300, retry_after=60, wall=clocks.wall, monotonic=clocks.mono)
    reference = AlwaysLooks((600, 120, 30), refresh_lead=300, retry_after=60, wall=clocks.wall, monotonic=clocks.mono)
    full_looks = 0
    real_next_wall = ours._next_wall

    def counted(*args: object) -> float:
        nonlocal full_looks
        full_looks += 1
        return real_next_wall(*args)  # type: ignore[arg-type]

    ours._next_wall = counted  # type: ignore[method-assign]
    sessions: dict[str, WatchedSession] = {}
    for i in range(25):
        name = f"p{i}"
        mfa = rng.random() < 0.3
        sessions[name] = WatchedSession(
            name, _at(rng.uniform(-50, 2500)), mfa, _at(rng.uniform(0, 2000)) if mfa and rng.random() < 0.7 else None
        )
        if rng.random() < 0.4:
            ours.set_auto_refresh(name, True)
            reference.set_auto_refresh(name, True)
    decided = 0
    for second in range(3000):
        event = rng.random()
        if event < 0.004:  # suspended: the wall clock moves, the monotonic one does not
            clocks.wall_now += rng.uniform(10, 900)
        elif event < 0.006:  # the clock set back a little
            clocks.wall_now -= rng.uniform(1, 4)
        elif event < 0.012:  # a session renewed (or a new one)
            name = f"p{rng.randrange(30)}"
            sessions[name] = WatchedSession(name, datetime.fromtimestamp(clocks.wall_now + rng.uniform(100, 3600), UTC))
        elif event < 0.014 and sessions:  # a session forgotten
            sessions.pop(rng.choice(sorted(sessions)))
        elif event < 0.016:
            name, on = f"p{rng.randrange(30)}", rng.random() < 0.5
            ours.set_auto_refresh(name, on)
            reference.set_auto_refresh(name, on)
        elif event < 0.017:
            ours.thresholds = reference.thresholds = rng.sample([900, 600, 300, 120, 60], 2)
        listed = list(sessions.values())
        want, got = reference.tick(listed), ours.tick(listed)
        assert got == want, f"tick {second}"
        decided += bool(want.notices or want.refresh)
        clocks.wall_now += 1.0 + rng.uniform(-0.05, 0.05)
        clocks.mono_now += 1.0
    assert decided > 20  # the run crossed thresholds, expiries and refreshes, not only quiet seconds
    assert full_looks < 25 * 3000 / 4  # most ticks looked at no session
