"""Read one secret straight from the Secret Service, the way keyring's SecretService backend stores it, for the
``stsdesk credential-process`` fast path.

``import keyring`` alone costs 40-90 ms (jaraco.context pulls in urllib.request, http.client and email, and
backend discovery reads every installed package's entry points), and secretstorage, which keyring's backend
uses, costs another 25-40 ms (it imports ``cryptography`` at module level and always negotiates a
Diffie-Hellman session in pure Python). Against a budget of a few tens of milliseconds per AWS CLI call that is
too much, so this module talks to the Secret Service itself. No maintained library offers a read-only lookup
without those imports, and even jeepney (secretstorage's own D-Bus library) costs as much to import as the rest
of the cached answer, so the few messages go through :mod:`stsdesk.core.dbus_wire` (on ``_socket``): the
handshake, then Hello with GetNameOwner, GetConnectionUnixUser, then the collection's Locked
property, SearchItems and OpenSession in one write, then GetSecret: five waits for an answer in all, the
handshake's included (eight before, one per call).

The lookup matches ``keyring.backends.SecretService.Keyring.get_password`` exactly: the default collection
(``/org/freedesktop/secrets/aliases/default``), ``SearchItems({"username": key, "service": service})`` (keyring
adds ``application`` only when writing), the first item found, its secret decoded as UTF-8. It differs in
what it does on doubt: it never prompts and never creates a collection; a locked collection or item, a missing
collection, a service that refuses the session, a slow or absent D-Bus all give None, and the caller goes the
keyring way (which may prompt to unlock).

The secret travels in a ``plain`` session (an algorithm the Secret Service API defines; libsecret falls back
to it too): the session bus is a private Unix socket of this user, and a process able to read that traffic
can equally ask the service for the secret, so Diffie-Hellman transport encryption protects nothing here.

It is used only when keyring would use that backend (``direct_read_allowed``): stsdesk records the backend
keyring resolved (``write_backend_record``, a small non-secret JSON file in stsdesk's config directory) after
keyring has actually stored or found a session, and the direct read needs that record to name the
SecretService backend, chosen the same way keyring would choose it now (``PYTHON_KEYRING_BACKEND``,
``keyringrc.cfg``, or its own detection), with no ``KEYRING_PROPERTY_*`` overrides (a preferred collection or
another attribute scheme).

Imports only the standard library at module level; ``read_secret`` imports :mod:`stsdesk.core.dbus_wire`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from stsdesk.core.json_light import loads

TYPE_CHECKING = False  # not typing's: ~2 ms of import on a path that must cost little more than Python's start
if TYPE_CHECKING:
    from stsdesk.core.dbus_wire import Connection

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
RECORD_NAME = "keyring-backend.json"
_RECORD_VERSION = 1
# How keyring picked its backend: the variable, its config file, or its own detection.
SELECTED_BY_ENV = "env"
SELECTED_BY_CONFIG = "config"
SELECTED_BY_DETECTION = "detected"

_BUS_NAME = "org.freedesktop.secrets"
_SERVICE_PATH = "/org/freedesktop/secrets"
_DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"  # the path secretstorage (and keyring) use
_IFACE = "org.freedesktop.Secret."
# Each D-Bus call normally answers in well under a millisecond; a stuck daemon must not stall the AWS CLI.
_CALL_TIMEOUT = 2.0


# -- which backend keyring would use --------------------------------------------------------------------


def keyring_config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """Where keyring reads ``keyringrc.cfg`` on Linux and other Unix systems (its ``config_root()``).

    None on Windows and macOS, where keyring's Secret Service backend is not what it picks anyway.
    """
    if sys.platform in ("win32", "darwin"):
        return None
    environ = os.environ if env is None else env
    root = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")  # empty counts as unset, as in keyring
    return Path(root, "python_keyring", "keyringrc.cfg")


def _config_backend(path: Path) -> str | None:
    """The ``[backend] default-keyring`` of keyring's config file; "" when the file names none.

    A ``keyring-path`` (extra import path) makes the result untrustworthy: reported as ``"?"``.
    Raises OSError when the file exists but cannot be read.
    """
    import configparser  # only when the file exists (rare)

    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except configparser.Error:
        return "?"
    if parser.has_option("backend", "keyring-path"):
        return "?"
    return parser.get("backend", "default-keyring", fallback="").strip()


def keyring_selection(env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """How keyring would pick its backend in this environment: (how, named backend or None).

    ``("env", name)`` for ``PYTHON_KEYRING_BACKEND``; ``("config", name)`` for ``keyringrc.cfg`` (name
    ``"?"`` when the file cannot be trusted to mean one class); ``("detected", None)`` when keyring would
    detect. Never raises.
    """
    environ = os.environ if env is None else env
    if "PYTHON_KEYRING_BACKEND" in environ:
        return SELECTED_BY_ENV, environ["PYTHON_KEYRING_BACKEND"]
    path = keyring_config_file(environ)
    if path is None:
        return SELECTED_BY_DETECTION, None
    try:
        named = _config_backend(path)
    except FileNotFoundError:
        return SELECTED_BY_DETECTION, None
    except (OSError, UnicodeDecodeError):
        return SELECTED_BY_CONFIG, "?"
    # A config file without a default-keyring makes keyring warn and detect; treat it as unknown.
    return SELECTED_BY_CONFIG, named or "?"


def write_backend_record(directory: Path, backend: str, env: Mapping[str, str] | None = None) -> None:
    """Record in ``directory`` which keyring backend is in use (``backend``: module.qualname) and how keyring
    picked it here. Not secret; replaced atomically, so readers see the old or the new record.

    Raises OSError when the directory is not writable.
    """
    import json  # (a write, after the full path: the cached answer only reads, with json_light)

    how, _named = keyring_selection(env)
    payload = json.dumps({"version": _RECORD_VERSION, "backend": backend, "selected_by": how}).encode()
    path = Path(directory) / RECORD_NAME
    with contextlib.suppress(OSError), open(path, "rb") as current:
        if current.read() == payload:  # the usual case: nothing changed, no write
            st = os.fstat(current.fileno())
            if st.st_mode & 0o077 and st.st_uid == os.getuid():
                os.fchmod(current.fileno(), 0o600)  # left loose by an older version
            return
    from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

    # 0600 whatever the umask (not secret, but it says which keyring holds the secrets: nobody else's business)
    atomic_write(path, payload, fsync=False)


def read_backend_record(directory: Path) -> dict[str, str] | None:
    """The record ``write_backend_record`` left in ``directory``; None when missing, corrupt or of another
    version."""
    try:
        data = loads((Path(directory) / RECORD_NAME).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _RECORD_VERSION:
        return None
    backend, how = data.get("backend"), data.get("selected_by")
    if not isinstance(backend, str) or not isinstance(how, str):
        return None
    return {"backend": backend, "selected_by": how}


def direct_read_allowed(directory: Path, env: Mapping[str, str] | None = None) -> bool:
    """True when keyring, started now in this environment, would read stsdesk's secrets from the Secret
    Service's default collection with its default attribute scheme, as ``read_secret`` does.

    That needs the record in ``directory`` to name the SecretService backend, no ``KEYRING_PROPERTY_*``
    variable (keyring would set, say, ``preferred_collection`` or ``scheme`` from it), and either
    ``PYTHON_KEYRING_BACKEND`` / ``keyringrc.cfg`` naming that backend, or neither of them set and the record
    made by keyring's own detection too. Never raises.
    """
    environ = os.environ if env is None else env
    if any("KEYRING_PROPERTY_" in name for name in environ):  # keyring's own test: partition on the substring
        return False
    record = read_backend_record(directory)
    if record is None or record["backend"] != SECRET_SERVICE_BACKEND:
        return False
    how, named = keyring_selection(environ)
    if how == SELECTED_BY_DETECTION:
        return record["selected_by"] == SELECTED_BY_DETECTION  # detection here gave the same answer then
    return named == SECRET_SERVICE_BACKEND


# -- the read ------------------------------------------------------------------------------------------


def _peer_is_us(connection: Connection) -> bool:
    return connection.peer_uid is not None and connection.peer_uid == os.getuid()


def trusted_service_owner(connection: Connection) -> str | None:
    """The unique bus name of the Secret Service when both the bus and the service run as this user, else None.

    keyring trusts whoever owns ``org.freedesktop.secrets`` on whatever bus ``DBUS_SESSION_BUS_ADDRESS`` names;
    this path does not: the bus daemon must be our uid (SO_PEERCRED on the connected socket, read before
    anything is sent, so a socket served by another user is refused), and so must the connection that owns the
    name (``GetConnectionUnixUser``, asked of the bus). Calls then go to that unique name, so the name changing
    hands between the check and the lookup cannot redirect them. ``connection`` is fresh from
    :class:`stsdesk.core.dbus_wire.Connection`: this authenticates it and says Hello (with GetNameOwner in the
    same write). Raises what a failed exchange raises (WireError, OSError, ValueError).
    """
    from stsdesk.core import dbus_wire as wire

    if not _peer_is_us(connection):
        return None
    connection.authenticate()
    hello, named = connection.calls(wire.hello(), wire.bus_call("GetNameOwner", "s", _BUS_NAME))
    hello.values("s")  # our unique name
    (owner,) = named.values("s")  # no owner: an error reply (so no activation)
    (owner_uid,) = connection.calls(wire.bus_call("GetConnectionUnixUser", "s", owner))[0].values("u")
    return str(owner) if owner_uid == os.getuid() else None


def _lookup(connection: Connection, service: str, username: str, owner: str) -> str | None:
    """keyring's ``get_password`` over ``connection``, its calls sent to ``owner``: the default collection's
    Locked property, SearchItems in it and a plain session, in one write (none of them prompts or changes
    anything; their answers are read in that order, so a locked collection still ends the lookup before any
    secret is asked for), then GetSecret of the first item found."""
    collection_iface = _IFACE + "Collection"
    locked, found, opened = connection.calls(
        (owner, _DEFAULT_COLLECTION, "org.freedesktop.DBus.Properties", "Get", "ss", (collection_iface, "Locked")),
        (owner, _DEFAULT_COLLECTION, collection_iface, "SearchItems", "a{ss}",
         ({"username": username, "service": service},)),
        (owner, _SERVICE_PATH, _IFACE + "Service", "OpenSession", "sv", ("plain", ("s", ""))),
    )
    ((_signature, is_locked),) = locked.values("v")
    if is_locked is not False:
        return None  # keyring would prompt to unlock: leave that to it
    (paths,) = found.values("ao")
    if not paths:
        return None
    _output, session = opened.values("vo")
    # keyring returns the first item found, too. A locked item answers with an IsLocked error (no prompt):
    # handled as doubt by the caller.
    (reply,) = connection.calls((owner, paths[0], _IFACE + "Item", "GetSecret", "o", (session,)))
    ((_session, _parameters, value, _content_type),) = reply.values("(oayays)")
    return bytes(value).decode("utf-8")


def read_secret(service: str, username: str) -> str | None:
    """The secret keyring's SecretService backend would return for (``service``, ``username``), or None on
    any doubt: no session bus, no Secret Service, a bus or a service that is not this user's own
    (``trusted_service_owner``), no default collection, a locked collection or item, a service that refuses a
    plain session, no such item, a slow answer, a secret that is not UTF-8.

    Never prompts, never writes, never raises for those (only for bugs such as a non-string argument).
    """
    if not isinstance(service, str) or not isinstance(username, str):
        raise TypeError("service and username must be strings")
    from stsdesk.core.dbus_wire import Connection, session_bus_address

    try:
        connection = Connection(session_bus_address(os.environ["DBUS_SESSION_BUS_ADDRESS"]), _CALL_TIMEOUT)
    except Exception:  # no/unreachable bus: KeyError (no address), ValueError (no unix address), OSError
        return None
    try:
        owner = trusted_service_owner(connection)
        if owner is None:
            return None  # someone else's bus or service: keyring decides (and may refuse or prompt)
        return _lookup(connection, service, username, owner)
    except Exception:  # WireError (locked, unknown object, not supported), TimeoutError, bad replies
        return None
    finally:
        connection.close()
