"""IAM Identity Center on the emulator's endpoint: sso-oidc, the portal and the sign-in pages.

``install_identity_center(server)`` registers every route. Without an ``[identity_center]`` section the API
routes answer, in AWS's error shapes, that there is none, so a client learns why instead of getting a 404.
The scenario's faults (latency, throttle_every, error_5xx_every) apply to the API routes as they do to STS:
throttling is SlowDownException (sso-oidc) or 429 TooManyRequestsException (portal).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol

from stsdesk.emulator.sso_oidc import OidcApi, oidc_error_response
from stsdesk.emulator.sso_pages import SignInPages, page
from stsdesk.emulator.sso_portal import Portal, PortalError, portal_error_response
from stsdesk.emulator.sso_records import OidcError
from stsdesk.emulator.sso_state import SsoState
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.wire import Request, Response

Handler = Callable[[Request], Response]
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
OIDC_ROUTES = ("/client/register", "/device_authorization", "/token")
PORTAL_ROUTES = ("/assignment/accounts", "/assignment/roles", "/federation/credentials", "/logout")
PAGE_ROUTES = ("/device", "/authorize", "/authorize/confirm", "/_stsdesk/sso-approve")


class RouteRegistry(Protocol):
    """What the installer needs of a server: its state and path routes (EmulatorServer has both)."""

    state: EmulatorState

    def route(self, prefix: str, handler: Handler) -> None:
        """Send requests for ``prefix`` (and below it) to ``handler``."""


def base_url(request: Request) -> str:
    """``http://HOST[:PORT]`` as the client reached the emulator (its Host header), for links it can follow."""
    host = request.header("host") or ""
    if not _HOST.match(host):
        host = "127.0.0.1"
    return f"{'https' if request.secure else 'http'}://{host}"


def sso_state_for(state: EmulatorState) -> SsoState | None:
    """The Identity Center state over ``state``'s scenario, clock and sealer; None without an instance.
    Raises OSError when the state directory's ``sso-state.json`` cannot be read."""
    center = state.scenario.identity_center
    if center is None:
        return None
    sso = SsoState(center, state.clock, state.sealer, state.state_dir)
    sso.load()
    return sso


def install_identity_center(server: RouteRegistry) -> SsoState | None:
    """Register the sso-oidc, portal and sign-in page routes on ``server``; the SsoState they share."""
    state = server.state
    sso = sso_state_for(state)
    if sso is None:
        for path in OIDC_ROUTES:
            server.route(path, _no_instance_oidc)
        for path in PORTAL_ROUTES:
            server.route(path, _no_instance_portal)
        for path in PAGE_ROUTES:
            server.route(path, lambda request: page(404, "No Identity Center", "<p>This emulator's scenario "
                                                     "has no [identity_center] section.</p>"))
        return None
    oidc = OidcApi(sso, base_url)
    portal = Portal(state, sso)
    pages = SignInPages(sso, base_url)
    for path, handler in (
        ("/client/register", oidc.register_client),
        ("/device_authorization", oidc.start_device_authorization),
        ("/token", oidc.create_token),
    ):
        server.route(path, _faulty(state, handler, _oidc_fault))
    for path, handler in (
        ("/assignment/accounts", portal.list_accounts),
        ("/assignment/roles", portal.list_account_roles),
        ("/federation/credentials", portal.get_role_credentials),
        ("/logout", portal.logout),
    ):
        server.route(path, _faulty(state, handler, _portal_fault))
    server.route("/device", pages.device)
    server.route("/authorize", _exact("/authorize", pages.authorize))
    server.route("/authorize/confirm", pages.confirm)
    server.route("/_stsdesk/sso-approve", pages.approve)
    return sso


def _exact(path: str, handler: Handler) -> Handler:
    def serve(request: Request) -> Response:
        if request.path != path:
            return page(404, "Not found", "<p>No such page.</p>")
        return handler(request)

    return serve


def _oidc_fault(throttle: bool, request_id: str) -> Response:
    if throttle:
        return oidc_error_response(OidcError("SlowDownException", "slow_down", "Rate exceeded"), request_id)
    failure = OidcError("InternalServerException", "server_error", "Unexpected server error", 500)
    return oidc_error_response(failure, request_id)


def _portal_fault(throttle: bool, request_id: str) -> Response:
    if throttle:
        return portal_error_response(PortalError("TooManyRequestsException", "Rate exceeded", 429), request_id)
    failure = PortalError("InternalServerException", "Unexpected server error", 500)
    return portal_error_response(failure, request_id)


def _faulty(state: EmulatorState, handler: Handler, render: Callable[[bool, str], Response]) -> Handler:
    def serve(request: Request) -> Response:
        faults = state.scenario.faults
        if faults.latency_ms or faults.throttle_every or faults.error_5xx_every:
            number = state.next_request_number()
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000)
            if faults.throttle_every and number % faults.throttle_every == 0:
                return render(True, request.request_id)
            if faults.error_5xx_every and number % faults.error_5xx_every == 0:
                return render(False, request.request_id)
        return handler(request)

    return serve


def _no_instance_oidc(request: Request) -> Response:
    exc = OidcError("InvalidRequestException", "invalid_request", "This emulator's scenario has no [identity_center]")
    return oidc_error_response(exc, request.request_id)


def _no_instance_portal(request: Request) -> Response:
    exc = PortalError("InvalidRequestException", "This emulator's scenario has no [identity_center]", 400)
    return portal_error_response(exc, request.request_id)
