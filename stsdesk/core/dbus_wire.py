"""A small blocking D-Bus client: just what the credential-process fast path's Secret Service read
(:func:`stsdesk.core.fast_secret.read_secret`) needs, on the C ``_socket`` module alone.

``import jeepney.io.blocking`` cost that read about as much as everything else the cached answer does beyond
Python's own start (callgrind: ~40M instructions, a bare interpreter runs ~91M): jeepney's package imports
all its submodules and defines its enums, and ``socket.py`` converts four enums of ``_socket`` constants,
``selectors``, ``string`` and ``binascii`` come along. The read itself is a Unix socket, the EXTERNAL
handshake and a few method calls whose signatures are known in advance; this module does those, and lets
the caller send several calls before waiting for their replies (one wake-up of the service for all of them).

What it implements of the D-Bus specification: ``unix:path=`` and ``unix:abstract=`` session bus addresses
(as jeepney, which stsdesk used here before), EXTERNAL authentication without file-descriptor passing, method
calls and the replies to them (method returns and errors; signals and anything else are skipped), and the
marshalling of the basic types, strings, object paths, signatures, arrays, structs, dict entries and
variants in either byte order. A reply that does not parse, a reply from someone other than the connection
called, an error reply, a closed socket and a timeout all raise :class:`WireError` (or OSError); the caller
treats any of them as doubt. Replies are checked against the signature the caller expects.

Imports only ``_socket`` (when connecting), ``os`` and ``sys``; ``struct`` (a shared library: ~1M instructions to
load) only for a double, which the Secret Service read never meets.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: ~2 ms of import on a path that must cost little more than Python's start
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Literal

    ByteOrder = Literal["little", "big"]

BUS_NAME = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"
# The specification's limits: a whole message, one array.
MAX_MESSAGE = 2**27
MAX_ARRAY = 2**26
_MAX_DEPTH = 32  # nested containers (the specification allows 64 in all; nothing here needs a tenth)

_METHOD_CALL, _METHOD_RETURN, _ERROR = 1, 2, 3
# Header field codes (the specification's table).
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION, _SENDER, _SIGNATURE = 1, 2, 3, 4, 5, 6, 7, 8

# Fixed-size types: size (= alignment) and whether signed; "d" (a double) goes through struct.
_FIXED = {
    "y": (1, False),
    "b": (4, False),
    "n": (2, True),
    "q": (2, False),
    "i": (4, True),
    "u": (4, False),
    "x": (8, True),
    "t": (8, False),
    "d": (8, False),
    "h": (4, False),
}
_ALIGN = {**{code: size for code, (size, _signed) in _FIXED.items()}, "s": 4, "o": 4, "g": 1, "v": 1, "a": 4,
          "(": 8, "{": 8}
_ORDERS: dict[int, ByteOrder] = {108: "little", 66: "big"}  # the first byte of a message: b"l" or b"B"
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_/")


class WireError(Exception):
    """A D-Bus exchange that did not give what was asked: an error reply (``name`` is its error name), an
    unexpected or unreadable message, a closed connection. Carries no message body."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


# -- signatures and marshalling -------------------------------------------------------------------------


# type_end's answers (each array or struct element asks again); a process reads a handful of messages.
_ENDS: dict[tuple[str, int], int] = {}


def type_end(signature: str, i: int) -> int:
    """The index just past the single complete type that starts at ``signature[i]``; ValueError when there
    is none."""
    end = _ENDS.get((signature, i))
    if end is None:
        end = _ENDS[signature, i] = _type_end(signature, i, 0)
    return end


def _type_end(signature: str, i: int, depth: int) -> int:
    if depth > _MAX_DEPTH or i >= len(signature):
        raise ValueError("bad signature")
    code = signature[i]
    if code == "a":
        return _type_end(signature, i + 1, depth + 1)
    if code in "({":
        close = ")" if code == "(" else "}"
        i += 1
        count = 0
        while i < len(signature) and signature[i] != close:
            i = _type_end(signature, i, depth + 1)
            count += 1
        if i >= len(signature) or count == 0 or (code == "{" and count != 2):
            raise ValueError("bad signature")
        return i + 1
    if code in _FIXED or code in "sogv":
        return i + 1
    raise ValueError("bad signature")


