"""The services beside STS that every emulator serves: EC2, console federation, the console page, the demo IdP.

``EmulatorServer`` installs them itself (so every way of starting the emulator serves the same world). This
module knows the server only through the small ``ServiceRegistry`` protocol, so server.py can import it
without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from stsdesk.emulator.ec2 import Ec2Service, ec2_error
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.federation import (
    handle_console,
    handle_federation,
    handle_oidc_token,
    handle_saml_assertion,
)
from stsdesk.emulator.sso import install_identity_center
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.wire import Request, Response

EC2_ACTIONS = frozenset({"DescribeInstances", "RunInstances"})


class ServiceRegistry(Protocol):
    """What install_services needs of a server: its state, Query services and path routes."""

    state: EmulatorState

    def register_service(
        self,
        name: str,
        handler: Callable[[Request], Response],
        actions: Iterable[str] = ...,
        render_error: Callable[[EmulatorError, str], Response] = ...,
    ) -> None: ...

    def route(self, prefix: str, handler: Callable[[Request], Response]) -> None: ...


def _ec2_error_response(exc: EmulatorError, request_id: str) -> Response:
    body = ec2_error(exc.code, exc.message, request_id)
    return Response(exc.status, body, headers=[("x-amzn-RequestId", request_id)])


def install_services(server: ServiceRegistry) -> None:
    """Register EC2, the federation endpoint, the console page and the demo IdP on ``server``."""
    state = server.state
    ec2 = Ec2Service(state)

    def ec2_handler(request: Request) -> Response:
        try:
            signed, caller = state.authenticate(request, "ec2")
            params = request.form()
        except EmulatorError as exc:
            if exc.code == "InvalidClientTokenId":
                # EC2 words an unknown key differently from STS.
                exc = EmulatorError(
                    "AuthFailure", "AWS was not able to validate the provided access credentials"
                )
            return _ec2_error_response(exc, request.request_id)
        region = signed.region or state.scenario.region
        status, body = ec2.handle(caller, params, region, request.secure, request.request_id)
        return Response(status, body, headers=[("x-amzn-RequestId", request.request_id)])

    server.register_service("ec2", ec2_handler, EC2_ACTIONS, _ec2_error_response)
    server.route("/federation", lambda request: handle_federation(state, request))
    server.route("/console", lambda request: handle_console(state, request))
    server.route("/_stsdesk/saml-assertion", lambda request: handle_saml_assertion(state, request))
    server.route("/_stsdesk/oidc-token", lambda request: handle_oidc_token(state, request))
    install_identity_center(server)  # sso-oidc, the portal and the sign-in pages (stsdesk.emulator.sso)
