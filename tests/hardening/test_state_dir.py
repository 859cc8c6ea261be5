"""Issue 18, finding 6: the emulator's ``--state-dir`` must not trust a sealing key another user planted.

Whoever holds the sealing key can forge session tokens, so the directory must be private (ours, no group or
other bits), is never followed through a symlink, and keys are created exclusively. Run as root (CI), the
"other user" is uid 65534 (nobody) via chown; as an ordinary user those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from emu_client import DEMO_SCENARIO, REPO

from stsdesk.emulator.private_files import StateDirError, ensure_private_dir, read_or_create_key
from stsdesk.emulator.sealing import KEY_FILE_NAME, Sealer

OTHER_UID = 65534
PLANTED = bytes(range(32))
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root (CI runs as root)")


def run_emulator(state_dir: Path, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with ``--state-dir``; every caller expects a refusal (exit 1 before serving), so a
    server that starts anyway makes the test fail by timeout."""
    code = (
        "import os, sys; "
        + (f"os.umask({umask}); " if umask is not None else "")
        + "from stsdesk.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "emulator", "--scenario", str(DEMO_SCENARIO),
         "--state-dir", str(state_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, done
    assert done.stdout == ""  # no endpoint line: it never served
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], lines[0]


@needs_root
def test_a_key_planted_in_another_users_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared-state"
    shared.mkdir(mode=0o700)
    (shared / KEY_FILE_NAME).write_bytes(PLANTED)
    os.chmod(shared / KEY_FILE_NAME, 0o600)
    os.chown(shared / KEY_FILE_NAME, OTHER_UID, OTHER_UID)
    os.chown(shared, OTHER_UID, OTHER_UID)
    assert_refused(run_emulator(shared), "owned by uid 65534")
    with pytest.raises(StateDirError):
        Sealer.load_or_create(shared)


def test_a_directory_open_to_others_is_reported_not_used(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o777)  # another user could have planted a key here
    (loose / KEY_FILE_NAME).write_bytes(PLANTED)
    os.chmod(loose / KEY_FILE_NAME, 0o600)
    assert_refused(run_emulator(loose), "accessible to other users", "0777")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o777  # reported, not silently chmod-ed


def test_a_symlinked_state_dir_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "state"
    link.symlink_to(target)
    assert_refused(run_emulator(link), "symbolic link")
    assert list(target.iterdir()) == []  # nothing was written through the link


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    planted = tmp_path / "planted.key"
    planted.write_bytes(PLANTED)
    (state / KEY_FILE_NAME).symlink_to(planted)
    with pytest.raises(StateDirError, match="cannot be read as a key file"):
        read_or_create_key(state, KEY_FILE_NAME, 32)
    assert_refused(run_emulator(state), KEY_FILE_NAME)


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / KEY_FILE_NAME).write_bytes(PLANTED)
    os.chmod(state / KEY_FILE_NAME, 0o644)
    assert_refused(run_emulator(state), "accessible to other users", "0644")


@needs_root
def test_a_key_file_of_another_owner_inside_our_directory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / KEY_FILE_NAME).write_bytes(PLANTED)
    os.chmod(state / KEY_FILE_NAME, 0o600)
    os.chown(state / KEY_FILE_NAME, OTHER_UID, OTHER_UID)
    with pytest.raises(StateDirError, match="owned by uid 65534"):
        Sealer.load_or_create(state)


def test_new_state_dir_and_key_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    state = tmp_path / "new" / "state"
    code = (
        "import os, sys; os.umask(0); from pathlib import Path; "
        "from stsdesk.emulator.sealing import Sealer; Sealer.load_or_create(Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(state)], check=True, cwd=REPO, timeout=60)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    key = state / KEY_FILE_NAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    assert sorted(p.name for p in state.iterdir()) == [KEY_FILE_NAME]  # no temporary file left behind


def test_an_existing_private_key_is_reused_and_never_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state"
    ensure_private_dir(state)
    first = read_or_create_key(state, "k", 32)
    assert read_or_create_key(state, "k", 32) == first
    (state / "short").write_bytes(b"x")
    os.chmod(state / "short", 0o600)
    with pytest.raises(ValueError, match="32-byte"):
        read_or_create_key(state, "short", 32)
