"""The sign-in token cache: botocore's and the AWS CLI's format, names, modes; damaged files; the setting."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.tokens import _sso_json_dumps  # the oracle: what botocore writes
from botocore.utils import JSONFileCache, SSOTokenLoader

from stsdesk.core.sso.client import SsoClients
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.errors import SsoConfigError, TokenCacheCorrupt
from stsdesk.core.sso.settings import token_storage
from stsdesk.core.sso.token_cache import (
    FileTokenStore,
    KeyringTokenStore,
    dumps,
    format_time,
    parse_time,
    registration_key,
    token_key,
)
from stsdesk.core.sso.tokens import SsoTokens

TOKEN = {
    "startUrl": "https://d-9067e0e0e0.awsapps.com/start",
    "region": "us-east-1",
    "accessToken": "aoa-access",
    "expiresAt": datetime(2026, 12, 4, 14, 0, 5, 123456, tzinfo=UTC),
    "clientId": "cid",
    "clientSecret": "csecret",
    "registrationExpiresAt": datetime(2027, 3, 4, 13, 0, 0, tzinfo=UTC),
    "refreshToken": "aor-refresh",
}


def test_serialisation_is_byte_for_byte_botocores() -> None:
    assert dumps(TOKEN) == _sso_json_dumps(TOKEN)
    assert '"expiresAt": "2026-12-04T14:00:05Z"' in dumps(TOKEN)  # whole seconds, Z: Go SDKs parse nothing else


def test_written_file_is_what_botocores_json_file_cache_writes(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    FileTokenStore(ours).save("k", TOKEN)
    JSONFileCache(str(theirs), dumps_func=_sso_json_dumps)["k"] = TOKEN
    assert (ours / "k.json").read_bytes() == (theirs / "k.json").read_bytes()


def test_file_names_match_botocore_token_loader_and_cli_registration_key(tmp_path: Path) -> None:
    cache = JSONFileCache(str(tmp_path), dumps_func=_sso_json_dumps)
    SSOTokenLoader(cache).save_token("https://x.awsapps.com/start", {"accessToken": "a"}, session_name="corp")
    assert (tmp_path / f"{token_key('corp')}.json").is_file()
    SSOTokenLoader(cache).save_token("https://x.awsapps.com/start/", {"accessToken": "a"})  # legacy: exact URL
    assert (tmp_path / f"{token_key('https://x.awsapps.com/start/')}.json").is_file()
    # The AWS CLI v2's BaseSSOTokenFetcher._registration_cache_key, spelled out.
    args = {"tool": "botocore", "startUrl": "u", "region": "r", "scopes": ["s"], "session_name": "n"}
    expected = hashlib.sha1(json.dumps(args, sort_keys=True).encode()).hexdigest()
    assert registration_key("u", "r", ["s"], "n") == expected


def test_modes_atomic_replace_and_no_temp_left(tmp_path: Path) -> None:
    directory = tmp_path / "sso" / "cache"
    directory.parent.mkdir()
    directory.mkdir(mode=0o755)
    store = FileTokenStore(directory)
    store.save("k", TOKEN)
    inode = (directory / "k.json").stat().st_ino
    store.save("k", {**TOKEN, "accessToken": "second"})
    assert (directory / "k.json").stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE((directory / "k.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == ["k.json"]
    assert json.loads((directory / "k.json").read_text())["accessToken"] == "second"


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_damaged_file_is_one_line_without_content(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "k.json").write_bytes(content)
    with pytest.raises(TokenCacheCorrupt) as caught:
        FileTokenStore(tmp_path).load("k")
    message = str(caught.value)
    assert "\n" not in message and "k.json" in message


def test_token_without_access_token_is_reported_with_the_login_command(tmp_path: Path) -> None:
    session = SsoSession("corp", "https://d-1.awsapps.com/start", "us-east-1")
    store = FileTokenStore(tmp_path)
    store.save(token_key("corp"), {"startUrl": session.start_url, "expiresAt": "2030-01-01T00:00:00Z"})
    tokens = SsoTokens(store, SsoClients(), tmp_path / "lock")
    state = tokens.state(session)
    assert not state.signed_in and state.problem is not None
    assert "stsdesk sso login corp" in state.problem


def test_times_parse_every_form_tools_write() -> None:
    expected = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for text in ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05UTC".replace("UTC", "+00:00"), "2026-01-02T03:04:05"):
        assert parse_time(text) == expected
    assert parse_time("2026-01-02T04:04:05+01:00") == expected
    assert parse_time("2026-01-02T03:04:05UTC") == expected  # botocore's JSONFileCache default format
    assert parse_time("2026-01-02T03:04:05.250Z") == expected + timedelta(milliseconds=250)
    assert format_time(expected + timedelta(microseconds=999)) == "2026-01-02T03:04:05Z"
    with pytest.raises(ValueError):
        parse_time("tomorrow")


class _MemorySecrets:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def test_keyring_store_keeps_tokens_out_of_files(tmp_path: Path) -> None:
    secrets = _MemorySecrets()
    store = KeyringTokenStore(secrets)
    store.save("k", TOKEN)
    assert store.load("k") == json.loads(_sso_json_dumps(TOKEN))
    assert list(secrets.values) == ["sso-cache:k"]
    assert store.delete("k") and store.load("k") is None and not store.delete("k")


def test_token_storage_setting(tmp_path: Path) -> None:
    assert token_storage(tmp_path, {}) == "file"
    (tmp_path / "stsdesk-gui.ini").write_text("[General]\nsso_token_storage=keyring\n")
    assert token_storage(tmp_path, {}) == "keyring"
    assert token_storage(tmp_path, {"STSDESK_SSO_TOKEN_STORAGE": "file"}) == "file"
    with pytest.raises(SsoConfigError, match="use 'file'"):
        token_storage(tmp_path, {"STSDESK_SSO_TOKEN_STORAGE": "plaintext"})


def test_file_store_cannot_write_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(TokenCacheCorrupt, match="nothing was changed"):
            FileTokenStore(tmp_path).save("k", TOKEN)
    finally:
        tmp_path.chmod(0o700)
    assert list(tmp_path.iterdir()) == []
