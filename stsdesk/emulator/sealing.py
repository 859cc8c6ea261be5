"""Authenticated encryption of small JSON documents: session tokens, encoded authorization messages.

A sealed token is urlsafe base64 (no padding) of ``version | nonce | AES-256-GCM(flag | body)``. The purpose
string and the version byte are the associated data, so a token sealed for one purpose never opens as
another. ``flag`` says whether ``body`` is plain JSON, zlib-compressed JSON, or zlib-compressed JSON primed
with ``_ZDICT``. ``seal`` writes documents under ``COMPRESS_FROM_BYTES`` of JSON plain (a session token of
about 530 characters: zlib's set-up cost more than all the rest of sealing, and real STS tokens are longer
still) and larger ones primed with ``_ZDICT``; all three open.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stsdesk.emulator.private_files import ensure_private_dir, read_or_create_key

KEY_FILE_NAME = "sealing.key"
KEY_BYTES = 32

_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_PLAIN = 0
_ZLIB = 1
_ZLIB_ZDICT = 2
_HEADER = bytes([_VERSION])
_PLAIN_FLAG = bytes([_PLAIN])
_ZDICT_FLAG = bytes([_ZLIB_ZDICT])
# A preset dictionary for zlib: the text a session payload (caller.Session.to_payload) always holds. With it
# a session compresses to about 60% of what plain zlib gets, and faster (less to search). Changing these
# bytes would make tokens sealed with them unreadable: a new dictionary needs a new flag.
_ZDICT = (
    b'{"v":1,"k":"assumed-role","arn":"arn:aws:sts::","acct":"","uid":"AROA","base":"arn:aws:iam::",'
    b'"akid":"ASIA","sk":"","exp":1,"act":"AssumeRole","sp":null,"mfa":false,"mfat":null,"si":null,'
    b'"chain":false}'
)
# Generous for session tokens and authorization messages (STS caps EncodedMessage at 10240); anything larger
# is rejected before any decoding work is done.
MAX_TOKEN_CHARS = 64 * 1024
# JSON shorter than this is sealed uncompressed. A session without tags or policy is ~370 bytes of JSON; zlib
# with the preset dictionary took it to ~130 bytes but was two thirds of the work of sealing it (callgrind).
COMPRESS_FROM_BYTES = 512
_MAX_PLAINTEXT_BYTES = 1024 * 1024
# json.dumps builds an encoder per call when given options; one is enough (encoders keep no state).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class SealError(Exception):
    """A token that is not genuine, was sealed for another purpose or with another key, or is malformed."""


class Sealer:
    """Seals and unseals JSON documents with one AES-256-GCM key."""

    def __init__(self, key: bytes) -> None:
        """Use ``key`` (exactly 32 bytes); raises ValueError for any other length."""
        if len(key) != KEY_BYTES:
            raise ValueError(f"a sealing key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, state_dir: Path | None) -> Sealer:
        """The sealer keyed by ``<state_dir>/sealing.key``, creating the key file (mode 0600) if missing.

        With ``state_dir`` None the key is random and lives in memory only, so tokens do not survive a
        restart. The directory must be private (see ``private_files``): a key planted by another user is
        never used. Raises StateDirError (an OSError) for a directory or key file that is not private,
        SealError if the key file does not hold a 32-byte key, OSError if it cannot be read or written.
        """
        if state_dir is None:
            return cls(secrets.token_bytes(KEY_BYTES))
        ensure_private_dir(state_dir)
        try:
            key = read_or_create_key(state_dir, KEY_FILE_NAME, KEY_BYTES)
        except ValueError as exc:
            raise SealError(str(exc)) from None
        return cls(key)

    def seal(self, purpose: str, payload: Mapping[str, Any]) -> str:
        """Encrypt and authenticate ``payload`` for ``purpose``; returns urlsafe base64 text without padding.

        Raises TypeError or ValueError if ``payload`` is not JSON-serialisable.
        """
        return self.seal_json(purpose, _ENCODER.encode(payload))

    def seal_json(self, purpose: str, document: str) -> str:
        """``seal`` for a JSON object already written out, as ``encode_json`` writes it."""
        body = document.encode("utf-8")
        plaintext = _PLAIN_FLAG + body
        if len(body) >= COMPRESS_FROM_BYTES:
            compressed = _deflate(body, _ZDICT)
            if len(compressed) < len(body):  # incompressible JSON (random values) may grow; keep the smaller
                plaintext = _ZDICT_FLAG + compressed
        header = _HEADER
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, _associated_data(header, purpose))
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def unseal(self, purpose: str, token: str) -> dict[str, Any]:
        """The document sealed in ``token`` for ``purpose``.

        Raises SealError for anything wrong: not a string, empty, too long, not canonical urlsafe base64,
        unknown version, tampered, sealed with another key or for another purpose, or not a JSON object.
        """
        raw = _decode(token)
        if len(raw) < 1 + _NONCE_BYTES + _TAG_BYTES + 1 or raw[0] != _VERSION:
            raise SealError("token is not a sealed document")
        header, nonce, sealed = raw[:1], raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        try:
            plaintext = self._aead.decrypt(nonce, sealed, _associated_data(header, purpose))
        except InvalidTag:
            raise SealError("token is not genuine") from None
        flag, body = plaintext[0], plaintext[1:]
        if flag == _ZLIB_ZDICT:
            body = _inflate(body, _ZDICT)
        elif flag == _ZLIB:
            body = _inflate(body)
        elif flag != _PLAIN:
            raise SealError("token uses an unknown encoding")
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise SealError("token does not hold JSON") from None
        if not isinstance(document, dict):
            raise SealError("token does not hold a JSON object")
        return document


def encode_json(document: object) -> str:
    """``document`` as ``seal`` writes it: compact separators, non-ASCII as is, no NaN. Raises TypeError or
    ValueError for what JSON cannot hold."""
    return _ENCODER.encode(document)


# Printable ASCII but the quote and the backslash maps to itself, every other byte to NUL.
_JSON_AS_IS = bytes(b if 0x20 <= b < 0x7F and b not in b'"\\' else 0 for b in range(256))


def json_string(value: str) -> str:
    """``encode_json(value)`` for one string: quoted as is when it holds nothing JSON escapes (printable ASCII
    without quote or backslash, the usual ARN, id or key), else through the encoder."""
    if value.isascii():
        if len(value) < 128:
            if value.isprintable() and '"' not in value and "\\" not in value:
                return f'"{value}"'
        elif b"\0" not in value.encode("ascii").translate(_JSON_AS_IS):  # as xmlout.text judges long values
            return f'"{value}"'
    return _ENCODER.encode(value)


def _associated_data(header: bytes, purpose: str) -> bytes:
    return b"stsdesk-seal\x00" + header + purpose.encode("utf-8")


def _decode(token: object) -> bytes:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise SealError("token is empty, too long or not text")
    if not _TOKEN_ALPHABET.issuperset(token):
        raise SealError("token is not urlsafe base64")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise SealError("token is not urlsafe base64") from None
    # Unused low bits in the last character would let several spellings decode to the same bytes; only the
    # one spelling seal() produces is accepted.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise SealError("token is not canonical urlsafe base64")
    return raw


def _deflate(body: bytes, zdict: bytes = b"") -> bytes:
    """zlib-compress ``body`` at level 9 with a window just big enough for it (and ``zdict``, the preset
    dictionary, when one is given: ``_inflate`` must then be given the same one).

    Why not ``zlib.compress``: for a few hundred bytes most of its time (about 50 us) is setting up the
    default 32 KiB window and 64 KiB hash tables. A window that spans the whole input finds every match the
    default one would, so tokens are the same size for a seventh of the time; the zlib header records the
    window size and ``zlib.decompressobj()`` reads any of them.
    """
    # zlib reaches back at most window - 262 bytes (MIN_LOOKAHEAD), hence the margin.
    window_bits = max(9, min(15, (len(zdict) + len(body) + 262).bit_length()))
    if zdict:
        deflater = zlib.compressobj(9, zlib.DEFLATED, window_bits, 4, zdict=zdict)
    else:
        deflater = zlib.compressobj(9, zlib.DEFLATED, window_bits, 4)
    return deflater.compress(body) + deflater.flush()


def _inflate(data: bytes, zdict: bytes = b"") -> bytes:
    inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    try:
        body = inflater.decompress(data, _MAX_PLAINTEXT_BYTES)
    except zlib.error:
        raise SealError("token holds corrupt compressed data") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise SealError("token holds oversized or truncated compressed data")
    return body
