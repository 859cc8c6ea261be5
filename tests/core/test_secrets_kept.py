"""SecretStore's kept-open Secret Service connection (stsdesk.core.secret_service): what it writes is what
keyring writes, it recovers from a daemon restart, and whatever it cannot do (locked or missing collection, no
bus) goes through keyring with keyring's one-line, secret-free errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.core
import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.core import secret_service
from stsdesk.core.errors import KeyringUnavailable
from stsdesk.core.fast_secret import read_secret
from stsdesk.core.secrets import SecretStore, service_name, session_key

REPO = Path(__file__).resolve().parents[2]
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY-kept"


class Spy:
    """Counts the calls keyring's own SecretService backend gets (the slow path) and can forbid them."""

    def __init__(self, forbid: bool) -> None:
        from keyring.backends import SecretService

        self.calls: list[str] = []
        self._patch = monkeypatch = pytest.MonkeyPatch()  # its own: undone by stop() without the test's others
        for name in ("get_password", "set_password", "delete_password"):
            original = getattr(SecretService.Keyring, name)

            def wrapper(backend: Any, *args: Any, _name: str = name, _original: Any = original) -> Any:
                self.calls.append(_name)
                if forbid:
                    raise AssertionError(f"keyring's {_name} used: the kept-open path was not")
                return _original(backend, *args)

            monkeypatch.setattr(SecretService.Keyring, name, wrapper)

    def stop(self) -> None:
        """keyring's own methods back."""
        self._patch.undo()


@pytest.fixture
def spies() -> Iterator[Callable[[bool], Spy]]:
    """Make Spies (``spies(forbid)``); every one is stopped when the test ends, whatever happened."""
    made: list[Spy] = []

    def make(forbid: bool) -> Spy:
        made.append(Spy(forbid))
        return made[-1]

    yield make
    for spy in made:
        spy.stop()


@pytest.fixture
def real_backend(secret_service: str) -> Iterator[Any]:
    """keyring's SecretService backend on this run's test keyring, installed as keyring's choice."""
    from keyring.backends import SecretService

    backend = SecretService.Keyring()
    keyring.set_keyring(backend)
    yield backend


def _items(service: str) -> list[tuple[str, dict[str, str]]]:
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return [(item.get_label(), item.get_attributes()) for item in collection.search_items({"service": service})]
    finally:
        connection.close()


# -- without a Secret Service --------------------------------------------------------------------------------


def test_other_backends_never_get_a_kept_connection(memory_keyring: MemoryKeyring) -> None:
    store = SecretStore("stsdesk:t")
    store.set(session_key("a"), SECRET)
    assert store.get(session_key("a")) == SECRET
    assert store._kept is None
    assert not secret_service.is_keyring_secret_service(memory_keyring)


