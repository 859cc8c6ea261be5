"""Serving a profile: a renewing supply plus a loopback server, and the registry the GUI keeps of them.

``exec --server``/``--imds`` and ``serve`` use :class:`ServedProfile` directly; the GUI keeps a
:class:`CredentialServers` next to its Broker and listens to its :class:`ServerEvent`\\ s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from stsdesk.core.errors import StsdeskError
from stsdesk.core.servers.server import CredentialServer, ServerMode, imds_role_name
from stsdesk.core.servers.supply import REFRESH_AHEAD, CredentialSupply, SupplyState, broker_fetch

if TYPE_CHECKING:
    from stsdesk.core.broker import Broker

log = logging.getLogger(__name__)

# botocore treats IMDS credentials that expire within 10 minutes plus a random 2-10 minutes as a service outage
# and extends them locally instead of fetching new ones ("static stability"): in IMDS mode, sessions are renewed
# with 25 minutes left so that what is served never falls in that window.
IMDS_REFRESH_AHEAD = 1500.0
BOTOCORE_IMDS_WINDOW = 1200.0


@dataclass(frozen=True)
class ServerEvent:
    """A served profile's state, sent whenever it changes (started, renewed, renewal failed, stopped)."""

    profile: str
    mode: ServerMode
    state: SupplyState
    endpoint: str | None  # None once stopped
    expiration: datetime | None  # of the session being served
    error: str | None  # the last renewal error, one line
    renewals: int


def profile_region(broker: Broker, profile: str) -> str:
    """The region clients of ``profile``'s server get (the profile's, its chain's, else the broker's default).
    Raises ProfileNotFound/ConfigError like the broker."""
    from stsdesk.core.broker_sources import sts_target

    return sts_target(broker.tree.chain(profile), broker.default_region).region


