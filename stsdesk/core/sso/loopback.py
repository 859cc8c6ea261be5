"""The loopback redirect server of the PKCE sign-in, and the PKCE values.

Bound to 127.0.0.1 on a random port; answers ``GET /oauth/callback`` once: the first request carrying the
expected ``state`` (with a ``code`` or an ``error``) completes it and later requests are turned away. A
request with another state is refused without ending the sign-in (a stray page cannot cancel it). Written by
hand because the standard library has the HTTP server but nothing that does this OAuth part.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import string
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CALLBACK_PATH = "/oauth/callback"
REDIRECT_WITHOUT_PORT = f"http://127.0.0.1{CALLBACK_PATH}"
_VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"


def code_verifier() -> str:
    """A PKCE code verifier: 64 random characters of the unreserved set (as the AWS CLI makes them)."""
    return "".join(secrets.choice(_VERIFIER_ALPHABET) for _ in range(64))


def code_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: base64url(sha256) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class CallbackResult:
    """What the browser brought back: a code, or an OAuth error (``access_denied`` when the user denied)."""

    code: str | None
    error: str | None
    error_description: str | None = None


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>stsdesk</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>"""


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _page(title: str, text: str) -> bytes:
    return _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")


class LoopbackServer:
    """One sign-in's redirect target. ``on_result`` is called once, from the server thread."""

    def __init__(self, state: str, on_result: Callable[[CallbackResult], None]) -> None:
        self.state = state
        self._on_result = on_result
        self._done = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "stsdesk"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="stsdesk-sso-callback", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def redirect_uri(self) -> str:
        """The redirect URI with the port, as sent in /authorize and CreateToken."""
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def _reply(self, handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        if parts.path != CALLBACK_PATH:
            self._reply(handler, 404, _page("Not found", "This address only receives the sign-in redirect."))
            return
        query = urllib.parse.parse_qs(parts.query)
        state = (query.get("state") or [""])[0]
        with self._lock:
            if self._done.is_set():
                self._reply(handler, 410, _page("Already used", "This sign-in has already completed."))
                return
            if not secrets.compare_digest(state.encode(), self.state.encode()):
                self._reply(handler, 400, _page("Wrong sign-in", "This page belongs to another sign-in attempt."))
                return
            code, error = _first(query, "code"), _first(query, "error")
            if not code and not error:
                self._reply(handler, 400, _page("Incomplete", "The redirect carried no code."))
                return
            self._done.set()
        if error:
            description = _first(query, "error_description")
            self._reply(handler, 200, _page("Sign-in not completed", "You can close this tab."))
            self._on_result(CallbackResult(None, error[:100], description[:200] if description else None))
        else:
            self._reply(handler, 200, _page("Signed in", "You can close this tab and return to stsdesk."))
            self._on_result(CallbackResult(code, None))

    def close(self) -> None:
        """Stop listening (idempotent); the port is free afterwards."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
