"""The fast header reader in wire.py agrees with http.client.parse_headers, and hands back what it cannot take."""

from __future__ import annotations

import base64
import http.client
import io
import uuid
from datetime import UTC, datetime, timedelta, timezone
from string import ascii_uppercase
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.scenario import key_id_account, random_access_key, random_key_id
from stsdesk.emulator.wire import ReplayReader, Request, first_values, parse_buffered_head, read_simple_headers
from stsdesk.emulator.xmlout import iso8601, new_request_id
from stsdesk.emulator.xmlout import text as xml_text

SIMPLE_BLOCKS = [
    b"Host: 127.0.0.1:8080\r\nContent-Length: 43\r\nX-Amz-Date: 20260101T000000Z\r\n\r\n",
    b"A:b\nEmpty:\r\nSpaces:    lead and trail   \r\nA: second\r\n\r\n",
    b"\r\n",
    b"From: someone\r\nX-Odd!#$%&'*+-.^_`|~: v:a:l;u=e\r\n\n",
]
# Blocks the fast path must decline: folding, tabs, bare CR, no colon, non-ASCII, control bytes, EOF.
FALLBACK_BLOCKS = [
    b"Host: a\r\n folded\r\n\r\n",
    b"Host:\ttabbed\r\n\r\n",
    b"Host: a\rb\r\n\r\n",
    b"no colon here\r\nHost: a\r\n\r\n",
    b"Host: caf\xe9\r\n\r\n",
    b"Host: a\x00b\r\n\r\n",
    b": empty name\r\n\r\n",
    b"From x: y\r\n\r\n",
    b"Host: a\r\n",
]


def _stdlib(block: bytes) -> list[tuple[str, str]]:
    return list(http.client.parse_headers(io.BytesIO(block)).items())


@pytest.mark.parametrize("block", SIMPLE_BLOCKS)
def test_simple_blocks_match_the_stdlib_and_stop_at_the_blank_line(block: bytes) -> None:
    stream = io.BytesIO(block + b"BODY")
    headers, consumed = read_simple_headers(stream)
    assert headers is not None and consumed == []
    assert headers == _stdlib(block)
    assert stream.read() == b"BODY"


@pytest.mark.parametrize("block", FALLBACK_BLOCKS)
def test_other_blocks_are_replayed_to_the_stdlib_unchanged(block: bytes) -> None:
    stream = io.BytesIO(block + b"BODY")
    headers, consumed = read_simple_headers(stream)
    assert headers is None and consumed
    replay = ReplayReader(consumed, stream)
    parsed = http.client.parse_headers(replay)
    assert list(parsed.items()) == _stdlib(block)
    assert replay.exhausted


def test_too_many_headers_falls_back_so_the_stdlib_rejects_them() -> None:
    block = b"".join(b"H%d: v\r\n" % i for i in range(100)) + b"\r\n"  # 101 lines: the stdlib's limit is 100
    stream = io.BytesIO(block)
    headers, consumed = read_simple_headers(stream)
    assert headers is None
    with pytest.raises(http.client.HTTPException, match="more than 100 headers"):
        http.client.parse_headers(ReplayReader(consumed, stream))


def test_ninety_nine_headers_are_fine() -> None:
    block = b"".join(b"H%d: v\r\n" % i for i in range(99)) + b"\r\n"
    headers, _ = read_simple_headers(io.BytesIO(block))
    assert headers is not None and len(headers) == 99


def test_an_overlong_line_falls_back_so_the_stdlib_rejects_it() -> None:
    stream = io.BytesIO(b"X: " + b"a" * 70000 + b"\r\n\r\n")
    headers, consumed = read_simple_headers(stream)
    assert headers is None
    with pytest.raises(http.client.LineTooLong):
        http.client.parse_headers(ReplayReader(consumed, stream))


def _head_the_ordinary_way(data: bytes) -> tuple[str, str, list[tuple[str, str]], int]:
    """Method, target, headers and head length as the server's line-by-line path reads them."""
    stream = io.BytesIO(data)
    words = stream.readline(65537).decode("iso-8859-1").rstrip("\r\n").split()
    headers = list(http.client.parse_headers(stream).items())
    return words[0], words[1], headers, stream.tell()


