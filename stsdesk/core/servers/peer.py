"""Which local user opened a loopback TCP connection (Linux: sock_diag netlink, else /proc/net/tcp).

Every local user can connect to 127.0.0.1. The container mode is protected by its token; the IMDSv2 flow has
no secret the SDK could send, so any local user could take a token and the credentials. On Linux the kernel
knows each TCP socket's owner: the client end of a connection to us is looked up by its address pair (one
sock_diag query, ~20 us; reading the whole /proc/net/tcp table costs milliseconds on a busy machine and is
only the fallback), and connections from another uid are refused.
"""

from __future__ import annotations

import os
import socket
import struct

_TCP_TABLE = "/proc/net/tcp"
_LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian)
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NO_COOKIE = 0xFFFFFFFF
_UID_OFFSET = 16 + 64  # nlmsghdr, then inet_diag_msg: family..retrans (4), sockid (48), expires, queues (12)


def _diag_uid(client_port: int, server_port: int) -> int | None:
    """One exact sock_diag lookup of the TCP socket 127.0.0.1:client_port -> 127.0.0.1:server_port."""
    loopback = socket.inet_aton("127.0.0.1") + bytes(12)
    sockid = struct.pack("!HH", client_port, server_port) + loopback + loopback
    sockid += struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)  # any interface, no cookie (exact 4-tuple lookup)
    request = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    header = struct.pack("=LHHLL", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as link:
        link.settimeout(1.0)
        link.sendto(header + request, (0, 0))
        reply = link.recv(8192)
    if len(reply) < _UID_OFFSET + 4 or struct.unpack_from("=H", reply, 4)[0] != _SOCK_DIAG_BY_FAMILY:
        return None  # NLMSG_ERROR: no such socket (it closed already) or the query is not supported
    uid: int = struct.unpack_from("=I", reply, _UID_OFFSET)[0]
    return uid


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
    if hasattr(socket, "AF_NETLINK"):
        try:
            found = _diag_uid(peer_port, local_port)
        except OSError:
            found = None
        if found is not None:
            return found
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
