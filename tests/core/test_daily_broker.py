"""Issue 13 item 1 in the core: the Broker gives an IAM user without MFA a GetSessionToken session (cached as
the profile's session, visible to session_state and forget), and its long-term key only with long_term=True,
against the in-process emulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.keyrings import MemoryKeyring
from sso_emulator import Emu, start

from stsdesk.core.broker import Broker
from stsdesk.core.cache import SessionCache
from stsdesk.core.model import CredentialKind
from stsdesk.core.profiles import build_tree
from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.core.sts import StsClient

ACCOUNT = "111111111111"
BOB_KEY, BOB_SECRET = "AKIADAILYBOB00000001", "daily/bob/SecretValue00000000000000000001"
ALLOW = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def emu() -> Iterator[Emu]:
    running = start({
        "region": "us-east-1",
        "accounts": [{"id": ACCOUNT, "alias": "identity"}],
        "users": [{"account": ACCOUNT, "name": "bob", "policies": [ALLOW],
                   "access_keys": [{"id": BOB_KEY, "secret": BOB_SECRET}]}],
        "roles": [{"account": ACCOUNT, "name": "Reader", "trust_policy": TRUST, "policies": [ALLOW],
                   "max_session_duration": 14400}],
    })
    yield running
    running.server.stop()


def _broker(emu: Emu, tmp_path: Path) -> Broker:
    common = {"region": "us-east-1", "endpoint_url": emu.endpoint}
    profiles = {
        "bob": {**common, "stsdesk_access_key_id": BOB_KEY},
        "reader": {**common, "source_profile": "bob", "role_arn": f"arn:aws:iam::{ACCOUNT}:role/Reader"},
    }
    tree = build_tree(profiles, tmp_path / "config", tmp_path / "credentials")
    secrets = SecretStore("stsdesk-daily-test")
    secrets.set(user_key("bob", BOB_KEY), BOB_SECRET)
    return Broker(tree, StsClient(), SessionCache(tmp_path / "state", secrets), secrets)


def test_iam_user_without_mfa_gets_a_cached_session(emu: Emu, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    broker = _broker(emu, tmp_path)

    async def scenario() -> None:
        first = await broker.credentials_for("bob")
        assert first.kind is CredentialKind.SESSION_TOKEN and first.access_key_id.startswith("ASIA")
        assert first.secret_access_key != BOB_SECRET and first.session_token and first.expiration is not None
        left = first.seconds_left()
        assert left is not None and 3000 < left <= 3600  # an hour, as aws-vault's default
        again = await broker.credentials_for("bob")
        assert again.access_key_id == first.access_key_id  # from the cache, not a second GetSessionToken
        state = broker.session_state("bob")
        assert state is not None and state.access_key_id == first.access_key_id
        identity = await broker.whoami("bob")
        assert identity.arn == f"arn:aws:iam::{ACCOUNT}:user/bob"
        # A role assumed from bob still comes from the long-term keys (not role chaining from the session).
        role = await broker.credentials_for("reader", duration=7200)
        assert role.kind is CredentialKind.ASSUMED_ROLE
        assert broker.forget("bob") and broker.session_state("bob") is None

    asyncio.run(scenario())


def test_long_term_only_when_asked(emu: Emu, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    broker = _broker(emu, tmp_path)

    async def scenario() -> None:
        keys = await broker.credentials_for("bob", long_term=True)
        assert (keys.access_key_id, keys.secret_access_key, keys.expiration) == (BOB_KEY, BOB_SECRET, None)
        assert broker.session_state("bob") is None  # nothing cached for an explicit key request
        role = await broker.credentials_for("reader", long_term=True)  # no effect on a role
        assert role.access_key_id.startswith("ASIA")

    asyncio.run(scenario())
