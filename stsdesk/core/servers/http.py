"""A bounded HTTP/1.1 request reader and response writer for the local credential servers.

Written by hand on purpose: the servers answer three fixed routes for SDK clients, and what matters is what
they refuse. Every request is bounded in size (head, header count, body) and in time, one request per
connection, and nothing from a request is ever logged (the standard library's ``http.server`` logs request
lines and runs a thread per connection; no maintained asyncio library is a dependency of stsdesk's core).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

MAX_HEAD_BYTES = 8192  # request line + headers
MAX_HEADERS = 48
MAX_BODY_BYTES = 1024  # the routes take no body; a small one is read and dropped
READ_TIMEOUT = 5.0  # seconds for a whole request to arrive

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    """One parsed request. Header names are lower-case; each appears once (duplicates are refused)."""

    method: str
    path: str  # the target without its query string
    headers: dict[str, str]


@dataclass
class Response:
    """An answer: status, body and extra headers. ``close`` is always true (one request per connection)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The bytes on the wire."""
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}",
            f"Content-Type: {self.content_type}",
            f"Content-Length: {len(self.body)}",
            "Cache-Control: no-store",
            "Connection: close",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def json_response(status: int, document: dict[str, str]) -> Response:
    """A JSON answer (the credential documents and the ``{Code, Message}`` errors the SDKs read)."""
    return Response(status, json.dumps(document).encode())


def error_response(status: int, code: str, message: str) -> Response:
    """``{"Code": code, "Message": message}`` with ``status``; the message never quotes the request."""
    return json_response(status, {"Code": code, "Message": message})


class HttpError(Exception):
    """A request that cannot be read: answered with ``response`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = error_response(status, "BadRequest" if status == 400 else "RequestRefused", message)


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "request head is not ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0") or not parts[0] or not parts[1]:
        raise HttpError(400, "malformed request line")
    method, target = parts[0], parts[1]
    if not set(method) <= _TOKEN_CHARS or not target.startswith("/"):
        raise HttpError(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or not set(name) <= _TOKEN_CHARS:
            raise HttpError(400, "malformed header line")  # obs-fold and junk included
        key = name.lower()
        if key in headers:
            raise HttpError(400, "a header appears twice")
        if any((ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F for ch in value):
            raise HttpError(400, "control character in a header")
        headers[key] = value.strip(" \t")
        if len(headers) > MAX_HEADERS:
            raise HttpError(431, "too many headers")
    return method, target.partition("?")[0], headers


async def _read(reader: asyncio.StreamReader) -> Request:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    except asyncio.IncompleteReadError:
        raise HttpError(400, "incomplete request") from None
    if len(head) > MAX_HEAD_BYTES:
        raise HttpError(431, "request head too large")
    method, path, headers = _parse_head(head[:-4])
    if "transfer-encoding" in headers:
        raise HttpError(400, "chunked request bodies are not accepted")
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit() or len(length_text) > 6:
        raise HttpError(400, "bad Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, "request body too large")
    if length:
        try:
            await reader.readexactly(length)  # read and dropped: no route takes a body
        except asyncio.IncompleteReadError:
            raise HttpError(400, "incomplete request body") from None
    return Request(method, path, headers)


async def read_request(reader: asyncio.StreamReader, timeout: float = READ_TIMEOUT) -> Request:
    """Read one request from ``reader`` (created with ``limit=MAX_HEAD_BYTES``).

    Raises HttpError (with the answer to send) for anything malformed, too large or too slow.
    """
    try:
        return await asyncio.wait_for(_read(reader), timeout)
    except TimeoutError:
        raise HttpError(408, "request not received in time") from None
