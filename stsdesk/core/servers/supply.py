"""Fresh credentials for a served profile, renewed in the background ahead of expiry.

A request to a credential server never waits for STS or an MFA prompt: it reads :meth:`CredentialSupply.
current`, a plain attribute. A background task renews the session while it still has ``refresh_ahead`` (20
minutes) left, so that what is served always has at least 15 minutes in the normal case (the window in which
botocore refreshes; the JS SDK's is 5 minutes). When the renewal needs an MFA code or a sign-in, the fetch
function asks through its prompt (the GUI's dialog, or the terminal that started ``exec``) while the current
session keeps being served. Sessions shorter than the window (a 900-second role) are renewed at half-life.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from stsdesk.core.errors import MfaCancelled, MfaRequired, StsdeskError
from stsdesk.core.model import Credentials

if TYPE_CHECKING:
    from stsdesk.core.broker import Broker

log = logging.getLogger(__name__)

REFRESH_AHEAD = 1200.0  # renew when less than this is left...
SERVE_TARGET = 900.0  # ...so that answers carry at least this much (botocore's advisory window)
SERVE_FLOOR = 60.0  # below this, a session is not handed out any more: the SDK gets an error instead
MIN_INTERVAL = 5.0  # never ask STS more often than this for one served profile
MAX_BACKOFF = 300.0
WAKE_EVERY = 60.0  # re-check the wall clock at least this often (suspend, clock changes)

# Fetch(min_ttl): credentials with more than min_ttl seconds left (fresh from STS when the cache has none).
Fetch = Callable[[float], Awaitable[Credentials]]


class SupplyState(enum.Enum):
    """What a served profile is doing, for the GUI and ``serve``."""

    STARTING = "starting"  # the first session is being obtained
    READY = "ready"  # a session is served
    REFRESHING = "refreshing"  # a session is served and its successor is being obtained (maybe an MFA prompt)
    FAILED = "failed"  # nothing valid to serve: requests get an error at once
    STOPPED = "stopped"


@dataclass(frozen=True)
class SupplyStatus:
    """A snapshot: state, expiry of what is served, the last renewal error and how many renewals worked."""

    state: SupplyState
    expiration: datetime | None
    error: str | None
    renewals: int


class NoTemporaryCredentials(StsdeskError):
    """The profile gives long-term keys: a credential server hands out temporary sessions only."""


class CredentialSupply:
    """The session served for one profile, and the task that renews it.

    ``fetch`` is usually :func:`broker_fetch`; ``now`` is the wall clock (injectable for tests);
    ``on_change`` is called (on the event loop) whenever :meth:`status` may have changed.
    """

    def __init__(
        self,
        fetch: Fetch,
        *,
        refresh_ahead: float = REFRESH_AHEAD,
        serve_floor: float = SERVE_FLOOR,
        min_interval: float = MIN_INTERVAL,
        now: Callable[[], datetime] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.refresh_ahead = refresh_ahead
        self.serve_floor = serve_floor
        self.min_interval = min_interval
        self._now = now or (lambda: datetime.now(UTC))
        self._on_change = on_change
        self._creds: Credentials | None = None
        self._obtained: datetime | None = None
        self._error: str | None = None
        self._state = SupplyState.STARTING
        self._renewals = 0
        self._failures = 0
        self._last_try = float("-inf")  # loop time of the last renewal attempt
        self._retry_at: float | None = None  # loop time of the next try after a failure
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- what requests read ------------------------------------------------------------------------------

    def current(self) -> Credentials | None:
        """The session to hand out now, or None when nothing valid enough exists. Never blocks."""
        creds, obtained = self._creds, self._obtained
        if creds is None or creds.expiration is None or obtained is None:
            return None
        now = self._now()
        left = (creds.expiration - now).total_seconds()
        lifetime = (creds.expiration - obtained).total_seconds()
        # A session shorter than the floor itself (a skewed clock) is served down to a quarter of its life.
        return creds if left > min(self.serve_floor, lifetime / 4) else None

    def session_lifetime(self) -> float | None:
        """Seconds the served session had left when it was obtained (None before the first one)."""
        creds, obtained = self._creds, self._obtained
        if creds is None or creds.expiration is None or obtained is None:
            return None
        return (creds.expiration - obtained).total_seconds()

    def unavailable_reason(self) -> str:
        """Why :meth:`current` is None, in one line for an SDK's error message (no secrets)."""
        if self._state is SupplyState.STOPPED:
            return "this credential server has stopped"
        if self._error:
            return f"no valid credentials: {self._error}"
        if self._creds is None:
            return "credentials are still being obtained"
        return "the served session expired and its renewal has not finished"

    def status(self) -> SupplyStatus:
        """State, expiry of the session served, last error, renewals so far."""
        state = self._state
        if state in (SupplyState.READY, SupplyState.REFRESHING) and self.current() is None:
            state = SupplyState.FAILED
        expiration = self._creds.expiration if self._creds is not None else None
        return SupplyStatus(state, expiration, self._error, self._renewals)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, first: Fetch | None = None) -> Credentials:
        """Obtain the first session (with ``first`` if given: e.g. one that carries an MFA code from the
        command line), then renew in the background. Raises whatever the fetch raises (ProfileNotFound,
        MfaRequired, StsCallError...) and NoTemporaryCredentials for long-term keys; nothing runs then."""
        try:
            creds = await (first or self._fetch)(self.refresh_ahead)
            self._accept(creds)
        except BaseException:
            self._state = SupplyState.STOPPED
            raise
        self._state = SupplyState.READY
        self._task = asyncio.create_task(self._run(), name="stsdesk credential renewal")
        self._changed()
        return creds

    async def stop(self) -> None:
        """Stop renewing and serving; an MFA prompt the renewal was waiting on is cancelled."""
        self._state = SupplyState.STOPPED
        self._creds = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._changed()

    def renew_now(self) -> None:
        """Renew at once (the GUI's "retry" after a cancelled prompt); a no-op once stopped."""
        self._retry_at = None
        self._failures = 0
        self._wake.set()

    # -- renewal -----------------------------------------------------------------------------------------

    def _accept(self, creds: Credentials) -> None:
        if creds.expiration is None:
            raise NoTemporaryCredentials(
                "this profile gives long-term keys; a credential server hands out temporary sessions only "
                "(serve a role profile, or give the user an mfa_serial so that stsdesk makes MFA sessions)"
            )
        current = self._creds
        if current is not None and current.expiration is not None and creds.expiration <= current.expiration:
            return  # nothing better than what is served (e.g. from another process's older cache entry)
        self._creds, self._obtained = creds, self._now()

    def _seconds_until_due(self) -> float:
        if self._retry_at is not None:
            return self._retry_at - asyncio.get_running_loop().time()
        creds, obtained = self._creds, self._obtained
        if creds is None or creds.expiration is None or obtained is None:
            return 0.0
        lifetime = (creds.expiration - obtained).total_seconds()
        lead = min(self.refresh_ahead, lifetime / 2)
        due = (creds.expiration - self._now()).total_seconds() - lead
        since = asyncio.get_running_loop().time() - self._last_try
        return max(due, self.min_interval - since, 0.0)

    async def _run(self) -> None:
        while True:
            delay = self._seconds_until_due()
            if delay > 0 and not self._wake.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(delay, WAKE_EVERY))
                if not self._wake.is_set() and self._seconds_until_due() > 0:
                    continue  # woke only to re-read the wall clock
            self._wake.clear()
            await self._renew()

    async def _renew(self) -> None:
        self._state = SupplyState.REFRESHING
        self._last_try = asyncio.get_running_loop().time()
        self._changed()
        try:
            self._accept(await self._fetch(self.refresh_ahead))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep serving what is valid; the error is shown and retried with backoff
            self._failures += 1
            # A cancelled or impossible prompt is not asked again every few seconds.
            wait = (
                MAX_BACKOFF
                if isinstance(exc, MfaCancelled | MfaRequired)
                else min(self.min_interval * 2 ** (self._failures - 1), MAX_BACKOFF)
            )
            self._retry_at = asyncio.get_running_loop().time() + wait
            self._error = str(exc) if isinstance(exc, StsdeskError) else f"unexpected error ({type(exc).__name__})"
            if not isinstance(exc, StsdeskError):
                log.warning("credential renewal failed: %s", type(exc).__name__, exc_info=exc)
        else:
            self._failures = 0
            self._retry_at = None
            self._error = None
            self._renewals += 1
        self._state = SupplyState.READY
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:  # a broken listener must not stop the renewals
                log.exception("credential server listener failed")


def broker_fetch(
    broker: Broker,
    profile: str,
    mfa_code: str | None = None,
    duration: int | None = None,
    region: str | None = None,
) -> Fetch:
    """A Fetch over ``broker.credentials_for(profile, min_ttl=..., duration=...)``: the broker's cache first,
    then STS, with the broker's MFA prompt when a code is needed. ``mfa_code`` (from a command line) is used
    for the first call only; ``duration`` (seconds) and ``region`` (a chosen region) for every session made."""
    codes = [mfa_code] if mfa_code else []

    async def fetch(min_ttl: float) -> Credentials:
        code = codes.pop() if codes else None
        from stsdesk.core.mfa_sources import SERVED  # listed as "served credentials" while it waits for MFA

        return await broker.credentials_for(
            profile, min_ttl=min_ttl, mfa_code=code, duration=duration, region=region, requester=SERVED
        )

    return fetch
