"""Raw-socket junk against the emulator: garbage request lines and headers, bodies without or with a wrong
Content-Length, oversized bodies, stalled clients. The server must answer (or close) without a 5xx, must not
hang, and a stalled client must not hold up anyone else."""

from __future__ import annotations

import socket

import pytest
from emu_client import caller_identity_works, error_code, raw_exchange, statuses
from fuzz_counts import count, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.emulator import server as server_module
from stsdesk.emulator.server import EmulatorServer

AREA = "emulator raw"
CRLF = b"\r\n"

methods = st.one_of(st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"", b"G\x00T", b"\xff\xfe"]),
                    st.binary(max_size=12))
targets = st.one_of(
    st.sampled_from([b"/", b"/federation", b"/console", b"/_stsdesk/advance", b"*", b"", b"http://x/",
                     b"/\x01\x02", b"/\xff\xfe", b"/%ff", b"/?Action=\x08", b"/" + b"a" * 70_000]),
    st.binary(max_size=100).map(lambda b: b"/" + b.replace(b" ", b"").replace(b"\r", b"").replace(b"\n", b"")),
)
versions = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/9.9", b"HTTP/1.1x",
                            b"HTTP/", b"", b"FOO/1.1", b"HTTP/1.1 extra"])
header_lines = st.lists(
    st.one_of(
        st.sampled_from([b"Content-Length: 5", b"Content-Length: -1", b"Content-Length: abc", b"Content-Length: ",
                         b"Content-Length: 99999999999999999999", b"Content-Length: 1, 2",
                         b"Transfer-Encoding: chunked", b"Host: 127.0.0.1", b"Connection: close",
                         b"Content-Type: application/x-www-form-urlencoded", b"X: \xff\xfe", b" folded",
                         b"no-colon-line", b":", b"Authorization: AWS4-HMAC-SHA256 Credential=\x00"]),
        st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    ),
    max_size=6,
)


def assert_clean(raw: bytes) -> None:
    """A reply stream is either nothing (connection closed) or HTTP responses below 500; XML errors parse."""
    if not raw:
        return
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    codes = statuses(raw)
    assert codes and all(code < 500 for code in codes), raw[:300]
    head, _, body = raw.partition(b"\r\n\r\n")
    # (after a HEAD answer, which has no body, the next bytes are the next response)
    if codes[0] >= 400 and b"text/xml" in head and body and not body.startswith(b"HTTP/"):
        lengths = [line.split(b":")[1] for line in head.split(CRLF) if line.lower().startswith(b"content-length")]
        length = int(lengths[0])
        error_code(body[:length])


@pytest.mark.fuzz
@fuzz_settings()
@given(method=methods, target=targets, version=versions, headers=header_lines, body=st.binary(max_size=300))
def test_garbage_request_lines_and_headers(
    demo_emulator: EmulatorServer, method: bytes, target: bytes, version: bytes, headers: list[bytes], body: bytes
) -> None:
    count(AREA)
    request_line = b" ".join(part for part in (method, target, version) if part)
    payload = CRLF.join([request_line, *headers]) + CRLF + CRLF + body
    assert_clean(raw_exchange(demo_emulator, payload))


@pytest.mark.fuzz
@fuzz_settings(scale=0.5)
@given(blob=st.binary(max_size=3000))
def test_random_bytes(demo_emulator: EmulatorServer, blob: bytes) -> None:
    count(AREA)
    assert_clean(raw_exchange(demo_emulator, blob))


def test_body_without_content_length_is_not_read_as_the_request(demo_emulator: EmulatorServer) -> None:
    payload = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
               b"Action=GetCallerIdentity&Version=2011-06-15")
    raw = raw_exchange(demo_emulator, payload)
    assert_clean(raw)
    # Without Content-Length the body is empty: no Action; the leftover bytes are then a bad request line.
    codes = statuses(raw)
    assert codes[0] == 400 and b"MissingAction" in raw
    assert all(code == 400 for code in codes)


def test_body_over_one_mebibyte_is_refused_with_413(demo_emulator: EmulatorServer) -> None:
    size = server_module.MAX_BODY_BYTES + 1
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    raw = raw_exchange(demo_emulator, head + b"A" * 65536, close_write=False)
    assert statuses(raw) == [413]
    assert b"RequestEntityTooLarge" in raw
    assert_clean(raw)


def test_short_body_and_stalled_headers_do_not_block_other_clients(
    demo_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server's per-connection read timeout is 15 s; shorten it so the stalled clients' answers arrive
    # during the test. It is read when a connection is set up, so this applies to the connections below.
    monkeypatch.setattr(server_module._RequestHandler, "timeout", 1.5)
    stalled = []
    try:
        short_body = socket.create_connection((demo_emulator.host, demo_emulator.port), timeout=10)
        short_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nAction=Get")
        stalled.append(short_body)
        half_headers = socket.create_connection((demo_emulator.host, demo_emulator.port), timeout=10)
        half_headers.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        stalled.append(half_headers)
        # Meanwhile another client is served normally.
        assert caller_identity_works(demo_emulator)
        # The short-body client gets a clean timeout answer, then the connection closes.
        chunks = []
        while chunk := short_body.recv(65536):
            chunks.append(chunk)
        reply = b"".join(chunks)
        assert statuses(reply) == [400] and b"<Code>RequestTimeout</Code>" in reply, reply[:300]
        assert_clean(reply)
        # The client stalled inside its headers is simply closed (nothing to answer yet) or told it timed out.
        rest = b"".join(iter(lambda: half_headers.recv(65536), b""))
        assert_clean(rest)
    finally:
        for sock in stalled:
            sock.close()
    assert caller_identity_works(demo_emulator)


def test_server_survives_the_junk(demo_emulator: EmulatorServer) -> None:
    assert caller_identity_works(demo_emulator)