def test_no_bus_falls_back_to_keyring_with_its_one_line_error(
    spies: Callable[[bool], Spy], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-bus'}")
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    keyring.set_keyring(SecretService.Keyring())
    spy = spies(False)
    store = SecretStore("stsdesk:nobus")
    with pytest.raises(KeyringUnavailable) as raised:
        store.set(session_key("a"), SECRET)
    assert "set_password" in spy.calls  # keyring was asked after the kept-open path gave up
    assert store.in_memory(session_key("a")) and store.get(session_key("a")) == SECRET
    message = str(raised.value)
    assert SECRET not in message and "\n" not in message and message.startswith("No usable keyring (")
    assert store._kept is not None
    calls = len(spy.calls)
    assert store.get(session_key("b")) is None  # backing off: keyring answers at once, no new connection
    assert len(spy.calls) == calls + 1 and store._kept.reconnects == 0


# -- the run's test keyring ----------------------------------------------------------------------------------


def test_written_through_the_kept_connection_is_read_by_keyring_and_fast_secret(
    spies: Callable[[bool], Spy], real_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_name(f"kept-{uuid.uuid4().hex[:8]}")
    key = session_key("profile:kept")
    value = json.dumps({"secret_access_key": "wJalr/ü+=", "session_token": "tok" * 300})
    spy = spies(True)
    store = SecretStore(service)
    try:
        store.set(key, value)
        store.set(key, value + "2")  # replaced in place, same connection
        assert store.persistent and not store.in_memory(key)
        assert store.get(key) == value + "2" and store.get(session_key("absent")) is None
        assert store._kept is not None and store._kept.reconnects == 0
        spy.stop()  # keyring's own methods back: the readers other processes use
        assert spy.calls == []
        assert keyring.get_password(service, key) == value + "2"
        assert read_secret(service, key) == value + "2"  # the credential-process child's reader
        # One item, labelled and attributed exactly as keyring's set_password makes them.
        other = service_name(f"kr-{uuid.uuid4().hex[:8]}")
        real_backend.set_password(other, key, "x")
        ours, theirs = _items(service), _items(other)
        assert len(ours) == 1 and len(theirs) == 1
        assert ours[0][0] == theirs[0][0].replace(other, service)
        # gnome-keyring itself adds xdg:schema to some items some time after CreateItem (seen on items written by
        # keyring and by secretstorage alike, whoever wrote them): not part of what the writer sends.
        assert {k: v for k, v in ours[0][1].items() if k != "xdg:schema"} == {
            k: v for k, v in {**theirs[0][1], "service": service}.items() if k != "xdg:schema"
        }
        assert ours[0][1]["application"] == real_backend.appid and ours[0][1]["username"] == key
        real_backend.delete_password(other, key)
    finally:
        store.delete(key)
        store.close()
    assert keyring.get_password(service, key) is None


def test_a_secret_written_by_keyring_is_read_on_the_kept_connection(real_backend: Any) -> None:
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:kr")
    real_backend.set_password(service, key, SECRET)
    store = SecretStore(service)
    try:
        assert store.get(key) == SECRET and store._kept is not None
    finally:
        store.delete(key)
        store.close()


def _paths(service: str) -> list[str]:
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return [item.item_path for item in collection.search_items({"service": service})]
    finally:
        connection.close()


def test_keyrings_own_item_is_updated_in_place(
    spies: Callable[[bool], Spy], real_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:inplace")
    real_backend.set_password(service, key, "old")
    before = _paths(service)
    spy = spies(True)
    store = SecretStore(service)
    try:
        store.set(key, SECRET)
        store.set(key, SECRET + "-again")
        spy.stop()
        assert spy.calls == [] and store.persistent
        assert _paths(service) == before  # the same single item, its secret replaced
        assert store._kept is not None and before[0] in store._kept._items  # recognised as keyring's: SetSecret
        assert keyring.get_password(service, key) == SECRET + "-again"
    finally:
        store.delete(key)
        store.close()


def test_an_item_with_another_label_is_replaced_as_keyring_would(real_backend: Any) -> None:
    import secretstorage

    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:foreign")
    attributes = {"service": service, "username": key, "application": real_backend.appid}
    connection = secretstorage.dbus_init()
    try:
        secretstorage.get_default_collection(connection).create_item("someone else's label", attributes, b"theirs")
    finally:
        connection.close()
    store = SecretStore(service)
    try:
        store.set(key, SECRET)  # not a SetSecret on their item: CreateItem(replace), keyring's label
        assert [label for label, _attributes in _items(service)] == [f"Password for '{key}' on '{service}'"]
        assert keyring.get_password(service, key) == SECRET
    finally:
        store.delete(key)
        store.close()


def test_an_item_deleted_behind_the_stores_back_is_created_again(
    spies: Callable[[bool], Spy], real_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:gone")
    store = SecretStore(service)
    try:
        store.set(key, SECRET)
        real_backend.delete_password(service, key)  # another process forgot it
        spy = spies(True)
        store.set(key, SECRET + "-new")
        spy.stop()
        assert spy.calls == [] and keyring.get_password(service, key) == SECRET + "-new"
        assert store._kept is not None and store._kept.reconnects == 0
    finally:
        store.delete(key)
        store.close()


def test_delete_on_the_kept_connection(spies: Callable[[bool], Spy], real_backend: Any) -> None:
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:delete")
    real_backend.set_password(service, key, SECRET)  # written by keyring (another process, say)
    store = SecretStore(service)
    try:
        spy = spies(True)
        store.delete(key)
        store.delete(key)  # nothing left: fine, as with keyring's PasswordDeleteError
        store.delete(session_key("never-stored"))
        assert store.get(key) is None
        spy.stop()
        assert spy.calls == []
        assert real_backend.get_password(service, key) is None and read_secret(service, key) is None
        assert _items(service) == []
    finally:
        store.close()


def test_repeated_reads_see_what_other_writers_did(real_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store remembers which item a search found (its secret is fetched alongside the next search) and must
    # still answer what keyring would answer after another process replaced, deleted or re-created the item.
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:reread")
    store = SecretStore(service)
    try:
        real_backend.set_password(service, key, "first")
        assert store.get(key) == "first" and store.get(key) == "first"
        real_backend.set_password(service, key, "second")  # another process's write (keyring's)
        assert store.get(key) == "second"
        real_backend.delete_password(service, key)
        assert store.get(key) is None
        real_backend.set_password(service, key, "third")  # a new item
        assert store.get(key) == "third"
        assert store._kept is not None and store._kept.reconnects == 0
    finally:
        store.delete(key)
        store.close()


# keyring's backend leaves its D-Bus connection open when the collection does not exist (InitError): its socket,
# not ours, is what the collector finds.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_missing_preferred_collection_falls_back_to_keyring(
    spies: Callable[[bool], Spy], real_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_backend.preferred_collection = "/org/freedesktop/secrets/collection/stsdesk_no_such_collection"
    spy = spies(False)
    store = SecretStore(service_name(f"kept-{uuid.uuid4().hex[:8]}"))
    with pytest.raises(KeyringUnavailable) as raised:
        store.set(session_key("a"), SECRET)
    assert spy.calls[:1] == ["set_password"]  # keyring itself tried (and failed: InitError)
    message = str(raised.value)
    assert SECRET not in message and "\n" not in message and "InitError" in message
    assert store.get(session_key("a")) == SECRET and store.in_memory(session_key("a"))
    store.close()


def test_threads_share_one_connection(real_backend: Any) -> None:
    service = service_name(f"kept-{uuid.uuid4().hex[:8]}")
    store = SecretStore(service)
    failures: list[str] = []

    def work(n: int) -> None:
        for i in range(5):
            key, value = session_key(f"t{n}"), f"{SECRET}-{n}-{i}"
            store.set(key, value)
            if store.get(key) != value:
                failures.append(key)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == [] and store.persistent
        assert store._kept is not None and store._kept.reconnects == 0
        assert [keyring.get_password(service, session_key(f"t{n}")) for n in range(4)] == [
            f"{SECRET}-{n}-4" for n in range(4)
        ]
    finally:
        for n in range(4):
            store.delete(session_key(f"t{n}"))
        store.close()


def test_a_forked_child_opens_its_own_connection(real_backend: Any) -> None:
    service, key = service_name(f"kept-{uuid.uuid4().hex[:8]}"), session_key("profile:fork")
    store = SecretStore(service)
    store.set(key, SECRET)
    assert store._kept is not None
    parents_socket = store._kept._connection.sock.fileno()
    read_end, write_end = os.pipe()
    store._kept._lock.acquire()  # as if the session cache's writer were mid-write when the process forks
    pid = os.fork()
    if pid == 0:  # the child: must neither wait for the parent's lock nor talk on the parent's socket
        try:
            signal.alarm(20)
            store.set(session_key("profile:child"), SECRET + "-child")
            answer = json.dumps({"read": store.get(key), "reconnects": store._kept.reconnects})
            os.write(write_end, answer.encode())
        finally:
            os._exit(0)
    store._kept._lock.release()
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            answer = json.loads(pipe.read() or b"{}")
        os.waitpid(pid, 0)
        assert answer == {"read": SECRET, "reconnects": 1}
        assert store.get(session_key("profile:child")) == SECRET + "-child"  # on the parent's own connection
        assert store._kept._connection.sock.fileno() == parents_socket and store._kept.reconnects == 0
    finally:
        store.delete(key)
        store.delete(session_key("profile:child"))
        store.close()


# -- a private D-Bus session and keyring daemon (restarted, locked) -------------------------------------------

PRELUDE = r"""
import json, os, signal, subprocess, time
from jeepney import DBusAddress, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
import keyring
from keyring.backends import SecretService
from stsdesk.core.errors import KeyringUnavailable
from stsdesk.core.fast_secret import read_secret
from stsdesk.core.secrets import SecretStore

calls = []
for _name in ("get_password", "set_password"):
    def _spy(backend, *args, _name=_name, _original=getattr(SecretService.Keyring, _name)):
        calls.append(_name)
        return _original(backend, *args)
    setattr(SecretService.Keyring, _name, _spy)

def bus_call(message):
    with open_dbus_connection(bus="SESSION") as connection:
        return connection.send_and_get_reply(message, timeout=5).body

def owned():
    return bus_call(message_bus.NameHasOwner("org.freedesktop.secrets"))[0]

def wait_until(condition):
    deadline = time.monotonic() + 20
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.05)

store = SecretStore("stsdesk:private")
"""

RESTART_SCRIPT = (
    PRELUDE
    + r"""
store.set("session:k", "value-1")
(owner,) = bus_call(message_bus.GetNameOwner("org.freedesktop.secrets"))
(pid,) = bus_call(message_bus.GetConnectionUnixProcessID(owner))
os.kill(pid, signal.SIGTERM)  # the daemon this session started, by its id
wait_until(lambda: not owned())
subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input=b"pw", capture_output=True,
               check=True)
wait_until(owned)
store.set("session:k", "value-2")
kept_calls = list(calls)
print(json.dumps({"calls": kept_calls, "reconnects": store._kept.reconnects, "persistent": store.persistent,
                  "keyring": keyring.get_password("stsdesk:private", "session:k"),
                  "fast": read_secret("stsdesk:private", "session:k"), "daemon_changed": pid != bus_call(
                      message_bus.GetConnectionUnixProcessID(bus_call(message_bus.GetNameOwner(
                          "org.freedesktop.secrets"))[0]))[0]}))
"""
)

LOCKED_SCRIPT = (
    PRELUDE
    + r"""
store.set("session:k", "value-1")
assert calls == [], calls
service = DBusAddress("/org/freedesktop/secrets", "org.freedesktop.secrets", "org.freedesktop.Secret.Service")
bus_call(new_method_call(service, "Lock", "ao", (["/org/freedesktop/secrets/aliases/default"],)))
got = store.get("session:k")  # keyring prompts to unlock; no display here, so the prompt is dismissed
try:
    store.set("session:k", "value-2-the-secret")
    error = None
except KeyringUnavailable as exc:
    error = str(exc)
print(json.dumps({"calls": calls, "got": got, "error": error, "in_memory": store.in_memory("session:k"),
                  "reconnects": store._kept.reconnects}))
"""
)


def _private_session(tmp_path: Path, script: str) -> dict[str, Any]:
    inner = 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; exec "$0" -c "$1"'
    env = dict(
        os.environ,
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_RUNTIME_DIR=str(tmp_path),
        PYTHONPATH=str(REPO),
        PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
    )
    for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"):  # no display: prompts fail at once
        env.pop(name, None)
    done = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", inner, sys.executable, script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.keyring  # (the gate's test keyring working implies dbus-run-session and gnome-keyring-daemon)
def test_a_daemon_restart_between_writes_reconnects(tmp_path: Path) -> None:
    result = _private_session(tmp_path, RESTART_SCRIPT)
    assert result["daemon_changed"]
    assert result["calls"] == []  # both writes (and their read-backs) on the kept path, keyring never asked
    assert result["reconnects"] == 1
    assert result["persistent"] and result["keyring"] == "value-2" and result["fast"] == "value-2"


@pytest.mark.keyring
def test_a_locked_collection_goes_to_keyring_and_its_error_has_no_secret(tmp_path: Path) -> None:
    result = _private_session(tmp_path, LOCKED_SCRIPT)
    assert result["calls"] == ["get_password", "set_password"]  # handed to keyring (which prompts to unlock)
    assert result["got"] is None  # the prompt was dismissed: keyring could not read it
    error = result["error"]
    assert error is not None and "KeyringLocked" in error
    assert "value-2-the-secret" not in error and "\n" not in error
    assert result["in_memory"] and result["reconnects"] == 0  # a lock is not a broken connection
