"""SessionCache, fast_lookup, config_dir: expiry, corruption, fallbacks, two processes, no secret on disk."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import keyring.core
import pytest
from helpers.keyrings import MemoryKeyring
from keyring.backends import fail

from stsdesk.core.cache import CachedSession, SessionCache, fast_lookup
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.paths import config_dir, default_config_dir, keyring_namespace
from stsdesk.core.secrets import SecretStore

REPO = Path(__file__).resolve().parents[2]


class DirKeyring(MemoryKeyring):
    """A keyring shared by real processes: one file per item in a directory (test use only)."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.root = Path(root)

    def _path(self, service: str, username: str) -> Path:
        return self.root / hashlib.sha256(f"{service}\0{username}".encode()).hexdigest()

    def get_password(self, service: str, username: str) -> str | None:
        path = self._path(service, username)
        return path.read_text() if path.exists() else None

    def set_password(self, service: str, username: str, password: str) -> None:
        path = self._path(service, username)
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(password)
        os.replace(tmp, path)


@pytest.fixture(autouse=True)
def settled_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SessionCache]]:
    """Every cache a test makes, flushed when it ends: a late write must not land in the next test's keyring."""
    made: list[SessionCache] = []
    original = SessionCache.__init__

    def init(self: SessionCache, directory: Path, secrets: SecretStore) -> None:
        original(self, directory, secrets)
        made.append(self)

    monkeypatch.setattr(SessionCache, "__init__", init)
    yield made
    for cache in made:
        cache.flush()


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    installed = MemoryKeyring()
    keyring.set_keyring(installed)
    return installed


@pytest.fixture
def fail_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    keyring.set_keyring(fail.Keyring())
    yield


def make(
    key: str = "profile:dev",
    seconds: float = 3600,
    n: int = 1,
    profile: str = "dev",
    fingerprint: str = "fp1",
) -> tuple[CachedSession, Credentials]:
    now = datetime.now(UTC)
    expiration = now + timedelta(seconds=seconds)
    akid = f"ASIATESTKEY{n:09d}"
    meta = CachedSession(
        cache_key=key,
        profile=profile,
        access_key_id=akid,
        kind=CredentialKind.ASSUMED_ROLE,
        expiration=expiration,
        identity_arn="arn:aws:sts::222222222222:assumed-role/Developer/alice",
        mfa_serial="arn:aws:iam::111111111111:mfa/alice",
        mfa_authenticated_at=now,
        source_fingerprint=fingerprint,
        created=now,
    )
    creds = Credentials(
        akid,
        f"SeCrEtKeY/{key}/{n}",
        f"ToKeN{key}{n}" * 8,
        expiration,
        CredentialKind.ASSUMED_ROLE,
        "eu-west-1",
    )
    return meta, creds


def index(directory: Path) -> dict[str, dict[str, object]]:
    sessions: dict[str, dict[str, object]] = json.loads((directory / "sessions.json").read_text())["sessions"]
    return sessions


# -- basics ----------------------------------------------------------------------------------------------


def test_store_then_lookup_round_trips(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    meta, creds = make()
    cache.store(meta, creds)
    found = cache.lookup("profile:dev", min_ttl=60)
    assert found is not None
    got_meta, got_creds = found
    assert got_meta == meta
    assert got_creds == creds and got_creds.secret_access_key == creds.secret_access_key
    assert got_creds.session_token == creds.session_token and got_creds.region == "eu-west-1"
    assert cache.flush()
    assert cache.lookup("profile:dev", min_ttl=60) == (meta, creds)  # now from the index and the keyring
    stored = json.loads(backend.items[("stsdesk", "session:profile:dev")])
    assert stored["secret_access_key"] == creds.secret_access_key
    assert cache.peek("profile:dev") == meta
    assert cache.peek("profile:other") is None and cache.lookup("profile:other", 0) is None


def test_sessions_lists_metadata_soonest_first_without_keyring(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make("profile:late", 3000, 1))
    cache.store(*make("profile:soon", 900, 2))
    backend.locked = True  # sessions()/peek() must not care (every keyring call would raise now)
    backend.items.clear()
    assert [s.cache_key for s in cache.sessions()] == ["profile:soon", "profile:late"]
    assert cache.peek("profile:late") is not None


def test_min_ttl_and_expiry(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make("profile:dev", seconds=600))
    assert cache.lookup("profile:dev", min_ttl=300) is not None
    assert cache.lookup("profile:dev", min_ttl=900) is None
    cache.store(*make("profile:old", seconds=-5, n=2))
    assert cache.lookup("profile:old", min_ttl=0) is None
    expired = cache.peek("profile:old")
    assert expired is not None and expired.seconds_left() < 0  # metadata stays for `stsdesk list`


def test_secret_removed_from_keyring_drops_the_entry(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make())
    assert cache.flush()
    backend.items.clear()
    assert cache.lookup("profile:dev", 0) is None
    assert cache.peek("profile:dev") is None


def test_forget_and_forget_profile_remove_index_entries_and_secrets(
    tmp_path: Path, backend: MemoryKeyring
) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make("profile:dev", n=1))
    cache.store(*make("mfa:alice:serial", n=2, profile="dev"))
    cache.store(*make("profile:prod", n=3, profile="prod"))
    assert cache.flush() and len(index(tmp_path)) == 3
    assert cache.forget_profile("dev") == ["mfa:alice:serial", "profile:dev"]
    assert [s.cache_key for s in cache.sessions()] == ["profile:prod"]
    assert cache.forget("profile:nope") == []
    assert cache.forget() == ["profile:prod"]
    assert cache.sessions() == []
    assert cache.flush() and backend.items == {} and index(tmp_path) == {}


