"""ReminderScheduler: one notice per threshold per session, expiry notices, no bursts after sleep or clock
jumps, and auto-refresh only where no MFA prompt would be needed. Both clocks are fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stsdesk.core.reminders import (
    Decision,
    Notice,
    NoticeKind,
    ReminderScheduler,
    WatchedSession,
    format_duration,
)

T0 = 1_700_000_000.0


class Clocks:
    """A wall clock and a monotonic clock that normally move together."""

    def __init__(self) -> None:
        self.wall_now = T0
        self.mono_now = 1000.0

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        return self.mono_now

    def advance(self, seconds: float) -> None:
        self.wall_now += seconds
        self.mono_now += seconds

    def sleep(self, seconds: float) -> None:
        """Suspend: the wall clock moves, the monotonic clock does not."""
        self.wall_now += seconds


def at(offset: float) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


def scheduler(clocks: Clocks, **kwargs: object) -> ReminderScheduler:
    return ReminderScheduler(wall=clocks.wall, monotonic=clocks.mono, **kwargs)  # type: ignore[arg-type]


def run(
    clocks: Clocks, sched: ReminderScheduler, sessions: list[WatchedSession], seconds: int
) -> list[Decision]:
    """Tick once a second for ``seconds`` seconds; return the non-empty decisions."""
    out = []
    for _ in range(seconds):
        clocks.advance(1)
        decision = sched.tick(sessions)
        if decision.notices or decision.refresh:
            out.append(decision)
    return out


def notices(decisions: list[Decision]) -> list[Notice]:
    return [n for d in decisions for n in d.notices]


def test_one_notice_per_threshold_then_expired() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sessions = [WatchedSession("dev", at(700))]
    assert sched.tick(sessions) == Decision()
    got = notices(run(clocks, sched, sessions, 720))
    assert [(n.kind, n.profiles) for n in got] == [
        (NoticeKind.EXPIRING, ("dev",)),
        (NoticeKind.EXPIRING, ("dev",)),
        (NoticeKind.EXPIRED, ("dev",)),
    ]
    assert got[0].seconds_left == pytest.approx(600)
    assert got[0].title == "dev: expires in 10 min"
    assert got[1].title == "dev: expires in 2 min"
    assert got[2].title == "dev: session expired"
    assert "refresh" in got[0].body.lower()


def test_each_session_gets_its_own_notices() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, thresholds=[60])
    sessions = [WatchedSession("a", at(100)), WatchedSession("b", at(150))]
    sched.tick(sessions)
    got = notices(run(clocks, sched, sessions, 100))
    assert [(n.kind, n.profile) for n in got] == [
        (NoticeKind.EXPIRING, "a"),  # 40 s in
        (NoticeKind.EXPIRING, "b"),  # 90 s in
        (NoticeKind.EXPIRED, "a"),  # 100 s in
    ]


def test_refreshed_session_is_reminded_again() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, thresholds=[60])
    sched.tick([WatchedSession("a", at(100))])
    assert len(notices(run(clocks, sched, [WatchedSession("a", at(100))], 45))) == 1
    renewed = [WatchedSession("a", at(200))]  # a new expiration is a new session
    got = notices(run(clocks, sched, renewed, 100))
    assert [n.kind for n in got] == [NoticeKind.EXPIRING]
    assert got[0].seconds_left == pytest.approx(60)


def test_new_session_inside_thresholds_gets_only_the_nearest() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.tick([])
    clocks.advance(1)
    decision = sched.tick([WatchedSession("short", at(100))])
    assert [n.title for n in decision.notices] == ["short: expires in 2 min"]
    assert notices(run(clocks, sched, [WatchedSession("short", at(100))], 50)) == []


def test_session_already_expired_at_startup_is_silent() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    assert sched.tick([WatchedSession("old", at(-3600))]).notices == ()
    assert notices(run(clocks, sched, [WatchedSession("old", at(-3600))], 5)) == []


def test_sleep_across_thresholds_gives_one_current_notice_not_a_burst() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sessions = [WatchedSession("a", at(1000))]
    sched.tick(sessions)
    clocks.sleep(900)  # both thresholds crossed while asleep; 100 s left on wake
    decision = sched.tick(sessions)
    assert decision.resumed
    assert [(n.kind, n.title) for n in decision.notices] == [(NoticeKind.EXPIRING, "a: expires in 2 min")]
    clocks.advance(1)
    assert sched.tick(sessions).notices == ()


def test_sessions_lapsed_while_asleep_are_summed_up_once() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sessions = [WatchedSession("a", at(700)), WatchedSession("b", at(900)), WatchedSession("c", at(5000))]
    sched.tick(sessions)
    clocks.sleep(3600)
    decision = sched.tick(sessions)
    assert decision.resumed
    assert len(decision.notices) == 1
    summary = decision.notices[0]
    assert summary.kind is NoticeKind.EXPIRED
    assert summary.profiles == ("a", "b")
    assert summary.title == "2 sessions expired"
    assert "a, b" in summary.body
    later = notices(run(clocks, sched, sessions, 5))
    assert later == []


def test_single_lapse_while_asleep_names_the_profile() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sessions = [WatchedSession("prod", at(50))]
    sched.tick(sessions)
    clocks.sleep(120)
    (notice,) = sched.tick(sessions).notices
    assert notice.title == "prod: session expired"


def test_clock_set_back_is_a_gap_and_does_not_repeat_notices() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, thresholds=[60])
    sessions = [WatchedSession("a", at(100))]
    sched.tick(sessions)
    assert len(notices(run(clocks, sched, sessions, 45))) == 1
    clocks.wall_now -= 300  # the clock is set back: 60 s crossed again later
    assert sched.tick(sessions).resumed
    got = notices(run(clocks, sched, sessions, 400))
    assert [n.kind for n in got] == [NoticeKind.EXPIRED]


def test_regular_ticks_are_not_a_gap() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.tick([])
    for _ in range(10):
        clocks.advance(1)
        assert not sched.tick([]).resumed
    clocks.advance(3)  # a little late is fine
    assert not sched.tick([]).resumed
    clocks.advance(30)  # frozen loop
    assert sched.tick([]).resumed


def test_auto_refresh_is_off_by_default() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sessions = [WatchedSession("a", at(400))]
    sched.tick(sessions)
    assert [d.refresh for d in run(clocks, sched, sessions, 300)] == [()]  # only the 120 s notice
    assert not sched.auto_refresh("a")


def test_auto_refresh_without_prompt_refreshes_before_expiry_and_skips_early_reminder() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.set_auto_refresh("a", True)
    assert sched.auto_refresh("a")
    sessions = [WatchedSession("a", at(900))]
    sched.tick(sessions)
    decisions = run(clocks, sched, sessions, 620)
    assert [d.refresh for d in decisions] == [("a",)]
    assert notices(decisions) == []  # no 10-minute reminder: the refresh comes first
    assert clocks.wall_now - T0 == pytest.approx(620)
    # the first refresh request came at 300 s left
    assert 900 - (clocks.wall_now - T0) < 300


def test_auto_refresh_failure_is_retried_after_a_while_and_late_threshold_still_reminds() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, retry_after=60)
    sched.set_auto_refresh("a", True)
    sessions = [WatchedSession("a", at(320))]
    sched.tick(sessions)
    decisions = run(clocks, sched, sessions, 200)  # refresh "fails": the session never changes
    refreshes = [d for d in decisions if d.refresh]
    assert len(refreshes) == 4  # at 300, 240, 180, 120 s left
    assert [n.title for n in notices(decisions)] == ["a: expires in 2 min"]


def test_auto_refresh_needing_mfa_reminds_instead() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.set_auto_refresh("prod", True)
    sessions = [WatchedSession("prod", at(700), needs_mfa=True)]
    sched.tick(sessions)
    decisions = run(clocks, sched, sessions, 750)
    assert all(d.refresh == () for d in decisions)
    got = notices(decisions)
    assert [n.kind for n in got] == [NoticeKind.EXPIRING, NoticeKind.EXPIRING, NoticeKind.EXPIRED]
    assert all(n.needs_prompt for n in got)
    assert "MFA" in got[0].body


def test_auto_refresh_with_valid_mfa_session_refreshes() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.set_auto_refresh("prod", True)
    sessions = [WatchedSession("prod", at(400), needs_mfa=True, mfa_valid_until=at(3000))]
    sched.tick(sessions)
    decisions = run(clocks, sched, sessions, 150)
    assert [d.refresh for d in decisions] == [("prod",)]


def test_mfa_session_about_to_expire_counts_as_prompt() -> None:
    session = WatchedSession("p", at(400), needs_mfa=True, mfa_valid_until=at(30))
    assert session.refresh_needs_prompt(at(0))
    fresh = WatchedSession("p", at(400), needs_mfa=True, mfa_valid_until=at(300))
    assert not fresh.refresh_needs_prompt(at(0))
    assert not WatchedSession("p", at(400)).refresh_needs_prompt(at(0))


def test_auto_refresh_renews_a_session_lapsed_during_sleep_quietly() -> None:
    clocks = Clocks()
    sched = scheduler(clocks)
    sched.set_auto_refresh("a", True)
    sessions = [WatchedSession("a", at(2000))]
    sched.tick(sessions)
    clocks.sleep(5000)
    decision = sched.tick(sessions)
    assert decision.refresh == ("a",)
    assert decision.notices == ()
    sched.set_auto_refresh("a", False)
    assert not sched.auto_refresh("a")


def test_forgotten_sessions_leave_no_state_behind() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, thresholds=[60])
    sched.tick([WatchedSession("a", at(100))])
    run(clocks, sched, [WatchedSession("a", at(100))], 45)
    sched.tick([])  # forgotten
    clocks.advance(1)
    # the same session coming back (another process stored it again) is reminded again
    assert [n.kind for n in sched.tick([WatchedSession("a", at(100))]).notices] == [NoticeKind.EXPIRING]


def test_thresholds_are_normalised_and_arguments_checked() -> None:
    clocks = Clocks()
    sched = scheduler(clocks, thresholds=[120, 600, 600, 0, -5])
    assert sched.thresholds == (600, 120)
    sched.thresholds = [30]
    assert sched.thresholds == (30,)
    with pytest.raises(ValueError, match="negative"):
        scheduler(clocks, gap=-1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"), (-5, "0 s"), (45.4, "45 s"), (599.6, "10 min"), (119.2, "2 min"),
        (3600, "1 h"), (3900, "1 h 5 min"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_watched_session_seconds_left() -> None:
    assert WatchedSession("a", at(100)).seconds_left(at(40)) == pytest.approx(60)
    assert WatchedSession("a", at(100)).seconds_left(at(40) + timedelta(seconds=100)) == pytest.approx(-40)
