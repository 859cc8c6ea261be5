"""Finding 6e: ``stsdesk add-user`` validates every argument before the secret reaches the keyring, and takes it
out again when the config cannot be written, so a refused command leaves no orphan keyring item."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.cli import Environment, main

SECRET = "orphan/Secret/Key/0000000000000000000001"


def _add_user(*extra: str) -> tuple[int, str]:
    err = io.StringIO()
    env = Environment(stdin=io.StringIO(SECRET + "\n"), stdout=io.StringIO(), stderr=err, stdin_is_tty=False,
                      tty_available=lambda: False)
    status = main(["add-user", "carol", "--access-key-id", "AKIAORPHANTEST000001", *extra], env)
    return status, err.getvalue()


@pytest.mark.parametrize("region", ["eu-west-1\n[profile evil]", "eu-west-1\u2028x", "eu-west-1\x0bx", "eu west 1"])
def test_bad_region_is_refused_before_the_keyring_is_touched(memory_keyring: MemoryKeyring, region: str) -> None:
    status, err = _add_user("--region", region)
    assert status != 0
    assert memory_keyring.items == {}, "the secret was stored for a profile that was never written"
    assert err.count("\n") == 1 and SECRET not in err
    assert not Path(os.environ["AWS_CONFIG_FILE"]).exists()


def test_a_failed_config_write_takes_the_secret_out_again(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsdesk.core.configfile import ConfigFile
    from stsdesk.core.errors import ConfigError

    def failing_save(self: ConfigFile) -> None:
        raise ConfigError(f"could not write {self.path} (No space left on device); the file is unchanged")

    monkeypatch.setattr(ConfigFile, "save", failing_save)
    status, err = _add_user("--region", "eu-west-1")
    assert status == 1 and "No space left" in err
    assert memory_keyring.items == {}


def test_good_arguments_still_store_the_secret(memory_keyring: MemoryKeyring) -> None:
    status, err = _add_user("--region", "eu-west-1")
    assert status == 0, err
    assert list(memory_keyring.items.values()) == [SECRET]
