"""The sign-in pages a person uses in a browser (plain HTML forms) and the emulator without an Identity
Center."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from sso_support import DEVICE_GRANT, START_URL, error_of, http, oidc_client, portal_client, register, start_sso
from sts_world import Emu, start, world

from stsdesk.emulator.scenario import scenario_from_dict


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start_sso(tmp_path / "state", monkeypatch)
    yield running
    running.server.stop()


def _device(emu: Emu) -> tuple[dict[str, str], dict[str, str]]:
    reg = register(emu)
    device = oidc_client(emu).start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL
    )
    return reg, device


def _poll(emu: Emu, reg: dict[str, str], device: dict[str, str]) -> dict[str, object]:
    reply: dict[str, object] = oidc_client(emu).create_token(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE_GRANT,
        deviceCode=device["deviceCode"],
    )
    return reply


def test_verification_page_prefills_the_code_and_lists_the_users(emu: Emu) -> None:
    _, device = _device(emu)
    page = http(emu, device["verificationUriComplete"])
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert f"value='{device['userCode']}'" in page.text
    for user in ("ana", "ben", "carol"):
        assert f"<option value='{user}'>" in page.text
    assert "<script" not in page.text  # plain forms: any browser, no JavaScript needed
    assert "value='allow'" in page.text and "value='deny'" in page.text


def test_submitting_the_form_signs_in_as_the_chosen_user(emu: Emu) -> None:
    reg, device = _device(emu)
    done = http(emu, "/device", {"user_code": device["userCode"], "user": "ben", "decision": "allow"})
    assert done.status == 200 and "Signed in as <code>ben</code>" in done.text
    token = _poll(emu, reg, device)
    accounts = portal_client(emu).list_accounts(accessToken=token["accessToken"])["accountList"]
    assert [a["accountId"] for a in accounts] == ["222222222222"]  # ben's, not ana's


def test_deny_on_the_form_is_access_denied(emu: Emu) -> None:
    reg, device = _device(emu)
    assert http(emu, "/device", {"user_code": device["userCode"], "user": "ana", "decision": "deny"}).status == 200
    with pytest.raises(ClientError) as caught:
        _poll(emu, reg, device)
    assert error_of(caught.value) == ("AccessDeniedException", 400)


def test_code_typed_in_lower_case_without_dash_is_accepted(emu: Emu) -> None:
    reg, device = _device(emu)
    typed = device["userCode"].replace("-", "").lower()
    assert http(emu, "/device", {"user_code": typed, "user": "ana"}).status == 200
    assert _poll(emu, reg, device)["accessToken"]


def test_wrong_code_or_user_is_a_page_not_a_crash(emu: Emu) -> None:
    _, device = _device(emu)
    wrong = http(emu, "/device", {"user_code": "BBBB-BBBB", "user": "ana"})
    assert wrong.status == 400 and "Code not recognised" in wrong.text
    nobody = http(emu, "/device", {"user_code": device["userCode"], "user": "mallory"})
    assert nobody.status == 400 and "Unknown user" in nobody.text


def test_page_escapes_what_it_echoes(emu: Emu) -> None:
    page = http(emu, "/device?user_code=%3Cscript%3Ex%3C%2Fscript%3E")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_approve_aid_answers_clearly(emu: Emu) -> None:
    assert http(emu, "/_stsdesk/sso-approve", {"user": "ana"}).status == 400  # neither user_code nor state
    assert http(emu, "/_stsdesk/sso-approve", {"user": "zed", "user_code": "BBBB-BBBB"}).status == 400
    assert http(emu, "/_stsdesk/sso-approve", {"user": "ana", "state": "nope"}).status == 404
    assert http(emu, "/_stsdesk/sso-approve").status == 405


def test_slow_clients_still_get_their_token_after_the_page(emu: Emu) -> None:
    reg, device = _device(emu)
    with pytest.raises(ClientError):
        _poll(emu, reg, device)
    http(emu, "/device", {"user_code": device["userCode"], "user": "ana"})
    time.sleep(1.05)
    assert _poll(emu, reg, device)["tokenType"] == "Bearer"


def test_without_identity_center_the_api_says_so() -> None:
    emu = start(scenario_from_dict(world()), None)
    try:
        with pytest.raises(ClientError) as caught:
            register(emu)
        assert error_of(caught.value) == ("InvalidRequestException", 400)
        assert "no [identity_center]" in caught.value.response["error_description"]
        with pytest.raises(ClientError) as caught:
            portal_client(emu).list_accounts(accessToken="x")
        assert error_of(caught.value) == ("InvalidRequestException", 400)
        assert http(emu, "/device").status == 404
    finally:
        emu.server.stop()
