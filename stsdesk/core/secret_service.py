"""A kept-open Secret Service connection for ``SecretStore``, used when keyring's active backend is its own
SecretService backend.

keyring's ``SecretService.Keyring`` opens a new D-Bus connection, looks the collection up, checks and re-checks
its lock state and negotiates a new Diffie-Hellman session (a 1024-bit modular exponentiation in pure Python)
for every ``get_password`` and ``set_password``: 15-30 ms per secret, where the daemon's own work for a write
is a few milliseconds. ``KeptSecretService`` keeps ONE connection and ONE session (secretstorage's, so the
transport is encrypted exactly as keyring's is) per store and makes the same calls keyring makes, and only
those the answer needs:

- write: ``CreateItem`` (replace) in the collection keyring would pick (its ``preferred_collection``, else the
  default alias), with keyring's label and attributes (its ``_query(service, username, application=appid)``,
  so its scheme is honoured), then a verifying read on the same connection. When the item a search finds
  first already carries exactly that label and those attributes, ``SetSecret`` on it instead: the state
  CreateItem(replace) would leave, at about half the daemon's cost (gnome-keyring saves its file for both);
- read: ``SearchItems`` with keyring's query (no ``application``: keyring does not search with it either), the
  first item's ``GetSecret``; when nothing is found, the collection's ``Locked`` state decides whether that
  means "absent" or "keyring must unlock first".

Requests that do not depend on each other's answers go out back to back and their replies are collected
together (one round trip): the search with the Locked query, the write with the verifying search. An item
found before is a hint for the next read (its secret is fetched alongside the search and used only if the
search still finds that item first).

Items written either way are the same items: keyring's ``get_password`` and ``stsdesk.core.fast_secret`` (the
credential-process reader) find them. Anything this path is not sure of returns ``None`` ("not handled") and
the caller goes through keyring itself, which prompts to unlock a locked collection, creates a missing default
collection, and raises the errors ``SecretStore`` turns into its one-line messages. So this module never
prompts, never creates a collection and never raises for a Secret Service failure; it never logs or returns
an error text either (a careless daemon could echo a secret).

A broken connection (the daemon restarted: its session object is gone; the bus went away) is dropped, and the
call is tried once more on a fresh connection before falling back to keyring. When a fresh connection fails
too, this path stays off for ``BACKOFF_SECONDS`` so a missing collection does not cost a reconnect per call.

Thread-safe: one lock serialises the calls on the connection (the session cache writes from its own thread
while the Broker reads from the event loop's). Never imported on the credential-process fast path.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"  # secretstorage's DEFAULT_COLLECTION
_BUS_NAME = "org.freedesktop.secrets"
_IFACE = "org.freedesktop.Secret."
_LOCKED = _IFACE + "Error.IsLocked"
# A healthy daemon answers each call in well under a millisecond; writes (which it saves to disk) in a few.
CALL_TIMEOUT = 5.0
# After a fresh connection failed (no daemon, no such collection, refused session): keyring's way only, this long.
BACKOFF_SECONDS = 30.0


class _Locked(Exception):
    """The collection or item is locked: keyring must unlock it (with a prompt)."""


class _NotHandled(Exception):
    """An answer this path does not vouch for (a prompt to run, an unexpected reply): keyring decides."""


_LIVE: weakref.WeakSet[KeptSecretService] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for kept in list(_LIVE):
        kept._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def is_keyring_secret_service(backend: object) -> bool:
    """True when ``backend`` is exactly keyring's SecretService backend (not a subclass, which may store
    differently), whose storage ``KeptSecretService`` reproduces."""
    cls = type(backend)
    return cls.__module__ == "keyring.backends.SecretService" and cls.__qualname__ == "Keyring"


class KeptSecretService:
    """One connection, session and collection of the Secret Service, kept open for one keyring backend.

    ``get``/``set`` return ``None`` when the caller must use keyring instead (see the module docstring);
    ``close()`` drops the connection. Safe to call from several threads.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        _LIVE.add(self)
        self._connection: Any = None
        self._session: Any = None
        self._pid = 0
        self._off_until = 0.0
        # Items of this connection known to carry keyring's label and attributes (their paths die with it).
        self._items: set[str] = set()
        # (service, username) -> the item a search found first, last time (a hint, checked on every use).
        self._found: dict[tuple[str, str], str] = {}
        self.reconnects = 0  # fresh connections opened after the first (tests read it)

    # -- public API ---------------------------------------------------------------------------------------

    def get(self, service: str, username: str) -> tuple[str | None] | None:
        """``(secret or None when absent,)`` as keyring's ``get_password`` would answer, or None when keyring
        must answer instead (locked, no connection, any doubt)."""
        return self._run(lambda: (self._read(service, username),))

    def set(self, service: str, username: str, value: str) -> bool:
        """Store ``value`` as keyring's ``set_password`` would and read it back the way ``get_password`` would.

        True: stored and verified. False: keyring must do it (not stored, or the read-back differed: another
        item shadows it, and keyring's own write and read will say so).
        """
        return self._run(lambda: self._write(service, username, value)) is True

    def delete(self, service: str, username: str) -> bool | None:
        """Delete the item keyring's ``delete_password`` would delete (the first one found). True: deleted;
        False: there was none (keyring would raise PasswordDeleteError); None: keyring must do it (locked, a
        prompt to run, any doubt)."""
        return self._run(lambda: self._remove(service, username))

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        with self._lock:
            self._drop()

    def __del__(self) -> None:  # a store dropped without close(): no socket left for the GC to complain about
        if self._pid == os.getpid():
            self._drop()

    # -- connection -----------------------------------------------------------------------------------------

    def _run(self, operation: Callable[[], T]) -> T | None:
        with self._lock:
            if time.monotonic() < self._off_until:
                return None
            for _attempt in range(2):
                fresh = self._connection is None or self._pid != os.getpid()
                try:
                    if fresh:
                        self._connect()
                    return operation()
                except _Locked:
                    return None  # the connection is fine; keyring prompts to unlock
                except Exception:  # D-Bus errors, a closed socket, a timeout, a reply of another shape
                    self._drop()
                    if fresh:
                        self._off_until = time.monotonic() + BACKOFF_SECONDS
                        return None
                    # a connection that worked before: the daemon restarted or the bus went; once more afresh
            return None

    def _connect(self) -> None:
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
        from secretstorage.util import open_session

        if self._pid and self._pid != os.getpid():
            self._connection = None  # inherited through fork(): the parent's socket, not ours to use or close
        self._drop()
        if self._pid:
            self.reconnects += 1
        self._pid = os.getpid()
        connection = open_dbus_connection(bus="SESSION", auth_timeout=CALL_TIMEOUT)
        try:
            self._session = open_session(connection)  # Diffie-Hellman as keyring's, plain if refused
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _forked(self) -> None:
        """In a child made by fork(): a lock another thread may have held, and the parent's socket (closing our
        copy of its descriptor leaves the parent's connection as it is) are this process's no more."""
        self._lock = threading.Lock()
        self._drop()
        self._pid = os.getpid()

    def _drop(self) -> None:
        connection, self._connection, self._session = self._connection, None, None
        self._items, self._found = set(), {}
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()

    @staticmethod
    def _message(path: str, interface: str, method: str, signature: str, body: tuple[Any, ...]) -> Any:
        from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]

        return new_method_call(DBusAddress(path, _BUS_NAME, interface), method, signature, body)

    def _exchange(self, *messages: Any) -> list[Any]:
        """Send ``messages`` back to back and return their replies' bodies, in order: one round trip for all.

        The bus keeps one sender's messages to one destination in order and the daemon answers them in order,
        so a message may depend on the effect of the one before it. Raises ``_Locked`` for an IsLocked error,
        jeepney's DBusErrorResponse for any other, TimeoutError after ``CALL_TIMEOUT``.
        """
        return [self._body(reply) for reply in self._replies(*messages)]

    @staticmethod
    def _body(reply: Any) -> Any:
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg  # type: ignore[import-untyped]

        try:
            return unwrap_msg(reply)
        except DBusErrorResponse as exc:
            if exc.name == _LOCKED:
                raise _Locked from None
            raise

    def _replies(self, *messages: Any) -> list[Any]:
        """The reply messages (errors included) to ``messages``, sent back to back; see ``_exchange``."""
        from jeepney.low_level import HeaderFields  # type: ignore[import-untyped]

        connection = self._connection
        serials = []
        for message in messages:
            serial = next(connection.outgoing_serial)
            connection.send(message, serial=serial)
            serials.append(serial)
        replies: dict[int, Any] = {}
        deadline = time.monotonic() + CALL_TIMEOUT
        while len(replies) < len(serials):
            incoming = connection.receive(timeout=max(0.0, deadline - time.monotonic()))
            reply_to = incoming.header.fields.get(HeaderFields.reply_serial, -1)
            if reply_to in serials:
                replies[reply_to] = incoming
            # anything else (a signal nobody subscribed to) is dropped, as send_and_get_reply would
        return [replies[serial] for serial in serials]

    # -- keyring's storage -------------------------------------------------------------------------------

    def _collection(self) -> str:
        return str(getattr(self.backend, "preferred_collection", DEFAULT_COLLECTION))

    def _search(self, service: str, username: str) -> Any:
        """SearchItems with keyring's query (no ``application``: keyring does not search with it either)."""
        query = self.backend._query(service, username)
        return self._message(self._collection(), _IFACE + "Collection", "SearchItems", "a{ss}", (query,))

    def _get_secret(self, path: str) -> Any:
        return self._message(path, _IFACE + "Item", "GetSecret", "o", (self._session.object_path,))

    def _decoded(self, secret: Any) -> str:
        """The text of a GetSecret answer's secret struct."""
        _session, parameters, value, _content_type = secret
        return self._decrypt(bytes(parameters), bytes(value)).decode("utf-8")

    def _secret_of(self, paths: list[str]) -> str:
        """The secret of the first item found, as keyring returns it (a locked item: IsLocked -> ``_Locked``)."""
        ((secret,),) = self._exchange(self._get_secret(paths[0]))
        return self._decoded(secret)

    def _read(self, service: str, username: str) -> str | None:
        from jeepney import DBusAddress, Properties

        search = self._search(service, username)
        known = self._found.get((service, username))
        if known is not None:  # read or written before: its secret rides along with the search (one round trip)
            found, secret = self._replies(search, self._get_secret(known))
            (paths,) = self._body(found)
            if paths[:1] == [known] and secret.header.message_type.name == "method_return":
                return self._decoded(self._body(secret)[0])
            del self._found[(service, username)]  # gone, locked or shadowed: the long way below
        locked = Properties(DBusAddress(self._collection(), _BUS_NAME, _IFACE + "Collection")).get("Locked")
        # Locked is asked alongside (same round trip): needed only when nothing is found.
        (paths,), ((_signature, is_locked),) = self._exchange(search, locked)
        if paths:
            value = self._secret_of(paths)
            self._found[(service, username)] = paths[0]
            return value
        if is_locked is not False:
            raise _Locked  # keyring unlocks before it searches: a locked collection may hide the item
        return None

    def _remove(self, service: str, username: str) -> bool:
        from jeepney import DBusAddress, Properties

        locked = Properties(DBusAddress(self._collection(), _BUS_NAME, _IFACE + "Collection")).get("Locked")
        (paths,), ((_signature, is_locked),) = self._exchange(self._search(service, username), locked)
        self._found.pop((service, username), None)
        if not paths:
            if is_locked is not False:
                raise _Locked  # keyring unlocks before it searches (see _read)
            return False
        ((prompt,),) = self._exchange(self._message(paths[0], _IFACE + "Item", "Delete", "", ()))
        self._items.discard(paths[0])
        if len(prompt) > 1:  # the daemon wants a prompt run first: keyring runs prompts
            raise _Locked
        return True

    def _write(self, service: str, username: str, value: str) -> bool:
        from secretstorage.util import format_secret

        backend = self.backend
        attributes = backend._query(service, username, application=backend.appid)
        label = f"Password for '{username}' on '{service}'"  # keyring's label, byte for byte
        secret = format_secret(self._session, value.encode("utf-8"), "text/plain")  # keyring's str, encoded as it is
        ((paths,),) = self._exchange(self._search(service, username))
        if paths:
            self._found[(service, username)] = paths[0]
        if paths and self._keyrings_item(paths[0], label, attributes):
            # The item keyring's CreateItem(replace) would update: only its secret changes. SetSecret is about
            # half the daemon's cost of CreateItem(replace) (gnome-keyring: ~2.3 vs ~4.3 ms, both saved to disk).
            from jeepney.wrappers import DBusErrorResponse

            update = self._message(paths[0], _IFACE + "Item", "SetSecret", "(oayays)", (secret,))
            try:  # the write, then what a reader would find first and that item's secret: one round trip
                _done, (found,), (stored,) = self._exchange(
                    update, self._search(service, username), self._get_secret(paths[0])
                )
            except DBusErrorResponse:
                self._items.discard(paths[0])  # deleted meanwhile (or the daemon restarted): create it afresh
            else:
                return found[:1] == [paths[0]] and self._decoded(stored) == value  # _found[...] holds paths[0]
        properties = {
            _IFACE + "Item.Label": ("s", label),
            _IFACE + "Item.Attributes": ("a{ss}", attributes),
        }
        create = self._message(
            self._collection(), _IFACE + "Collection", "CreateItem", "a{sv}(oayays)b", (properties, secret, True)
        )
        # The search is answered after the item is stored (see _exchange): what a reader would find first.
        (item, _prompt), (found,) = self._exchange(create, self._search(service, username))
        if len(item) <= 1:  # "/": the daemon wants a prompt run first (a locked collection): keyring does that
            raise _Locked
        if found and found[0] == item:
            self._items.add(str(item))  # made here, with keyring's label and attributes
            self._found[(service, username)] = str(item)
        return self._verified(found, value)

    def _verified(self, found: list[str], value: str) -> bool:
        """Whether the first item a reader finds (``found``: the search answered after the write) holds
        ``value``."""
        return bool(found) and self._secret_of(found) == value

    def _keyrings_item(self, path: str, label: str, attributes: dict[str, str]) -> bool:
        """Whether the item at ``path`` carries exactly the label and attributes keyring writes (the daemon's
        own ``xdg:schema`` aside), so that updating its secret leaves what keyring's write would leave."""
        if path in self._items:
            return True  # created on this connection by _write (and found first by the search just made)
        from jeepney import DBusAddress, Properties

        item = Properties(DBusAddress(path, _BUS_NAME, _IFACE + "Item"))
        ((_s1, found_label),), ((_s2, found_attributes),) = self._exchange(item.get("Label"), item.get("Attributes"))
        extra = dict(found_attributes)
        if extra.get("xdg:schema") == "org.freedesktop.Secret.Generic":  # added by gnome-keyring, not by writers
            del extra["xdg:schema"]
        if found_label != label or extra != attributes:
            return False
        self._items.add(path)
        return True

    def _decrypt(self, parameters: bytes, value: bytes) -> bytes:
        session = self._session
        if not session.encrypted:
            return value
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(parameters)).decryptor()
        padded = decryptor.update(value) + decryptor.finalize()
        if not padded or not 1 <= padded[-1] <= 16:
            raise _NotHandled("bad padding")
        return padded[: -padded[-1]]
