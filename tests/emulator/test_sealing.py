"""Sealing of session tokens and authorization messages."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from stsdesk.emulator.caller import Session
from stsdesk.emulator.sealing import (
    _ZDICT,
    COMPRESS_FROM_BYTES,
    KEY_FILE_NAME,
    MAX_TOKEN_CHARS,
    Sealer,
    SealError,
    _deflate,
    _inflate,
    encode_json,
)

SESSION = {
    "kind": "assumed-role",
    "access_key_id": "ASIAY34FZKBOKMUTVV7A",
    "secret": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    "arn": "arn:aws:sts::111111111111:assumed-role/Developer/ana",
    "expires": 1795710527,
    "mfa_age_start": 1795706900,
    "source_identity": None,
    "tags": {"team": "blue", "ünïcode": "✓"},
}


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(bytes(range(32)))


def test_round_trip(sealer: Sealer) -> None:
    token = sealer.seal("session", SESSION)
    assert sealer.unseal("session", token) == SESSION


def test_token_is_unpadded_urlsafe_base64_of_plausible_size(sealer: Sealer) -> None:
    token = sealer.seal("session", SESSION)
    assert "=" not in token and "+" not in token and "/" not in token
    assert 100 < len(token) < 1000
    assert sealer.seal("session", SESSION) != token  # fresh nonce every time


def test_large_repetitive_payload_is_compressed(sealer: Sealer) -> None:
    document = {"statements": [{"effect": "Allow", "action": "sts:AssumeRole", "resource": "*"}] * 100}
    token = sealer.seal("authorization-message", document)
    assert len(token) < len(str(document)) // 4
    assert sealer.unseal("authorization-message", token) == document


@pytest.mark.parametrize("size", [10, 300, 600, 3000, 40000])
def test_small_window_compresses_as_well_as_the_default(size: int) -> None:
    body = json.dumps({"policy": [f"arn:aws:s3:::bucket-{i % 37}/key{i}" for i in range(size // 25)]}).encode()
    small = _deflate(body)
    assert zlib.decompress(small) == body
    assert len(small) <= len(zlib.compress(body, 9))


def test_tokens_compressed_with_the_default_window_still_open(sealer: Sealer) -> None:
    # Tokens persisted (--state-dir) by an older emulator used zlib.compress(body, 9).
    document = {"statements": [{"effect": "Allow", "action": "sts:AssumeRole"}] * 20}
    body = json.dumps(document, separators=(",", ":")).encode()
    plaintext = b"\x01" + zlib.compress(body, 9)
    nonce = bytes(12)
    sealed = AESGCM(bytes(range(32))).encrypt(nonce, plaintext, b"stsdesk-seal\x00\x01session")
    token = base64.urlsafe_b64encode(b"\x01" + nonce + sealed).rstrip(b"=").decode()
    assert sealer.unseal("session", token) == document


def _open_plaintext(token: str) -> bytes:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return AESGCM(bytes(range(32))).decrypt(raw[1:13], raw[13:], b"stsdesk-seal\x00\x01session")


def _session(**changes: Any) -> Session:
    fields: dict[str, Any] = {
        "kind": "assumed-role",
        "arn": "arn:aws:sts::222222222222:assumed-role/ReadOnly/bench",
        "account": "222222222222",
        "user_id": "AROAQ2YXOS3SC7BGF4HJK:bench",
        "base_arn": "arn:aws:iam::222222222222:role/ReadOnly",
        "access_key_id": "ASIAY34FZKBOKMUTVV7A",
        "secret_access_key": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "expiration": 1795710527,
        "issued_by": "AssumeRole",
    }
    fields.update(changes)
    return Session(**fields)


def test_small_session_payloads_are_sealed_uncompressed(sealer: Sealer) -> None:
    session = _session()
    body = json.dumps(session.to_payload(), separators=(",", ":")).encode()
    assert len(body) < COMPRESS_FROM_BYTES
    token = sealer.seal("session", session.to_payload())
    assert _open_plaintext(token) == b"\x00" + body
    assert 400 < len(token) < 1000  # real STS session tokens run from a few hundred characters to over 1000
    assert Session.from_payload(sealer.unseal("session", token)) == session


def test_large_session_payloads_are_compressed_with_the_preset_dictionary(sealer: Sealer) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i}/*"} for i in range(12)
    ]})
    session = _session(session_policy=policy, tags=(("team", "blue"), ("cost-center", "1234")),
                       transitive_tag_keys=("team",))
    body = json.dumps(session.to_payload(), separators=(",", ":"), ensure_ascii=False).encode()
    assert len(body) >= COMPRESS_FROM_BYTES
    token = sealer.seal("session", session.to_payload())
    plaintext = _open_plaintext(token)
    assert plaintext[0] == 2
    assert _inflate(plaintext[1:], _ZDICT) == body
    assert len(plaintext) - 1 < len(_deflate(body)) * 0.9  # the dictionary earns its keep
    assert Session.from_payload(sealer.unseal("session", token)) == session


def test_plain_zlib_and_plain_json_tokens_still_open(sealer: Sealer) -> None:
    # Tokens sealed before the preset dictionary (flag 1, small window) or too small to compress (flag 0).
    document = {"statements": [{"effect": "Allow", "action": "sts:AssumeRole"}] * 20}
    body = json.dumps(document, separators=(",", ":")).encode()
    for plaintext in (b"\x01" + _deflate(body), b"\x00" + body):
        nonce = os.urandom(12)
        sealed = AESGCM(bytes(range(32))).encrypt(nonce, plaintext, b"stsdesk-seal\x00\x01session")
        token = base64.urlsafe_b64encode(b"\x01" + nonce + sealed).rstrip(b"=").decode()
        assert sealer.unseal("session", token) == document


def test_every_tampered_character_is_rejected(sealer: Sealer) -> None:
    token = sealer.seal("session", {"a": 1})
    for index, char in enumerate(token):
        replacement = "A" if char != "A" else "B"
        with pytest.raises(SealError):
            sealer.unseal("session", token[:index] + replacement + token[index + 1 :])


def test_every_flipped_byte_is_rejected(sealer: Sealer) -> None:
    raw = bytearray(base64.urlsafe_b64decode(sealer.seal("session", SESSION) + "=="))
    for index in range(len(raw)):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        with pytest.raises(SealError):
            sealer.unseal("session", base64.urlsafe_b64encode(flipped).rstrip(b"=").decode())


def test_truncated_and_extended_tokens_are_rejected(sealer: Sealer) -> None:
    token = sealer.seal("session", SESSION)
    for bad in (token[:-1], token[:-4], token[:20], token + "A", token + "AAAA"):
        with pytest.raises(SealError):
            sealer.unseal("session", bad)


def test_wrong_purpose_is_rejected(sealer: Sealer) -> None:
    token = sealer.seal("session", SESSION)
    with pytest.raises(SealError):
        sealer.unseal("authorization-message", token)
    with pytest.raises(SealError):
        sealer.unseal("", token)


def test_wrong_key_is_rejected(sealer: Sealer) -> None:
    token = sealer.seal("session", SESSION)
    with pytest.raises(SealError):
        Sealer(bytes(32)).unseal("session", token)


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "A",
        "AB",
        "not base64!",
        "====",
        "AAAA" * 4,
        "é" * 40,
        "A" * (MAX_TOKEN_CHARS + 1),
        base64.urlsafe_b64encode(os.urandom(200)).decode(),  # padded, and the wrong bytes
        base64.urlsafe_b64encode(bytes([1]) + os.urandom(200)).rstrip(b"=").decode(),
    ],
)
def test_junk_input_raises_seal_error_only(sealer: Sealer, junk: str) -> None:
    with pytest.raises(SealError):
        sealer.unseal("session", junk)


def test_non_string_input_raises_seal_error(sealer: Sealer) -> None:
    not_a_string: Any = b"bytes"
    with pytest.raises(SealError):
        sealer.unseal("session", not_a_string)


def test_token_holding_a_non_object_is_rejected(sealer: Sealer) -> None:
    # A list is valid JSON but not a document; seal() only takes mappings, so forge one through the types.
    forged: Any = ["a", "list"]
    token = sealer.seal("session", forged)
    with pytest.raises(SealError, match="JSON object"):
        sealer.unseal("session", token)


def test_unserialisable_payload_is_refused_at_seal_time(sealer: Sealer) -> None:
    with pytest.raises(TypeError):
        sealer.seal("session", {"when": object()})
    with pytest.raises(ValueError):
        sealer.seal("session", {"x": float("nan")})


def test_key_length_is_checked() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(b"short")


def test_key_file_is_created_persisted_and_reused(tmp_path: Path) -> None:
    state = tmp_path / "state" / "nested"
    first = Sealer.load_or_create(state)
    key_file = state / KEY_FILE_NAME
    assert key_file.stat().st_size == 32
    assert [p.name for p in state.iterdir()] == [KEY_FILE_NAME]  # no temporary file left behind
    key = key_file.read_bytes()
    token = first.seal("session", SESSION)
    assert Sealer.load_or_create(state).unseal("session", token) == SESSION
    assert key_file.read_bytes() == key


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_key_file_mode_is_0600(tmp_path: Path) -> None:
    Sealer.load_or_create(tmp_path)
    assert stat.S_IMODE((tmp_path / KEY_FILE_NAME).stat().st_mode) == 0o600


def test_existing_key_file_is_not_replaced(tmp_path: Path) -> None:
    key = bytes(range(100, 132))
    (tmp_path / KEY_FILE_NAME).write_bytes(key)
    (tmp_path / KEY_FILE_NAME).chmod(0o600)
    token = Sealer(key).seal("session", {"a": 1})
    assert Sealer.load_or_create(tmp_path).unseal("session", token) == {"a": 1}
    assert (tmp_path / KEY_FILE_NAME).read_bytes() == key


def test_corrupt_key_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_bytes(b"too short")
    (tmp_path / KEY_FILE_NAME).chmod(0o600)
    with pytest.raises(SealError, match="32-byte"):
        Sealer.load_or_create(tmp_path)


def test_in_memory_sealers_have_different_keys() -> None:
    token = Sealer.load_or_create(None).seal("session", SESSION)
    with pytest.raises(SealError):
        Sealer.load_or_create(None).unseal("session", token)


_TEXT = st.text(max_size=40) | st.sampled_from(["arn:aws:iam::1:role/R", 'q"uote', "back\\slash", "\x7f", "é✓", ""])


@given(
    kind=st.sampled_from(["assumed-role", "session", "root", "federated-user"]),
    arn=_TEXT,
    user_id=_TEXT,
    secret=_TEXT,
    expiration=st.integers(min_value=-(2**63), max_value=2**63),
    policy=st.none() | _TEXT,
    mfa=st.booleans(),
    mfa_time=st.none() | st.integers(min_value=0, max_value=2**40),
    source_identity=st.none() | _TEXT,
    chained=st.booleans(),
    tags=st.lists(st.tuples(_TEXT, _TEXT), max_size=2).map(tuple),
)
@settings(max_examples=300, deadline=None)
def test_session_json_is_what_the_encoder_writes_for_its_payload(
    kind: str, arn: str, user_id: str, secret: str, expiration: int, policy: str | None, mfa: bool,
    mfa_time: int | None, source_identity: str | None, chained: bool, tags: tuple[tuple[str, str], ...],
) -> None:
    session = _session(
        kind=kind, arn=arn, user_id=user_id, secret_access_key=secret, expiration=expiration,
        session_policy=policy, mfa_authenticated=mfa, mfa_auth_time=mfa_time, source_identity=source_identity,
        role_chained=chained, tags=tags, transitive_tag_keys=tuple(key for key, _ in tags[:1]),
    )
    assert session.to_json() == encode_json(session.to_payload())
    assert json.loads(session.to_json()) == session.to_payload()


def test_sessions_sealed_from_their_json_open_to_the_same_session(sealer: Sealer) -> None:
    session = _session(session_policy='{"Version":"2012-10-17"}', source_identity="me", mfa_auth_time=5)
    token = sealer.seal_json("session", session.to_json())
    assert Session.from_payload(sealer.unseal("session", token)) == session
    assert _open_plaintext(token) == b"\x00" + json.dumps(session.to_payload(), separators=(",", ":")).encode()
