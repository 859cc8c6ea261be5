"""Secrets in the OS keyring, with an in-memory fallback when no usable keyring exists.

Keys: long-term secrets ``user:<profile>:<access_key_id>``; cached sessions ``session:<cache_key>``.
Nothing here ever writes a secret to a file, and no message includes a secret value.

When keyring's active backend is its SecretService backend, reads and writes go over one D-Bus connection and
session kept open per store (``stsdesk.core.secret_service``), storing exactly what keyring would; whatever that
path is unsure of (locked, missing collection, D-Bus trouble) goes through keyring itself as before.

On the fast ``stsdesk credential-process`` path: ``keyring`` is imported only when a secret is actually read,
written or deleted, or when the caller asks which backend is active.
"""

from __future__ import annotations

from pathlib import Path

from stsdesk.core.errors import KeyringUnavailable

TYPE_CHECKING = False  # not typing's (~2 ms): the credential-process fast path imports this module
if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from stsdesk.core.secret_service import KeptSecretService

DEFAULT_SERVICE = "stsdesk"

# Backends that "work" without storing anything, or refuse everything: secrets would be lost silently.
_UNUSABLE_BACKENDS = frozenset({"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"})
_REASON_LIMIT = 160


def service_name(namespace: str | None = None) -> str:
    """The keyring service for a namespace: ``stsdesk`` or ``stsdesk:<namespace>``."""
    return f"{DEFAULT_SERVICE}:{namespace}" if namespace else DEFAULT_SERVICE


def user_key(profile: str, access_key_id: str) -> str:
    """Keyring key of a profile's long-term secret access key."""
    return f"user:{profile}:{access_key_id}"


def session_key(cache_key: str) -> str:
    """Keyring key of a cached session's secret part."""
    return f"session:{cache_key}"


