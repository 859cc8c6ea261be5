"""The Identity Center portal with boto3's sso client and the AWS CLI v1's SSO credential provider: listing
with pagination, role credentials that behave like any role session (STS, chains, EC2, decode), 401/403,
logout, and the scenario's faults."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sso_support import START_URL, A, B, C, device_sign_in, error_of, portal_client, sso_world, start_sso
from sts_world import Emu, trust

from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.sso_scenario import ROLE_PATH, role_name, world_dict

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start_sso(tmp_path / "state", monkeypatch)
    yield running
    running.server.stop()


@pytest.fixture
def token(emu: Emu) -> str:
    return str(device_sign_in(emu, user="ana")[1]["accessToken"])


def _iam_role(emu: Emu, account: str, set_name: str) -> str:
    """The AWSReservedSSO_* IAM role behind ana's permission set ``set_name`` in ``account``."""
    center = emu.state.scenario.identity_center
    assert center is not None
    return next(r.name for r, p in center.roles_of[("ana", account)] if p.name == set_name)


def _credentials(emu: Emu, token: str, account: str, role: str) -> dict[str, Any]:
    reply = portal_client(emu).get_role_credentials(accessToken=token, accountId=account, roleName=role)
    creds: dict[str, Any] = reply["roleCredentials"]
    return creds


def _boto(emu: Emu, creds: dict[str, Any], service: str = "sts") -> Any:
    return emu.client((creds["accessKeyId"], creds["secretAccessKey"]), creds["sessionToken"], service)


def test_accounts_and_roles_of_the_signed_in_user(emu: Emu, token: str) -> None:
    portal = portal_client(emu)
    accounts = portal.list_accounts(accessToken=token)
    assert accounts["accountList"] == [
        {"accountId": B, "accountName": "dev", "emailAddress": "dev@example.com"},
        {"accountId": C, "accountName": "prod", "emailAddress": f"aws-{C}@example.com"},  # alias, derived email
    ]
    assert "nextToken" not in accounts
    roles = portal.list_account_roles(accessToken=token, accountId=B)["roleList"]
    # The portal names roles by permission set (what sso_role_name holds), not by the IAM role name.
    assert roles == [{"roleName": "ReadOnly", "accountId": B}, {"roleName": "Admin", "accountId": B}]
    assert portal.list_account_roles(accessToken=token, accountId=A)["roleList"] == []
    ben = str(device_sign_in(emu, user="ben")[1]["accessToken"])
    assert [a["accountId"] for a in portal.list_accounts(accessToken=ben)["accountList"]] == [B]