@pytest.mark.parametrize("block", [b for b in SIMPLE_BLOCKS if b"\r\n\n" not in b and b"b\nE" not in b])
def test_a_whole_plain_head_is_parsed_from_the_buffer_as_the_stdlib_parses_it(block: bytes) -> None:
    data = b"POST /p?q=1 HTTP/1.1\r\n" + block + b"BODY"
    head = parse_buffered_head(data)
    assert head is not None
    assert (head.method, head.target, head.headers, head.length) == _head_the_ordinary_way(data)
    assert head.first == first_values(head.headers)
    assert data[head.length :] == b"BODY"


@pytest.mark.parametrize(
    "data",
    [
        *(b"GET / HTTP/1.1\r\n" + block for block in FALLBACK_BLOCKS),
        b"GET / HTTP/1.1\r\nHost: a\r\n",  # not all there yet
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",  # bare LF
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET  / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1 x\r\n\r\n",
        b"G\x00T / HTTP/1.1\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(100)) + b"\r\n",
        b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n",
        b"",
    ],
)
def test_heads_the_buffer_path_declines_are_left_to_the_ordinary_path(data: bytes) -> None:
    assert parse_buffered_head(data) is None


def test_ninety_nine_headers_are_taken_from_the_buffer() -> None:
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(99)) + b"\r\n"
    head = parse_buffered_head(data)
    assert head is not None and len(head.headers) == 99


@given(st.lists(st.tuples(st.binary(min_size=1, max_size=12), st.binary(max_size=20)), max_size=8))
def test_any_head_the_buffer_path_takes_reads_the_same_the_ordinary_way(pairs: list[tuple[bytes, bytes]]) -> None:
    data = b"PUT /x HTTP/1.1\r\n" + b"".join(n + b":" + v + b"\r\n" for n, v in pairs) + b"\r\nrest"
    head = parse_buffered_head(data)
    if head is not None:
        assert (head.method, head.target, head.headers, head.length) == _head_the_ordinary_way(data)
        assert head.first == first_values(head.headers)


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


FORMS = [
    "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FR&RoleSessionName=a+b",
    "a=1&a=2&&b&c=&=d&e=%2B+%20",
    "x=caf%C3%A9&y=%E2%9C%93&x=ignored",
    "",
    "just-a-name",
    "long=" + "caf%C3%A9+%2B" * 60 + "&short=%41",  # past the decode cache's length limit
]


@pytest.mark.parametrize("source", FORMS)
def test_form_decodes_as_parse_qsl_keeping_first_values(source: str) -> None:
    expected: dict[str, str] = {}
    for key, value in parse_qsl(source, keep_blank_values=True, errors="strict"):
        expected.setdefault(key, value)
    assert Request("POST", "/", [], source.encode()).form() == expected
    assert Request("GET", "/?" + source, [], b"").form() == expected


def test_body_wins_over_query_and_bad_escapes_anywhere_are_refused() -> None:
    request = Request("POST", "/?a=q&b=q", [("Content-Type", "application/x-www-form-urlencoded")], b"a=body")
    assert request.form() == {"a": "body", "b": "q"}
    for body in (b"a=1&a=%FF", b"%C3=x"):
        with pytest.raises(EmulatorError) as caught:
            Request("POST", "/", [], body).form()
        assert caught.value.code == "MalformedQueryString"


def test_header_is_case_insensitive_and_takes_the_first_value() -> None:
    request = Request("POST", "/", [("X-Thing", "one"), ("x-thing", "two"), ("Host", "h")], b"")
    assert request.header("x-THING") == "one"
    assert request.header("host") == "h"
    assert request.header("missing") is None


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))),
        datetime(999, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 12, tzinfo=UTC),
    ],
)
def test_iso8601_says_what_strftime_says(moment: datetime) -> None:
    assert iso8601(moment) == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "value", ["arn:aws:iam::1:role/R", "a&b<c>d", "\x00bell\x07", "tab\tnl\ncr\r", "\ud800x\uffff", "", "é✓"]
)
def test_xml_text_replaces_forbidden_characters_and_escapes(value: str) -> None:
    expected = escape("".join("\ufffd" if _forbidden(c) else c for c in value))
    assert xml_text(value) == expected