class ServedProfile:
    """One profile served in one mode. Build with :meth:`start`; ``await stop()`` ends it (token invalid)."""

    def __init__(self, profile: str, supply: CredentialSupply, server: CredentialServer) -> None:
        self.profile = profile
        self.supply = supply
        self.server = server
        self._listeners: list[Callable[[ServerEvent], None]] = []

    @classmethod
    async def start(
        cls,
        broker: Broker,
        profile: str,
        mode: ServerMode = ServerMode.CONTAINER,
        *,
        port: int = 0,
        mfa_code: str | None = None,
        duration: int | None = None,
        on_event: Callable[[ServerEvent], None] | None = None,
        region: str | None = None,
    ) -> ServedProfile:
        """Obtain ``profile``'s first session (through the broker: cache, STS, its MFA prompt; ``mfa_code`` is
        used for this first call; ``duration`` is the length of each session, default the profile's), then
        listen. ``region`` is a region chosen for these sessions (``--region``): STS is called there and
        clients get it as AWS_REGION (default: the profile's, core/region). Raises the broker's errors
        (ProfileNotFound, MfaRequired, StsCallError...),
        NoTemporaryCredentials for long-term keys and ServerError when the port is taken; nothing is left
        running then."""
        found = broker.tree.get(profile)
        region = region or profile_region(broker, profile)
        served: ServedProfile | None = None

        def changed() -> None:
            if served is not None and served.server.running:  # start() and stop() announce themselves
                served._emit()

        supply = CredentialSupply(
            broker_fetch(broker, profile, mfa_code, duration, region),
            on_change=changed,
            refresh_ahead=IMDS_REFRESH_AHEAD if mode is ServerMode.IMDS else REFRESH_AHEAD,
        )
        server = CredentialServer(
            supply,
            mode,
            port=port,
            region=region,
            account_id=found.account_id,
            role_name=imds_role_name(profile, found.role_arn),
        )
        served = cls(profile, supply, server)
        if on_event is not None:
            served._listeners.append(on_event)
        await supply.start()
        try:
            await server.start()
        except BaseException:
            await supply.stop()
            raise
        served._emit()
        return served

    async def stop(self) -> None:
        """Stop serving: the listener closes, the token is invalidated, renewals (and any prompt) end."""
        await self.server.stop()
        await self.supply.stop()
        self._emit()  # the last event: STOPPED, no endpoint

    @property
    def mode(self) -> ServerMode:
        return self.server.mode

    @property
    def endpoint(self) -> str:
        """The credentials URL (container mode) or IMDS base URL."""
        return self.server.endpoint

    @property
    def token(self) -> str | None:
        """The container mode's authorization token (a secret), None in IMDS mode."""
        return self.server.token

    def variables(self) -> list[tuple[str, str | None]]:
        """Variables to set (value) and unset (None) for a client; includes the token."""
        return self.server.variables()

    def lines(self, shell: str = "bash") -> str:
        """The variables as lines to paste into ``shell`` (a format of ``stsdesk assume``), with a comment.
        Raises ValueError for an unknown shell."""
        from stsdesk.core.exports import render_variables

        prefix = "REM " if shell == "cmd" else "# "
        comment = f"{prefix}stsdesk: {self.mode.value} credential server for this profile; stop it to revoke"
        return render_variables(self.variables(), shell, comment if shell != "json" else None)

    def child_environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with :meth:`variables` applied: what ``exec --server``/``--imds`` gives its command."""
        environment = dict(base)
        for name, value in self.variables():
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        return environment

    def short_session_warning(self) -> str | None:
        """In IMDS mode, a warning when the profile's sessions are too short for botocore's IMDS provider (it
        would keep signing with a session it extended locally past its real expiry); None otherwise."""
        lifetime = self.supply.session_lifetime()
        if self.mode is not ServerMode.IMDS or lifetime is None or lifetime / 2 >= BOTOCORE_IMDS_WINDOW:
            return None
        return (
            f"sessions of {self.profile} last {int(lifetime // 60)} minutes: boto3 and the AWS CLI v1 extend IMDS "
            "credentials that expire within 20 minutes instead of fetching new ones, so a long-running boto3 "
            "program may sign with an expired session; prefer --server (the container provider) for this profile"
        )

    def event(self) -> ServerEvent:
        """The current state as an event."""
        status = self.supply.status()
        return ServerEvent(
            self.profile,
            self.mode,
            status.state,
            self.endpoint if self.server.running else None,
            status.expiration,
            status.error,
            status.renewals,
        )

    def subscribe(self, callback: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on every change; returns an unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self) -> None:
        event = self.event()
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a broken listener must not stop serving
                log.exception("credential server listener failed")


class CredentialServers:
    """The profiles a long-running program (the GUI) serves, at most one server per profile."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._served: dict[str, ServedProfile] = {}
        self._listeners: list[Callable[[ServerEvent], None]] = []

    async def serve(
        self, profile: str, mode: ServerMode = ServerMode.CONTAINER, *, port: int = 0
    ) -> ServedProfile:
        """Start serving ``profile`` (asking for an MFA code through the broker's prompt if needed). Raises
        StsdeskError when it is served already, and the errors of ServedProfile.start()."""
        if profile in self._served:
            raise StsdeskError(f"profile {profile} is served already at {self._served[profile].endpoint}")
        served = await ServedProfile.start(self.broker, profile, mode, port=port)
        if profile in self._served:  # started twice concurrently: keep the first
            await served.stop()
            return self._served[profile]
        self._served[profile] = served  # registered before the first event, so listeners can get() it
        served.subscribe(self._emit)
        self._emit(served.event())
        return served

    async def stop(self, profile: str) -> bool:
        """Stop serving ``profile`` (its token stops working at once); False when it was not served."""
        served = self._served.pop(profile, None)
        if served is None:
            return False
        await served.stop()  # its last event reaches our listeners through on_event
        return True

    async def stop_all(self) -> None:
        """Stop every server (on quit)."""
        for profile in list(self._served):
            await self.stop(profile)

    def get(self, profile: str) -> ServedProfile | None:
        """The server of ``profile``, if it is served."""
        return self._served.get(profile)

    def served(self) -> list[ServedProfile]:
        """Every served profile, by name."""
        return [self._served[name] for name in sorted(self._served)]

    def subscribe(self, callback: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` whenever a served profile changes state; returns an unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, event: ServerEvent) -> None:
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:
                log.exception("credential server listener failed")
