"""Sign-ins asked for by others than the user's own click: a terminal through the bridge, and any request that
failed because its Identity Center session is not signed in (the window's Assume, the tray's refresh, a served
profile's renewal). A mixin of :class:`stsdesk.gui.sso_controller.SsoController`, which provides the state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stsdesk.core.errors import StsdeskError

if TYPE_CHECKING:
    from stsdesk.core.sso.config import SsoSession
    from stsdesk.core.sso.service import SsoService
    from stsdesk.gui.controller import Controller
    from stsdesk.gui.sso_tree import SsoRows

DECLINED_PAUSE = 600.0  # after a cancelled or failed sign-in, none starts on its own for this long


class SignInRequests:
    """See the module docstring."""

    # Provided by SsoController.
    rows: SsoRows | None
    service: SsoService
    _flights: dict[str, asyncio.Task[bool]]
    _declined: dict[str, float]
    _retrying: set[str]

    @property
    def controller(self) -> Controller:
        raise NotImplementedError

    def session_of(self, row: str) -> SsoSession | None:
        raise NotImplementedError

    def sign_in(self, row: str, device_code: bool = False) -> asyncio.Task[bool]:
        raise NotImplementedError

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        raise NotImplementedError

    def session_row_for(self, profile: str) -> str | None:
        """The session row ``profile`` signs in with (an SSO profile, or a role chained from one), else None."""
        from stsdesk.core.model import ProfileKind

        broker = self.controller.broker
        if broker is None or self.rows is None:
            return None
        try:
            sso_profile = next(p for p in broker.tree.chain(profile) if p.kind is ProfileKind.SSO)
            session = self.service.target(broker.tree, sso_profile.name).session
        except (StopIteration, StsdeskError):
            return None
        return next((r for r, s in self.rows.sessions.items() if s.cache_name == session.cache_name), None)

    async def sign_in_for(self, profile: str) -> bool:
        """Sign in for ``profile`` (an SSO profile or a role chained from one), joining a sign-in that runs
        already: what a terminal asking through the bridge gets. False when it is no such profile or the
        sign-in did not work (the dialog and the status bar say why)."""
        row = self.session_row_for(profile)
        session = self.session_of(row) if row is not None else None
        if row is None or session is None:
            return False
        self.controller.window.show_message(f"A terminal needs a sign-in to {session.label} for {profile}", 15000)
        # Shielded: a terminal that gives up must not cancel a sign-in the window (or another terminal) waits on.
        return await asyncio.shield(self.sign_in(row))

    def _broker_event(self, profile: str) -> None:
        """A request for ``profile`` failed (the window's, the tray's, a served profile's renewal, a terminal's):
        when its session is not signed in, ask for the sign-in now (joining one that runs), then get the
        profile's credentials again. After a sign-in is cancelled or fails, no new one is started on its own
        for DECLINED_PAUSE seconds (a served profile retrying must not bring the dialog back at once)."""
        broker = self.controller.broker
        if broker is None or broker.last_error(profile) is None:
            return
        row = self.session_row_for(profile)
        session = self.session_of(row) if row is not None else None
        if row is None or session is None:
            return
        now = time.monotonic()
        state = self.service.status(session)
        ends = state.sign_in_ends()
        if state.signed_in and not state.problem and ends is not None and ends > datetime.now(UTC):
            return  # signed in: the failure is something else (the row says what)
        if row not in self._flights and now < self._declined.get(row, 0.0):
            return
        task = self.sign_in(row)

        def finished(done: asyncio.Task[bool]) -> None:
            if done.cancelled() or done.exception() is not None or not done.result():
                self._declined[row] = time.monotonic() + DECLINED_PAUSE
            elif profile not in self._retrying:
                self._retrying.add(profile)
                self._spawn(self._retry(profile))

        task.add_done_callback(finished)

    async def _retry(self, profile: str) -> None:
        try:
            await self.controller.assume(profile)
        finally:
            self._retrying.discard(profile)