def test_xml_text_judges_every_ascii_and_boundary_character_inside_plain_text() -> None:
    # The printable-ASCII shortcut and the pattern must agree for every character, wherever it sits.
    chars = [chr(c) for c in range(0x100)] + ["\u2028", "\ud800", "\udfff", "\ufffd", "\ufffe", "\uffff", "\U0001f600"]
    for char in chars:
        for value in (char, f"arn:aws:iam::1:role/{char}", f"{char}tail", "x" * 300 + char):
            expected = escape("".join("\ufffd" if _forbidden(c) else c for c in value))
            assert xml_text(value) == expected, repr(value)


def _forbidden(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 and char not in "\t\n\r") or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF)


def test_random_key_ids_use_the_base32_alphabet() -> None:
    pairs = [random_access_key("ASIA") for _ in range(200)]
    assert all(len(secret) == 40 and len(base64.b64decode(secret)) == 30 for _, secret in pairs)
    assert len({secret for _, secret in pairs}) == 200
    ids = {random_key_id("ASIA") for _ in range(300)} | {key_id for key_id, _ in pairs}
    assert len(ids) == 500
    assert all(len(i) == 20 and i.startswith("ASIA") and set(i[4:]) <= set(ascii_uppercase + "234567") for i in ids)
    assert set("".join(i[4:] for i in ids)) == set(ascii_uppercase + "234567")  # 8000 draws reach all 32


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_temporary_key_ids_encode_their_account(number: int) -> None:
    account = f"{number:012d}"
    key_id, secret = random_access_key("ASIA", account)
    assert len(key_id) == 20 and key_id.startswith("ASIA") and set(key_id[4:]) <= set(ascii_uppercase + "234567")
    assert key_id_account(key_id) == account and len(secret) == 40
    assert len({random_access_key("ASIA", account)[0] for _ in range(20)}) == 20  # 39 random bits each


def test_key_id_account_reads_aws_key_ids() -> None:
    # Published examples of real key ids with the account they belong to (Aidan Steele, Tal Be'ery).
    assert key_id_account("ASIAY34FZKBOKMUTVV7A") == "609629065308"
    assert random_access_key("ASIA", "609629065308")[0][:12] == "ASIAY34FZKBO"  # the same head as the real key
    assert key_id_account("AKIAIOSFODNN7EXAMPLE") is None  # old generation (bit 20 clear): no account in it
    assert key_id_account("ASIA0000000000000000") is None  # not base32
    assert key_id_account("ASIAY34FZKBOKMUTVV7") is None  # 19 characters


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_iso8601_from_the_digit_table_says_what_strftime_says(moment: datetime) -> None:
    assert iso8601(moment) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain_by_the_old_rule(head: bytes) -> bool:
    return not head.replace(b"\r\n", b"").translate(None, bytes(range(0x20, 0x7F)))


@pytest.mark.parametrize("byte", range(256))
def test_buffered_head_takes_exactly_the_plain_bytes(byte: int) -> None:
    # Every byte value in the request line, a header name, a value and at a line end; bare CR and LF too.
    char = bytes([byte])
    in_value = b"GET / HTTP/1.1\r\nX-Y: a" + char + b"b\r\nZ: 2\r\n\r\n"
    if _plain_by_the_old_rule(in_value[: in_value.find(b"\r\n\r\n")]):
        assert parse_buffered_head(in_value) is not None  # nothing plain is turned away either
    for data in (
        b"GET /a" + char + b"b HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-" + char + b"y: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Y: a" + char + b"b\r\nZ: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Y: ab" + char + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Y: a\r" + char + b"\n\r\n",
    ):
        head = data[: data.find(b"\r\n\r\n")]
        parsed = parse_buffered_head(data)
        if not _plain_by_the_old_rule(head):
            assert parsed is None, data
        elif parsed is not None:
            assert (parsed.method, parsed.target, parsed.headers) == _head_the_ordinary_way(data)[:3]
