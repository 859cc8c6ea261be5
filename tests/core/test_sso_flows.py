"""Sign-in flows, refresh, sign-out, discovery and role credentials against the emulator's Identity Center,
with botocore's own SSO token provider as the independent reader of what stsdesk writes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.tokens import SSOTokenProvider, _sso_json_dumps
from botocore.utils import JSONFileCache
from sso_emulator import DEV, OTHER, PROD, SESSION, START_URL, Emu, browser, device, get_status, run, start, world

from stsdesk.core.errors import Throttled
from stsdesk.core.sso.client import SsoClients, SsoEndpoints
from stsdesk.core.sso.discovery import discover
from stsdesk.core.sso.errors import (
    NotSignedIn,
    RoleNotAssigned,
    SignInCancelled,
    SignInDenied,
    SignInExpired,
    SignInTimedOut,
    TokenCacheCorrupt,
)
from stsdesk.core.sso.service import SsoService, SsoTarget
from stsdesk.core.sso.signin import EventKind, SignInEvent
from stsdesk.core.sso.token_cache import token_key


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start(world())
    # Every client (stsdesk's and botocore's own) talks to the emulator, never to AWS.
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.setenv(variable, running.endpoint)
    yield running
    running.server.stop()


def _botocore_token(tmp_path: Path, emu: Emu) -> str:
    """The access token botocore's own SSOTokenProvider loads from the cache directory."""
    config = tmp_path / "botocore-config"
    config.write_text(
        f"[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        f"[profile p]\nsso_session = corp\nsso_account_id = {DEV}\nsso_role_name = ReadOnly\n"
    )
    session = botocore.session.Session(profile="p")
    session.set_config_variable("config_file", str(config))
    cache = JSONFileCache(str(tmp_path / "cache"), dumps_func=_sso_json_dumps)
    provider = SSOTokenProvider(session, cache=cache, time_fetcher=emu.state.clock.now, profile_name="p")
    token = provider.load_token()
    assert token is not None
    return str(token.get_frozen_token().token)


def test_device_code_sign_in_is_shared_with_botocore(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    state, events = run(service.sign_in(SESSION, device_code=True), device(emu))
    kinds = [e.kind for e in events]
    assert kinds == [EventKind.OPEN_URL, EventKind.USER_CODE, EventKind.WAITING, EventKind.DONE]
    assert state.signed_in and state.refreshable
    stored = json.loads((tmp_path / "cache" / f"{token_key('corp')}.json").read_text())
    assert list(stored) == ["startUrl", "region", "accessToken", "expiresAt", "clientId", "clientSecret",
                            "registrationExpiresAt", "refreshToken"]
    assert _botocore_token(tmp_path, emu) == stored["accessToken"]
    # The registration is cached where the AWS CLI looks, and reused by the next sign-in.
    registrations = [p for p in (tmp_path / "cache").iterdir() if p.name != f"{token_key('corp')}.json"]
    assert len(registrations) == 1
    run(service.sign_in(SESSION, device_code=True), device(emu))
    again = json.loads((tmp_path / "cache" / f"{token_key('corp')}.json").read_text())
    assert again["clientId"] == stored["clientId"] and again["accessToken"] != stored["accessToken"]


def test_pkce_sign_in_loopback_checks_state_and_closes(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    seen: dict[str, int] = {}

    def act(event: SignInEvent) -> None:
        if event.kind is EventKind.OPEN_URL:
            assert event.url
            redirect = _redirect_uri(event.url)
            seen["forged"] = get_status(f"{redirect}?code=forged&state=not-the-state")
            seen["browser"] = emu.browse(event.url)
            seen["port"] = int(redirect.split(":")[2].split("/")[0])

    state, events = run(service.sign_in(SESSION), act)
    assert seen["forged"] == 400 and seen["browser"] == 200  # a stray request did not end the sign-in
    assert [e.kind for e in events] == [EventKind.OPEN_URL, EventKind.WAITING, EventKind.DONE]
    assert state.refreshable
    with pytest.raises(OSError):  # the loopback server is gone once the sign-in is done
        socket.create_connection(("127.0.0.1", seen["port"]), timeout=2).close()
    assert _botocore_token(tmp_path, emu) == service.tokens.access_token(SESSION)


def _redirect_uri(url: str) -> str:
    import urllib.parse

    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]


@pytest.mark.parametrize("device_code", [True, False])
def test_denied_sign_in_writes_nothing(emu: Emu, tmp_path: Path, device_code: bool) -> None:
    service = emu.service(tmp_path)
    act = device(emu, deny=True) if device_code else browser(emu, deny=True)
    with pytest.raises(SignInDenied, match="denied in the browser"):
        run(service.sign_in(SESSION, device_code=device_code), act)
    assert not (tmp_path / "cache" / f"{token_key('corp')}.json").exists()
    assert not service.status(SESSION).signed_in


def test_device_code_that_expires_unapproved(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)

    def act(event: SignInEvent) -> None:
        if event.kind is EventKind.WAITING:
            emu.travel(601)  # the code lives 600 s

    with pytest.raises(SignInTimedOut, match="expired before it was approved"):
        run(service.sign_in(SESSION, device_code=True), act)


def test_cancel_at_the_browser_step_and_browser_timeout(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    flow = service.sign_in(SESSION)
    port: dict[str, int] = {}

    def act(event: SignInEvent) -> None:
        if event.kind is EventKind.OPEN_URL:
            assert event.url
            port["n"] = int(_redirect_uri(event.url).split(":")[2].split("/")[0])
        if event.kind is EventKind.WAITING:
            flow.cancel()

    with pytest.raises(SignInCancelled):
        run(flow, act)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port["n"]), timeout=2).close()
    with pytest.raises(SignInTimedOut, match="did not come back"):
        run(service.sign_in(SESSION, browser_timeout=0.2), lambda event: None)


