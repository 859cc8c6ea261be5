"""Flows that need secrets to persist across processes: a real Secret Service keyring (gnome-keyring in CI).

Skipped cleanly when no working Secret Service is reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import World

BACKEND = "keyring.backends.SecretService.Keyring"
PROBE = (
    "import keyring, sys\n"
    "b = keyring.get_keyring()\n"
    f"k = 'probe-{uuid.uuid4()}'\n"
    "b.set_password('stsdesk:e2e-probe', k, 'x')\n"
    "assert b.get_password('stsdesk:e2e-probe', k) == 'x'\n"
    "b.delete_password('stsdesk:e2e-probe', k)\n"
)

pytestmark = pytest.mark.keyring


@pytest.fixture
def keyring_world(world: World) -> World:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": BACKEND}
    try:
        # In a child: a locked or absent Secret Service can hang or leak a D-Bus connection in-process.
        probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.skip("the Secret Service did not answer (locked keyring?)")
    if probe.returncode != 0:
        pytest.skip("no D-Bus session with a working Secret Service (gnome-keyring)")
    world.env["PYTHON_KEYRING_BACKEND"] = BACKEND
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