def test_on_change_called_after_store_and_forget(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    calls: list[int] = []
    cache.on_change(lambda: calls.append(len(cache.sessions())))
    cache.store(*make())
    cache.forget("profile:missing")
    cache.forget("profile:dev")
    assert calls == [1, 0]


# -- corruption ------------------------------------------------------------------------------------------


def test_garbage_index_reads_as_empty_and_is_replaced(tmp_path: Path, backend: MemoryKeyring) -> None:
    (tmp_path / "sessions.json").write_bytes(b"{not json\x00\xff")
    cache = SessionCache(tmp_path, SecretStore())
    assert cache.sessions() == [] and cache.lookup("profile:dev", 0) is None
    assert fast_lookup(tmp_path, "profile:dev", 0, "fp1") is None
    cache.store(*make())
    assert cache.flush()
    assert list(index(tmp_path)) == ["profile:dev"]


def test_corrupt_entry_is_dropped_and_others_survive(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make("profile:good", n=1))
    cache.store(*make("profile:bad", n=2))
    assert cache.flush()
    data = json.loads((tmp_path / "sessions.json").read_text())
    data["sessions"]["profile:bad"]["kind"] = "no-such-kind"
    (tmp_path / "sessions.json").write_text(json.dumps(data))
    assert [s.cache_key for s in cache.sessions()] == ["profile:good"]
    assert cache.lookup("profile:bad", 0) is None
    assert "profile:bad" not in index(tmp_path)
    assert ("stsdesk", "session:profile:bad") not in backend.items
    assert cache.lookup("profile:good", 0) is not None


def test_corrupt_secret_is_dropped_but_a_foreign_one_is_only_a_miss(
    tmp_path: Path, backend: MemoryKeyring
) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make("profile:a", n=1))
    cache.store(*make("profile:b", n=2))
    assert cache.flush()
    backend.items[("stsdesk", "session:profile:a")] = "garbage"
    _, other = make("profile:b", n=99)
    backend.items[("stsdesk", "session:profile:b")] = json.dumps(
        {"access_key_id": other.access_key_id, "secret_access_key": "x", "session_token": "y"}
    )
    assert cache.lookup("profile:a", 0) is None and cache.peek("profile:a") is None
    assert cache.lookup("profile:b", 0) is None and cache.peek("profile:b") is not None


# -- fast_lookup -----------------------------------------------------------------------------------------


def test_fast_lookup_checks_fingerprint_and_ttl(tmp_path: Path, backend: MemoryKeyring) -> None:
    writer = SessionCache(tmp_path, SecretStore())
    writer.store(*make(seconds=600, fingerprint="fp-A"))
    assert writer.flush()
    creds = fast_lookup(tmp_path, "profile:dev", 60, "fp-A")
    assert creds is not None and creds.secret_access_key == "SeCrEtKeY/profile:dev/1"
    assert fast_lookup(tmp_path, "profile:dev", 60, "fp-B") is None
    assert fast_lookup(tmp_path, "profile:dev", 900, "fp-A") is None
    assert fast_lookup(tmp_path, "profile:nope", 0, "fp-A") is None
    assert fast_lookup(tmp_path / "missing", "profile:dev", 0, "fp-A") is None
    assert fast_lookup(tmp_path, "profile:dev", 60, "fp-A", service="stsdesk:other") is None


