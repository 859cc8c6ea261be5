"""The floor of an STS round trip: an HTTP server that answers every request with one canned response.

``python -m benchmarks.canned_server BODY_FILE``: serves on a free loopback port (printed as ``endpoint: URL``),
one keep-alive connection at a time, and answers each request with BODY_FILE's bytes as text/xml without
looking at it (no parsing, no signature check, no state). boto3 against it costs only the client's own work
and the loopback socket: no server can answer the same call faster, so ``moto / this`` bounds the speed-up any
emulator can show against moto.
"""

from __future__ import annotations

import socket
import sys


def _read_request(conn: socket.socket, buffer: bytes) -> bytes | None:
    """Consume one request (headers and Content-Length body) from ``buffer`` + the socket; returns the bytes left
    over, or None when the peer closed."""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return rest[length:]


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        body = f.read()
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nx-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    print(f"endpoint: http://127.0.0.1:{server.getsockname()[1]}", flush=True)
    while True:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            left: bytes | None = b""
            while True:
                left = _read_request(conn, left or b"")
                if left is None:
                    break
                conn.sendall(response)


if __name__ == "__main__":
    sys.exit(main())
