"""An Identity Center test world, a running emulator over it, and boto3 sso-oidc / sso clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from sts_world import Emu, allow, doc, start, trust

from stsdesk.emulator.scenario import scenario_from_dict

A, B, C = "111111111111", "222222222222", "333333333333"
START_URL = "https://d-9067e0e0e0.awsapps.com/start"
SCOPE = "sso:account:access"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def sso_world(**center: Any) -> dict[str, Any]:
    """Accounts A (identity), B (dev), C (prod); ana has ReadOnly and Admin in dev and ReadOnly in prod, ben
    ReadOnly in dev, carol nothing. C's role Target trusts dev's account (for chains from SSO sessions)."""
    world: dict[str, Any] = {
        "region": "us-east-1",
        "accounts": [
            {"id": A, "alias": "identity"},
            {"id": B, "name": "dev", "email": "dev@example.com"},
            {"id": C, "alias": "prod"},
        ],
        "roles": [
            {
                "account": C,
                "name": "Target",
                "trust_policy": trust({"AWS": f"arn:aws:iam::{B}:root"}),
                "policies": [doc(allow("ec2:Describe*"))],
            }
        ],
        "identity_center": {
            "start_url": START_URL,
            "users": ["ana", "ben", "carol"],
            "permission_sets": [
                {
                    "name": "ReadOnly",
                    "policies": [doc(allow("ec2:Describe*"), allow("sts:DecodeAuthorizationMessage"))],
                },
                {"name": "Admin", "session_duration": 7200, "policies": [doc(allow("*"))]},
            ],
            "assignments": [
                {"user": "ana", "account": B, "permission_set": "ReadOnly"},
                {"user": "ana", "account": B, "permission_set": "Admin"},
                {"user": "ana", "account": C, "permission_set": "ReadOnly"},
                {"user": "ben", "account": B, "permission_set": "ReadOnly"},
            ],
            **center,
        },
    }
    return world


def start_sso(
    state_dir: Path | None, monkeypatch: pytest.MonkeyPatch, world: dict[str, Any] | None = None
) -> Emu:
    """A running emulator over ``world`` (default ``sso_world()``), with time travel; botocore signs with
    the emulator's clock. The caller stops it (``emu.server.stop()``)."""
    running = start(scenario_from_dict(world or sso_world()), state_dir)
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: running.state.clock.now().replace(tzinfo=None)
    )
    return running


def _config() -> Config:
    return Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}, region_name="us-east-1")


def oidc_client(emu: Emu) -> Any:
    return boto3.client("sso-oidc", endpoint_url=emu.endpoint, config=_config())


def portal_client(emu: Emu) -> Any:
    return boto3.client("sso", endpoint_url=emu.endpoint, config=_config())


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http(emu: Emu, path: str, form: dict[str, str] | None = None, follow: bool = False) -> HttpReply:
    """GET (or POST ``form``) ``path`` on the emulator; redirects are followed only with ``follow``."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    handlers = [] if follow else [_NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    url = path if path.startswith("http") else emu.endpoint + path
    try:
        with opener.open(urllib.request.Request(url, data=data), timeout=10) as reply:
            return HttpReply(reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
    except urllib.error.HTTPError as exc:
        return HttpReply(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def approve(emu: Emu, user: str = "ana", deny: bool = False, **which: str) -> HttpReply:
    """POST /_stsdesk/sso-approve for ``user_code=`` or ``state=`` (the redirect is not followed)."""
    form = {"user": user, **which}
    if deny:
        form["deny"] = "1"
    return http(emu, "/_stsdesk/sso-approve", form)


def register(emu: Emu, **extra: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"clientName": "stsdesk-test", "clientType": "public", "scopes": [SCOPE], **extra}
    if kwargs["scopes"] is None:
        del kwargs["scopes"]
    reply: dict[str, Any] = oidc_client(emu).register_client(**kwargs)
    return reply


def device_sign_in(
    emu: Emu, user: str = "ana", scopes: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Register, start a device authorization, approve it as ``user`` and redeem it: (registration, token)."""
    reg = register(emu, scopes=[SCOPE] if scopes is None else (scopes or None))
    oidc = oidc_client(emu)
    device = oidc.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START_URL
    )
    assert approve(emu, user=user, user_code=device["userCode"]).status == 200
    token = oidc.create_token(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], grantType=DEVICE_GRANT,
        deviceCode=device["deviceCode"],
    )
    return reg, token


def error_of(exc: Any) -> tuple[str, int]:
    """(error code, HTTP status) of a botocore ClientError."""
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
