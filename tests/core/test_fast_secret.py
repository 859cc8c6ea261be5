"""fast_secret: when the direct Secret Service read may replace keyring, and that it reads what keyring stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.core
import pytest
from helpers.keyrings import MemoryKeyring
from keyring.backends import fail

from stsdesk.core import fast_secret
from stsdesk.core.fast_secret import (
    RECORD_NAME,
    SECRET_SERVICE_BACKEND,
    direct_read_allowed,
    keyring_selection,
    read_backend_record,
    read_secret,
    write_backend_record,
)
from stsdesk.core.secrets import SecretStore, service_name, session_key

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no keyring configuration of the user's: a fresh XDG config home."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **extra}


def _keyringrc(tmp_path: Path, text: str) -> None:
    folder = tmp_path / "xdg" / "python_keyring"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "keyringrc.cfg").write_text(text)


# -- how keyring would choose ----------------------------------------------------------------------------


def test_selection_env_then_config_file_then_detection(tmp_path: Path) -> None:
    assert keyring_selection(_env(tmp_path)) == ("detected", None)
    _keyringrc(tmp_path, f"[backend]\ndefault-keyring = {SECRET_SERVICE_BACKEND}\n")
    assert keyring_selection(_env(tmp_path)) == ("config", SECRET_SERVICE_BACKEND)
    named = _env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    assert keyring_selection(named) == ("env", "keyring.backends.null.Keyring")


def test_selection_distrusts_keyring_path_and_files_without_a_backend(tmp_path: Path) -> None:
    _keyringrc(tmp_path, f"[backend]\ndefault-keyring = {SECRET_SERVICE_BACKEND}\nkeyring-path = /tmp/x\n")
    assert keyring_selection(_env(tmp_path)) == ("config", "?")
    _keyringrc(tmp_path, "[other]\nx = 1\n")
    assert keyring_selection(_env(tmp_path)) == ("config", "?")
    _keyringrc(tmp_path, "not an ini file")
    assert keyring_selection(_env(tmp_path)) == ("config", "?")


def test_config_file_location_follows_keyring(tmp_path: Path) -> None:
    assert fast_secret.keyring_config_file({"XDG_CONFIG_HOME": "/x"}) == Path("/x/python_keyring/keyringrc.cfg")
    # An empty XDG_CONFIG_HOME counts as unset, as in keyring.util.platform_.
    expected = Path.home() / ".config" / "python_keyring" / "keyringrc.cfg"
    assert fast_secret.keyring_config_file({"XDG_CONFIG_HOME": ""}) == expected


# -- the record --------------------------------------------------------------------------------------------


def test_record_round_trip_and_corruption(tmp_path: Path) -> None:
    write_backend_record(tmp_path, SECRET_SERVICE_BACKEND, _env(tmp_path))
    assert read_backend_record(tmp_path) == {"backend": SECRET_SERVICE_BACKEND, "selected_by": "detected"}
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / RECORD_NAME).write_text("{not json")
    assert read_backend_record(tmp_path) is None
    (tmp_path / RECORD_NAME).write_text(json.dumps({"version": 99, "backend": "x", "selected_by": "env"}))
    assert read_backend_record(tmp_path) is None
    assert read_backend_record(tmp_path / "missing") is None


def test_direct_read_allowed_only_when_keyring_would_use_secret_service(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert not direct_read_allowed(tmp_path, env)  # no record
    write_backend_record(tmp_path, "keyring.backends.chainer.ChainerBackend", env)
    assert not direct_read_allowed(tmp_path, env)  # another backend
    write_backend_record(tmp_path, SECRET_SERVICE_BACKEND, env)
    assert direct_read_allowed(tmp_path, env)  # detected then, detected now
    assert not direct_read_allowed(tmp_path, dict(env, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring"))
    assert direct_read_allowed(tmp_path, dict(env, PYTHON_KEYRING_BACKEND=SECRET_SERVICE_BACKEND))
    assert not direct_read_allowed(tmp_path, dict(env, KEYRING_PROPERTY_PREFERRED_COLLECTION="/x"))
    assert not direct_read_allowed(tmp_path, dict(env, KEYRING_PROPERTY_SCHEME="KeePassXC"))
    _keyringrc(tmp_path, "[backend]\ndefault-keyring = keyring.backends.kwallet.DBusKeyring\n")
    assert not direct_read_allowed(tmp_path, env)
    _keyringrc(tmp_path, f"[backend]\ndefault-keyring = {SECRET_SERVICE_BACKEND}\n")
    assert direct_read_allowed(tmp_path, env)


def test_record_made_under_an_explicit_choice_says_nothing_about_detection(tmp_path: Path) -> None:
    chosen = _env(tmp_path, PYTHON_KEYRING_BACKEND=SECRET_SERVICE_BACKEND)
    write_backend_record(tmp_path, SECRET_SERVICE_BACKEND, chosen)
    assert direct_read_allowed(tmp_path, chosen)
    assert not direct_read_allowed(tmp_path, _env(tmp_path))  # detection here might pick another backend


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def test_secret_store_records_the_active_backend(tmp_path: Path, restore_keyring: None) -> None:
    keyring.set_keyring(MemoryKeyring())
    assert SecretStore("stsdesk:t").record_backend(tmp_path)
    record = read_backend_record(tmp_path)
    assert record is not None and record["backend"] == "helpers.keyrings.MemoryKeyring"
    keyring.set_keyring(fail.Keyring())
    assert not SecretStore("stsdesk:t").record_backend(tmp_path / "other")  # not persisting: no record
    assert not (tmp_path / "other" / RECORD_NAME).exists()


def test_read_secret_without_a_bus_is_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-socket'}")
    assert read_secret("stsdesk:t", "session:x") is None
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    assert read_secret("stsdesk:t", "session:x") is None


# -- against a real Secret Service -------------------------------------------------------------------------

@pytest.mark.keyring
def test_reads_exactly_what_keyring_stored() -> None:
    from keyring.backends import SecretService

    backend = SecretService.Keyring()
    service, key = service_name(f"fast-{uuid.uuid4().hex[:8]}"), session_key("profile:direct")
    value = json.dumps({"secret_access_key": "wJalr/ü+=", "session_token": "tok" * 300})
    backend.set_password(service, key, value)
    try:
        assert read_secret(service, key) == value
        assert read_secret(service, session_key("profile:other")) is None
        assert read_secret(service_name("elsewhere"), key) is None
        backend.set_password(service, key, "replaced")
        assert read_secret(service, key) == "replaced"
    finally:
        backend.delete_password(service, key)
    assert read_secret(service, key) is None


LOCKED_SCRIPT = r"""
import json, sys
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection
from keyring.backends import SecretService
from stsdesk.core.fast_secret import read_secret

SecretService.Keyring().set_password("stsdesk:locked", "session:k", "value")
before = read_secret("stsdesk:locked", "session:k")
service = DBusAddress("/org/freedesktop/secrets", "org.freedesktop.secrets", "org.freedesktop.Secret.Service")
with open_dbus_connection(bus="SESSION") as connection:
    connection.send_and_get_reply(
        new_method_call(service, "Lock", "ao", (["/org/freedesktop/secrets/aliases/default"],)), timeout=5)
print(json.dumps({"before": before, "after": read_secret("stsdesk:locked", "session:k")}))
"""


@pytest.mark.keyring  # (the gate's test keyring working implies dbus-run-session and gnome-keyring-daemon)
def test_locked_collection_gives_none_without_prompting(tmp_path: Path) -> None:
    # Its own D-Bus session and keyring: locking the shared test keyring would break the other tests.
    inner = (
        "echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "
        'exec "$0" -c "$1"'
    )
    env = dict(
        os.environ,
        HOME=str(tmp_path),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_RUNTIME_DIR=str(tmp_path),
        PYTHONPATH=str(REPO),
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    done = subprocess.run(
        ["dbus-run-session", "--", "bash", "-c", inner, sys.executable, LOCKED_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"before": "value", "after": None}
