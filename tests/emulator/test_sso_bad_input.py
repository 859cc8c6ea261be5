"""Hostile or malformed requests to every Identity Center route get a 4xx in the service's own error shape,
never a 500 or a traceback."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from sso_support import sso_world

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.wire import Request

JSON_ROUTES = ("/client/register", "/device_authorization", "/token")
PORTAL_ROUTES = ("/assignment/accounts", "/assignment/roles", "/federation/credentials", "/logout")
PAGE_ROUTES = ("/authorize", "/authorize/confirm", "/device", "/_stsdesk/sso-approve")
BODIES = (
    b"[" * 100000,  # nesting deeper than the JSON parser's recursion limit
    b"\xff\xfe not utf-8",
    b"null",
    b"[]",
    json.dumps({"clientName": "x", "clientType": "public", "grantTypes": ["authorization_code"],
                "redirectUris": ["http://[::1"]}).encode(),
    json.dumps({"clientName": "x", "clientType": "public", "redirectUris": ["http://127.0.0.1:99x/cb"]}).encode(),
    json.dumps({"clientId": 5, "clientSecret": ["a"], "grantType": {"a": 1}, "startUrl": None}).encode(),
    json.dumps({"clientName": "x" * 100000, "clientType": "public", "scopes": ["a" * 5000]}).encode(),
)
QUERIES = (
    "",
    "max_result=%C2%B2&account_id=%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2%C2%B2",
    "max_result=0&next_token=%00&account_id=222222222222%0A&role_name=",
    "client_id=x&redirect_uri=http://[::1&code_challenge=%ff",
    "user_code=%3Cb%3E&user=%00&request=" + "r" * 5000,
)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    srv = EmulatorServer(EmulatorState(scenario_from_dict(sso_world()), None))
    yield srv
    srv.stop()


@pytest.mark.parametrize("path", JSON_ROUTES + PORTAL_ROUTES + PAGE_ROUTES)
def test_every_route_answers_malformed_requests_with_4xx(server: EmulatorServer, path: str) -> None:
    for method, body, query in itertools.product(("GET", "POST", "PUT"), BODIES, QUERIES):
        headers = [("x-amz-sso_bearer_token", "aoa" + "A" * 200), ("content-type", "application/json")]
        request = Request(method, f"{path}?{query}" if query else path, headers, body)
        try:
            response = server.dispatch(request)
        except EmulatorError as exc:  # the server turns these into error documents (a bad query string)
            assert exc.status < 500
            continue
        assert 200 <= response.status < 500, (method, query, body[:60], response.body[:200])
        if path in JSON_ROUTES + PORTAL_ROUTES and response.status >= 400:
            error_type = dict(response.headers).get("x-amzn-ErrorType", "")
            assert error_type.endswith("Exception"), (path, response.headers)
            json.loads(response.body)