def _check_path(path: str) -> None:
    if (
        not path.startswith("/")
        or (len(path) > 1 and path.endswith("/"))
        or "//" in path
        or not _PATH_CHARS.issuperset(path)
    ):
        raise ValueError("not an object path")


class _Writer:
    """Marshals values in little-endian order; positions count from ``start`` (the offset in the message)."""

    def __init__(self, start: int = 0) -> None:
        self.start = start
        self.data = bytearray()

    def pad(self, alignment: int) -> None:
        self.data += bytes(-(self.start + len(self.data)) % alignment)

    def text(self, value: Any, size_code: str) -> None:
        if not isinstance(value, str):
            raise TypeError("expected a string")
        encoded = value.encode("utf-8")
        if size_code == "B" and len(encoded) > 255:
            raise ValueError("signature too long")
        size = 1 if size_code == "B" else 4
        self.pad(size)
        self.data += len(encoded).to_bytes(size, "little") + encoded + b"\0"

    def value(self, signature: str, i: int, value: Any, depth: int = 0) -> int:
        """Append ``value`` as the type at ``signature[i]``; returns the index past that type."""
        if depth > _MAX_DEPTH:
            raise ValueError("too deeply nested")
        code = signature[i]
        if code in _FIXED:
            size, signed = _FIXED[code]
            if code == "b" and not isinstance(value, bool):
                raise TypeError("expected a bool")
            self.pad(size)
            if code == "d":
                import struct

                self.data += struct.pack("<d", value)
            else:
                self.data += int(value).to_bytes(size, "little", signed=signed)  # OverflowError when it does not fit
            return i + 1
        if code == "s":
            self.text(value, "I")
            return i + 1
        if code == "o":
            if isinstance(value, str):
                _check_path(value)
            self.text(value, "I")
            return i + 1
        if code == "g":
            self.text(value, "B")
            return i + 1
        if code == "v":
            inner, content = value
            if type_end(inner, 0) != len(inner):
                raise ValueError("a variant holds one complete type")
            self.text(inner, "B")
            self.value(inner, 0, content, depth + 1)
            return i + 1
        end = type_end(signature, i)
        if code == "a":
            self.pad(4)
            at = len(self.data)
            self.data += bytes(4)
            self.pad(_ALIGN[signature[i + 1]])
            first = len(self.data)
            items = value.items() if signature[i + 1] == "{" and isinstance(value, dict) else value
            if signature[i + 1] == "y" and isinstance(value, (bytes, bytearray)):
                self.data += value
            else:
                if not isinstance(items, (list, tuple)) and not isinstance(value, dict):
                    raise TypeError("expected a list")
                for item in items:
                    self.value(signature, i + 1, item, depth + 1)
            length = len(self.data) - first
            if length > MAX_ARRAY:
                raise ValueError("array too long")
            self.data[at:at + 4] = length.to_bytes(4, "little")
            return end
        # struct or dict entry
        if not isinstance(value, tuple):
            raise TypeError("expected a tuple")
        self.pad(8)
        j = i + 1
        for item in value:
            if signature[j] in ")}":
                raise ValueError("too many fields")
            j = self.value(signature, j, item, depth + 1)
        if signature[j] not in ")}":
            raise ValueError("too few fields")
        return end


def marshal(signature: str, values: Sequence[Any], start: int = 0) -> bytes:
    """``values`` as the body of ``signature`` (little-endian), the first byte at offset ``start``."""
    writer = _Writer(start)
    i = 0
    for value in values:
        if i >= len(signature):
            raise ValueError("more values than the signature has")
        i = writer.value(signature, i, value)
    if i != len(signature):
        raise ValueError("fewer values than the signature has")
    return bytes(writer.data)


