"""The import diet of the cached credential-process / assume answer keeps the answers it replaced: the config
directory platformdirs would pick, hashlib's SHA-256, and a cache hit that loads none of the heavy modules."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import platformdirs
import pytest
from helpers import unmeasured_env

from stsdesk.core import paths
from stsdesk.core.cache_index import FastSession


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/someone"},
        {"HOME": "/home/someone/"},
        {"HOME": "/"},
        {"HOME": "/home/someone", "XDG_CONFIG_HOME": "/elsewhere/config"},
        {"HOME": "/home/someone", "XDG_CONFIG_HOME": ""},
        {"HOME": "/home/someone", "XDG_CONFIG_HOME": "relative/config"},  # not absolute: ignored by both
        {"HOME": "/home/someone", "XDG_CONFIG_HOME": "  "},
        {"HOME": "relative-home"},  # platformdirs asks the password database: the light rule steps aside
        {},
    ],
)
def test_default_config_dir_is_platformdirs_choice(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "XDG_CONFIG_HOME", "ANDROID_DATA", "ANDROID_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    expected = platformdirs.user_config_dir("stsdesk", appauthor=False)
    assert str(paths.default_config_dir()) == str(paths.Path(expected))


def test_light_rule_answers_the_plain_case_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    if sys.platform.startswith("linux"):
        assert paths._linux_config_home() == "/home/someone/.config"
    monkeypatch.setenv("HOME", "relative")
    assert paths._linux_config_home() is None


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 9])
def test_sha256_hex_is_hashlibs(data: bytes) -> None:
    assert paths.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_fast_session_repr_shows_no_secret() -> None:
    from datetime import UTC, datetime

    session = FastSession("ASIAX", "the-secret", "the-token", datetime(2030, 1, 1, tzinfo=UTC), "saml", None)
    assert "the-secret" not in repr(session) and "the-token" not in repr(session) and "ASIAX" in repr(session)


def test_fast_path_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, stsdesk.cli, stsdesk.cli.fast_assume, stsdesk.core.cache_index, stsdesk.core.fingerprint,"
        " stsdesk.core.paths, stsdesk.core.fast_secret, stsdesk.core.exports;"
        "print(sorted(m for m in ('platformdirs', 'hashlib', 'threading', 'tempfile', 'dataclasses', 'inspect',"
        " 'logging', 'argparse', 'asyncio', 'keyring', 'botocore', 'stsdesk.core.model', 'stsdesk.core.region',"
        " 'stsdesk.core.cache') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=unmeasured_env()
    )
    assert done.stdout.strip() == "[]"
