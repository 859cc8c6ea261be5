"""The authorization code grant with PKCE: GET /authorize, approval (page or /_stsdesk/sso-approve), the
redirect to the client's loopback callback, and CreateToken with boto3 — right and wrong verifiers,
redirect URIs and codes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sso_support import SCOPE, START_URL, approve, error_of, http, oidc_client, register, start_sso
from sts_world import Emu

REGISTERED = "http://127.0.0.1/oauth/callback"


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start_sso(tmp_path / "state", monkeypatch)
    yield running
    running.server.stop()


class Callback:
    """A loopback redirect target, as the AWS CLI runs one: records the query of each request."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the stdlib's name
                received.append(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query)))
                body = b"signed in"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback() -> Iterator[Callback]:
    running = Callback()
    yield running
    running.close()


def _pkce() -> tuple[str, str]:
    verifier = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
                       for _ in range(64))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    return verifier, challenge[:-1]  # the AWS CLI trims the one '=' of padding


def _register(emu: Emu, redirect: str = REGISTERED) -> dict[str, Any]:
    return register(
        emu, grantTypes=["authorization_code", "refresh_token"], redirectUris=[redirect], issuerUrl=START_URL
    )


def _authorize(emu: Emu, reg: dict[str, Any], redirect_uri: str, challenge: str, **override: str) -> Any:
    state = str(uuid.uuid4())
    query = {
        "response_type": "code",
        "client_id": reg["clientId"],
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge_method": "S256",
        "scopes": SCOPE,
        **override,
    }
    # Built as the AWS CLI builds it: percent-encoded pairs, then the challenge appended unencoded.
    url = f"/authorize?{urllib.parse.urlencode(query, quote_via=urllib.parse.quote)}&code_challenge={challenge}"
    return state, http(emu, url)


def _code_for(emu: Emu, redirect_uri: str, reg: dict[str, Any], challenge: str) -> str:
    state, reply = _authorize(emu, reg, redirect_uri, challenge)
    assert reply.status == 302, reply.text
    location = approve(emu, state=state).headers["location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert query["state"] == state
    return query["code"]


def _token(emu: Emu, reg: dict[str, Any], code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
    reply: dict[str, Any] = oidc_client(emu).create_token(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="authorization_code",
        code=code, redirectUri=redirect_uri, codeVerifier=verifier,
    )
    return reply


def test_full_flow_through_the_loopback_callback(emu: Emu, callback: Callback) -> None:
    reg = _register(emu)
    verifier, challenge = _pkce()
    state, reply = _authorize(emu, reg, callback.uri, challenge)
    assert reply.status == 302
    confirm = reply.headers["location"]
    assert confirm.startswith(f"{emu.endpoint}/authorize/confirm?request=")
    page = http(emu, confirm)
    assert page.status == 200 and "stsdesk-test" in page.text and "<option value='ana'>" in page.text
    # The test plays the browser: approve, then follow the redirect to the client's callback.
    done = approve(emu, state=state)
    assert done.status == 303 and done.json()["redirect"] == done.headers["location"]
    assert http(emu, done.headers["location"], follow=True).text == "signed in"
    assert callback.received[0]["state"] == state
    token = _token(emu, reg, callback.received[0]["code"], callback.uri, verifier)
    assert token["tokenType"] == "Bearer" and token["expiresIn"] == 3600 and token["refreshToken"]


def test_the_confirm_page_form_approves(emu: Emu, callback: Callback) -> None:
    reg = _register(emu)
    verifier, challenge = _pkce()
    state, reply = _authorize(emu, reg, callback.uri, challenge)
    request_id = urllib.parse.parse_qs(urllib.parse.urlsplit(reply.headers["location"]).query)["request"][0]
    posted = http(emu, "/authorize/confirm", {"request": request_id, "user": "ben", "decision": "allow"})
    assert posted.status == 303
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(posted.headers["location"]).query))
    assert query["state"] == state
    assert _token(emu, reg, query["code"], callback.uri, verifier)["accessToken"]
    assert http(emu, reply.headers["location"]).status == 400  # answered: the request is gone