class _Reader:
    """Unmarshals values from ``data[:limit]`` in byte order ``order`` ("little" or "big"); positions are
    offsets in the message, which is what alignment counts from."""

    def __init__(self, data: bytes, order: ByteOrder, pos: int, limit: int) -> None:
        self.data = data
        self.order = order
        self.pos = pos
        self.limit = limit

    def align(self, alignment: int) -> None:
        self.pos += -self.pos % alignment  # (padding bytes are not checked, as jeepney does not)
        if self.pos > self.limit:
            raise ValueError("truncated")

    def fixed(self, code: str) -> Any:
        size, signed = _FIXED[code]
        self.align(size)
        end = self.pos + size
        if end > self.limit:
            raise ValueError("truncated")
        raw = self.data[self.pos:end]
        self.pos = end
        if code == "d":
            import struct

            return struct.unpack("<d" if self.order == "little" else ">d", raw)[0]
        return int.from_bytes(raw, self.order, signed=signed)

    def text(self, size_code: str) -> str:
        length = self.fixed(size_code)
        end = self.pos + length
        if end >= self.limit or self.data[end] != 0:
            raise ValueError("bad string")
        value = bytes(self.data[self.pos:end]).decode("utf-8")
        self.pos = end + 1
        return value

    def value(self, signature: str, i: int, depth: int = 0) -> tuple[Any, int]:
        """The value of the type at ``signature[i]`` and the index past that type."""
        if depth > _MAX_DEPTH:
            raise ValueError("too deeply nested")
        code = signature[i]
        if code in _FIXED:
            value = self.fixed(code)
            if code == "b":
                if value > 1:
                    raise ValueError("bad boolean")
                value = bool(value)
            return value, i + 1
        if code in "so":
            text = self.text("u")
            if code == "o":
                _check_path(text)
            return text, i + 1
        if code == "g":
            return self.text("y"), i + 1
        if code == "v":
            inner = self.text("y")
            if type_end(inner, 0) != len(inner):
                raise ValueError("a variant holds one complete type")
            content, _ = self.value(inner, 0, depth + 1)
            return (inner, content), i + 1
        end = type_end(signature, i)
        if code == "a":
            length = self.fixed("u")
            if length > MAX_ARRAY:
                raise ValueError("array too long")
            element = signature[i + 1]
            self.align(_ALIGN[element])
            stop = self.pos + length
            if stop > self.limit:
                raise ValueError("truncated array")
            if element == "y":
                raw = bytes(self.data[self.pos:stop])
                self.pos = stop
                return raw, end
            items = []
            outer, self.limit = self.limit, stop
            try:
                while self.pos < stop:
                    item, _ = self.value(signature, i + 1, depth + 1)
                    items.append(item)
            finally:
                self.limit = outer
            if self.pos != stop:
                raise ValueError("array length does not match its elements")
            return (dict(items) if element == "{" else items), end
        # struct or dict entry
        self.align(8)
        fields = []
        j = i + 1
        while signature[j] not in ")}":
            field, j = self.value(signature, j, depth + 1)
            fields.append(field)
        return tuple(fields), end


def unmarshal(signature: str, data: bytes, order: ByteOrder = "little") -> tuple[Any, ...]:
    """The values of a message body of ``signature`` in ``data`` (a body starts 8-aligned in its message, so
    alignment counts from its first byte); ValueError when ``data`` is not exactly that."""
    reader = _Reader(data, order, 0, len(data))
    values = []
    i = 0
    while i < len(signature):
        value, i = reader.value(signature, i)
        values.append(value)
    if reader.pos != len(data):
        raise ValueError("trailing bytes")
    return tuple(values)


# -- messages ---------------------------------------------------------------------------------------------


def method_call(
    serial: int,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: Sequence[Any] = (),
) -> bytes:
    """One METHOD_CALL message (little-endian, no flags: a reply is expected, activation allowed)."""
    payload = marshal(signature, body) if signature else b""
    _check_path(path)
    fields = [(_PATH, "o", path), (_INTERFACE, "s", interface), (_MEMBER, "s", member),
              (_DESTINATION, "s", destination)]
    if signature:
        fields.append((_SIGNATURE, "g", signature))
    # The header fields, a(yv) of strings, written directly (what marshal("a(yv)", ...) gives, in a tenth of
    # the steps): each field 8-aligned, its code, its one-letter signature, the string.
    header = bytearray(b"l\x01\x00\x01")
    header += len(payload).to_bytes(4, "little") + serial.to_bytes(4, "little") + bytes(4)
    for code, kind, text in fields:
        if not isinstance(text, str):
            raise TypeError("expected a string")
        header += bytes(-len(header) % 8)
        encoded = text.encode("utf-8")
        if kind == "g":
            if len(encoded) > 255:
                raise ValueError("signature too long")
            header += bytes((code, 1, 103, 0, len(encoded)))  # 103: "g"
        else:
            header += bytes((code, 1, ord(kind), 0)) + len(encoded).to_bytes(4, "little")
        header += encoded + b"\0"
    header[12:16] = (len(header) - 16).to_bytes(4, "little")  # the array's length: from its first element
    header += bytes(-len(header) % 8)
    return bytes(header) + payload