# -- keyring trouble -------------------------------------------------------------------------------------


def test_fail_backend_keeps_sessions_in_this_process_only(tmp_path: Path, fail_backend: None) -> None:
    mine = SessionCache(tmp_path, SecretStore())
    meta, creds = make()
    mine.store(meta, creds)
    assert mine.flush()  # a refused secret is no failure: the entry becomes memory-only
    found = mine.lookup("profile:dev", 0)
    assert found is not None and found[1].secret_access_key == creds.secret_access_key
    assert found[0].memory_only
    other = SessionCache(tmp_path, SecretStore())  # another process: its own memory
    assert other.lookup("profile:dev", 0) is None
    listed = other.sessions()
    assert [s.memory_only for s in listed] == [True]  # owner (this pid) is alive
    assert fast_lookup(tmp_path, "profile:dev", 0, "fp1") is None


def test_memory_only_entry_of_an_exited_process_is_hidden(tmp_path: Path, fail_backend: None) -> None:
    mine = SessionCache(tmp_path, SecretStore())
    mine.store(*make())
    assert mine.flush()
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    data = json.loads((tmp_path / "sessions.json").read_text())
    data["sessions"]["profile:dev"]["owner_pid"] = int(child.stdout)
    (tmp_path / "sessions.json").write_text(json.dumps(data))
    fresh = SessionCache(tmp_path, SecretStore())
    assert fresh.sessions() == [] and fresh.peek("profile:dev") is None


def test_locked_keyring_on_store_marks_entry_memory_only(tmp_path: Path, backend: MemoryKeyring) -> None:
    backend.refuse_writes = True
    secrets = SecretStore()
    cache = SessionCache(tmp_path, secrets)
    cache.store(*make())
    assert cache.lookup("profile:dev", 0) is not None  # before the write: from memory
    assert cache.flush()
    assert index(tmp_path)["profile:dev"]["memory_only"] is True
    assert secrets.warning is not None and "KeyringLocked" in secrets.warning
    assert cache.lookup("profile:dev", 0) is not None
    assert SessionCache(tmp_path, SecretStore()).lookup("profile:dev", 0) is None


# -- two processes ---------------------------------------------------------------------------------------


def test_two_instances_see_each_others_writes(tmp_path: Path, backend: MemoryKeyring) -> None:
    gui, cli = SessionCache(tmp_path, SecretStore()), SessionCache(tmp_path, SecretStore())
    assert gui.sessions() == []  # load (and remember) the empty state first
    cli.store(*make(n=1))
    assert cli.flush()  # another process sees a session once it is written
    found = gui.lookup("profile:dev", 0)
    assert found is not None and found[1].access_key_id == "ASIATESTKEY000000001"
    gui.store(*make(n=2))
    assert gui.flush()
    found = cli.lookup("profile:dev", 0)
    assert found is not None and found[1].access_key_id == "ASIATESTKEY000000002"
    cli.forget()
    assert cli.flush()
    assert gui.peek("profile:dev") is None and gui.sessions() == []


def _store_many(directory: str, keyring_root: str, worker: int, count: int) -> None:
    keyring.set_keyring(DirKeyring(keyring_root))
    cache = SessionCache(Path(directory), SecretStore())
    for i in range(count):
        cache.store(*make(f"w{worker}:{i}", n=worker * 1000 + i))
        cache.store(*make("shared", n=worker * 1000 + i))
    assert cache.flush()


