"""The request and response types every emulator handler speaks (STS, EC2, federation, console)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from urllib.parse import unquote

from stsdesk.emulator import xmlout
from stsdesk.emulator.errors import EmulatorError

_CACHED_VALUE_CHARS = 256


@dataclass
class Request:
    """One HTTP request as received. ``target`` is the raw request target; ``path``/``query`` its two halves,
    still percent-encoded (SigV4 needs them raw). ``params`` is filled lazily by ``form()``."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    client: str = "127.0.0.1"
    secure: bool = False
    request_id: str = field(default_factory=xmlout.new_request_id)
    _params: dict[str, str] | None = field(default=None, repr=False)
    # Lower-cased name -> first value, built on the first header() call (several per request).
    _first: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        first = self._first
        if first is None:
            first = self._first = first_values(self.headers)
        return first.get(name.lower())

    def header_lists(self) -> dict[str, list[str]]:
        """Lower-cased header name -> every value of it, in order (what SigV4 canonicalises)."""
        first = self._first
        if first is None:
            first = self._first = first_values(self.headers)
        if len(first) == len(self.headers):  # no name comes twice (the usual request): each its one value
            return {name: [value] for name, value in first.items()}
        lists: dict[str, list[str]] = {}
        for name, value in self.headers:
            lists.setdefault(name.lower(), []).append(value)
        return lists

    def form(self) -> dict[str, str]:
        """Query-string and form-body parameters (body wins on duplicates; first value of each name).

        Raises EmulatorError MalformedQueryString when either is not valid UTF-8 percent-encoding.
        """
        if self._params is not None:
            return self._params
        params = _parse_form(self.query)
        ctype = (self.header("content-type") or "").lower()
        if self.body and (not ctype or "x-www-form-urlencoded" in ctype):
            try:
                body = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise EmulatorError("MalformedQueryString", "The request body is not valid UTF-8") from None
            params.update(_parse_form(body))
        self._params = params
        return params


def _parse_form(source: str) -> dict[str, str]:
    """The first value of each name in ``source``, decoded as ``urllib.parse.parse_qsl(source,
    keep_blank_values=True, errors="strict")`` decodes it (pieces split at "&" only, "+" is a space).
    Written out because parse_qsl's argument coercion costs more than the splitting for a short form.
    Raises EmulatorError MalformedQueryString for percent-escapes that are not UTF-8."""
    found: dict[str, str] = {}
    if not source:
        return found
    try:
        for piece in source.split("&"):
            if not piece:
                continue
            name, _, value = piece.partition("=")
            # Every piece is decoded, later duplicates too, so a bad escape anywhere is refused.
            if "%" in name or "+" in name:
                name = _unquote_plus(name)
            if "%" in value or "+" in value:
                value = _unquote_plus(value)
            found.setdefault(name, value)
    except UnicodeDecodeError:
        raise EmulatorError(
            "MalformedQueryString", "The query string is not valid percent-encoded UTF-8"
        ) from None
    return found


@functools.lru_cache(maxsize=1024)
def _unquote_plus_cached(text: str) -> str:
    return unquote(text.replace("+", " "), errors="strict")


def _unquote_plus(text: str) -> str:
    """``unquote(text.replace("+", " "), errors="strict")``. Short values (ARNs, names, versions) come back
    request after request and urllib's unquote is pure Python, so they are cached; long ones (assertions,
    tokens, policies) are decoded afresh and never kept. Raises UnicodeDecodeError like unquote."""
    if len(text) <= _CACHED_VALUE_CHARS:
        return _unquote_plus_cached(text)
    return unquote(text.replace("+", " "), errors="strict")


def first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Lower-cased header name -> its first value."""
    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name.lower(), value)
    return first


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "text/xml"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False  # close the connection after answering


def error_response(exc: EmulatorError, request_id: str) -> Response:
    """An STS-shaped ``ErrorResponse`` for ``exc``."""
    body = xmlout.error(exc.code, exc.message, request_id, sender=exc.sender)
    return Response(exc.status, body, headers=[("x-amzn-RequestId", request_id)])


def xml_response(body: bytes, request_id: str, status: int = 200) -> Response:
    return Response(status, body, headers=[("x-amzn-RequestId", request_id)])


# A header line the fast path takes: a token-ish name (the characters the email parser accepts in a name,
# at least one), a colon, optional spaces, printable ASCII, CRLF or LF. Folding (leading whitespace), tabs,
# bare CR, control and non-ASCII bytes all fall back to the stdlib parser.
# The value group starts at a non-space, so the spaces before it can be split only one way: a line of
# spaces without a newline fails in linear time (``[ ]*([ -~]*)`` backtracked quadratically: 37 s a line).
_SIMPLE_HEADER = re.compile(rb"([!-9;-~]+):[ ]*((?:[!-~][ -~]*)?)\r?\n")
_MAX_LINE = 65536  # http.client._MAXLINE
_MAX_HEADERS = 100  # http.client._MAXHEADERS


# Bytes a plain request head holds between its CRLFs: printable ASCII and the space (what _SIMPLE_HEADER takes).
# Translating by this table keeps those and turns every other byte, CR and LF included, into NUL.
_PLAIN_OR_NUL = bytes(b if 0x20 <= b < 0x7F else 0 for b in range(256))


class RequestHead(NamedTuple):
    """A request line and header block parsed by ``parse_buffered_head``."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    first: dict[str, str]  # lower-cased name -> first value (``first_values(headers)``)
    length: int  # bytes of the head, the blank line included


