"""The whole emulator in one server: STS (default), EC2, console federation, console page, demo IdP.

``build_server`` is what `stsdesk emulator`, `stsdesk --demo`, the tests and the benchmarks start.
"""

from __future__ import annotations

from stsdesk.emulator.ec2 import Ec2Service, ec2_error
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.federation import (
    handle_console,
    handle_federation,
    handle_oidc_token,
    handle_saml_assertion,
)
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.wire import Request, Response

EC2_ACTIONS = frozenset({"DescribeInstances", "RunInstances"})


def _ec2_error_response(exc: EmulatorError, request_id: str) -> Response:
    return Response(exc.status, ec2_error(exc.code, exc.message, request_id))


def build_server(state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """An EmulatorServer with every service and route registered (not yet started).

    Raises OSError when the address cannot be bound.
    """
    return EmulatorServer(state, host, port)


def install_services(server: EmulatorServer) -> None:
    """Register EC2, the federation endpoint, the console page and the demo IdP on ``server``.

    EmulatorServer calls this itself, so every way of starting the emulator serves the same world.
    """
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
        status, body = ec2.handle(caller, params, signed.region or state.scenario.region, request.secure)
        return Response(status, body, headers=[("x-amzn-RequestId", request.request_id)])

    server.register_service("ec2", ec2_handler, EC2_ACTIONS, _ec2_error_response)
    server.route("/federation", lambda request: handle_federation(state, request))
    server.route("/console", lambda request: handle_console(state, request))
    server.route("/_stsdesk/saml-assertion", lambda request: handle_saml_assertion(state, request))
    server.route("/_stsdesk/oidc-token", lambda request: handle_oidc_token(state, request))
