"""The emulator's HTTP server: keep-alive HTTP/1.1 on loopback, STS by default, pluggable routes and services.

Every request, however malformed, is answered with a well-formed error document (never a traceback); only a
bug reaches the last-resort ``InternalFailure``. Responses go out in one ``send`` with TCP_NODELAY set,
so keep-alive clients do not pay Nagle/delayed-ACK stalls.
"""

from __future__ import annotations

import collections
import contextlib
import io
import ipaddress
import json
import logging
import math
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from stsdesk.emulator import xmlout
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.private_files import StateDirError
from stsdesk.emulator.scenario import ScenarioError, load_scenario
from stsdesk.emulator.sealing import SealError
from stsdesk.emulator.services import install_services
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.sts import ACTIONS as STS_ACTIONS
from stsdesk.emulator.sts import handle_sts
from stsdesk.emulator.wire import (
    ReplayReader,
    Request,
    Response,
    error_response,
    first_values,
    parse_buffered_head,
    read_simple_headers,
)

__all__ = ["EmulatorServer", "Handler", "Request", "Response", "run_emulator"]

Handler = Callable[[Request], Response]
ErrorRenderer = Callable[[EmulatorError, str], Response]

MAX_BODY_BYTES = 1024 * 1024
SOCKET_TIMEOUT_SECONDS = 15.0
MAX_ADVANCE_SECONDS = 10 * 365 * 86400
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_FULL_SCOPE = re.compile(r"Credential=[^/,\s]*/([^/,\s]*)/([^/,\s]*)/([^/,\s]*)/")
RECENT_SCOPES = 200
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]*)/")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Service:
    handler: Handler
    actions: frozenset[str]
    render_error: ErrorRenderer


class _Drop(Exception):
    """Close the connection without answering (the drop_every fault)."""


