"""Countdowns: one shared 1 Hz timer for every session, time left always from the wall-clock expiry.

Because time left is recomputed from ``expiry - time.time()`` on every tick, a laptop that slept or a clock
that jumped shows the right value on the next tick; a gap between ticks is reported (``resumed``) so that
observers (a later tray, auto-refresh) can react.
"""

from __future__ import annotations

import bisect
import enum
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from stsdesk.gui.qtfix import set_property

WARN_SECONDS = 600.0  # amber under 10 minutes
CRITICAL_SECONDS = 120.0  # red under 2 minutes
_GAP_SECONDS = 5.0  # a tick this late means the machine slept or the clock jumped


class Urgency(enum.Enum):
    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    EXPIRED = "expired"


def urgency(seconds_left: float) -> Urgency:
    """How close to expiry ``seconds_left`` is."""
    if seconds_left <= 0:
        return Urgency.EXPIRED
    if seconds_left < CRITICAL_SECONDS:
        return Urgency.CRITICAL
    if seconds_left < WARN_SECONDS:
        return Urgency.WARN
    return Urgency.OK


def format_time_left(seconds_left: float) -> str:
    """``hh:mm:ss`` (whole seconds, rounded down), or ``expired`` at or below zero."""
    if seconds_left <= 0:
        return "expired"
    whole = int(seconds_left)
    hours, rest = divmod(whole, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}"


def newly_expired(sessions: list[tuple[str, float]], live: set[str],
                  now: float | None = None) -> tuple[set[str], list[str]]:
    """Of ``sessions`` ((profile, expiry) pairs), those live at ``now`` (default: the wall clock) and those
    that were in ``live`` (the last call's answer) and have expired since."""
    now = time.time() if now is None else now
    still: set[str] = set()
    expired: list[str] = []
    for name, expiry in sessions:
        if expiry > now:
            still.add(name)
        elif name in live:
            expired.append(name)
    return still, expired


class ExpiryWatch:
    """Which sessions expired since the last look (:func:`newly_expired`), without a pass over every session
    each second: while the sessions are the same as last time and the soonest live one has not expired, none
    has."""

    def __init__(self) -> None:
        self._sessions: list[tuple[str, float]] = []
        self._live: set[str] = set()
        self._next = float("-inf")  # the soonest live expiry at the last full look

    def expired_since(self, sessions: list[tuple[str, float]], now: float | None = None) -> list[str]:
        """Profiles of ``sessions`` ((profile, expiry) pairs) live at the last call and expired by ``now``."""
        now = time.time() if now is None else now
        if now < self._next and sessions == self._sessions:
            return []
        self._live, expired = newly_expired(sessions, self._live, now)
        self._sessions = sessions
        self._next = min((expiry for _, expiry in sessions if expiry > now), default=float("inf"))
        return expired


class Countdown(QObject):
    """The single 1 Hz timer. Each tick calls ``on_tick`` (the tree model's ``tick``) and announces the
    soonest expiry for the status bar.

    ``sessions`` returns (profile, expiry Unix time) pairs soonest first; ``clock`` returns Unix time.
    """

    soonest_changed = Signal(str)  # status-bar text ("" when no session)
    ticked = Signal()
    resumed = Signal(float)  # seconds the wall clock moved more than expected between two ticks

    def __init__(
        self,
        on_tick: Callable[[], Any],
        sessions: Callable[[], list[tuple[str, float]]],
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._on_tick = on_tick
        self._sessions = sessions
        self._clock = clock
        self._last_tick: float | None = None
        self._last_text: str | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        # On whole seconds: the idle GC check (gc_guard, the same kind of timer) wakes the app at the same moment,
        # one wake-up a second instead of three (each costs the event loop ~0.2 ms).
        set_property(self.timer, "timerType", "VeryCoarseTimer")  # no Qt namespace before the rows paint (qtfix)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self._last_tick = self._clock()
        self.timer.start()
        self.tick()

    def stop(self) -> None:
        self.timer.stop()

    def tick(self) -> None:
        now = self._clock()
        if self._last_tick is not None and now - self._last_tick > 1.0 + _GAP_SECONDS:
            self.resumed.emit(now - self._last_tick - 1.0)
        self._last_tick = now
        self._on_tick()
        text = self.status_text(now)
        if text != self._last_text:
            self._last_text = text
            self.soonest_changed.emit(text)
        self.ticked.emit()

    def status_text(self, now: float) -> str:
        """The status-bar summary: the soonest live session and how many are active."""
        sessions = self._sessions()  # soonest first: the live ones are a tail
        first = bisect.bisect_right(sessions, now, key=lambda item: item[1])
        live = len(sessions) - first
        if not live:
            return ""
        name, expiry = sessions[first]
        others = f" (+{live - 1} more active)" if live > 1 else ""
        return f"Next expiry: {name} in {format_time_left(expiry - now)}{others}"
