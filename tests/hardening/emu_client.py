"""Talking to a running emulator with full control over the bytes: http.client, raw sockets, SigV4 by botocore."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stsdesk.emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
DEMO_SCENARIO = REPO / "resources" / "demo.toml"
# alice's long-term key in resources/demo.toml (a demo value, not a real secret)
ALICE_KEY = ("AKIADEMOALICE0000001", "demo/alice/wJalrXUtnFEMI/K7MDENGbPxRfiCYEX")
FORM = "application/x-www-form-urlencoded; charset=utf-8"
TIMEOUT = 10.0  # a reply slower than this counts as a hang


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def send(
    server: EmulatorServer,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection; raises TimeoutError when the server does not answer in time."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
    try:
        conn.request(method, target, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def sign(
    server: EmulatorServer,
    params: Sequence[tuple[str, str]],
    *,
    key: tuple[str, str] = ALICE_KEY,
    token: str | None = None,
    region: str = "us-east-1",
    service: str = "sts",
    method: str = "POST",
    query: Sequence[tuple[str, str]] = (),
) -> tuple[str, bytes | None, dict[str, str]]:
    """(target, body, headers) of a request SigV4-signed by botocore at the emulator's (time-travelling)
    clock: params go in the form body for POST and in the query string for GET."""
    url = server.endpoint + "/"
    all_query = list(query) + (list(params) if method == "GET" else [])
    if all_query:
        url += "?" + urlencode(all_query, quote_via=quote, safe="-_.~")
    body = urlencode(list(params)).encode() if method == "POST" else None
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": FORM} if body else {})
    now = server.state.clock.wall().replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda: now):
        botocore.auth.SigV4Auth(Credentials(key[0], key[1], token), service, region).add_auth(request)
    target = url[len(server.endpoint) :]
    headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
    headers["Host"] = f"{server.host}:{server.port}"
    return target, body, headers


def signed(server: EmulatorServer, params: Sequence[tuple[str, str]], **kwargs: object) -> Reply:
    """Send a botocore-signed request (see ``sign``)."""
    method = str(kwargs.get("method", "POST"))
    target, body, headers = sign(server, params, **kwargs)  # type: ignore[arg-type]
    return send(server, method, target, body, headers)


def caller_identity_works(server: EmulatorServer) -> bool:
    """Whether a valid, signed GetCallerIdentity from alice answers 200 with her ARN."""
    reply = signed(server, [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")])
    return reply.status == 200 and b"arn:aws:iam::111111111111:user/alice" in reply.body


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def error_code(body: bytes) -> str:
    """The Error/Code of an STS or EC2 error document; AssertionError when the body is not well-formed XML
    or holds no Error/Code element."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise AssertionError(f"error body is not well-formed XML ({exc}): {body[:300]!r}") from None
    for element in root.iter():
        if local(element.tag) == "Error":
            for child in element:
                if local(child.tag) == "Code" and (child.text or "").strip():
                    return child.text or ""
    raise AssertionError(f"no Error/Code element in {body[:300]!r}")


def raw_exchange(server: EmulatorServer, payload: bytes, timeout: float = TIMEOUT, close_write: bool = True) -> bytes:
    """Send raw bytes (then half-close unless told not to) and read until the server closes; TimeoutError
    when it neither answers nor closes within ``timeout``."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    """Status codes of every HTTP/1.x response in a raw byte stream (pipelined replies included)."""
    found = []
    for line in raw.split(b"\r\n"):
        if line.startswith(b"HTTP/1.") and len(line.split(b" ")) >= 2:
            found.append(int(line.split(b" ")[1]))
    return found
