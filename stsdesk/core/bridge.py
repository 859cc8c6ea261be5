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
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from stsdesk.core.errors import Remedy, StsdeskError
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.paths import UnsafeDirectory, ensure_private_directory

log = logging.getLogger(__name__)

SOCKET_NAME = "bridge.sock"
SECRET_NAME = "bridge.secret"
LOCK_NAME = "bridge.lock"
MAX_LINE = 64 * 1024
REQUEST_READ_TIMEOUT = 10.0  # a client must send its request line this quickly
CONNECT_TIMEOUT = 1.0
REFUSED = "refused"
_SUN_PATH_MAX = 100  # sockaddr_un.sun_path is 104 (macOS) / 108 (Linux) bytes with the NUL

Handler = Callable[[str, int | None], Awaitable[Credentials]]


class BridgeError(StsdeskError):
    """The bridge could not be used: another GUI owns it, the directory is unsafe, or the GUI answered with an
    error (the message is the GUI's one-line error)."""


class BridgeInUse(BridgeError):
    """Another stsdesk GUI already serves this config directory."""


# -- where ---------------------------------------------------------------------------------------------


def _private_dir_ok(path: Path) -> bool:
    """A real directory (not a symlink) owned by us that no one else can enter."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077 == 0


def bridge_directory(config_dir: Path, runtime_dir: str | None = None) -> Path:
    """Where the bridge of ``config_dir`` lives (not created here).

    ``<runtime dir>/stsdesk-<hash of config dir>``: each config directory (``--config-dir``, tests, demos)
    has its own bridge, so a terminal talks only to the GUI of the same config. The runtime dir is
    ``runtime_dir``, else ``$XDG_RUNTIME_DIR``, else ``/run/user/<uid>`` (platformdirs' on macOS), when it is
    private; otherwise ``<config dir>/run``; and when that makes a socket path too long for AF_UNIX,
    ``<temp dir>/stsdesk-<uid>-<hash>`` (its ownership is checked before use, so a squatter only disables
    the bridge).
    """
    digest = hashlib.sha256(os.fsencode(config_dir.expanduser().resolve())).hexdigest()[:12]
    base = runtime_dir or os.environ.get("XDG_RUNTIME_DIR", "")
    if not base and sys.platform == "darwin":
        from platformdirs import user_runtime_dir  # light; only where XDG_RUNTIME_DIR is not a thing

        base = str(Path(user_runtime_dir("stsdesk", appauthor=False, ensure_exists=False)).parent)
    elif not base:
        # What platformdirs does on Linux, minus its world-shared /tmp/runtime-<uid> fallback and warning.
        base = f"/run/user/{os.getuid()}"
    for candidate, parent in (
        (Path(base) / f"stsdesk-{digest}", Path(base)),
        (config_dir / "run", None),
        (Path(tempfile.gettempdir()) / f"stsdesk-{os.getuid()}-{digest}", None),
    ):
        if (parent is None or _private_dir_ok(parent)) and _fits(candidate):
            return candidate
    return config_dir / "run"  # nothing fits: start() will say the path is too long


def _fits(directory: Path) -> bool:
    return len(os.fsencode(directory / SOCKET_NAME)) <= _SUN_PATH_MAX


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


# -- wire format ---------------------------------------------------------------------------------------


def credentials_to_json(creds: Credentials) -> dict[str, Any]:
    """The JSON object the server sends for ``creds`` (the secret key and token included: it is the point)."""
    return {
        "access_key_id": creds.access_key_id,
        "secret_access_key": creds.secret_access_key,
        "session_token": creds.session_token,
        "expiration": creds.expiration.isoformat() if creds.expiration else None,
        "kind": creds.kind.value,
        "region": creds.region,
    }


def credentials_from_json(raw: Any) -> Credentials:
    """Parse the server's credentials object; raises BridgeError when it is malformed."""
    try:
        expiration = raw["expiration"]
        creds = Credentials(
            access_key_id=str(raw["access_key_id"]),
            secret_access_key=str(raw["secret_access_key"]),
            session_token=None if raw["session_token"] is None else str(raw["session_token"]),
            expiration=None if expiration is None else datetime.fromisoformat(str(expiration)),
            kind=CredentialKind(raw["kind"]),
            region=None if raw.get("region") is None else str(raw["region"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BridgeError("the stsdesk GUI sent a malformed answer") from exc
    if creds.expiration is not None and creds.expiration.tzinfo is None:
        raise BridgeError("the stsdesk GUI sent a malformed answer")
    return creds


def _line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode() + b"\n"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "failed"


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
        temp = self.secret_path.with_name(SECRET_NAME + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(self._secret)
        os.replace(temp, self.secret_path)

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


# -- client --------------------------------------------------------------------------------------------


def _read_secret(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        return file.read(4096).decode("ascii", "replace").strip() or None


def bridge_request(
    directory: Path,
    profile: str,
    duration: int | None = None,
    timeout: float = 300.0,
    *,
    fmt: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> Credentials | None:
    """Ask the running GUI for ``profile``'s credentials; None when no GUI serves ``directory``.

    ``timeout`` bounds the whole wait (the GUI may be showing an MFA prompt). Returns None quickly when there
    is no socket, no secret, a stale socket or an unsafe directory, so the caller can carry on alone. Raises
    BridgeError with the GUI's one-line message when the GUI answered with an error, refused the request, or
    did not answer in time.
    """
    if not hasattr(socket, "AF_UNIX") or not _private_dir_ok(directory):
        return None
    deadline = time.monotonic() + timeout
    used: str | None = None
    for _attempt in range(2):  # a GUI restarted between our reading its secret and connecting: read again
        secret = _read_secret(directory / SECRET_NAME)
        if secret is None or secret == used:
            break
        used = secret
        answer = _ask(directory, secret, profile, duration, fmt, deadline, timeout, connect_timeout)
        if answer is None:
            return None
        if answer.get("ok") is True:
            return credentials_from_json(answer.get("credentials"))
        error = answer.get("error")
        if error != REFUSED:
            raise BridgeError(
                _one_line(str(error)) if error else "the stsdesk GUI sent a malformed answer",
                remedy=Remedy.from_json(answer.get("remedy")),
            )
    if used is None:
        return None
    raise BridgeError("the running stsdesk GUI refused the request; try again")


def _ask(
    directory: Path,
    secret: str,
    profile: str,
    duration: int | None,
    fmt: str | None,
    deadline: float,
    timeout: float,
    connect_timeout: float,
) -> dict[str, Any] | None:
    """One request on a fresh connection; None when nobody listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(connect_timeout)
        try:
            sock.connect(str(directory / SOCKET_NAME))
        except OSError:
            return None  # no socket, or a stale one nobody listens on: no GUI
        request = {
            "secret": secret, "op": "credentials", "profile": profile, "duration": duration, "format": fmt
        }
        return _exchange(sock, _line(request), deadline, timeout)
    finally:
        sock.close()


def _exchange(sock: socket.socket, payload: bytes, deadline: float, timeout: float) -> dict[str, Any]:
    buffer = b""
    try:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.sendall(payload)
        while b"\n" not in buffer and len(buffer) <= MAX_LINE:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    except TimeoutError as exc:
        raise BridgeError(f"the stsdesk GUI did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise BridgeError(f"the stsdesk GUI closed the connection ({exc.strerror or exc})") from exc
    if b"\n" not in buffer:
        raise BridgeError("the stsdesk GUI closed the connection without an answer")
    try:
        answer = json.loads(buffer.split(b"\n", 1)[0])
    except ValueError as exc:
        raise BridgeError("the stsdesk GUI sent a malformed answer") from exc
    if not isinstance(answer, dict):
        raise BridgeError("the stsdesk GUI sent a malformed answer")
    return answer
