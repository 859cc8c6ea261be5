"""The request and response types every emulator handler speaks (STS, EC2, federation, console)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from stsdesk.emulator import xmlout
from stsdesk.emulator.errors import EmulatorError


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

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def form(self) -> dict[str, str]:
        """Query-string and form-body parameters (body wins on duplicates; first value of each name).

        Raises EmulatorError MalformedQueryString when either is not valid UTF-8 percent-encoding.
        """
        if self._params is not None:
            return self._params
        params: dict[str, str] = {}
        sources = [self.query]
        ctype = (self.header("content-type") or "").lower()
        if self.body and (not ctype or "x-www-form-urlencoded" in ctype):
            try:
                sources.append(self.body.decode("utf-8"))
            except UnicodeDecodeError:
                raise EmulatorError("MalformedQueryString", "The request body is not valid UTF-8") from None
        for source in sources:
            try:
                pairs = parse_qsl(source, keep_blank_values=True, encoding="utf-8", errors="strict")
            except (UnicodeDecodeError, ValueError):
                raise EmulatorError(
                    "MalformedQueryString", "The query string is not valid percent-encoded UTF-8"
                ) from None
            found: dict[str, str] = {}
            for key, value in pairs:
                found.setdefault(key, value)
            params.update(found)
        self._params = params
        return params


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
