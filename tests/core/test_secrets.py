"""SecretStore: keyring round-trips, the in-memory fallback and its warning, keyring configuration."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import keyring
import keyring.core
import pytest
from helpers.keyrings import MemoryKeyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import InitError

from stsdesk.core.errors import KeyringUnavailable
from stsdesk.core.secrets import SecretStore, service_name, session_key, user_key

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


class ForgetfulKeyring(MemoryKeyring):
    """Accepts writes and silently drops them (what a misbehaving backend does)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


class GoneKeyring(MemoryKeyring):
    """The D-Bus session went away: every call raises."""

    def get_password(self, service: str, username: str) -> str | None:
        raise InitError("Failed to create the collection: D-Bus connection closed")


@pytest.fixture
def use_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Install a keyring backend for one test; keyring's global choice is restored afterwards."""
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)

    def install(backend: KeyringBackend) -> KeyringBackend:
        keyring.set_keyring(backend)
        return backend

    yield install


def test_round_trip_on_a_working_backend(use_backend: object) -> None:
    backend = use_backend(MemoryKeyring())  # type: ignore[operator]
    store = SecretStore(service_name("t1"))
    key = user_key("dev", "AKIAEXAMPLE000000001")
    assert store.get(key) is None
    store.set(key, SECRET)
    assert store.get(key) == SECRET
    assert backend.items[("stsdesk:t1", "user:dev:AKIAEXAMPLE000000001")] == SECRET
    assert not store.in_memory(key)
    assert store.persistent and store.warning is None
    assert store.backend_name.endswith("MemoryKeyring")
    store.delete(key)
    assert store.get(key) is None
    store.delete(key)  # missing is fine


def test_services_keep_secrets_apart(use_backend: object) -> None:
    use_backend(MemoryKeyring())  # type: ignore[operator]
    default, other = SecretStore(), SecretStore(service_name("other"))
    default.set(session_key("profile:dev"), "a")
    other.set(session_key("profile:dev"), "b")
    assert default.service == "stsdesk" and other.service == "stsdesk:other"
    assert (default.get("session:profile:dev"), other.get("session:profile:dev")) == ("a", "b")


def test_fail_backend_falls_back_to_memory_with_warning(use_backend: object) -> None:
    use_backend(fail.Keyring())  # type: ignore[operator]
    store = SecretStore()
    assert not store.persistent
    assert store.warning is not None and store.warning.startswith("No usable keyring (")
    assert (
        "keyring.backends.fail.Keyring" in store.warning and "in memory until stsdesk exits" in store.warning
    )
    with pytest.raises(KeyringUnavailable) as raised:
        store.set("user:dev:AKIA1", SECRET)
    assert SECRET not in str(raised.value) and "\n" not in str(raised.value)
    assert store.get("user:dev:AKIA1") == SECRET
    assert store.in_memory("user:dev:AKIA1")
    store.delete("user:dev:AKIA1")
    assert store.get("user:dev:AKIA1") is None


def test_memory_is_per_store_instance(use_backend: object) -> None:
    use_backend(fail.Keyring())  # type: ignore[operator]
    first, second = SecretStore(), SecretStore()
    with pytest.raises(KeyringUnavailable):
        first.set("session:x", SECRET)
    assert second.get("session:x") is None


def test_locked_keyring_on_set_falls_back_and_never_echoes_the_secret(use_backend: object) -> None:
    backend = use_backend(MemoryKeyring())  # type: ignore[operator]
    backend.locked = True
    backend.echo_secret_in_errors = True
    store = SecretStore()
    with pytest.raises(KeyringUnavailable) as raised:
        store.set("session:profile:dev", SECRET)
    assert "KeyringLocked" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert store.warning is not None and SECRET not in store.warning and "KeyringLocked" in store.warning
    assert backend.items == {}
    assert store.get("session:profile:dev") == SECRET  # from memory, although the keyring is locked


def test_unlocked_keyring_recovers(use_backend: object) -> None:
    backend = use_backend(MemoryKeyring())  # type: ignore[operator]
    backend.locked = True
    store = SecretStore()
    with pytest.raises(KeyringUnavailable):
        store.set("session:a", SECRET)
    backend.locked = False
    store.set("session:a", SECRET)
    assert backend.items[("stsdesk", "session:a")] == SECRET
    assert not store.in_memory("session:a")
    assert store.persistent


def test_backend_that_drops_writes_is_detected_by_read_back(use_backend: object) -> None:
    use_backend(ForgetfulKeyring())  # type: ignore[operator]
    store = SecretStore()
    with pytest.raises(KeyringUnavailable, match="did not return the value just written"):
        store.set("session:a", SECRET)
    assert store.get("session:a") == SECRET


def test_backend_raising_on_read_returns_none_and_warns(use_backend: object) -> None:
    use_backend(GoneKeyring())  # type: ignore[operator]
    store = SecretStore()
    assert store.get("user:dev:AKIA1") is None
    assert store.warning is not None and "InitError" in store.warning


def test_delete_on_locked_keyring_raises(use_backend: object) -> None:
    backend = use_backend(MemoryKeyring())  # type: ignore[operator]
    backend.items[("stsdesk", "session:a")] = SECRET
    backend.locked = True
    with pytest.raises(KeyringUnavailable, match="unlock it"):
        SecretStore().delete("session:a")
    assert ("stsdesk", "session:a") in backend.items


def test_python_keyring_backend_env_is_honoured(use_backend: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    store = SecretStore()
    assert store.backend_name == "keyring.backends.null.Keyring"
    assert store.warning is not None and "null.Keyring" in store.warning
    with pytest.raises(KeyringUnavailable):
        store.set("session:a", SECRET)
    assert store.get("session:a") == SECRET


def test_misconfigured_backend_is_a_warning_not_a_crash(
    use_backend: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no_such_module_for_stsdesk.Keyring")
    store = SecretStore()
    assert store.get("session:a") is None
    assert store.backend_name == "unavailable"
    assert store.warning is not None and "ModuleNotFoundError" in store.warning


# -- the real Secret Service (gnome-keyring under dbus-run-session) ------------------------------------------


def test_real_secret_service_round_trip(secret_service: str) -> None:
    # keyring detects its backend afresh (the fixture): on this run's D-Bus session, the test keyring.
    store = SecretStore(service_name(f"test-{uuid.uuid4().hex[:8]}"))
    key = session_key("profile:real")
    store.set(key, SECRET)
    try:
        assert store.persistent and not store.in_memory(key)
        assert SecretStore(store.service).get(key) == SECRET  # a fresh store reads it from the keyring
    finally:
        store.delete(key)
    assert SecretStore(store.service).get(key) is None