class EmulatorServer:
    """The emulator's HTTP front end. ``endpoint`` is ``http://HOST:PORT`` once constructed (the socket is
    bound in ``__init__``; port 0 picks a free one). Raises OSError when the address cannot be bound."""

    def __init__(self, state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self._routes: list[tuple[str, Handler]] = []
        self._services: dict[str, _Service] = {}
        self._thread: threading.Thread | None = None
        self._httpd = _HttpServer((host, port), _RequestHandler, self)
        address = self._httpd.server_address
        self.host = address[0] if isinstance(address[0], str) else address[0].decode()
        self.port = int(address[1])
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.endpoint = f"http://{shown}:{self.port}"
        # Test aid: the SigV4 scopes of the latest Query requests (GET /_stsdesk/requests), so an end-to-end test
        # can check which region a client signed for. Scope, service and Action only: no key id, no signature.
        self.recent_scopes: collections.deque[dict[str, str]] = collections.deque(maxlen=RECENT_SCOPES)
        self.route("/_stsdesk/advance", self._advance)
        self.route("/_stsdesk/requests", self._requests)
        install_services(self)

    # ------------------------------------------------------------------------------- configuration

    def route(self, prefix: str, handler: Handler) -> None:
        """Send requests whose path is ``prefix`` or starts with ``prefix + "/"`` to ``handler``.
        The longest matching prefix wins; a later registration of the same prefix replaces the earlier.
        ``/`` itself belongs to the Query services (``register_service``) and is never routed here."""
        self._routes = [(p, h) for p, h in self._routes if p != prefix] + [(prefix, handler)]
        self._routes.sort(key=lambda item: len(item[0]), reverse=True)

    def register_service(
        self,
        name: str,
        handler: Handler,
        actions: Iterable[str] = (),
        render_error: ErrorRenderer = error_response,
    ) -> None:
        """Serve Query requests to ``/`` signed for service ``name`` (SigV4 credential scope), or unsigned
        ones whose Action is in ``actions``, with ``handler``. ``render_error`` shapes injected faults."""
        self._services[name] = _Service(handler, frozenset(actions), render_error)

    # ------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve on a background daemon thread (embedded use: GUI --demo, tests)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="stsdesk-emulator", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve on the calling thread until ``stop`` is called from another thread."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the listening socket. Safe to call twice."""
        if self._thread is not None or self._httpd.serving:
            self._shutdown_now()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        # Keep-alive connections already accepted would go on being answered: a stopped emulator must look
        # like a server that went away (tests of network failures rely on it).
        self._httpd.close_connections()

    def _shutdown_now(self) -> None:
        """``shutdown()`` without waiting out the accept loop's 0.5 s poll: serve_forever notices the request
        only when its select() returns, and a connection makes it return at once (tests start and stop an
        emulator per test; a request in progress is never waited for, its thread is a daemon)."""
        stopper = threading.Thread(target=self._httpd.shutdown, name="stsdesk-emulator-stop", daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            stopper.join(0.005)

    # ------------------------------------------------------------------------------------- dispatch

    def dispatch(self, request: Request) -> Response:
        """The response for one request. Raises _Drop for an injected dropped connection."""
        path = request.path
        if path != "/":  # every Query API request goes to "/", which no route claims
            for prefix, handler in self._routes:
                if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                    return handler(request)
            return error_response(
                EmulatorError("NotFound", f"No such resource: {path[:200]}"), request.request_id
            )
        auth = request.header("authorization")
        scope = _FULL_SCOPE.search(auth) if auth else None  # (date, region, service) of a header signature
        if scope is not None:
            self._note_scope(request, scope)
        service = self._service_for(request, scope[3] if scope is not None else _scope_service(request, auth))
        renderer = service.render_error if service is not None else error_response
        if request.method not in ("GET", "POST"):
            exc = EmulatorError("MethodNotAllowed", f"The method {request.method} is not allowed here")
            return renderer(exc, request.request_id)
        injected = self._fault(request, renderer)
        if injected is not None:
            return injected
        if service is not None:
            return service.handler(request)
        return handle_sts(self.state, request)

    def _service_for(self, request: Request, scope: str | None) -> _Service | None:
        """The registered service for a request to ``/``: by SigV4 scope (the service named in it, if any),
        else by Action; None means STS."""
        if scope is not None:
            return self._services.get(scope)
        try:
            action = request.form().get("Action", "")
        except EmulatorError:
            return None
        if action in STS_ACTIONS:
            return None
        return next((s for s in self._services.values() if action in s.actions), None)

    def _fault(self, request: Request, renderer: ErrorRenderer) -> Response | None:
        faults = self.state.scenario.faults
        if not (faults.latency_ms or faults.throttle_every or faults.error_5xx_every or faults.drop_every):
            return None
        number = self.state.next_request_number()
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        if faults.drop_every and number % faults.drop_every == 0:
            raise _Drop
        if faults.throttle_every and number % faults.throttle_every == 0:
            return renderer(EmulatorError("Throttling", "Rate exceeded"), request.request_id)
        if faults.error_5xx_every and number % faults.error_5xx_every == 0:
            failure = EmulatorError("InternalFailure", "We encountered an internal error. Please try again.")
            return renderer(failure, request.request_id)
        return None

    def _note_scope(self, request: Request, found: re.Match[str]) -> None:
        try:
            action = request.form().get("Action", "")[:64]
        except EmulatorError:
            action = ""
        date, region, service = found.groups()
        self.recent_scopes.append({"action": action, "date": date, "region": region, "service": service})

    def _requests(self, request: Request) -> Response:
        """GET /_stsdesk/requests: the credential scopes (date, region, service) and Actions of the latest
        header-signed Query requests, oldest first (at most RECENT_SCOPES). A test aid: nothing secret."""
        body = {"requests": list(self.recent_scopes)}
        return Response(200, json.dumps(body).encode(), content_type="application/json")

    def _advance(self, request: Request) -> Response:
        """POST /_stsdesk/advance (form: seconds): move the clock forward; only with --allow-time-travel."""
        if not self.state.allow_time_travel:
            raise EmulatorError(
                "AccessDenied", "Time travel is disabled; start the emulator with --allow-time-travel"
            )
        if request.method != "POST":
            raise EmulatorError("MethodNotAllowed", "Use POST with a form field 'seconds'")
        raw = request.form().get("seconds", "")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds) or not 0 <= seconds <= MAX_ADVANCE_SECONDS:
            raise EmulatorError(
                "ValidationError", f"seconds must be a number from 0 to {MAX_ADVANCE_SECONDS}"
            )
        self.state.clock.advance(seconds)
        body = {"now": xmlout.iso8601(self.state.clock.now()), "offset_seconds": self.state.clock.offset}
        return Response(200, json.dumps(body).encode(), content_type="application/json")


def _scope_service(request: Request, auth: str | None) -> str | None:
    """The service named in the SigV4 credential scope (header ``auth`` or the query form), if any."""
    if auth:
        found = _CREDENTIAL_SCOPE.search(auth)
        return found.group(1) if found else None
    query = request.query
    if "X-Amz-Credential=" in query:
        for part in query.split("&"):
            if part.startswith("X-Amz-Credential="):
                pieces = part.split("=", 1)[1].replace("%2F", "/").replace("%2f", "/").split("/")
                return pieces[3] if len(pieces) > 3 else None
    return None


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], app: EmulatorServer):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.serving = False
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every accepted connection (their handler threads then end)."""
        with self._open_lock:
            open_now, self._open = list(self._open), set()
        for conn in open_now:
            with contextlib.suppress(OSError):  # already gone
                conn.shutdown(socket.SHUT_RDWR)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self.serving = True
        try:
            super().serve_forever(poll_interval)
        finally:
            self.serving = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-request is routine; anything else is logged without request data.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            _log.debug("connection error from %s", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stsdesk-emulator"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_SECONDS
    server: _HttpServer
    # The current request's header lines in order, and lower-cased name -> first value. The fast header path
    # fills them directly; ``headers`` (an HTTPMessage, as the stdlib's code wants it) is built on demand.
    _header_pairs: list[tuple[str, str]] = []
    _header_first: dict[str, str] = {}

    @property
    def headers(self) -> Message[str, str]:
        message = HTTPMessage()
        for name, value in self._header_pairs:
            message[name] = value
        return message

    @headers.setter
    def headers(self, message: Message[str, str]) -> None:
        self._header_pairs = list(message.items())
        self._header_first = first_values(self._header_pairs)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.client_address[0], *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level failures (bad request line, unknown method, oversized headers) as XML errors."""
        if code >= 500:  # 501 unknown method, 505 bad HTTP version: the client's fault, not ours
            code = (
                HTTPStatus.METHOD_NOT_ALLOWED
                if code == HTTPStatus.NOT_IMPLEMENTED
                else HTTPStatus.BAD_REQUEST
            )
        reason = message or HTTPStatus(code).phrase
        exc = EmulatorError("MalformedRequest" if code != 405 else "MethodNotAllowed", reason, status=code)
        self.close_connection = True
        self._send(error_response(exc, xmlout.new_request_id()), head=False)

    def parse_request(self) -> bool:
        """The stdlib's parse_request, with a fast path for the common request: ``METHOD TARGET HTTP/1.1``
        and plain ``Name: value`` header lines. Anything else goes through the stdlib parser unchanged
        (the lines the fast path already read are replayed to it), so every malformed-input answer stays
        the stdlib's."""
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) != 3 or words[2] != "HTTP/1.1":
            return super().parse_request()
        rfile = self.rfile
        headers, consumed = read_simple_headers(rfile)
        if headers is None:
            replay = ReplayReader(consumed, rfile)
            self.rfile = replay  # type: ignore[assignment]  # parse_headers needs readline() only
            try:
                parsed = super().parse_request()
            finally:
                self.rfile = rfile
            if not replay.exhausted:  # cannot happen after a successful parse; never misread a body
                self.close_connection = True
            return parsed
        # What the stdlib sets for a valid HTTP/1.1 request line (see BaseHTTPRequestHandler.parse_request).
        self.requestline = requestline
        self.request_version = "HTTP/1.1"
        self.close_connection = False
        self.command, path = words[0], words[1]
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        self._header_pairs = headers
        self._header_first = first = first_values(headers)
        conntype = first.get("connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        if first.get("expect", "").lower() == "100-continue":
            return self.handle_expect_100()
        return True

    def _take_buffered_head(self) -> bool:
        """Parse the next request's head straight from the read buffer when all of it is there and plain
        (``wire.parse_buffered_head``): one pattern over the block instead of a readline and a match per
        line. Waits for the first bytes of the next request as readline would (same timeout, same EOF).
        False, consuming nothing, when the head is not taken here; then it is read the ordinary way."""
        rfile = cast(io.BufferedReader, self.rfile)  # makefile("rb") with the default buffering
        head = parse_buffered_head(rfile.peek())
        if head is None:
            return False
        rfile.read(head.length)
        # What parse_request sets for such a request (see BaseHTTPRequestHandler.parse_request).
        method, target = head.method, head.target
        self.requestline = f"{method} {target} HTTP/1.1"
        self.raw_requestline = self.requestline.encode("ascii") + b"\r\n"
        self.request_version = "HTTP/1.1"
        self.command = method
        self.path = "/" + target.lstrip("/") if target.startswith("//") else target
        self._header_pairs = head.headers
        self._header_first = first = head.first
        self.close_connection = first.get("connection", "").lower() == "close"
        return True

    def handle(self) -> None:
        """Serve one connection. Plain requests (``wire.parse_buffered_head`` takes the head) are read straight
        off the socket into one buffer and answered from it: no buffered file, no line reads, no stdlib
        request machinery between requests. The first request that is anything else (a head that is not
        plain, arrives with odd bytes in its first fragment, is cut off by the peer, exceeds the line limit, or
        asks for ``100-continue``) hands the connection, with every byte already received, to the stdlib path
        (``handle_one_request``), which judges it exactly as before and serves the rest of the connection."""
        conn = self.connection
        recv = conn.recv
        data = b""
        while True:
            head = parse_buffered_head(data) if data else None
            while head is None:
                if data and not _may_become_plain_head(data):
                    self._handle_by_stdlib(data)
                    return
                try:
                    chunk = recv(_RECV_BYTES)
                except TimeoutError as exc:
                    self.log_error("Request timed out: %r", exc)
                    return
                if not chunk:
                    if data:  # the stdlib's word on a head cut short
                        self._handle_by_stdlib(data)
                    return
                data = data + chunk if data else chunk
                head = parse_buffered_head(data)
            first = head.first
            expect = first.get("expect")
            if expect is not None and expect.lower() == "100-continue":
                self._handle_by_stdlib(data)
                return
            target = head.target
            self.command = head.method
            self.path = "/" + target.lstrip("/") if target.startswith("//") else target
            self._header_pairs = head.headers
            self._header_first = first
            self.close_connection = first.get("connection", "").lower() == "close"
            data = data[head.length :]
            request_id = xmlout.new_request_id()
            length = _body_length(first, request_id)
            body: bytes | Response
            if isinstance(length, Response):
                self.close_connection = True
                body = length
            elif len(data) >= length:
                body, data = data[:length], data[length:]
            else:
                parts = [data]
                have = len(data)
                body = b""
                while have < length:
                    try:
                        chunk = recv(max(_RECV_BYTES, length - have))
                    except TimeoutError:
                        self.close_connection = True
                        body = _error(request_id, "RequestTimeout", "Timed out reading the request body")
                        break
                    if not chunk:
                        self.close_connection = True
                        body = _error(request_id, "MalformedRequest", "Incomplete request body")
                        break
                    parts.append(chunk)
                    have += len(chunk)
                if not isinstance(body, Response):
                    data = b"".join(parts)
                    body, data = data[:length], data[length:]
            self._answer(body, request_id)
            if self.close_connection:
                return

    def _handle_by_stdlib(self, received: bytes) -> None:
        """Serve the rest of the connection the stdlib way, ``received`` (bytes read but not yet served) first."""
        self.rfile.close()  # the unused makefile() reader: an open one would keep the socket from closing
        self.rfile = io.BufferedReader(_Prefixed(received, self.connection))
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        """The stdlib's handle_one_request, except that every method goes to ``_serve`` (method checks
        belong to the routes) without the stdlib's ``do_<METHOD>`` lookup, and a plain request head that has
        arrived whole is parsed from the buffer (``_take_buffered_head``)."""
        try:
            if self._take_buffered_head():
                expect = self._header_first.get("expect")
                if expect is not None and expect.lower() == "100-continue" and not self.handle_expect_100():
                    return
                self._serve()
                return
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return  # an error has been sent
            self._serve()
        except TimeoutError as exc:
            self.log_error("Request timed out: %r", exc)
            self.close_connection = True

    def _read_body(self, request_id: str) -> bytes | Response:
        length = _body_length(self._header_first, request_id)
        if isinstance(length, Response):
            self.close_connection = True
            return length
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            self.close_connection = True
            return _error(request_id, "MalformedRequest", "Incomplete request body")
        return body

    def _serve(self) -> None:
        request_id = xmlout.new_request_id()
        try:
            body = self._read_body(request_id)
        except TimeoutError:
            self.close_connection = True
            body = error_response(
                EmulatorError("RequestTimeout", "Timed out reading the request body"), request_id
            )
        self._answer(body, request_id)

    def _answer(self, body: bytes | Response, request_id: str) -> None:
        """Answer the current request (``command``, ``path`` and the header fields are set): ``body`` is its
        body, or the error response reading it earned."""
        if isinstance(body, Response):
            self._send(body, head=self.command == "HEAD")
            return
        request = Request(
            method=self.command,
            target=self.path,
            headers=self._header_pairs,
            body=body,
            client=str(self.client_address[0]),
            request_id=request_id,
        )
        request._first = self._header_first  # the same first-value map Request.header would build
        try:
            response = self.server.app.dispatch(request)
        except _Drop:
            self.close_connection = True
            return
        except EmulatorError as exc:
            response = error_response(exc, request_id)
        except Exception:
            # A bug: answer as AWS does and log the location only (requests may carry secrets).
            _log.error("internal error answering %s %s", self.command, request.path[:200], exc_info=True)
            failure = EmulatorError("InternalFailure", "We encountered an internal error. Please try again.")
            response = error_response(failure, request_id)
        self._send(response, head=self.command == "HEAD")

    def _send(self, response: Response, head: bool) -> None:
        """Status line, headers and body in one ``sendall`` (TCP_NODELAY is set: it leaves at once)."""
        close = self.close_connection or response.close
        body = response.body
        lines = (
            f"HTTP/1.1 {response.status} {_PHRASES.get(response.status, '')}\r\n"
            f"Date: {_http_date(self.server.app.state.clock.wall_epoch())}\r\n"
            f"Content-Type: {response.content_type}\r\nContent-Length: {len(body)}\r\n"
        )
        for name, value in response.headers:
            lines += f"{name}: {value}\r\n"
        if close:
            lines += "Connection: close\r\n"
            self.close_connection = True
        head_bytes = (lines + "\r\n").encode("latin-1", "replace")
        try:
            self.connection.sendall(head_bytes if head else head_bytes + body)
        except OSError:
            self.close_connection = True


def _error(request_id: str, code: str, message: str, status: int = 400) -> Response:
    return error_response(EmulatorError(code, message, status=status), request_id)


def _body_length(first: dict[str, str], request_id: str) -> int | Response:
    """The request body's length by its headers (lower-cased name -> first value), or the error response for
    a body the emulator does not read (chunked, a Content-Length that is not a number, over MAX_BODY_BYTES);
    the connection is then closed."""
    encoding = first.get("transfer-encoding")
    if encoding is not None and encoding.lower() not in ("", "identity"):
        return _error(request_id, "MalformedRequest", "Transfer-Encoding is not supported; send Content-Length")
    raw_length = first.get("content-length")
    if raw_length is None:
        return 0
    try:
        length = int(raw_length.strip())
        if length < 0:
            raise ValueError(raw_length)
    except ValueError:
        return _error(request_id, "MalformedRequest", "Invalid Content-Length")
    if length > MAX_BODY_BYTES:
        return _error(
            request_id, "RequestEntityTooLarge", f"Request body exceeds the {MAX_BODY_BYTES}-byte limit", 413
        )
    return length


# How much one recv asks for: a whole signed STS request, and then some (pipelined requests come along).
_RECV_BYTES = 65536
# What a plain head is made of between its CRLFs (wire.parse_buffered_head takes nothing else).
_HEAD_BYTES = bytes(range(0x20, 0x7F))


def _may_become_plain_head(data: bytes) -> bool:
    """Whether ``data``, the start of a request that holds no whole plain head yet, may still turn into one
    when more bytes arrive: within the line limit, no complete head (``parse_buffered_head`` declined that),
    and nothing but printable ASCII and spaces between CRLFs (a CR may end the fragment). Anything else goes to
    the stdlib parser, which answers bare-LF heads, control bytes and oversized lines as it always has."""
    if len(data) > _MAX_HEAD_BYTES or b"\r\n\r\n" in data:
        return False
    odd = data.replace(b"\r\n", b"").translate(None, _HEAD_BYTES)
    return not odd or (odd == b"\r" and data.endswith(b"\r"))


_MAX_HEAD_BYTES = 65536


class _Prefixed(io.RawIOBase):
    """A socket's input with ``prefix`` (bytes already received from it) in front: the raw stream under the
    stdlib path's ``rfile`` once the lean loop hands a connection over."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        super().__init__()
        self._prefix = memoryview(prefix)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        return self._sock.recv_into(buffer)


_date_cache: tuple[int, str] = (0, "")


def _http_date(epoch: float) -> str:
    """The Date header value for ``epoch`` (the server's wall clock), formatted once per second (swapping
    one tuple is safe across threads)."""
    global _date_cache
    now = int(epoch)
    second, text = _date_cache
    if second != now:
        text = formatdate(now, usegmt=True)
        _date_cache = (now, text)
    return text


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    scenario_path: str | Path | None = None,
    state_dir: str | Path | None = None,
    allow_time_travel: bool = False,
) -> int:
    """Run the emulator in the foreground until SIGINT/SIGTERM; returns the exit status (0 ok, 1 failure).

    Prints exactly one ``endpoint: http://HOST:PORT`` line on stdout when ready; generated access keys and
    warnings go to stderr. A bad scenario or an address that cannot be bound is one line on stderr, exit 1.
    """
    if scenario_path is None:
        from stsdesk.demo import demo_scenario_path  # lazy: only the no-scenario case needs it

        default = demo_scenario_path()
        if not default.exists():
            print("stsdesk emulator: no scenario given (--scenario FILE)", file=sys.stderr)
            return 1
        scenario_path = default
    try:
        scenario = load_scenario(scenario_path)
        state = EmulatorState(scenario, Path(state_dir) if state_dir else None, allow_time_travel)
        server = EmulatorServer(state, host, port)
    except (ScenarioError, StateDirError, SealError) as exc:
        print(f"stsdesk emulator: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"stsdesk emulator: cannot start on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    if not _is_loopback(host):
        print(
            f"WARNING: the emulator listens on {host}, reachable from other machines. It issues credentials "
            "to anyone who can reach it; use 127.0.0.1 unless you mean this.",
            file=sys.stderr,
        )
    for owner, key in scenario.generated_keys:
        print(f"generated access key for {owner}: {key.id} {key.secret}", file=sys.stderr)
    stopping = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
    server.start()
    print(f"endpoint: {server.endpoint}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