def test_wrong_verifier_then_reuse_are_invalid_grant(emu: Emu) -> None:
    reg = _register(emu)
    verifier, challenge = _pkce()
    redirect = "http://127.0.0.1:54321/oauth/callback"
    code = _code_for(emu, redirect, reg, challenge)
    with pytest.raises(ClientError) as caught:
        _token(emu, reg, code, redirect, _pkce()[0])
    assert error_of(caught.value) == ("InvalidGrantException", 400)
    assert _token(emu, reg, code, redirect, verifier)["accessToken"]
    with pytest.raises(ClientError) as caught:  # a code is good once
        _token(emu, reg, code, redirect, verifier)
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_token_redirect_uri_must_equal_the_authorize_one(emu: Emu) -> None:
    reg = _register(emu)
    verifier, challenge = _pkce()
    code = _code_for(emu, "http://127.0.0.1:54321/oauth/callback", reg, challenge)
    with pytest.raises(ClientError) as caught:
        _token(emu, reg, code, "http://127.0.0.1:54322/oauth/callback", verifier)
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_another_clients_code_is_invalid_grant(emu: Emu) -> None:
    reg, other = _register(emu), _register(emu)
    verifier, challenge = _pkce()
    redirect = "http://127.0.0.1:54321/oauth/callback"
    code = _code_for(emu, redirect, reg, challenge)
    with pytest.raises(ClientError) as caught:
        _token(emu, other, code, redirect, verifier)
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_code_expires_with_time_travel(emu: Emu) -> None:
    reg = _register(emu)
    verifier, challenge = _pkce()
    redirect = "http://127.0.0.1:54321/oauth/callback"
    code = _code_for(emu, redirect, reg, challenge)
    emu.advance(301)
    with pytest.raises(ClientError) as caught:
        _token(emu, reg, code, redirect, verifier)
    assert error_of(caught.value) == ("ExpiredTokenException", 400)


@pytest.mark.parametrize(
    "redirect",
    [
        "http://127.0.0.1:54321/other/callback",  # another path
        "http://localhost:54321/oauth/callback",  # another host
        "https://127.0.0.1:54321/oauth/callback",  # another scheme
        "http://127.0.0.1:54321/oauth/callback?x=1",  # another query
    ],
)
def test_unregistered_redirect_gets_an_error_page_not_a_redirect(emu: Emu, redirect: str) -> None:
    reg = _register(emu)
    _, reply = _authorize(emu, reg, redirect, _pkce()[1])
    assert reply.status == 400 and "location" not in reply.headers
    assert "not a redirect URI registered" in reply.text


def test_port_must_match_when_the_registration_names_one(emu: Emu) -> None:
    reg = _register(emu, "http://127.0.0.1:8400/oauth/callback")
    assert _authorize(emu, reg, "http://127.0.0.1:8400/oauth/callback", _pkce()[1])[1].status == 302
    assert _authorize(emu, reg, "http://127.0.0.1:8401/oauth/callback", _pkce()[1])[1].status == 400


def test_unknown_client_gets_an_error_page(emu: Emu) -> None:
    _, reply = _authorize(emu, {"clientId": "nobody"}, "http://127.0.0.1:1/oauth/callback", _pkce()[1])
    assert reply.status == 400 and "location" not in reply.headers


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scopes": "sso:account:access openid"}, "invalid_scope"),
    ],
)
def test_bad_authorize_parameters_are_sent_back_to_the_client(
    emu: Emu, override: dict[str, str], error: str
) -> None:
    reg = _register(emu)
    redirect = "http://127.0.0.1:54321/oauth/callback"
    state, reply = _authorize(emu, reg, redirect, _pkce()[1], **override)
    assert reply.status == 302
    location = reply.headers["location"]
    assert location.startswith(redirect + "?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert (query["error"], query["state"]) == (error, state)


def test_device_client_may_not_use_authorize(emu: Emu) -> None:
    reg = register(emu, redirectUris=[REGISTERED])  # default grants: device code and refresh token
    _, reply = _authorize(emu, reg, "http://127.0.0.1:5/oauth/callback", _pkce()[1])
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(reply.headers["location"]).query))
    assert query["error"] == "unauthorized_client"


def test_denied_goes_back_as_access_denied(emu: Emu) -> None:
    reg = _register(emu)
    redirect = "http://127.0.0.1:54321/oauth/callback"
    state, _ = _authorize(emu, reg, redirect, _pkce()[1])
    location = approve(emu, deny=True, state=state).headers["location"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert (query["error"], query["state"]) == ("access_denied", state)
    assert "code" not in query
    assert approve(emu, state=state).status == 404  # answered once
