"""Which local user opened a loopback TCP connection (Linux: /proc/net/tcp).

Every local user can connect to 127.0.0.1. The container mode is protected by its token; the IMDSv2 flow has
no secret the SDK could send, so any local user could take a token and the credentials. On Linux the kernel
lists each TCP socket with its owner's uid: the client end of a connection to us is found by its address
pair, and connections from another uid are refused.
"""

from __future__ import annotations

import os
import socket

_TCP_TABLE = "/proc/net/tcp"
_LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian)


def peer_uid_supported() -> bool:
    """True where :func:`loopback_peer_uid` can answer (Linux with /proc mounted)."""
    return os.path.exists(_TCP_TABLE)


def loopback_peer_uid(sock: socket.socket) -> int | None:
    """The uid owning the client end of ``sock`` (an accepted 127.0.0.1 TCP connection), or None when it
    cannot be told (no /proc, the client socket already gone, not IPv4 loopback)."""
    try:
        local_host, local_port = sock.getsockname()[:2]
        peer_host, peer_port = sock.getpeername()[:2]
    except OSError:
        return None
    if local_host != "127.0.0.1" or peer_host != "127.0.0.1":
        return None
    # The client's socket: its local address is our peer, its remote address is us.
    wanted_local = f"{_LOOPBACK_HEX}:{peer_port:04X}"
    wanted_remote = f"{_LOOPBACK_HEX}:{local_port:04X}"
    try:
        with open(_TCP_TABLE, encoding="ascii") as table:
            next(table, None)  # header line
            for line in table:
                fields = line.split()
                if len(fields) > 7 and fields[1] == wanted_local and fields[2] == wanted_remote:
                    return int(fields[7])
    except (OSError, ValueError):
        return None
    return None
