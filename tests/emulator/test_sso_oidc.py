"""sso-oidc on the emulator, driven by boto3's own sso-oidc client: registration, the device code flow,
refresh tokens, and their errors (codes, HTTP statuses, bodies) as botocore reads them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sso_support import (
    DEVICE_GRANT,
    START_URL,
    approve,
    device_sign_in,
    error_of,
    oidc_client,
    portal_client,
    register,
    sso_world,
    start_sso,
)
from sts_world import Emu


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start_sso(tmp_path / "state", monkeypatch)
    yield running
    running.server.stop()


def _start(emu: Emu, reg: dict[str, str], start_url: str = START_URL) -> dict[str, object]:
    reply: dict[str, object] = oidc_client(emu).start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=start_url
    )
    return reply


def _poll(emu: Emu, reg: dict[str, str], device_code: object) -> dict[str, object]:
    reply: dict[str, object] = oidc_client(emu).create_token(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE_GRANT, deviceCode=device_code
    )
    return reply


def _refresh(emu: Emu, reg: dict[str, str], refresh_token: object) -> dict[str, object]:
    reply: dict[str, object] = oidc_client(emu).create_token(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="refresh_token",
        refreshToken=refresh_token,
    )
    return reply


def test_register_client_answers_a_public_registration(emu: Emu) -> None:
    reg = register(emu)
    assert reg["clientId"] and len(reg["clientSecret"]) > 40
    assert reg["clientSecretExpiresAt"] - reg["clientIdIssuedAt"] == 90 * 86400
    assert abs(reg["clientIdIssuedAt"] - time.time()) < 300


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"clientType": "confidential"}, "InvalidClientMetadataException"),
        ({"scopes": ["not a scope"]}, "InvalidScopeException"),
        ({"grantTypes": ["password"]}, "UnsupportedGrantTypeException"),
        ({"grantTypes": ["authorization_code"]}, "InvalidClientMetadataException"),  # no redirect URI
        ({"grantTypes": ["authorization_code"], "redirectUris": ["http://example.com/cb"]},
         "InvalidRedirectUriException"),
        ({"issuerUrl": "https://d-0000000000.awsapps.com/start"}, "InvalidRequestException"),
    ],
)
def test_register_client_refuses_bad_metadata(emu: Emu, kwargs: dict[str, object], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        register(emu, **kwargs)
    assert error_of(caught.value) == (code, 400)


def test_device_flow_pending_then_approved(emu: Emu) -> None:
    reg = register(emu)
    device = _start(emu, reg)
    assert re.fullmatch(r"[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}", str(device["userCode"]))
    assert device["verificationUri"] == f"{emu.endpoint}/device"
    assert device["verificationUriComplete"] == f"{emu.endpoint}/device?user_code={device['userCode']}"
    assert (device["expiresIn"], device["interval"]) == (600, 1)

    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, device["deviceCode"])
    assert error_of(caught.value) == ("AuthorizationPendingException", 400)
    assert caught.value.response["error"] == "authorization_pending"
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == (
        "AuthorizationPendingException"
    )

    assert approve(emu, user="ana", user_code=str(device["userCode"]).lower()).json()["approved"] is True
    time.sleep(1.05)  # the interval the emulator asked for
    token = _poll(emu, reg, device["deviceCode"])
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 3600
    assert str(token["accessToken"]).startswith("aoa") and str(token["refreshToken"]).startswith("aor")

    with pytest.raises(ClientError) as caught:  # a device code is good for one token
        _poll(emu, reg, device["deviceCode"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_polling_faster_than_the_interval_is_slow_down(emu: Emu) -> None:
    reg = register(emu)
    device = _start(emu, reg)
    with pytest.raises(ClientError):
        _poll(emu, reg, device["deviceCode"])
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, device["deviceCode"])
    assert error_of(caught.value) == ("SlowDownException", 400)
    assert caught.value.response["error"] == "slow_down"


def test_device_code_expires_with_time_travel(emu: Emu) -> None:
    reg = register(emu)
    device = _start(emu, reg)
    emu.advance(601)
    assert approve(emu, user_code=str(device["userCode"])).status == 404
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, device["deviceCode"])
    assert error_of(caught.value) == ("ExpiredTokenException", 400)


def test_denied_sign_in_is_access_denied(emu: Emu) -> None:
    reg = register(emu)
    device = _start(emu, reg)
    assert approve(emu, deny=True, user_code=str(device["userCode"])).json()["approved"] is False
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, device["deviceCode"])
    assert error_of(caught.value) == ("AccessDeniedException", 400)


def test_another_clients_device_code_is_invalid_grant(emu: Emu) -> None:
    first, second = register(emu), register(emu)
    device = _start(emu, first)
    approve(emu, user_code=str(device["userCode"]))
    with pytest.raises(ClientError) as caught:
        _poll(emu, second, device["deviceCode"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)
    assert _poll(emu, first, device["deviceCode"])["accessToken"]


def test_client_credentials_are_checked(emu: Emu) -> None:
    reg = register(emu)
    with pytest.raises(ClientError) as caught:
        _start(emu, {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"] + "x"})
    assert error_of(caught.value) == ("InvalidClientException", 401)
    with pytest.raises(ClientError) as caught:
        _start(emu, {"clientId": "nobody", "clientSecret": reg["clientSecret"]})
    assert error_of(caught.value) == ("InvalidClientException", 401)
    emu.advance(90 * 86400 + 1)  # registrations last 90 days
    with pytest.raises(ClientError) as caught:
        _start(emu, reg)
    assert error_of(caught.value) == ("InvalidClientException", 401)


def test_start_url_must_name_this_instance(emu: Emu) -> None:
    reg = register(emu)
    assert _start(emu, reg, START_URL + "/")["userCode"]  # a trailing slash names the same instance
    with pytest.raises(ClientError) as caught:
        _start(emu, reg, "https://d-0000000000.awsapps.com/start")
    assert error_of(caught.value) == ("InvalidRequestException", 400)


def test_unsupported_grant_type(emu: Emu) -> None:
    reg = register(emu)
    with pytest.raises(ClientError) as caught:
        oidc_client(emu).create_token(clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="password")
    assert error_of(caught.value) == ("UnsupportedGrantTypeException", 400)


def test_unscoped_sign_in_lasts_eight_hours_without_refresh_token(emu: Emu) -> None:
    _, token = device_sign_in(emu, scopes=[])
    assert token["expiresIn"] == 28800
    assert "refreshToken" not in token
    assert portal_client(emu).list_accounts(accessToken=token["accessToken"])["accountList"]


def test_refresh_rotates_the_refresh_token(emu: Emu) -> None:
    reg, token = device_sign_in(emu)
    fresh = _refresh(emu, reg, token["refreshToken"])
    assert fresh["accessToken"] != token["accessToken"] and fresh["refreshToken"] != token["refreshToken"]
    with pytest.raises(ClientError) as caught:  # the old one was replaced
        _refresh(emu, reg, token["refreshToken"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)
    assert _refresh(emu, reg, fresh["refreshToken"])["accessToken"]


def test_refresh_token_is_bound_to_its_client(emu: Emu) -> None:
    _, token = device_sign_in(emu)
    other = register(emu)
    with pytest.raises(ClientError) as caught:
        _refresh(emu, other, token["refreshToken"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_access_token_expires_and_refresh_renews_it(emu: Emu) -> None:
    reg, token = device_sign_in(emu)
    portal = portal_client(emu)
    emu.advance(3601)
    with pytest.raises(ClientError) as caught:
        portal.list_accounts(accessToken=token["accessToken"])
    assert error_of(caught.value) == ("UnauthorizedException", 401)
    fresh = _refresh(emu, reg, token["refreshToken"])
    assert [a["accountId"] for a in portal.list_accounts(accessToken=fresh["accessToken"])["accountList"]] == [
        "222222222222", "333333333333"
    ]


def test_sign_in_ends_when_the_refresh_token_does(emu: Emu) -> None:
    reg, token = device_sign_in(emu)
    emu.advance(8 * 3600 - 600)
    fresh = _refresh(emu, reg, token["refreshToken"])
    assert 500 <= int(str(fresh["expiresIn"])) <= 600  # an access token never outlives its sign-in
    emu.advance(601)
    with pytest.raises(ClientError) as caught:
        _refresh(emu, reg, fresh["refreshToken"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_without_rotation_the_refresh_token_stays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = start_sso(None, monkeypatch, sso_world(rotate_refresh_tokens=False, refresh_token_seconds=86400))
    try:
        reg, token = device_sign_in(emu)
        assert _refresh(emu, reg, token["refreshToken"])["refreshToken"] == token["refreshToken"]
        assert _refresh(emu, reg, token["refreshToken"])["accessToken"]
    finally:
        emu.server.stop()


def test_logout_ends_the_refresh_token_too(emu: Emu) -> None:
    reg, token = device_sign_in(emu)
    portal_client(emu).logout(accessToken=token["accessToken"])
    with pytest.raises(ClientError) as caught:
        _refresh(emu, reg, token["refreshToken"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)


def test_sign_ins_survive_a_restart_with_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = start_sso(tmp_path / "state", monkeypatch)
    try:
        reg, token = device_sign_in(first)
    finally:
        first.server.stop()
    second = start_sso(tmp_path / "state", monkeypatch)
    try:
        assert portal_client(second).list_accounts(accessToken=token["accessToken"])["accountList"]
        assert _refresh(second, reg, token["refreshToken"])["accessToken"]
    finally:
        second.server.stop()


def test_scope_not_in_registration_is_invalid_scope(emu: Emu) -> None:
    reg, token = device_sign_in(emu)
    with pytest.raises(ClientError) as caught:
        oidc_client(emu).create_token(
            clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType="refresh_token",
            refreshToken=token["refreshToken"], scope=["openid"],
        )
    assert error_of(caught.value) == ("InvalidScopeException", 400)


def test_expired_device_codes_are_forgotten_an_hour_later(emu: Emu) -> None:
    reg = register(emu)
    old = _start(emu, reg)
    emu.advance(601)
    _start(emu, reg)  # starting another prunes what is long gone, not what just expired
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, old["deviceCode"])
    assert error_of(caught.value) == ("ExpiredTokenException", 400)
    emu.advance(3600)
    _start(emu, reg)
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, old["deviceCode"])
    assert error_of(caught.value) == ("InvalidGrantException", 400)
