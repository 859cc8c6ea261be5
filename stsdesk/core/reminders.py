"""Expiry reminders and auto-refresh decisions, free of Qt and of any timer.

The GUI calls :meth:`ReminderScheduler.tick` once a second with the sessions it knows about; the scheduler
answers with what is due now: notices to show (one per threshold per session, one "expired" notice when a
session lapses) and profiles to refresh in the background. It keeps only which notices it already gave, keyed
by (profile, expiration), so a refreshed session (new expiration) is reminded afresh.

Time comes from two injected clocks. Wall-clock time decides how long a session has left (expirations are
wall-clock instants). The monotonic clock notices a gap: when the wall clock moved much more (sleep: Linux's
monotonic clock stops while suspended) or much less (the clock was set back) than the monotonic clock, or a
tick came very late, the computer was away; whatever thresholds were crossed meanwhile are not replayed in a
burst: each session gets at most its single most relevant notice, and sessions that lapsed while away are
summed up in one notice.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_THRESHOLDS: tuple[int, ...] = (600, 120)
DEFAULT_REFRESH_LEAD = 300.0  # refresh this long before expiry (the broker's own minimum TTL)
DEFAULT_GAP = 5.0  # wall and monotonic clocks disagreeing by more than this between ticks: we were away
DEFAULT_RETRY_AFTER = 60.0  # a failed auto-refresh is tried again after this many (monotonic) seconds
MFA_MARGIN = 60.0  # an MFA session with less than this left would not vouch for a refresh


@dataclass(frozen=True)
class WatchedSession:
    """One active (or just expired) session as the scheduler sees it.

    ``needs_mfa``: a fresh session for this profile needs an MFA code somewhere in its chain.
    ``mfa_valid_until``: when the cached MFA session that would vouch for a refresh expires (None: none
    cached), so a refresh of an MFA profile needs no prompt while it is valid.
    """

    profile: str
    expiration: datetime  # tz-aware
    needs_mfa: bool = False
    mfa_valid_until: datetime | None = None
    # ``expiration`` as Unix time, worked out once: what is compared every second (tray state, ordering).
    expires_at: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expires_at", self.expiration.timestamp())

    def seconds_left(self, now: datetime) -> float:
        return (self.expiration - now).total_seconds()

    def refresh_needs_prompt(self, now: datetime) -> bool:
        """Whether refreshing now would have to ask for an MFA code."""
        if not self.needs_mfa:
            return False
        if self.mfa_valid_until is None:
            return True
        return (self.mfa_valid_until - now).total_seconds() < MFA_MARGIN


class NoticeKind(enum.Enum):
    EXPIRING = "expiring"  # a reminder threshold was crossed
    EXPIRED = "expired"  # the session lapsed


@dataclass(frozen=True)
class Notice:
    """A notification to show. ``profiles`` has one name, except for the summary of sessions that lapsed
    while the computer was away. ``needs_prompt``: the profile has auto-refresh on but renewing it needs an
    MFA code, so the user is reminded instead."""

    kind: NoticeKind
    profiles: tuple[str, ...]
    seconds_left: float
    needs_prompt: bool = False

    @property
    def profile(self) -> str:
        """The (first) profile this notice is about."""
        return self.profiles[0]

    @property
    def title(self) -> str:
        if self.kind is NoticeKind.EXPIRED:
            if len(self.profiles) > 1:
                return f"{len(self.profiles)} sessions expired"
            return f"{self.profile}: session expired"
        return f"{self.profile}: expires in {format_duration(self.seconds_left)}"

    @property
    def body(self) -> str:
        if self.kind is NoticeKind.EXPIRED and len(self.profiles) > 1:
            return "Expired while away: " + ", ".join(self.profiles) + ". Open stsdesk to renew them."
        if self.needs_prompt:
            return "Auto-refresh needs an MFA code for this profile. Click to refresh now."
        if self.kind is NoticeKind.EXPIRED:
            return "Credentials for this profile no longer work. Click to refresh."
        return "Click to refresh the session now."


@dataclass(frozen=True)
class Decision:
    """What one tick decided: notices to show, profiles to refresh without asking, and whether the scheduler
    noticed a gap (sleep or a clock change) since the previous tick."""

    notices: tuple[Notice, ...] = ()
    refresh: tuple[str, ...] = ()
    resumed: bool = False


def format_duration(seconds: float) -> str:
    """Short human text for a time left: ``45 s``, ``2 min``, ``1 h 5 min`` (rounded to what matters)."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = (whole + 30) // 60  # round to the nearest minute: "10 min" at 599.6 s, not "9 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass
