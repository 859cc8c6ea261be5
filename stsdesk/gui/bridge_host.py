"""Runs the terminal bridge inside the GUI: a BridgeServer on the (qasync) event loop whose handler asks the
GUI's broker, so a terminal gets cached sessions at once and shares the GUI's MFA prompt (the broker's
single-flight makes that one prompt per device however many terminals ask)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from stsdesk.core.bridge import BridgeError, BridgeServer, bridge_directory
from stsdesk.core.mfa_sources import TERMINAL
from stsdesk.core.model import Credentials
from stsdesk.core.sso.errors import NotSignedIn, SignInExpired
from stsdesk.gui import gc_guard

if TYPE_CHECKING:
    from stsdesk.core.broker import Broker

log = logging.getLogger(__name__)

# A terminal request started: no full garbage collection for this long, then only at a quiet moment (as a GUI
# assume's actions.REQUEST_HOLD_S), so a burst of terminal requests is not stalled by a due full collection.
REQUEST_HOLD_S = 2.0


class BridgeHost:
    """Owns the GUI's BridgeServer. ``on_request(profile)`` is called for each terminal request (the window
    can say "a terminal asked for prod"); ``on_settle()`` when one has finished, whatever its outcome (the
    window closes an MFA dialog whose code that request used: it stays open "Checking…" until then, so a wrong
    code can be retried in the same dialog; the hook must be safe to call when nothing was prompted).
    ``status`` says, in one line, whether terminals are being served. ``sign_in(profile)``, when set (the
    window's Identity Center part), runs the window's sign-in for an SSO profile (or a role chained from one)
    whose request failed because nobody is signed in, and says whether it worked; the request is then made
    again. Sign-ins are single-flight there: one sign-in however many terminals ask."""

    def __init__(
        self,
        broker: Broker,
        config_dir: Path,
        *,
        directory: Path | None = None,
        on_request: Callable[[str], None] | None = None,
        on_settle: Callable[[], None] | None = None,
    ) -> None:
        self.broker = broker
        self.directory = directory if directory is not None else bridge_directory(config_dir)
        self._on_request = on_request
        self._on_settle = on_settle
        self._server = BridgeServer(self.directory, self.handle)
        self.status = "terminal bridge not started"
        self.sign_in: Callable[[str], Awaitable[bool]] | None = None

    @property
    def running(self) -> bool:
        return self._server.running

    async def start(self) -> bool:
        """Start serving terminals; False (with ``status`` saying why) when another stsdesk window already
        does or the platform cannot. Never raises for those: the GUI works without the bridge."""
        try:
            await self._server.start()
        except BridgeError as exc:
            self.status = f"terminal bridge off: {exc}"
            log.warning("%s", self.status)
            return False
        except OSError as exc:
            self.status = f"terminal bridge off: {exc.strerror or exc}"
            log.warning("%s", self.status)
            return False
        self.status = "terminals are served by this window"
        return True

    async def close(self) -> None:
        """Stop serving (pending terminal requests get cancelled); safe to call twice."""
        was_running = self._server.running
        await self._server.close()
        if was_running:  # keep the reason it never started
            self.status = "terminal bridge stopped"

    async def handle(self, profile: str, duration: int | None) -> Credentials:
        """Credentials for a terminal: the broker's (cache, else STS, with the GUI's MFA prompt), with the
        region the CLI would use filled in so ``assume`` can print AWS_REGION.
        Raises what the broker raises."""
        gc_guard.hold(REQUEST_HOLD_S)
        if self._on_request is not None:
            self._on_request(profile)
        try:
            try:
                creds = await self.broker.credentials_for(profile, duration=duration, requester=TERMINAL)
            except (NotSignedIn, SignInExpired):
                if self.sign_in is None or not await self.sign_in(profile):
                    raise
                creds = await self.broker.credentials_for(profile, duration=duration, requester=TERMINAL)
        finally:
            if self._on_settle is not None:
                self._on_settle()
        return replace(creds, region=self._region(profile, creds.region))

    def _region(self, profile: str, session_region: str | None) -> str | None:
        from stsdesk.core.region import export_region

        try:
            return export_region(self.broker.tree, profile, self.broker.default_region, session_region)
        except Exception:  # a region is a nicety; the credentials are what was asked for
            log.debug("no region for %s", profile, exc_info=True)
            return session_region