def test_refresh_after_the_access_token_expired_needs_no_sign_in(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    path = tmp_path / "cache" / f"{token_key('corp')}.json"
    before = json.loads(path.read_text())
    emu.travel(3700)  # the access token (3600 s) has expired; the refresh token (8 h) has not
    token = service.tokens.access_token(SESSION)
    after = json.loads(path.read_text())
    assert token == after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]  # the emulator rotates refresh tokens
    assert after["expiresAt"] > before["expiresAt"]
    accounts = service.discover(SESSION)
    assert [a.account_id for a in accounts] == [DEV, PROD]


def test_refresh_starts_fifteen_minutes_early(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    first = service.tokens.access_token(SESSION)
    emu.travel(3600 - 16 * 60)
    assert service.tokens.access_token(SESSION) == first
    emu.travel(2 * 60)  # 14 minutes left
    assert service.tokens.access_token(SESSION) != first


def test_another_tool_refreshing_mid_refresh_wins(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    emu.travel(3700)
    oidc = service.clients.oidc("us-east-1")
    real_create = oidc.create_token

    def botocore_refreshes_first(**kwargs: Any) -> Any:
        # botocore (another process) refreshes with the same refresh token and rewrites the file first;
        # the emulator rotates the refresh token, so stsdesk's own attempt is refused (InvalidGrant).
        _botocore_token(tmp_path, emu)
        return real_create(**kwargs)

    oidc.create_token = botocore_refreshes_first
    token = service.tokens.access_token(SESSION)
    stored = json.loads((tmp_path / "cache" / f"{token_key('corp')}.json").read_text())
    assert token == stored["accessToken"]
    oidc.create_token = real_create
    assert service.discover(SESSION)  # the token botocore wrote works


def test_logout_revokes_and_removes(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    token = service.tokens.access_token(SESSION)
    result = service.sign_out(SESSION)
    assert result.had_sign_in and not service.status(SESSION).signed_in
    portal = service.clients.portal("us-east-1")
    with pytest.raises(portal.exceptions.UnauthorizedException):
        portal.list_accounts(accessToken=token)
    with pytest.raises(NotSignedIn, match="stsdesk sso login corp"):
        service.tokens.access_token(SESSION)
    assert not service.sign_out(SESSION).had_sign_in


def test_revoked_sign_in_is_one_line_without_token(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    token = service.tokens.access_token(SESSION)
    service.clients.portal("us-east-1").logout(accessToken=token)  # revoked elsewhere; the file stays
    stored = json.loads((tmp_path / "cache" / f"{token_key('corp')}.json").read_text())
    with pytest.raises(SignInExpired) as caught:
        service.role_credentials(SsoTarget(SESSION, DEV, _role(service, DEV)))
    message = str(caught.value)
    assert "stsdesk sso login corp" in message and "\n" not in message
    assert all(stored[k] not in message for k in ("accessToken", "refreshToken", "clientSecret"))


def _role(service: SsoService, account: str) -> str:
    return next(a for a in service.discover(SESSION) if a.account_id == account).roles[0]


def test_role_credentials_and_unassigned_role(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    role = _role(service, DEV)
    creds = service.role_credentials(SsoTarget(SESSION, DEV, role), "eu-west-1")
    assert creds.access_key_id.startswith("ASIA") and creds.region == "eu-west-1"
    left = creds.seconds_left(emu.state.clock.now())
    assert left is not None and 3000 < left <= 3600
    with pytest.raises(RoleNotAssigned, match=f"not assigned to you.*{OTHER}|{OTHER}.*not assigned"):
        service.role_credentials(SsoTarget(SESSION, OTHER, role))


def test_damaged_and_expired_token_files(emu: Emu, tmp_path: Path) -> None:
    service = emu.service(tmp_path)
    path = tmp_path / "cache" / f"{token_key('corp')}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"accessToken": "x", "expiresAt": ')
    with pytest.raises(TokenCacheCorrupt, match="not valid JSON"):
        service.tokens.access_token(SESSION)
    path.write_text(json.dumps({"startUrl": START_URL, "region": "us-east-1", "accessToken": "old",
                                "expiresAt": "2020-01-01T00:00:00Z"}))
    with pytest.raises(SignInExpired, match="no usable refresh token"):
        service.tokens.access_token(SESSION)
    assert path.read_text().startswith('{"startUrl"')  # left as it was


def test_discovery_pages_through_many_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    running = start(world(accounts=230))
    monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint)
    try:
        service = running.service(tmp_path)
        run(service.sign_in(SESSION), browser(running))
        progress: list[int] = []
        accounts = service.discover(SESSION, on_progress=lambda done, total: progress.append(total))
        assert len(accounts) == 232 and set(progress) == {232}
        assert {a.account_id for a in accounts} >= {DEV, PROD, "500000000229"}
        roles = {a.account_id: len(a.roles) for a in accounts}
        assert roles[DEV] == 2 and roles[PROD] == 1 and roles["500000000229"] == 1
    finally:
        running.server.stop()


class _Throttling(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"message": "Rate exceeded"}'
        self.send_response(429)
        self.send_header("x-amzn-ErrorType", "TooManyRequestsException:http://internal.amazon.com/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_throttling_is_one_line() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        portal = SsoClients(SsoEndpoints(portal=endpoint), max_attempts=2).portal("us-east-1")
        with pytest.raises(Throttled, match="throttling") as caught:
            discover(portal, "secret-token-value")
        assert "secret-token-value" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()


class _Keyring:
    """A keyring backend's contract (set/get/delete under a key), in memory."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def test_keyring_token_storage_keeps_tokens_out_of_files(emu: Emu, tmp_path: Path) -> None:
    keyring = _Keyring()
    service = SsoService(tmp_path, keyring, endpoints=SsoEndpoints(emu.endpoint, emu.endpoint),  # type: ignore[arg-type]
                         storage="keyring", token_dir=tmp_path / "cache", env={}, now=emu.state.clock.now)
    state, _events = run(service.sign_in(SESSION), browser(emu))
    assert state.signed_in and not (tmp_path / "cache").exists()
    assert sorted(keyring.values) == sorted(f"sso-cache:{k}" for k in (token_key("corp"), _registration_key()))
    first = service.tokens.access_token(SESSION)
    emu.travel(3700)
    assert service.tokens.access_token(SESSION) != first  # refreshed in the keyring
    assert service.sign_out(SESSION).had_sign_in
    assert list(keyring.values) == [f"sso-cache:{_registration_key()}"]


def _registration_key() -> str:
    from stsdesk.core.sso.token_cache import registration_key

    return registration_key(START_URL, "us-east-1", ["sso:account:access"], "corp")


def test_keyring_storage_without_a_keyring_fails_in_one_line(
    emu: Emu, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import keyring
    import keyring.backends.fail

    from stsdesk.core.secrets import SecretStore

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    request.addfinalizer(lambda: keyring.set_keyring(previous))
    service = SsoService(tmp_path, SecretStore("stsdesk-test"), endpoints=SsoEndpoints(emu.endpoint, emu.endpoint),
                         storage="keyring", env={}, now=emu.state.clock.now)
    with pytest.raises(TokenCacheCorrupt, match="sso_token_storage is keyring, but the keyring cannot store"):
        run(service.sign_in(SESSION), browser(emu))


def test_no_token_reaches_stsdesks_logs(emu: Emu, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="stsdesk")
    service = emu.service(tmp_path)
    run(service.sign_in(SESSION), browser(emu))
    emu.travel(3700)
    service.tokens.access_token(SESSION)  # a refresh
    token = json.loads((tmp_path / "cache" / f"{token_key('corp')}.json").read_text())
    service.tokens.clients.portal("us-east-1").logout(accessToken=token["accessToken"])
    with pytest.raises(SignInExpired):
        service.discover(SESSION)  # refused, refresh attempted and refused: all of it logged
    service.sign_out(SESSION)
    assert any(r.name.startswith("stsdesk.core.sso") for r in caplog.records)
    for key in ("accessToken", "refreshToken", "clientSecret"):
        assert token[key] not in caplog.text


def test_a_profiles_endpoint_url_is_used_when_no_variable_says(
    emu: Emu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC"):
        monkeypatch.delenv(variable)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a call meant for AWS would fail here, on loopback
    from stsdesk.core.profiles import build_tree

    tree = build_tree(
        {"dev": {"sso_session": "corp", "sso_account_id": DEV, "sso_role_name": "ReadOnly",
                 "endpoint_url": emu.endpoint}},
        tmp_path / "config", tmp_path / "credentials",
        sso_sessions={"corp": {"sso_start_url": START_URL, "sso_region": "us-east-1"}},
    )
    service = SsoService(tmp_path, None, token_dir=tmp_path / "cache", env={}, now=emu.state.clock.now)  # type: ignore[arg-type]
    session = service.session(tree, "corp")
    assert session.endpoint_url == emu.endpoint
    run(service.sign_in(session), browser(emu))
    assert [a.account_id for a in service.discover(session)] == [DEV, PROD]
    with_variable = SsoService(tmp_path, None, env={"AWS_ENDPOINT_URL_SSO": "http://127.0.0.1:1"})  # type: ignore[arg-type]
    assert with_variable.session(tree, "corp").endpoint_url is None  # the variable wins, as in botocore
