"""SSO profiles through the broker: role credentials cached like any session, chains, errors, sign-out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend
from sso_emulator import ALLOW_ALL, DEV, OTHER, PROD, SESSION, START_URL, Emu, browser, run, start, world

from stsdesk.core.broker import Broker
from stsdesk.core.cache import SessionCache
from stsdesk.core.errors import DurationError
from stsdesk.core.model import CredentialKind
from stsdesk.core.profiles import build_tree
from stsdesk.core.secrets import SecretStore
from stsdesk.core.sso.errors import NotSignedIn, RoleNotAssigned
from stsdesk.core.sts import StsClient

TRUST_DEV = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"}, "Action": "sts:AssumeRole"}]})


class _MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    data = world()
    data["roles"] = [{"account": PROD, "name": "Target", "trust_policy": TRUST_DEV, "policies": [ALLOW_ALL]}]
    running = start(data)
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.setenv(variable, running.endpoint)
    previous = keyring.get_keyring()
    keyring.set_keyring(_MemoryKeyring())
    yield running
    keyring.set_keyring(previous)
    running.server.stop()


def _broker(emu: Emu, tmp_path: Path) -> tuple[Broker, SessionCache]:
    service = emu.service(tmp_path / "sso")
    run(service.sign_in(SESSION), browser(emu))
    roles = {a.account_id: a.roles for a in service.discover(SESSION)}
    profiles: dict[str, dict[str, Any]] = {
        "dev": {"sso_session": "corp", "sso_account_id": DEV, "sso_role_name": roles[DEV][0], "region": "eu-west-1"},
        "target": {"source_profile": "dev", "role_arn": f"arn:aws:iam::{PROD}:role/Target"},
        "nope": {"sso_session": "corp", "sso_account_id": OTHER, "sso_role_name": roles[DEV][0]},
    }
    sessions = {"corp": {"sso_start_url": START_URL, "sso_region": "us-east-1",
                         "sso_registration_scopes": "sso:account:access"}}
    tree = build_tree(profiles, tmp_path / "config", tmp_path / "credentials", sso_sessions=sessions)
    secrets = SecretStore("stsdesk-sso-test")
    cache = SessionCache(tmp_path / "state", secrets)
    broker = Broker(tree, StsClient(), cache, secrets)
    broker.sso = service
    return broker, cache


def test_role_credentials_are_cached_and_chained(emu: Emu, tmp_path: Path) -> None:
    broker, cache = _broker(emu, tmp_path)

    async def scenario() -> None:
        first = await broker.credentials_for("dev")
        assert first.kind is CredentialKind.ASSUMED_ROLE and first.region == "eu-west-1"
        assert (await broker.credentials_for("dev")).access_key_id == first.access_key_id  # from the cache
        state = broker.session_state("dev")
        assert state is not None and state.identity_arn is not None
        assert state.identity_arn.startswith(f"arn:aws:sts::{DEV}:assumed-role/AWSReservedSSO_")
        assert state.identity_arn.endswith("/ana")
        session = broker.sso.session(broker.tree, "corp")
        assert broker.sso.signed_in_user(broker.tree, session, cache.sessions()) == "ana"
        chained = await broker.credentials_for("target")
        assert chained.kind is CredentialKind.CHAINED_ROLE
        identity = await broker.whoami("target")
        assert identity.arn.startswith(f"arn:aws:sts::{PROD}:assumed-role/Target/")
        with pytest.raises(DurationError, match="permission set"):
            await broker.credentials_for("dev", duration=7200, force_refresh=True)

    asyncio.run(scenario())
    assert cache.flush()
    keys = {username for (_service, username) in keyring.get_keyring().values}  # type: ignore[attr-defined]
    assert {"session:profile:dev", "session:profile:target"} <= keys  # in the keyring like any session


def test_unassigned_role_and_sign_out(emu: Emu, tmp_path: Path) -> None:
    broker, _cache = _broker(emu, tmp_path)

    async def scenario() -> None:
        with pytest.raises(RoleNotAssigned, match=f"not assigned to you in IAM Identity Center.*{OTHER}|{OTHER}"):
            await broker.credentials_for("nope")
        assert broker.last_error("nope") is not None and "\n" not in str(broker.last_error("nope"))
        await broker.credentials_for("target")
        service = broker.sso
        session = service.session(broker.tree, "corp")
        result = service.sign_out(session, broker.tree, forget=broker.forget)
        assert result.had_sign_in and result.sessions_dropped == 2  # dev and the role chained from it
        assert broker.session_state("dev") is None and broker.session_state("target") is None
        with pytest.raises(NotSignedIn, match="stsdesk sso login corp"):
            await broker.credentials_for("target")

    asyncio.run(scenario())
