"""The terminal bridge's client half, its wire format and where it lives (the server is core/bridge.py).

Standard library only, and no asyncio: ``stsdesk credential-process`` and ``assume`` import this to ask a running
GUI for keys, on the fast path. Protocol: core/bridge.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from stsdesk.core.errors import Remedy, StsdeskError
from stsdesk.core.model import CredentialKind, Credentials

SOCKET_NAME = "bridge.sock"
SECRET_NAME = "bridge.secret"
LOCK_NAME = "bridge.lock"
MAX_LINE = 64 * 1024
CONNECT_TIMEOUT = 1.0
REFUSED = "refused"
_SUN_PATH_MAX = 100  # sockaddr_un.sun_path is 104 (macOS) / 108 (Linux) bytes with the NUL


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
