"""The terminal bridge: while the GUI runs, ``stsdesk assume`` and ``credential-process`` ask it for keys.

Protocol: one Unix socket per config directory in a 0700 directory (the user's runtime dir when there is one),
socket 0600, and a per-run random secret in a 0600 file next to it. A client sends one line of JSON
``{"secret", "op": "credentials", "profile", "duration", "format"}`` and reads one line back:
``{"ok": true, "credentials": {...}}`` or ``{"ok": false, "error": "one line"}``. A request without the right
secret gets ``{"ok": false, "error": "refused"}`` and nothing else, whatever was wrong with it. The server
handles one request per connection; the handler (the GUI's broker) does the single-flight and MFA prompting.

Hand-written on asyncio/socket because no maintained library does "authenticated local RPC over a Unix socket"
without pulling in a framework. The client half is stdlib only (no botocore): the credential-process fast
path uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import json
import logging
import os
import secrets
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stsdesk.core.bridge_client import (
    CONNECT_TIMEOUT,
    LOCK_NAME,
    MAX_LINE,
    REFUSED,
    SECRET_NAME,
    SOCKET_NAME,
    BridgeError,
    BridgeInUse,
    _fits,
    _line,
    _one_line,
    bridge_directory,
    bridge_request,
    credentials_from_json,
    credentials_to_json,
)
from stsdesk.core.errors import StsdeskError
from stsdesk.core.model import Credentials
from stsdesk.core.paths import UnsafeDirectory, ensure_private_directory

__all__ = [
    "CONNECT_TIMEOUT",
    "LOCK_NAME",
    "MAX_LINE",
    "REFUSED",
    "SECRET_NAME",
    "SOCKET_NAME",
    "BridgeError",
    "BridgeInUse",
    "BridgeServer",
    "Handler",
    "bridge_directory",
    "bridge_request",
    "credentials_from_json",
    "credentials_to_json",
]

log = logging.getLogger(__name__)

REQUEST_READ_TIMEOUT = 10.0  # a client must send its request line this quickly

Handler = Callable[[str, int | None], Awaitable[Credentials]]


def _ensure_private_dir(directory: Path) -> None:
    # A loose directory of ours is tightened only where nobody else can have made it (its parent is ours and
    # not writable by others: the runtime dir, the config dir); in the shared temp dir it is refused.
    try:
        parent = directory.parent.lstat()
        ours = parent.st_uid == os.getuid() and not parent.st_mode & 0o022 and stat.S_ISDIR(parent.st_mode)
    except OSError:
        ours = False
    try:
        ensure_private_directory(directory, what="the terminal bridge", tighten=ours)
    except UnsafeDirectory as exc:
        raise BridgeError(str(exc)) from None


# -- server --------------------------------------------------------------------------------------------


class BridgeServer:
    """Serves credential requests from terminals on asyncio (the qasync loop in the GUI).

    ``handler(profile, duration)`` returns credentials or raises; a StsdeskError's message goes back to the
    client, any other exception becomes a generic one-line error (and is logged here).
    """

    def __init__(self, directory: Path, handler: Handler) -> None:
        self.directory = directory
        self.socket_path = directory / SOCKET_NAME
        self.secret_path = directory / SECRET_NAME
        self._handler = handler
        self._secret = b""
        self._server: asyncio.AbstractServer | None = None
        self._lock_fd: int | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Create the directory, secret and socket and start serving.

        Raises BridgeInUse when another live GUI serves this directory, BridgeError when the directory is
        unsafe or Unix sockets are not available. A socket left by a crashed GUI is replaced.
        """
        if self._server is not None:
            return
        if not hasattr(asyncio, "start_unix_server") or not hasattr(socket, "AF_UNIX"):
            raise BridgeError("the terminal bridge needs Unix domain sockets")
        import fcntl  # Unix only, like the rest of the server

        if not _fits(self.directory):
            raise BridgeError(f"{self.directory}: too long for a Unix socket; the terminal bridge is off")
        _ensure_private_dir(self.directory)
        # The lock, not the socket, decides who owns the bridge: the kernel drops it when a GUI dies, so a
        # leftover socket under a free lock is stale, and two GUIs starting at once cannot both win.
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)  # a lock file left by an older version under a loose umask
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise BridgeInUse("another stsdesk window already serves terminals for this config") from exc
            raise
        self._lock_fd = fd
        try:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()  # stale: its owner no longer holds the lock
            self._secret = secrets.token_hex(32).encode()
            self._write_secret()
            self._server = await asyncio.start_unix_server(
                self._accept, path=str(self.socket_path), limit=MAX_LINE
            )
            # Already unreachable for others (0700 directory); 0600 says so to anyone looking.
            self.socket_path.chmod(0o600)
        except BaseException:
            await self.close()
            raise

    def _write_secret(self) -> None:
        from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

        atomic_write(self.secret_path, self._secret, fsync=False)  # 0600 whatever the umask

    async def close(self) -> None:
        """Stop serving, cancel requests in progress, remove socket and secret, release the lock."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        if self._lock_fd is not None:
            for path in (self.socket_path, self.secret_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            os.close(self._lock_fd)
            self._lock_fd = None
        self._secret = b""

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            try:
                answer = await self._answer(reader)
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception:  # a bug in the checks must still give the client one line, not a hang-up
                log.exception("terminal bridge: request failed")
                answer = {"ok": False, "error": "the stsdesk GUI failed unexpectedly (see its log)"}
            writer.write(_line(answer))
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the terminal went away (Ctrl-C) or the GUI is closing
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        try:
            line = await asyncio.wait_for(reader.readline(), REQUEST_READ_TIMEOUT)
        except (TimeoutError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            return {"ok": False, "error": REFUSED}
        request = self._authenticated(line)
        if request is None:
            return {"ok": False, "error": REFUSED}
        # Authenticated from here on: errors may say what is wrong.
        profile, duration, fmt = request.get("profile"), request.get("duration"), request.get("format")
        if request.get("op") != "credentials":
            return {"ok": False, "error": "unknown operation"}
        if not isinstance(profile, str) or not profile:
            return {"ok": False, "error": "no profile given"}
        if duration is not None and (type(duration) is not int or duration <= 0):
            return {"ok": False, "error": "duration must be a positive number of seconds"}
        if fmt is not None and not isinstance(fmt, str):
            return {"ok": False, "error": "format must be a string"}
        return await self._credentials(reader, profile, duration)

    def _authenticated(self, line: bytes) -> dict[str, Any] | None:
        """The request in ``line`` when it is a JSON object carrying this run's secret, else None.

        Never raises: whatever an unauthenticated client sends (nesting deep enough to exhaust the recursion
        limit, a lone surrogate that cannot be encoded, a number too long to convert, invalid UTF-8) is simply
        not authenticated, and gets ``refused`` like any other stranger.
        """
        try:
            request = json.loads(line)
            presented = request.get("secret") if isinstance(request, dict) else None
            if isinstance(presented, str) and hmac.compare_digest(presented.encode(), self._secret):
                return request  # type: ignore[no-any-return]
        except Exception:  # RecursionError, UnicodeEncodeError, ValueError: all just "not authenticated"
            return None
        return None

    async def _credentials(
        self, reader: asyncio.StreamReader, profile: str, duration: int | None
    ) -> dict[str, Any]:
        work = asyncio.ensure_future(self._handler(profile, duration))
        # The client sends nothing more; EOF means it gave up (Ctrl-C), so stop waiting on its behalf.
        hangup = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({work, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not work.done():
                work.cancel()
            hangup.cancel()
        if not work.done() or work.cancelled():
            raise ConnectionResetError("client went away")
        exc = work.exception()
        if exc is None:
            return {"ok": True, "credentials": credentials_to_json(work.result())}
        if isinstance(exc, StsdeskError):
            answer: dict[str, Any] = {"ok": False, "error": _one_line(str(exc))}
            if exc.remedy is not None:  # the terminal says it in its own words (stsdesk.cli.remedies)
                answer["remedy"] = exc.remedy.to_json()
            return answer
        log.error("terminal bridge handler failed for %s", profile, exc_info=exc)
        return {"ok": False, "error": "the stsdesk GUI failed unexpectedly (see its log)"}