def parse_buffered_head(data: bytes) -> RequestHead | None:
    """The request head at the start of ``data`` (bytes already received), when the whole head is there and
    every line is plain: ``METHOD TARGET HTTP/1.1`` with single spaces, then ``Name: value`` lines as
    _SIMPLE_HEADER takes them but ending in CRLF only, at most 99 of them (the stdlib's limit of 100 counts
    the blank line), the whole head within the stdlib's 65536-byte line limit.

    The headers are the (name, value) pairs ``http.client.parse_headers`` gives for such a block, the method
    and target what ``BaseHTTPRequestHandler.parse_request`` takes from such a line. None means "not taken
    here" (incomplete, unusual or malformed): the caller reads the request the ordinary way, which judges it
    exactly as before. Never raises. String methods only: a regex over the head costs several times more.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 4 > _MAX_LINE:
        return None
    head = data[:end]
    # At most 100 lines; every other byte printable ASCII or a space: no tab, bare CR or LF, control or
    # non-ASCII byte anywhere. The table turns each CR, each LF and each byte that is not plain into a NUL; CRLF
    # pairs cannot overlap, so there are exactly two NULs per CRLF only when every CR and LF is in a pair and
    # nothing else became one. (Cheaper than deleting the CRLFs and then the plain bytes: a delete looks each
    # byte up in a set, callgrind ~18K -> ~10K instructions a boto3 request.)
    lines_ended = head.count(b"\r\n")
    if lines_ended >= _MAX_HEADERS or head.translate(_PLAIN_OR_NUL).count(b"\0") != 2 * lines_ended:
        return None
    lines = head.decode("ascii").split("\r\n")
    words = lines[0].split(" ")
    if len(words) != 3 or words[2] != "HTTP/1.1" or not words[0] or not words[1]:
        return None
    headers: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name:
            return None
        value = value.lstrip(" ")
        headers.append((name, value))
        first.setdefault(name.lower(), value)
    return RequestHead(words[0], words[1], headers, first, end + 4)


class LineReader(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


class ReplayReader:
    """``rfile`` with ``lines`` (already read from it) put back in front, for the stdlib header parser."""

    def __init__(self, lines: list[bytes], rfile: LineReader) -> None:
        self._lines = lines
        self._rfile = rfile

    @property
    def exhausted(self) -> bool:
        return not self._lines

    def readline(self, limit: int = -1) -> bytes:
        # Every replayed line was read with the same limit the stdlib uses, so it comes back whole.
        if self._lines:
            return self._lines.pop(0)
        return self._rfile.readline(limit)


def read_simple_headers(rfile: LineReader) -> tuple[list[tuple[str, str]] | None, list[bytes]]:
    """Read a header block from ``rfile`` when every line is a plain ``Name: value`` line.

    Returns (headers, []) on success: the (name, value) pairs, in order, that ``http.client.parse_headers``
    gives (``.items()``) for such a block. Otherwise returns (None, lines read so far): the caller replays
    those lines to the stdlib parser (``ReplayReader``), which then reads and judges the block exactly as it
    always does, including its errors (line too long, too many headers). Raises what ``rfile.readline`` raises.
    """
    lines: list[bytes] = []
    pairs: list[tuple[str, str]] = []
    match = _SIMPLE_HEADER.fullmatch
    readline = rfile.readline
    while True:
        line = readline(_MAX_LINE + 1)
        lines.append(line)
        if len(lines) > _MAX_HEADERS:  # counted before the blank line, as the stdlib counts
            return None, lines
        if line == b"\r\n" or line == b"\n":
            break
        found = match(line)
        if found is None or len(line) > _MAX_LINE:
            return None, lines
        # Printable ASCII only (the pattern says so): the email parser's compat32 policy hands such names
        # and values back unchanged.
        pairs.append((found[1].decode("ascii"), found[2].decode("ascii")))
    return pairs, []