def test_role_credentials_are_a_role_session_named_after_the_user(emu: Emu, token: str) -> None:
    role = _iam_role(emu, B, "Admin")
    assert role.startswith("AWSReservedSSO_Admin_") and len(role.rsplit("_", 1)[1]) == 16
    before = datetime.now(UTC)
    creds = _credentials(emu, token, B, "Admin")
    assert creds["accessKeyId"].startswith("ASIA")
    expires = datetime.fromtimestamp(creds["expiration"] / 1000, UTC)
    assert timedelta(seconds=7100) < expires - before <= timedelta(seconds=7300)  # Admin: session_duration 7200
    who = _boto(emu, creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{B}:assumed-role/{role}/ana"
    assert who["UserId"].startswith("AROA") and who["UserId"].endswith(":ana")
    scenario_role = emu.state.scenario.role_by_arn(f"arn:aws:iam::{B}:role{ROLE_PATH}{role}")
    assert scenario_role is not None and scenario_role.path == ROLE_PATH


def test_chains_from_the_role_session_like_any_role(emu: Emu, token: str) -> None:
    creds = _credentials(emu, token, B, "Admin")
    chained = _boto(emu, creds).assume_role(RoleArn=f"arn:aws:iam::{C}:role/Target", RoleSessionName="chain")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{C}:assumed-role/Target/chain"
    readonly = _credentials(emu, token, B, "ReadOnly")
    with pytest.raises(ClientError) as caught:  # ReadOnly's policies do not allow sts:AssumeRole
        _boto(emu, readonly).assume_role(RoleArn=f"arn:aws:iam::{C}:role/Target", RoleSessionName="chain")
    assert error_of(caught.value) == ("AccessDenied", 403)


def test_trust_policies_can_name_the_sso_role_by_its_path_arn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How AWS documents trusting Identity Center roles: the role ARN with its aws-reserved path, or an
    ArnLike condition on aws:PrincipalArn with a wildcard for the suffix."""
    center = scenario_from_dict(sso_world()).identity_center
    assert center is not None
    admin_arn = f"arn:aws:iam::{B}:role{ROLE_PATH}{role_name(center.instance_id, B, 'Admin')}"
    world = sso_world()
    world["roles"] += [
        {"account": C, "name": "ByArn", "trust_policy": trust({"AWS": admin_arn})},
        {"account": C, "name": "ByPattern", "trust_policy": trust(
            {"AWS": f"arn:aws:iam::{B}:root"},
            condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{B}:role{ROLE_PATH}AWSReservedSSO_Admin_*"}},
        )},
    ]
    emu = start_sso(None, monkeypatch, world)
    try:
        token = str(device_sign_in(emu)[1]["accessToken"])
        admin = _boto(emu, _credentials(emu, token, B, "Admin"))
        for name in ("ByArn", "ByPattern"):
            made = admin.assume_role(RoleArn=f"arn:aws:iam::{C}:role/{name}", RoleSessionName="ana")
            assert made["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{C}:assumed-role/{name}/ana"
    finally:
        emu.server.stop()


def test_ec2_evaluates_the_permission_set_and_its_denials_decode(emu: Emu, token: str) -> None:
    creds = _credentials(emu, token, B, "ReadOnly")
    ec2 = _boto(emu, creds, "ec2")
    assert "Reservations" in ec2.describe_instances()
    with pytest.raises(ClientError) as caught:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    message = caught.value.response["Error"]["Message"]
    assert "assumed-role/AWSReservedSSO_ReadOnly_" in message and "/ana is not authorized" in message
    blob = message.split("Encoded authorization failure message: ", 1)[1]
    decoded = json.loads(_boto(emu, creds).decode_authorization_message(EncodedMessage=blob)["DecodedMessage"])
    assert decoded["allowed"] is False and decoded["context"]["action"].endswith("RunInstances")


def test_unassigned_role_is_403_no_access(emu: Emu, token: str) -> None:
    portal = portal_client(emu)
    iam_name = _iam_role(emu, B, "ReadOnly")  # the IAM role name is not a portal role name
    for account, role in ((C, "Admin"), (B, "Developer"), (A, "ReadOnly"), (B, iam_name)):
        with pytest.raises(ClientError) as caught:
            portal.get_role_credentials(accessToken=token, accountId=account, roleName=role)
        assert error_of(caught.value) == ("ForbiddenException", 403)
        assert caught.value.response["Error"]["Message"] == "No access"


@pytest.mark.parametrize("bad", ["", "aoa-not-a-token", "garbage"])
def test_bad_tokens_are_401(emu: Emu, bad: str) -> None:
    with pytest.raises(ClientError) as caught:
        portal_client(emu).list_accounts(accessToken=bad or " ")
    assert error_of(caught.value) == ("UnauthorizedException", 401)


def test_bad_parameters_are_400(emu: Emu, token: str) -> None:
    portal = portal_client(emu)
    with pytest.raises(ClientError) as caught:
        portal.list_account_roles(accessToken=token, accountId="12345")
    assert error_of(caught.value) == ("InvalidRequestException", 400)
    with pytest.raises(ClientError) as caught:
        portal.list_accounts(accessToken=token, nextToken="forged")
    assert error_of(caught.value) == ("InvalidRequestException", 400)


def test_logout_invalidates_the_access_token_not_issued_credentials(emu: Emu, token: str) -> None:
    creds = _credentials(emu, token, B, "ReadOnly")
    portal_client(emu).logout(accessToken=token)
    with pytest.raises(ClientError) as caught:
        portal_client(emu).list_accounts(accessToken=token)
    assert error_of(caught.value) == ("UnauthorizedException", 401)
    assert _boto(emu, creds).get_caller_identity()["Account"] == B


def test_pagination_over_500_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = start_sso(None, monkeypatch, world_dict(accounts=500, permission_sets=5))
    try:
        token = str(device_sign_in(emu)[1]["accessToken"])
        portal = portal_client(emu)
        first = portal.list_accounts(accessToken=token)
        assert len(first["accountList"]) == 20 and first["nextToken"]  # the default page
        pages = list(portal.get_paginator("list_accounts").paginate(
            accessToken=token, PaginationConfig={"PageSize": 100}
        ))
        assert [len(p["accountList"]) for p in pages] == [100] * 5
        ids = [a["accountId"] for p in pages for a in p["accountList"]]
        assert len(set(ids)) == 500 and ids == sorted(ids)
        roles = portal.list_account_roles(accessToken=token, accountId=ids[-1], maxResults=2)
        assert len(roles["roleList"]) == 2
        rest = portal.list_account_roles(accessToken=token, accountId=ids[-1], nextToken=roles["nextToken"])
        assert len(rest["roleList"]) == 3 and "nextToken" not in rest
        with pytest.raises(ClientError) as caught:  # a page token belongs to its listing
            portal.list_account_roles(accessToken=token, accountId=ids[0], nextToken=roles["nextToken"])
        assert error_of(caught.value) == ("InvalidRequestException", 400)
    finally:
        emu.server.stop()


def test_throttle_fault_is_429_too_many_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = sso_world()
    world["faults"] = {"throttle_every": 2}
    emu = start_sso(None, monkeypatch, world)
    try:
        codes = []
        for _ in range(4):
            try:
                portal_client(emu).list_accounts(accessToken="x")
            except ClientError as exc:
                codes.append(error_of(exc))
        assert ("TooManyRequestsException", 429) in codes and ("UnauthorizedException", 401) in codes
    finally:
        emu.server.stop()


@pytest.mark.parametrize("near_expiry", [False, True])
def test_aws_cli_v1_uses_a_cached_sso_token(emu: Emu, tmp_path: Path, near_expiry: bool) -> None:
    """The AWS CLI's own SSO credential provider: token file in ~/.aws/sso/cache, GetRoleCredentials; with
    under 15 minutes left botocore's SSOTokenProvider first refreshes it (refresh_token grant) and writes the
    file back."""
    reg, sign_in = device_sign_in(emu, user="ana")
    role = _iam_role(emu, B, "ReadOnly")
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    seconds = 300 if near_expiry else sign_in["expiresIn"]
    expires = (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token_file = {
        "startUrl": START_URL, "region": "us-east-1", "accessToken": sign_in["accessToken"], "expiresAt": expires,
        "clientId": reg["clientId"], "clientSecret": reg["clientSecret"], "refreshToken": sign_in["refreshToken"],
        "registrationExpiresAt": datetime.fromtimestamp(reg["clientSecretExpiresAt"], UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
    }
    cached = cache / (hashlib.sha1(b"corp").hexdigest() + ".json")
    cached.write_text(json.dumps(token_file))
    config = home / ".aws" / "config"
    config.write_text(
        f"[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
        f"[profile dev]\nsso_session = corp\nsso_account_id = {B}\nsso_role_name = ReadOnly\nregion = us-east-1\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home), AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_ENDPOINT_URL_SSO=emu.endpoint, AWS_ENDPOINT_URL_SSO_OIDC=emu.endpoint, AWS_ENDPOINT_URL_STS=emu.endpoint,
    )
    aws = REPO / ".venv" / "bin" / "aws"
    run = subprocess.run([str(aws), "sts", "get-caller-identity", "--profile", "dev", "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["Arn"] == f"arn:aws:sts::{B}:assumed-role/{role}/ana"
    written = json.loads(cached.read_text())
    if near_expiry:
        assert written["accessToken"] != sign_in["accessToken"]
        assert written["refreshToken"] != sign_in["refreshToken"]  # rotated, and the new one saved
        assert portal_client(emu).list_accounts(accessToken=written["accessToken"])["accountList"]
    else:
        assert written == token_file