def test_concurrent_stores_from_two_processes_leave_a_consistent_index(tmp_path: Path) -> None:
    cache_dir, keyring_root = tmp_path / "cache", tmp_path / "keyring"
    keyring_root.mkdir()
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_store_many, args=(str(cache_dir), str(keyring_root), w, 20)) for w in (1, 2)
    ]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(60)
    assert [proc.exitcode for proc in workers] == [0, 0]
    entries = index(cache_dir)
    assert set(entries) == {f"w{w}:{i}" for w in (1, 2) for i in range(20)} | {"shared"}
    shared_secret = DirKeyring(str(keyring_root)).get_password("stsdesk", "session:shared")
    assert shared_secret is not None
    # the keyring write and the index write happened under one lock: they name the same key
    assert json.loads(shared_secret)["access_key_id"] == entries["shared"]["access_key_id"]
    assert not [p.name for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


# -- files on disk ---------------------------------------------------------------------------------------


def test_file_modes(tmp_path: Path, backend: MemoryKeyring) -> None:
    directory = tmp_path / "state" / "cache"
    cache = SessionCache(directory, SecretStore())
    cache.store(*make())
    assert cache.flush()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "sessions.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((directory / "sessions.lock").stat().st_mode) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ["sessions.json", "sessions.lock"]


def test_no_secret_in_any_file_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    secrets_seen: list[str] = []
    for name, installed in (("ok", MemoryKeyring()), ("fail", fail.Keyring())):
        keyring.set_keyring(installed)
        cache = SessionCache(config_dir(tmp_path / name), SecretStore())
        for n in range(3):
            meta, creds = make(f"profile:p{n}", n=n)
            cache.store(meta, creds)
            secrets_seen += [creds.secret_access_key, creds.session_token or ""]
        assert cache.flush()
        assert cache.lookup("profile:p1", 0) is not None
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written  # the index and lock files exist
    for path in written:
        content = path.read_bytes()
        for secret in secrets_seen:
            assert secret.encode() not in content, f"secret found in {path}"
        assert b"SeCrEtKeY" not in content and b"ToKeN" not in content


# -- import discipline and paths -------------------------------------------------------------------------


def test_fast_path_imports_neither_botocore_nor_keyring(tmp_path: Path) -> None:
    code = (
        "import stsdesk.core.cache, stsdesk.core.secrets, stsdesk.core.paths; import sys; "
        "assert 'botocore' not in sys.modules and 'keyring' not in sys.modules; "
        "from pathlib import Path; c = stsdesk.core.cache.SessionCache(Path(sys.argv[1]), "
        "stsdesk.core.secrets.SecretStore()); c.sessions(); c.peek('x'); c.lookup('x', 0); "
        "assert 'keyring' not in sys.modules and 'boto3' not in sys.modules; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_config_dir_precedence_and_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = {"STSDESK_CONFIG_DIR": str(tmp_path / "from-env")}
    assert config_dir(tmp_path / "explicit", env) == tmp_path / "explicit"
    assert config_dir(None, env) == tmp_path / "from-env"
    assert config_dir("", {"STSDESK_CONFIG_DIR": ""}) == tmp_path / "xdg" / "stsdesk"
    assert config_dir("~/cfg", {}) == tmp_path / "home" / "cfg"
    for name in ("explicit", "from-env", "xdg/stsdesk", "home/cfg"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o700


def test_keyring_namespace_separates_config_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert keyring_namespace(default_config_dir()) is None
    first, second = keyring_namespace(tmp_path / "a"), keyring_namespace(tmp_path / "b")
    assert first is not None and len(first) == 12 and first != second
    assert keyring_namespace(tmp_path / "a") == first


# -- write-behind ----------------------------------------------------------------------------------------


def test_store_is_seen_in_process_at_once_without_disk_or_keyring(
    tmp_path: Path, backend: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    meta, creds = make()
    with cache._writing:  # hold the writer back: nothing is durable yet
        cache.store(meta, creds)
        touched: list[str] = []
        with monkeypatch.context() as patch:
            patch.setattr(os, "stat", lambda *a, **k: touched.append("stat"))
            patch.setattr(SecretStore, "get", lambda *a: touched.append("keyring"))
            assert cache.lookup("profile:dev", 60) == (meta, creds)
            assert cache.peek("profile:dev") == meta
        assert touched == []
        assert [s.cache_key for s in cache.sessions()] == ["profile:dev"]
        assert not (tmp_path / "sessions.json").exists() and backend.items == {}
        assert cache.flush(timeout=0.05) is False  # still held back
    assert cache.flush()
    assert list(index(tmp_path)) == ["profile:dev"] and ("stsdesk", "session:profile:dev") in backend.items


def test_many_stores_coalesce_into_few_index_writes(
    tmp_path: Path, backend: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaced: list[str] = []
    real_replace = os.replace

    def counting(src: str, dst: str) -> None:
        replaced.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", counting)
    cache = SessionCache(tmp_path, SecretStore())
    with cache._writing:  # the writer takes at most the first store, then waits here
        for n in range(50):
            cache.store(*make(f"profile:p{n}", n=n))
    assert cache.flush()
    assert 1 <= len(replaced) <= 2
    assert len(index(tmp_path)) == 50 and len(backend.items) == 50


def test_store_forget_store_keeps_the_order(tmp_path: Path, backend: MemoryKeyring) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    cache.store(*make(n=1))
    assert cache.flush()
    with cache._writing:
        assert cache.forget("profile:dev") == ["profile:dev"]
        assert cache.lookup("profile:dev", 0) is None and cache.peek("profile:dev") is None
        cache.store(*make(n=2))
        assert cache.forget_profile("dev") == ["profile:dev"]
        cache.store(*make(n=3))
        found = cache.lookup("profile:dev", 0)
        assert found is not None and found[1].access_key_id == "ASIATESTKEY000000003"
    assert cache.flush()
    assert index(tmp_path)["profile:dev"]["access_key_id"] == "ASIATESTKEY000000003"
    stored = json.loads(backend.items[("stsdesk", "session:profile:dev")])
    assert stored["access_key_id"] == "ASIATESTKEY000000003"
    other = SessionCache(tmp_path, SecretStore())
    found = other.lookup("profile:dev", 0)
    assert found is not None and found[1].access_key_id == "ASIATESTKEY000000003"
    # forget-all after a store drops both, on disk and in the keyring
    cache.store(*make("profile:x", n=4, profile="x"))
    assert cache.forget() == ["profile:dev", "profile:x"]
    assert cache.flush()
    assert index(tmp_path) == {} and backend.items == {}


def test_failing_keyring_write_still_ends_memory_only(tmp_path: Path, backend: MemoryKeyring) -> None:
    backend.refuse_writes = True
    cache = SessionCache(tmp_path, SecretStore())
    meta, creds = make()
    cache.store(meta, creds)
    assert cache.flush()  # a refused secret is not a failed write
    found = cache.lookup("profile:dev", 0)
    assert found is not None and found[0].memory_only and found[1] == creds
    assert index(tmp_path)["profile:dev"]["owner_pid"] == os.getpid()
    assert SessionCache(tmp_path, SecretStore()).lookup("profile:dev", 0) is None


def test_unwritable_directory_makes_flush_report_failure(
    tmp_path: Path, backend: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SessionCache(tmp_path, SecretStore())
    (tmp_path / "sessions.json").mkdir()  # os.replace onto a directory fails
    cache.store(*make())
    assert cache.lookup("profile:dev", 0) is not None
    assert cache.flush() is False
    assert "cannot write the session cache" in caplog.text
    assert cache.lookup("profile:dev", 0) is None  # not cached, as when the write failed in store()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pending_writes_are_flushed_when_the_process_exits(tmp_path: Path) -> None:
    keyring_root = tmp_path / "keyring"
    keyring_root.mkdir()
    code = (
        "import sys, keyring; sys.path[:0] = [sys.argv[3], sys.argv[4]]; "  # tests/core, tests (helpers)
        "from test_cache import DirKeyring, make; "
        "from stsdesk.core.cache import SessionCache; from stsdesk.core.secrets import SecretStore; "
        "from pathlib import Path; keyring.set_keyring(DirKeyring(sys.argv[2])); "
        "SessionCache(Path(sys.argv[1]), SecretStore()).store(*make(n=7))"  # no flush: exit does it
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "cache"), str(keyring_root), str(Path(__file__).parent),
         str(Path(__file__).parents[1])],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    keyring.set_keyring(DirKeyring(str(keyring_root)))
    try:
        found = SessionCache(tmp_path / "cache", SecretStore()).lookup("profile:dev", 0)
    finally:
        keyring.set_keyring(fail.Keyring())
    assert found is not None and found[1].access_key_id == "ASIATESTKEY000000007"


def test_changes_elsewhere_counts_only_other_writers(tmp_path: Path, backend: MemoryKeyring) -> None:
    """changes_elsewhere() stays put across this instance's own stores and forgets, and grows when another
    instance (another process) writes the index."""
    secrets = SecretStore()
    ours, theirs = SessionCache(tmp_path, secrets), SessionCache(tmp_path, secrets)
    before = ours.changes_elsewhere()
    ours.store(*make("profile:a", profile="a"))
    assert ours.flush()
    ours.store(*make("profile:b", profile="b", n=2))
    ours.forget("profile:a")
    assert ours.flush()
    assert ours.changes_elsewhere() == before
    theirs.store(*make("profile:c", profile="c", n=3))
    assert theirs.flush()
    after = ours.changes_elsewhere()
    assert after > before
    ours.store(*make("profile:d", profile="d", n=4))  # merged with theirs on write: counted at most once more
    assert ours.flush()
    assert ours.changes_elsewhere() >= after
    settled = ours.changes_elsewhere()
    ours.forget("profile:d")
    assert ours.flush()
    assert ours.changes_elsewhere() == settled
