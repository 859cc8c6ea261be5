"""Keyring faults seen by the CLI: a locked collection, no backend (keyring's fail backend), a backend that
raises on get or on set. Each gives one clear line on stderr and the right exit code, and no secret is ever
written to a file in plaintext (nor echoed on stderr)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from resilience_support import (
    BOB_KEY,
    BOB_SECRET,
    COUNTS,
    LONG_TERM_SECRETS,
    CliWorld,
    CountingEmulator,
    assert_one_line_failure,
    make_world,
    start_counting_emulator,
)

BACKENDS = {
    "locked": ("resilience_keyring.LockedKeyring", "KeyringLocked"),
    "missing": ("keyring.backends.fail.Keyring", "keyring.backends.fail.Keyring is active"),
    "raises-on-get": ("resilience_keyring.RaisingGetKeyring", "KeyringError"),
    "raises-on-set": ("resilience_keyring.RaisingSetKeyring", "PasswordSetError"),
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[CountingEmulator]:
    started = start_counting_emulator()
    yield started
    started.server.stop()


@pytest.fixture(params=sorted(BACKENDS))
def world(request: pytest.FixtureRequest, tmp_path: Path, emulator: CountingEmulator) -> Iterator[CliWorld]:
    backend, _reason = BACKENDS[request.param]
    made = make_world(tmp_path / "home", emulator.endpoint, backend)
    made.env["RESILIENCE_BACKEND_NAME"] = request.param
    yield made
    # Whatever happened, no secret sits in a file stsdesk wrote (the credentials file the test wrote is
    # the only file allowed to hold the long-term keys).
    for path in made.files():
        if path != made.credentials_file:
            data = path.read_text(errors="replace")
            for secret in LONG_TERM_SECRETS:
                COUNTS["canary checks"] += 1
                assert secret not in data, path


def reason_of(world: CliWorld) -> str:
    return BACKENDS[world.env["RESILIENCE_BACKEND_NAME"]][1]


def no_secret_on(result: subprocess.CompletedProcess[str]) -> None:
    for secret in LONG_TERM_SECRETS:
        COUNTS["canary checks"] += 1
        assert secret not in result.stderr


def test_add_user_fails_cleanly_and_writes_nothing(world: CliWorld) -> None:
    before = world.config_file.read_text()
    result = world.stsdesk("add-user", "bob2", "--access-key-id", BOB_KEY, stdin=BOB_SECRET + "\n")
    line = assert_one_line_failure(result, "No usable keyring", reason_of(world), "Nothing was written.")
    assert "PYTHON_KEYRING_BACKEND" in line  # tells the user what to do
    no_secret_on(result)
    assert world.config_file.read_text() == before


def test_assume_still_works_from_the_credentials_file_with_a_warning(world: CliWorld) -> None:
    result = world.stsdesk("assume", "readonly", "--format", "json")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("stsdesk: No usable keyring")
    assert reason_of(world) in warnings[0] and "kept in memory" in warnings[0]
    no_secret_on(result)
    index = (world.config_dir / "sessions.json").read_text()
    assert '"memory_only": true' in index  # the session secret went nowhere near the disk


@pytest.mark.parametrize("command", ["import-credentials", "credential-process"])
def test_commands_that_need_a_persistent_keyring_refuse(world: CliWorld, command: str) -> None:
    if world.env["RESILIENCE_BACKEND_NAME"] not in ("locked", "raises-on-set"):
        pytest.skip("covered by the locked and raises-on-set backends (keeps the file fast)")
    keys = world.credentials_file.read_text()
    if command == "import-credentials":
        result = world.stsdesk("import-credentials")
        line = assert_one_line_failure(result, "No usable keyring")
        assert "Refusing to remove keys" in line or "Nothing was removed from" in line
        assert world.credentials_file.read_text() == keys  # nothing removed: the keys would be lost
    else:
        # The keys "in the keyring" only (as after add-user), which cannot be read.
        world.credentials_file.write_text("")
        config = world.config_file.read_text()
        key_line = f"[profile bob]\nstsdesk_access_key_id = {BOB_KEY}\n"
        world.config_file.write_text(config.replace("[profile bob]\n", key_line))
        result = world.stsdesk("credential-process", "readonly")
        line = assert_one_line_failure(result, "no secret access key for profile 'bob'", "stsdesk add-user bob")
        if world.env["RESILIENCE_BACKEND_NAME"] == "locked":  # a failed read says why (a write-only
            assert "No usable keyring (KeyringLocked" in line  # failure cannot be seen by a reader)
    no_secret_on(result)
