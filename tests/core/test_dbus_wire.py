"""dbus_wire, the credential-process fast path's own D-Bus client: its messages are byte for byte jeepney's,
it reads what jeepney writes (both byte orders), refuses what does not parse, and its connection keeps to the
rules read_secret relies on (replies matched by serial and sender, errors and timeouts raised), against a
small bus of the test's own over a Unix socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import unmeasured_env
from jeepney import DBusAddress, new_error, new_method_call, new_method_return, new_signal
from jeepney.bus import get_connectable_addresses
from jeepney.low_level import Endianness, Header, HeaderFields, Message, MessageType, Parser

from stsdesk.core import dbus_wire as wire

SAMPLES: list[tuple[str, tuple[Any, ...]]] = [
    ("s", ("org.freedesktop.secrets",)),
    ("u", (1000,)),
    ("b", (False,)),
    ("ss", ("org.freedesktop.Secret.Collection", "Locked")),
    ("a{ss}", ({"username": "session:profile:dev", "service": "stsdesk:ü"},)),
    ("sv", ("plain", ("s", ""))),
    ("o", ("/org/freedesktop/secrets/session/s1",)),
    ("ao", (["/a/b", "/c_1"],)),
    ("ao", ([],)),
    ("(oayays)", (("/s", b"", b"wJalr/\x00\xff" * 50, "text/plain"),)),
    ("yqnixtd", (255, 65535, -2, -5, -(2**40), 2**63, 1.5)),
    ("av", ([("b", True), ("ay", b"xy"), ("a{sv}", {"k": ("u", 7)})],)),
    ("a(yv)", ([(1, ("o", "/x")), (8, ("g", "a{ss}"))],)),
    ("ya{sai}", (3, {"one": [1], "none": []})),
]


def _jeepney_message(signature: str, body: tuple[Any, ...], endianness: Endianness) -> bytes:
    fields = {
        HeaderFields.path: "/org/example",
        HeaderFields.interface: "org.example.I",
        HeaderFields.member: "M",
        HeaderFields.destination: ":1.7",
        HeaderFields.sender: ":1.8",
    }
    if signature:
        fields[HeaderFields.signature] = signature
    header = Header(endianness, MessageType.method_return, 0, 1, 0, 5, fields)
    return Message(header, body).serialise()


@pytest.mark.parametrize(("signature", "body"), SAMPLES)
def test_method_call_is_jeepneys_message(signature: str, body: tuple[Any, ...]) -> None:
    address = DBusAddress("/org/example/obj", ":1.42", "org.example.Iface")
    expected = new_method_call(address, "Do", signature, body).serialise(serial=9)
    assert wire.method_call(9, ":1.42", "/org/example/obj", "org.example.Iface", "Do", signature, body) == expected


@pytest.mark.parametrize(("signature", "body"), SAMPLES)
@pytest.mark.parametrize("endianness", [Endianness.little, Endianness.big])
def test_reads_what_jeepney_writes(signature: str, body: tuple[Any, ...], endianness: Endianness) -> None:
    data = _jeepney_message(signature, body, endianness)
    assert wire.message_size(data[:16]) == len(data)
    message = wire.parse_message(data)
    assert (message.kind, message.serial) == (2, 5)
    assert message.fields[7] == ":1.8" and message.fields[3] == "M"
    assert message.values(signature) == body
    with pytest.raises(wire.WireError):
        message.values(signature + "s")  # not the signature the caller expects


def test_hello_and_no_body() -> None:
    expected = new_method_call(
        DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus"), "Hello"
    ).serialise(serial=1)
    assert wire.method_call(1, *wire.hello()[:5]) == expected
    assert wire.parse_message(_jeepney_message("", (), Endianness.little)).values("") == ()


@pytest.mark.parametrize(
    ("signature", "data"),
    [
        ("s", b"\x05\0\0\0abc"),  # shorter than its length
        ("s", b"\x03\0\0\0abcX"),  # no NUL after it
        ("s", b"\x02\0\0\0\xff\xfe\0"),  # not UTF-8
        ("b", b"\x02\0\0\0"),  # a boolean is 0 or 1
        ("u", b"\x01\0"),  # truncated
        ("ao", b"\x08\0\0\0\x02\0\0\0/a\0\0"),  # an array longer than what follows
        ("o", b"\x02\0\0\0ab\0"),  # not an object path
        ("v", b"\x02ss\0"),  # a variant of two types
        ("u", b"\x01\0\0\0\0\0\0\0"),  # trailing bytes
        ("a", b"\0\0\0\0"),  # not a complete type
    ],
)
def test_refuses_what_does_not_parse(signature: str, data: bytes) -> None:
    with pytest.raises((ValueError, wire.WireError)):
        wire.unmarshal(signature, data)


def test_refuses_values_that_do_not_fit() -> None:
    with pytest.raises((TypeError, ValueError)):
        wire.marshal("s", (b"bytes",))
    with pytest.raises(ValueError):
        wire.marshal("o", ("not/a/path",))
    with pytest.raises(ValueError):
        wire.marshal("ss", ("one",))
    with pytest.raises(TypeError):
        wire.marshal("b", (1,))


def test_a_header_that_does_not_add_up_is_refused() -> None:
    data = bytearray(_jeepney_message("s", ("x",), Endianness.little))
    for fields_length in (int.from_bytes(data[12:16], "little") + 8, 3):
        data[12:16] = fields_length.to_bytes(4, "little")
        with pytest.raises(ValueError):
            wire.parse_message(bytes(data))


def test_message_size_refuses_garbage_and_giants() -> None:
    with pytest.raises(ValueError):
        wire.message_size(b"X" + bytes(15))
    with pytest.raises(ValueError):
        wire.message_size(b"l\x02\x01\x01" + (2**27).to_bytes(4, "little") + bytes(8))


@pytest.mark.parametrize(
    "address",
    [
        "unix:path=/run/user/1000/bus",
        "unix:abstract=/tmp/dbus-XYZ,guid=abc",
        "tcp:host=localhost,port=1;unix:path=/tmp/with%20space%2c",
        "unix:path=/a;unix:path=/b",
    ],
)
def test_bus_address_is_jeepneys_choice(address: str) -> None:
    assert wire.session_bus_address(address) == next(get_connectable_addresses(address))


@pytest.mark.parametrize("address", ["tcp:host=localhost,port=1", "unix:tmpdir=/tmp", "", "unix:path"])
def test_bus_address_without_a_unix_socket_is_refused(address: str) -> None:
    with pytest.raises(ValueError):
        wire.session_bus_address(address)


# -- a connection to a small bus of our own ------------------------------------------------------------


class FakeBus:
    """Accepts one connection on a Unix socket, answers the EXTERNAL handshake with OK (or ``auth_reply``),
    then passes each method call it reads to ``answer``, which returns the messages to send back."""

    def __init__(self, path: Path, answer: Callable[[Message], list[Message]], auth_reply: bytes = b"OK 1234\r\n"):
        self.path = str(path)
        self.answer = answer
        self.auth_reply = auth_reply
        self.auth_line = b""
        self.calls: list[Message] = []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(self.path)
        self.server.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            data = b""
            while b"\r\n" not in data:
                data += conn.recv(1024)
            self.auth_line = data
            conn.sendall(self.auth_reply)
            parser = Parser()
            begun = False
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return  # the client went away mid-answer (it stops at the first error reply)
                if not chunk:
                    return
                if not begun:
                    assert chunk.startswith(b"BEGIN\r\n")
                    chunk, begun = chunk[len(b"BEGIN\r\n"):], True
                for message in parser.feed(chunk):
                    self.calls.append(message)
                    for reply in self.answer(message):
                        try:
                            conn.sendall(reply.serialise(serial=100 + len(self.calls)))
                        except OSError:
                            return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Callable[..., FakeBus]]:
    made: list[FakeBus] = []

    def make(answer: Callable[[Message], list[Message]], **kwargs: Any) -> FakeBus:
        made.append(FakeBus(tmp_path / f"bus{len(made)}", answer, **kwargs))
        return made[-1]

    yield make
    for fake in made:
        fake.close()


def _from(sender: str, reply: Message) -> Message:
    reply.header.fields[HeaderFields.sender] = sender
    return reply


def _connect(fake: FakeBus, timeout: float = 5.0) -> wire.Connection:
    connection = wire.Connection(fake.path, timeout)
    connection.authenticate()
    return connection


def test_handshake_and_calls_in_one_write(bus: Callable[..., FakeBus]) -> None:
    def answer(call: Message) -> list[Message]:
        member = call.header.fields[HeaderFields.member]
        if member == "Hello":
            return [_from("org.freedesktop.DBus", new_method_return(call, "s", (":1.9",))),
                    new_signal(DBusAddress("/org/freedesktop/DBus", interface="org.freedesktop.DBus"),
                               "NameAcquired", "s", (":1.9",))]
        return [_from("org.freedesktop.DBus", new_method_return(call, "s", (":1.2",)))]

    fake = bus(answer)
    connection = _connect(fake)
    assert connection.peer_uid == os.getuid()
    try:
        hello, owner = connection.calls(wire.hello(), wire.bus_call("GetNameOwner", "s", "org.freedesktop.secrets"))
    finally:
        connection.close()
    assert hello.values("s") == (":1.9",) and owner.values("s") == (":1.2",)
    assert fake.auth_line == b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n"
    assert [m.header.fields[HeaderFields.member] for m in fake.calls] == ["Hello", "GetNameOwner"]
    assert fake.calls[1].body == ("org.freedesktop.secrets",)


def test_replies_are_matched_by_serial_whatever_their_order(bus: Callable[..., FakeBus]) -> None:
    held: list[Message] = []

    def answer(call: Message) -> list[Message]:
        held.append(call)
        if len(held) < 3:
            return []
        return [_from(":1.2", new_method_return(c, "u", (i,))) for i, c in reversed(list(enumerate(held)))]

    connection = _connect(bus(answer))
    try:
        replies = connection.calls(*[(":1.2", "/o", "org.example.I", f"M{i}", "", ()) for i in range(3)])
    finally:
        connection.close()
    assert [r.values("u") for r in replies] == [(0,), (1,), (2,)]


def test_a_reply_from_another_connection_is_refused(bus: Callable[..., FakeBus]) -> None:
    connection = _connect(bus(lambda call: [_from(":1.66", new_method_return(call, "s", ("forged",)))]))
    try:
        with pytest.raises(wire.WireError, match="someone other"):
            connection.calls((":1.2", "/o", "org.example.I", "M", "", ()))
    finally:
        connection.close()


def test_an_error_reply_raises_with_its_name(bus: Callable[..., FakeBus]) -> None:
    def answer(call: Message) -> list[Message]:
        return [_from(":1.2", new_error(call, "org.freedesktop.Secret.Error.IsLocked", "s", ("locked",)))]

    connection = _connect(bus(answer))
    try:
        with pytest.raises(wire.WireError) as raised:
            connection.calls((":1.2", "/o", "org.example.I", "M", "", ()))
    finally:
        connection.close()
    assert raised.value.name == "org.freedesktop.Secret.Error.IsLocked"


def test_no_answer_ends_in_a_timeout(bus: Callable[..., FakeBus]) -> None:
    connection = _connect(bus(lambda call: []), timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            connection.calls((":1.2", "/o", "org.example.I", "M", "", ()))
    finally:
        connection.close()


@pytest.mark.parametrize("reply", [b"REJECTED EXTERNAL\r\n", b"OK 1234\r\nmore", b"ERROR\r\n"])
def test_a_refused_handshake_raises(bus: Callable[..., FakeBus], reply: bytes) -> None:
    fake = bus(lambda call: [], auth_reply=reply)
    connection = wire.Connection(fake.path, 5.0)
    try:
        with pytest.raises(wire.WireError):
            connection.authenticate()
    finally:
        connection.close()


# -- read_secret over such a bus, which also plays the Secret Service --------------------------------------

SERVICE = ":1.2"
ITEM = "/org/freedesktop/secrets/collection/login/7"
SESSION = "/org/freedesktop/secrets/session/s3"


def _secret_service(locked: bool = False, owner_uid: int | None = None, items: tuple[str, ...] = (ITEM,),
                    fail: str = "") -> Callable[[Message], list[Message]]:
    def answer(call: Message) -> list[Message]:
        member = call.header.fields[HeaderFields.member]
        if member == fail:
            return [_from(SERVICE, new_error(call, "org.freedesktop.DBus.Error.Failed"))]
        bus_answers = {
            "Hello": ("s", (":1.9",)),
            "GetNameOwner": ("s", (SERVICE,)),
            "GetConnectionUnixUser": ("u", (os.getuid() if owner_uid is None else owner_uid,)),
        }
        if member in bus_answers:
            return [_from("org.freedesktop.DBus", new_method_return(call, *bus_answers[member]))]
        service_answers = {
            "Get": ("v", (("b", locked),)),
            "SearchItems": ("ao", (list(items),)),
            "OpenSession": ("vo", (("s", ""), SESSION)),
            "GetSecret": ("(oayays)", ((SESSION, b"", "the-sécret".encode(), "text/plain"),)),
        }
        return [_from(SERVICE, new_method_return(call, *service_answers[member]))]

    return answer


def _read(fake: FakeBus, monkeypatch: pytest.MonkeyPatch) -> tuple[str | None, list[str]]:
    from stsdesk.core.fast_secret import read_secret

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={fake.path}")
    found = read_secret("stsdesk:t", "session:profile:dev")
    fake.thread.join(5)  # the connection is closed: the bus has seen every call
    return found, [str(m.header.fields[HeaderFields.member]) for m in fake.calls]


def test_read_secret_asks_what_keyring_asks(bus: Callable[..., FakeBus], monkeypatch: pytest.MonkeyPatch) -> None:
    fake = bus(_secret_service())
    found, members = _read(fake, monkeypatch)
    assert found == "the-sécret"
    assert members == ["Hello", "GetNameOwner", "GetConnectionUnixUser", "Get", "SearchItems", "OpenSession",
                       "GetSecret"]
    get, search, session, secret = fake.calls[3:]
    assert get.header.fields[HeaderFields.destination] == SERVICE  # the unique name checked, not the alias
    assert get.body == ("org.freedesktop.Secret.Collection", "Locked")
    assert search.header.fields[HeaderFields.path] == "/org/freedesktop/secrets/aliases/default"
    assert search.body == ({"username": "session:profile:dev", "service": "stsdesk:t"},)
    assert session.body == ("plain", ("s", ""))
    assert (secret.header.fields[HeaderFields.path], secret.body) == (ITEM, (SESSION,))


def test_read_secret_of_a_locked_collection_asks_for_no_secret(
    bus: Callable[..., FakeBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    found, members = _read(bus(_secret_service(locked=True)), monkeypatch)
    assert found is None and "GetSecret" not in members


def test_read_secret_sends_nothing_to_a_service_of_another_user(
    bus: Callable[..., FakeBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    found, members = _read(bus(_secret_service(owner_uid=os.getuid() + 1)), monkeypatch)
    assert found is None and members == ["Hello", "GetNameOwner", "GetConnectionUnixUser"]


@pytest.mark.parametrize("fail", ["Hello", "GetNameOwner", "Get", "SearchItems", "OpenSession", "GetSecret"])
def test_read_secret_is_none_on_any_error(
    bus: Callable[..., FakeBus], monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    found, members = _read(bus(_secret_service(fail=fail)), monkeypatch)
    assert found is None and fail in members


def test_read_secret_without_items_is_none(bus: Callable[..., FakeBus], monkeypatch: pytest.MonkeyPatch) -> None:
    found, members = _read(bus(_secret_service(items=())), monkeypatch)
    assert found is None and "GetSecret" not in members


def test_the_fast_path_read_imports_neither_jeepney_nor_socket_nor_typing(
    bus: Callable[..., FakeBus], tmp_path: Path
) -> None:
    fake = bus(_secret_service())
    code = (
        "import sys, stsdesk.cli, stsdesk.core.cache_index;"
        "from stsdesk.core.fast_secret import read_secret;"
        "found = read_secret('stsdesk:t', 'session:profile:dev');"
        "print(found, sorted(m for m in ('jeepney', 'socket', 'selectors', 'typing', 'struct') if m in sys.modules))"
    )
    env = dict(unmeasured_env(), DBUS_SESSION_BUS_ADDRESS=f"unix:path={fake.path}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                          check=True)
    assert done.stdout.split() == ["the-sécret", "[]"]