def _qualified_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(exc: BaseException, secret: str | None = None) -> str:
    """One line about a backend failure, never containing ``secret`` even if the backend echoed it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if secret:
        text = text.replace(secret, "***")
    text = text[:_REASON_LIMIT]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SecretStore:
    """Secrets in the OS keyring under one service name (``stsdesk`` or ``stsdesk:<namespace>``).

    keyring's own configuration (``PYTHON_KEYRING_BACKEND``, ``keyringrc.cfg``, ``keyring.set_keyring``)
    decides the backend. When that backend is keyring's ``fail`` or ``null`` backend, or it raises (locked
    collection, D-Bus gone, any ``KeyringError``), the store keeps secrets in a dict for the life of this
    object and says so in ``warning``. Use one store per process: instances do not share the in-memory part.
    """

    def __init__(self, service: str = DEFAULT_SERVICE) -> None:
        self.service = service
        self._memory: dict[str, str] = {}
        self._problem: str | None = None
        self._kept: KeptSecretService | None = None
        import threading  # not at module level: the credential-process fast path never makes a store

        self._lock = threading.Lock()

    # -- backend selection -------------------------------------------------------------------------

    def _backend(self) -> KeyringBackend | None:
        """The active keyring backend, or None (recording why) when it cannot hold secrets."""
        try:
            import keyring

            backend = keyring.get_keyring()
        except Exception as exc:  # a misconfigured PYTHON_KEYRING_BACKEND raises ImportError/RuntimeError
            self._degrade(_describe(exc))
            return None
        name = _qualified_name(backend)
        if name in _UNUSABLE_BACKENDS:
            self._degrade(f"{name} is active")
            return None
        if name == "keyring.backends.chainer.ChainerBackend" and not getattr(backend, "backends", None):
            self._degrade("keyring found no backend to chain")
            return None
        return backend

    def _kept_for(self, backend: KeyringBackend) -> KeptSecretService | None:
        """The kept-open Secret Service connection for ``backend`` when it is keyring's SecretService backend
        (made on first use; replaced when keyring's backend changes), else None."""
        kept = self._kept
        if kept is not None and kept.backend is backend:
            return kept
        from stsdesk.core.secret_service import KeptSecretService, is_keyring_secret_service

        with self._lock:
            if self._kept is not None and self._kept.backend is not backend:
                self._kept.close()
                self._kept = None
            if self._kept is None and is_keyring_secret_service(backend):
                self._kept = KeptSecretService(backend)
            return self._kept

    def close(self) -> None:
        """Close this store's kept-open Secret Service connection, if any (a later call opens another)."""
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def _degrade(self, reason: str) -> None:
        with self._lock:
            if self._problem is None:
                self._problem = reason

    # -- public API --------------------------------------------------------------------------------

    @property
    def backend_name(self) -> str:
        """Qualified class name of keyring's active backend (``"unavailable"`` if keyring cannot load)."""
        try:
            import keyring

            return _qualified_name(keyring.get_keyring())
        except Exception:  # same failure _backend() reports through `warning`
            return "unavailable"

    @property
    def persistent(self) -> bool:
        """False when secrets end up (or may end up) only in this process's memory."""
        return self.warning is None

    @property
    def warning(self) -> str | None:
        """One line for the UI when secrets are not persisted; None while the keyring works."""
        if self._problem is None:
            self._backend()  # detects fail/null/misconfiguration without touching any secret
        problem = self._problem
        if problem is None:
            return None
        return (
            f"No usable keyring ({problem}): secrets are kept in memory until stsdesk exits. "
            "Install/unlock a Secret Service (gnome-keyring, KWallet) or choose a backend with "
            "PYTHON_KEYRING_BACKEND."
        )

    def record_backend(self, directory: Path) -> bool:
        """Note in ``directory`` (stsdesk's config directory) which backend keyring resolved, so that a later
        ``credential-process`` can read Secret Service items without importing keyring (see
        ``stsdesk.core.fast_secret``). Call it after the keyring stored or returned a secret of this store.

        Returns False (and records nothing) when this store is not using the keyring (see ``warning``) or the
        record cannot be written (read-only directory, disk full): the fast path then keeps using keyring.
        """
        if self._problem is not None or self._memory:
            return False
        name = self.backend_name
        if name == "unavailable":
            return False
        from stsdesk.core.fast_secret import write_backend_record

        try:
            write_backend_record(directory, name)
        except OSError:
            return False
        return True

    def in_memory(self, key: str) -> bool:
        """True when ``key`` is held by this store's in-memory fallback (not in the keyring)."""
        return key in self._memory

    def get(self, key: str) -> str | None:
        """The secret under ``key``; None when absent or when the keyring cannot be read (see ``warning``)."""
        if key in self._memory:
            return self._memory[key]
        backend = self._backend()
        if backend is None:
            return None
        kept = self._kept_for(backend)
        if kept is not None and (answer := kept.get(self.service, key)) is not None:
            return answer[0]
        try:
            value = backend.get_password(self.service, key)
        except Exception as exc:  # backends raise KeyringError, D-Bus and OS errors alike
            self._degrade(_describe(exc))
            return None
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` in the keyring and verify it by reading it back.

        Raises ``KeyringUnavailable`` (message: ``warning``) when the keyring cannot store it; the value is
        then kept in this store's memory so the running process can still use it (``in_memory(key)``).
        """
        backend = self._backend()
        if backend is not None:
            kept = self._kept_for(backend)
            try:
                if kept is not None and kept.set(self.service, key, value):
                    stored: str | None = value  # written and read back on the kept-open connection
                else:
                    backend.set_password(self.service, key, value)
                    stored = backend.get_password(self.service, key)
            except Exception as exc:  # see get(): any backend failure means "not persisted"
                self._degrade(_describe(exc, value))
            else:
                if stored == value:
                    with self._lock:
                        self._memory.pop(key, None)
                        if not self._memory:
                            self._problem = None  # the keyring recovered (unlocked) and nothing is stranded
                    return
                self._degrade(f"{_qualified_name(backend)} did not return the value just written")
        with self._lock:
            self._memory[key] = value
        raise KeyringUnavailable(self.warning or "No usable keyring: the secret is kept in memory only.")

    def delete(self, key: str) -> None:
        """Remove ``key`` from memory and the keyring; a missing key is fine.

        Raises ``KeyringUnavailable`` when the keyring refuses for another reason (for instance it is locked),
        so the secret may still be stored there.
        """
        with self._lock:
            self._memory.pop(key, None)
        backend = self._backend()
        if backend is None:
            return  # fail/null backends hold nothing to delete
        kept = self._kept_for(backend)
        if kept is not None and kept.delete(self.service, key) is not None:
            return  # deleted, or there was nothing to delete, on the kept-open connection
        from keyring.errors import PasswordDeleteError

        try:
            backend.delete_password(self.service, key)
        except PasswordDeleteError:
            return  # keyring's way of saying "no such item"
        except Exception as exc:
            self._degrade(_describe(exc))
            raise KeyringUnavailable(
                f"Could not delete {key!r} from the keyring ({_describe(exc)}); unlock it and try again."
            ) from exc