class _Track:
    """What was already done for one (profile, expiration)."""

    fired: set[int] = field(default_factory=set)  # thresholds already reminded (or skipped)
    expired_done: bool = False
    refresh_at: float | None = None  # monotonic time of the last auto-refresh request


class ReminderScheduler:
    """Decides, tick by tick, which expiry notices are due and which sessions to refresh in the background.

    ``thresholds`` are seconds before expiry (any order; duplicates and non-positive values are dropped).
    Auto-refresh is off for every profile until :meth:`set_auto_refresh` turns it on. Raises ValueError for a
    negative ``refresh_lead``, ``gap`` or ``retry_after``.
    """

    def __init__(
        self,
        thresholds: Iterable[int] = DEFAULT_THRESHOLDS,
        *,
        refresh_lead: float = DEFAULT_REFRESH_LEAD,
        gap: float = DEFAULT_GAP,
        retry_after: float = DEFAULT_RETRY_AFTER,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_lead < 0 or gap < 0 or retry_after < 0:
            raise ValueError("refresh_lead, gap and retry_after must not be negative")
        self.thresholds = thresholds
        self.refresh_lead = refresh_lead
        self.gap = gap
        self.retry_after = retry_after
        self._wall = wall
        self._monotonic = monotonic
        self._auto: set[str] = set()
        self._tracks: dict[tuple[str, datetime], _Track] = {}
        self._last: tuple[float, float] | None = None  # (wall, monotonic) of the previous tick
        # After a full look: the sessions it saw and the wall / monotonic instants before which nothing can fall
        # due for them (the next threshold, expiry, refresh lead, MFA margin or retry): ticks that see the same
        # sessions earlier than both, with no gap, decide nothing without looking at each session again.
        self._quiet: tuple[tuple[WatchedSession, ...], float, float] | None = None

    @property
    def thresholds(self) -> tuple[int, ...]:
        """Reminder thresholds in seconds, largest first."""
        return self._thresholds

    @thresholds.setter
    def thresholds(self, values: Iterable[int]) -> None:
        self._thresholds = tuple(sorted({int(v) for v in values if int(v) > 0}, reverse=True))
        self._quiet = None

    def set_auto_refresh(self, profile: str, enabled: bool) -> None:
        """Turn background refresh on or off for ``profile``."""
        self._quiet = None
        if enabled:
            self._auto.add(profile)
        else:
            self._auto.discard(profile)

    def auto_refresh(self, profile: str) -> bool:
        return profile in self._auto

    def tick(self, sessions: Sequence[WatchedSession]) -> Decision:
        """Look at ``sessions`` now and return what is due. Call about once a second; calling more or less
        often only changes how promptly things happen, never how many notices are given."""
        wall, mono = self._wall(), self._monotonic()
        first = self._last is None
        resumed = False
        if self._last is not None:
            wall_moved, mono_moved = wall - self._last[0], mono - self._last[1]
            # A tick that is late by more than the gap counts too: the loop (or the machine) was frozen.
            resumed = abs(wall_moved - mono_moved) > self.gap or mono_moved > 1.0 + self.gap
        self._last = (wall, mono)
        seen_now = tuple(sessions)
        quiet = self._quiet
        if quiet is not None and not resumed and wall < quiet[1] and mono < quiet[2] and quiet[0] == seen_now:
            return Decision()
        now = datetime.fromtimestamp(wall, UTC)
        next_wall, next_mono = float("inf"), float("inf")

        notices: list[Notice] = []
        lapsed_while_away: list[str] = []
        refresh: list[str] = []
        seen: set[tuple[str, datetime]] = set()
        for session in sessions:
            key = (session.profile, session.expiration)
            seen.add(key)
            track = self._tracks.get(key)
            new = track is None
            if track is None:
                track = self._tracks[key] = _Track()
            left = session.seconds_left(now)
            prompt = session.refresh_needs_prompt(now)
            auto = session.profile in self._auto

            next_wall = min(next_wall, self._next_wall(session, track, left, wall, auto))
            if auto and not prompt and (left <= 0 or left <= self.refresh_lead):
                # A refresh is asked for now or at the retry (a first-seen expired one on the next tick).
                next_mono = min(next_mono, mono + self.retry_after if track.refresh_at is None
                                else track.refresh_at + self.retry_after)
                if left <= 0 and new and first:
                    next_mono = mono  # refreshed on the next tick (not at start-up: see below)
            if left <= 0:
                if auto and not prompt and not (new and first) and self._may_refresh(track, mono):
                    # Lapsed while the machine slept: renew it quietly, as if we had been awake.
                    track.refresh_at = mono
                    track.expired_done = True
                    refresh.append(session.profile)
                elif not track.expired_done:
                    track.expired_done = True
                    track.fired.update(self._thresholds)
                    # A session first seen already expired (at start-up, say) is old news, not a lapse.
                    if new and first:
                        continue
                    if resumed:
                        lapsed_while_away.append(session.profile)
                    else:
                        notices.append(Notice(NoticeKind.EXPIRED, (session.profile,), left, auto and prompt))
                continue

            if auto and not prompt and left <= self.refresh_lead and self._may_refresh(track, mono):
                track.refresh_at = mono
                refresh.append(session.profile)

            crossed = [t for t in self._thresholds if left <= t and t not in track.fired]
            if not crossed:
                continue
            track.fired.update(crossed)
            # Only the most urgent crossed threshold is worth a notice; the others are stale by now.
            nearest = min(crossed)
            if auto and not prompt and nearest > self.refresh_lead:
                continue  # a background refresh is coming before this would matter
            notices.append(Notice(NoticeKind.EXPIRING, (session.profile,), left, auto and prompt))

        if lapsed_while_away:
            notices.append(
                Notice(NoticeKind.EXPIRED, tuple(lapsed_while_away), 0.0)
                if len(lapsed_while_away) > 1
                else Notice(NoticeKind.EXPIRED, (lapsed_while_away[0],), 0.0)
            )
        for key in [k for k in self._tracks if k not in seen]:
            del self._tracks[key]  # forgotten or replaced sessions: no state kept for them
        # A margin for the microseconds datetime arithmetic rounds away: looking early only finds nothing due.
        self._quiet = (seen_now, next_wall - 0.01, next_mono)
        return Decision(tuple(notices), tuple(refresh), resumed)

    def _next_wall(self, session: WatchedSession, track: _Track, left: float, wall: float, auto: bool) -> float:
        """The earliest wall-clock instant after which ``session`` could need a decision it does not need now:
        its next unfired threshold, its expiry, its refresh lead (auto-refresh) or its MFA session's margin."""
        expiry = wall + left
        soonest = float("inf")
        if left > 0:
            soonest = expiry
            for threshold in self._thresholds:
                if threshold < left and threshold not in track.fired:
                    soonest = min(soonest, expiry - threshold)
            if auto and left > self.refresh_lead:
                soonest = min(soonest, expiry - self.refresh_lead)
        if session.needs_mfa and session.mfa_valid_until is not None:
            margin = session.mfa_valid_until.timestamp() - MFA_MARGIN
            if margin > wall:
                soonest = min(soonest, margin)
        return soonest

    def _may_refresh(self, track: _Track, mono: float) -> bool:
        return track.refresh_at is None or mono - track.refresh_at >= self.retry_after
