"""Flows that need secrets to persist across processes: a real Secret Service keyring (gnome-keyring in CI).

Gated by the `secret_service` fixture (skipped with the reason without the test keyring; failed under CI=true).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import World

pytestmark = pytest.mark.keyring


@pytest.fixture
def keyring_world(world: World, secret_service: str) -> World:
    world.env["PYTHON_KEYRING_BACKEND"] = secret_service
    return world


def test_add_user_then_credential_process_from_the_cache(keyring_world: World) -> None:
    world = keyring_world
    BOB_KEY, BOB_SECRET = world.bob_key, world.bob_secret
    world.credentials_file.write_text("")  # keys only in the keyring from now on
    added = world.stsdesk("add-user", "bob", "--access-key-id", BOB_KEY, stdin=BOB_SECRET + "\n")
    assert added.returncode == 0, added.stderr
    assert f"stsdesk_access_key_id = {BOB_KEY}" in world.config_file.read_text()
    try:
        first = world.stsdesk("credential-process", "readonly")
        assert first.returncode == 0, first.stderr
        timed = world.run(
            [sys.executable, "-X", "importtime", "-m", "stsdesk", "credential-process", "readonly"]
        )
        assert timed.returncode == 0, timed.stderr
        assert json.loads(timed.stdout)["AccessKeyId"] == json.loads(first.stdout)["AccessKeyId"]
        assert "botocore" not in timed.stderr  # served by the fast path
        listing = json.loads(world.stsdesk("list", "--json").stdout)
        assert {row["name"]: row["state"] for row in listing}["readonly"] == "active"
        assert world.stsdesk("forget", "readonly").returncode == 0
    finally:
        world.stsdesk("forget", "--all")


def test_import_credentials_moves_keys_into_the_keyring(keyring_world: World) -> None:
    world = keyring_world
    BOB_SECRET = world.bob_secret
    out = world.stsdesk("import-credentials", "bob")
    assert out.returncode == 0, out.stderr
    assert BOB_SECRET not in world.credentials_file.read_text()
    assert "stsdesk_access_key_id" in world.config_file.read_text()
    try:
        assumed = world.stsdesk("assume", "readonly", "--format", "json")
        assert assumed.returncode == 0, assumed.stderr
    finally:
        world.stsdesk("forget", "--all")