class Message:
    """One received message: its type, serial, header fields (code -> value) and raw body."""

    __slots__ = ("body", "fields", "kind", "order", "serial")

    def __init__(self, kind: int, serial: int, fields: dict[int, Any], body: bytes, order: ByteOrder) -> None:
        self.kind = kind
        self.serial = serial
        self.fields = fields
        self.body = body
        self.order = order

    def values(self, signature: str) -> tuple[Any, ...]:
        """The body's values, after checking that its signature is ``signature``."""
        if self.fields.get(_SIGNATURE, "") != signature:
            raise WireError(f"a reply of signature {self.fields.get(_SIGNATURE, '')!r}, not {signature!r}")
        return unmarshal(signature, self.body, self.order)


def message_size(head: bytes) -> int:
    """The whole length of a message whose first 16 bytes are ``head``; ValueError for a bad head."""
    order = _ORDERS.get(head[0])
    if order is None or head[3] != 1:
        raise ValueError("not a D-Bus 1 message")
    body_length = int.from_bytes(head[4:8], order)
    fields_length = int.from_bytes(head[12:16], order)
    header = 16 + fields_length
    total = header + (-header % 8) + body_length
    if total > MAX_MESSAGE:
        raise ValueError("message too long")
    return total


def parse_message(data: bytes) -> Message:
    """A whole message (``message_size`` bytes); ValueError when it does not parse."""
    order = _ORDERS[data[0]]
    kind = data[1]
    body_length = int.from_bytes(data[4:8], order)
    serial = int.from_bytes(data[8:12], order)
    fields_end = 16 + int.from_bytes(data[12:16], order)
    body_start = len(data) - body_length
    if fields_end > body_start or fields_end + (-fields_end % 8) != body_start:
        raise ValueError("header length does not match")
    # The header fields, a(yv), read field by field (what reader.value("a(yv)", 0) gives, in fewer steps).
    reader = _Reader(data, order, 16, fields_end)
    fields = {}
    while reader.pos < fields_end:
        reader.align(8)
        code = reader.fixed("y")
        signature = reader.text("y")
        if type_end(signature, 0) != len(signature):
            raise ValueError("a variant holds one complete type")
        fields[code], _ = reader.value(signature, 0, 1)
    return Message(kind, serial, fields, bytes(data[body_start:]), order)


# -- the connection ---------------------------------------------------------------------------------------


def session_bus_address(address: str) -> str | bytes:
    """The socket address of the first ``unix:path=`` or ``unix:abstract=`` entry of a D-Bus address list (as
    jeepney reads ``DBUS_SESSION_BUS_ADDRESS``); ValueError when there is none."""
    for entry in address.split(";"):
        transport, _colon, info = entry.partition(":")
        if transport != "unix":
            continue
        pairs = {}
        for part in info.split(","):
            key, equals, value = part.partition("=")
            if not equals:
                raise ValueError("bad D-Bus address")
            pairs[key] = _unescape(value)
        if "abstract" in pairs:
            return "\0" + pairs["abstract"]
        if "path" in pairs:
            return pairs["path"]
    raise ValueError("no unix:path or unix:abstract D-Bus address")


