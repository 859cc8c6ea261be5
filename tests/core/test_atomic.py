"""stsdesk._atomic: the one atomic writer of core and emulator. Files 0600 (or the mode asked) and new
directories 0700 whatever the umask; a failed write leaves the old file and no temporary file."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stsdesk import _atomic
from stsdesk._atomic import atomic_write, make_private_dirs


@pytest.fixture(params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_0600_and_new_dirs_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "a" / "b" / "state.json"
    atomic_write(target, b"one", make_parents=True)
    assert target.read_bytes() == b"one"
    assert _mode(target) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    atomic_write(target, b"two", mode=0o644, fsync=False)  # a mode asked for is exactly that mode
    assert (target.read_bytes(), _mode(target)) == (b"two", 0o644)
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]


def test_existing_directories_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    make_private_dirs(shared / "mine")
    assert _mode(shared) == 0o755 and _mode(shared / "mine") == 0o700
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError):
        make_private_dirs(tmp_path / "file" / "sub")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "config"
    atomic_write(target, b"old")

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_atomic.os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["config"]


def test_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(victim)
    atomic_write(link, b"data")
    assert not link.is_symlink() and link.read_bytes() == b"data"
    assert victim.read_bytes() == b"keep"


def test_concurrent_writers_leave_one_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    payloads = [bytes([65 + i]) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=atomic_write, args=(target, p), kwargs={"fsync": False}) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]


def test_the_emulator_and_core_use_it(tmp_path: Path) -> None:
    """No other temp-file-and-replace writer is left in core or emulator (one helper, not seven copies)."""
    package = Path(__file__).resolve().parents[2] / "stsdesk"
    offenders = [
        str(path.relative_to(package))
        for path in [*package.glob("core/**/*.py"), *package.glob("emulator/**/*.py")]
        if "os.replace(" in path.read_text() or "mkstemp(" in path.read_text()
    ]
    assert offenders == ["core/console_fetch.py"]  # a 0600 page made once with mkstemp (no replace): not a rewrite
