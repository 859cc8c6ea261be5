"""A fake Secret Service for tests: owns org.freedesktop.secrets on the bus at argv[1] and hands out argv[3]
as every secret, logging each method it is asked to argv[2]. Runs under any Python 3 with jeepney importable
(the tests run it as a second local user, with a copy of jeepney on its path)."""

from __future__ import annotations

import sys

from jeepney import HeaderFields, MessageType, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

ITEM = "/org/freedesktop/secrets/collection/login/1"
SESSION = "/org/freedesktop/secrets/session/s1"


def main() -> None:
    address, log_path, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    conn = open_dbus_connection(bus=address)
    conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.secrets"))
    with open(log_path, "a") as log:
        log.write("ready\n")
    answers = {
        "Get": ("v", (("b", False),)),
        "SearchItems": ("ao", ([ITEM],)),
        "OpenSession": ("vo", (("s", ""), SESSION)),
        "GetSecret": ("(oayays)", ((SESSION, b"", secret, "text/plain"),)),
    }
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member, "")
        with open(log_path, "a") as log:
            log.write(f"{member}\n")
        if member in answers:
            conn.send(new_method_return(msg, *answers[member]))


if __name__ == "__main__":
    main()