def _unescape(value: str) -> str:
    if "%" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        if value[i] == "%" and _is_hex(value[i + 1:i + 3]):
            out.append(chr(int(value[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _is_hex(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text)


class Connection:
    """A blocking connection to a message bus over a Unix socket, authenticated (EXTERNAL) but not yet
    registered: the caller's first call must be the bus's ``Hello`` (it may travel with others, see
    :meth:`calls`). Every wait ends by ``timeout`` seconds (TimeoutError, an OSError)."""

    def __init__(self, address: str | bytes, timeout: float) -> None:
        import _socket  # the C module: socket.py's enum conversions are what this module avoids
        import time

        self._time = time.monotonic
        self.timeout = timeout
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self._buffer = bytearray()
        self._serial = 0
        self._begin = False  # BEGIN goes out with the first calls, after a successful handshake
        self.peer_uid: int | None = None
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(address)
            self.peer_uid = _peer_uid(self.sock, _socket)
        except BaseException:
            self.sock.close()
            raise

    def authenticate(self) -> None:
        """The EXTERNAL handshake, as jeepney does it (no file-descriptor passing). Raises WireError when the
        bus does not answer OK."""
        import _socket

        deadline = self._time() + self.timeout
        auth = b"AUTH EXTERNAL " + str(os.geteuid()).encode("ascii").hex().encode("ascii") + b"\r\n"
        if hasattr(_socket, "SCM_CREDS"):  # BSD: the kernel fills in the credentials of the first byte
            self.sock.sendmsg([b"\0"], [(_socket.SOL_SOCKET, _socket.SCM_CREDS, bytes(512))])
            self._send(auth)
        else:  # Linux: the bus reads them with SO_PEERCRED
            self._send(b"\0" + auth)
        line = bytearray()
        while b"\r\n" not in line:
            self._wait(deadline)
            chunk = self.sock.recv(1024)
            if not chunk:
                raise WireError("the bus closed the connection")
            line += chunk
            if len(line) > 8192:
                raise WireError("the bus sent too much during authentication")
        if not line.startswith(b"OK ") or not line.endswith(b"\r\n") or line.count(b"\r\n") != 1:
            raise WireError("authentication refused")  # (or more than the one line it answers with)
        self._begin = True

    def next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def calls(
        self, *calls: tuple[str, str, str, str, str, Sequence[Any]]
    ) -> list[Message]:
        """Send the method calls (destination, path, interface, member, signature, body) at once, then wait for
        the reply to each; returns the method returns in the same order. An error reply to any of them, a
        reply whose sender is not the destination called (the bus fills in the sender: nobody can forge it),
        or a wait past the timeout raises (WireError / TimeoutError)."""
        deadline = self._time() + self.timeout
        out = bytearray()
        if self._begin:
            out += b"BEGIN\r\n"
            self._begin = False
        wanted: dict[int, int] = {}
        senders = []
        for index, (destination, path, interface, member, signature, body) in enumerate(calls):
            serial = self.next_serial()
            out += method_call(serial, destination, path, interface, member, signature, body)
            wanted[serial] = index
            senders.append(destination)
        self._send(bytes(out))
        replies: list[Message | None] = [None] * len(calls)
        remaining = len(calls)
        while remaining:
            message = self._receive(deadline)
            index_of = wanted.get(message.fields.get(_REPLY_SERIAL, 0)) if message.kind in (
                _METHOD_RETURN, _ERROR) else None
            if index_of is None or replies[index_of] is not None:
                continue  # a signal (NameAcquired after Hello), or anything else not answering us
            if message.fields.get(_SENDER) != senders[index_of]:
                raise WireError("a reply from someone other than the connection called")
            if message.kind == _ERROR:
                name = message.fields.get(_ERROR_NAME, "")
                raise WireError(f"D-Bus error {name}", str(name))
            replies[index_of] = message
            remaining -= 1
        return [reply for reply in replies if reply is not None]

    def close(self) -> None:
        self.sock.close()

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def _wait(self, deadline: float) -> None:
        left = deadline - self._time()
        if left <= 0:
            raise TimeoutError("the D-Bus peer did not answer in time")
        self.sock.settimeout(left)

    def _receive(self, deadline: float) -> Message:
        while True:
            if len(self._buffer) >= 16:
                size = message_size(bytes(self._buffer[:16]))
                if len(self._buffer) >= size:
                    data = bytes(self._buffer[:size])
                    del self._buffer[:size]
                    return parse_message(data)
            self._wait(deadline)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WireError("the connection was closed")
            self._buffer += chunk


def _peer_uid(sock: Any, module: Any) -> int | None:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED), or None when the
    platform cannot tell."""
    option = getattr(module, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = sock.getsockopt(module.SOL_SOCKET, option, 12)  # struct ucred: pid, uid, gid (C ints)
    return int.from_bytes(raw[4:8], sys.byteorder, signed=True)


def hello() -> tuple[str, str, str, str, str, Sequence[Any]]:
    """The bus's Hello, the first call on every connection."""
    return bus_call("Hello", "")


def bus_call(member: str, signature: str, *body: Any) -> tuple[str, str, str, str, str, Sequence[Any]]:
    """A call of the bus itself (``org.freedesktop.DBus``)."""
    return (BUS_NAME, BUS_PATH, BUS_NAME, member, signature, body)
