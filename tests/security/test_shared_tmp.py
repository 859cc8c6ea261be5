"""Finding 2: a symlink or directory planted in a shared temp dir by another local user.

The bridge falls back to ``<tmp>/stsdesk-<uid>-<hash>`` when the config path is too long for a socket and
there is no private runtime dir. A second user (really another uid, via runuser) plants a link there to a
directory of the victim, or a directory of their own; stsdesk must refuse without changing anything.
"""

from __future__ import annotations

import asyncio
import os
import stat
import tempfile
from pathlib import Path

import pytest

from security.conftest import OtherUser
from stsdesk.core.bridge import SECRET_NAME, BridgeError, BridgeServer, bridge_directory, bridge_request
from stsdesk.core.model import Credentials
from stsdesk.core.paths import UnsafeDirectory, ensure_private_directory


async def _never(profile: str, duration: int | None) -> Credentials:
    raise AssertionError("no request should reach the handler")


def _tmp_fallback(tmp_path: Path, shared_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A config dir whose socket path is too long, so the bridge lands in ``shared_tmp``."""
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    config = tmp_path / ("c" * 120)
    config.mkdir(mode=0o700)
    directory = bridge_directory(config, runtime_dir=str(shared_tmp))  # 1777: not a private runtime dir
    assert directory.parent == shared_tmp and directory.name.startswith(f"stsdesk-{os.getuid()}-")
    return config, directory


def test_bridge_refuses_a_planted_symlink_and_leaves_its_target_alone(
    other_user: OtherUser, shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config, directory = _tmp_fallback(tmp_path, shared_tmp, monkeypatch)
    victim_www = tmp_path / "www"
    victim_www.mkdir()
    victim_www.chmod(0o755)
    other_user.run("ln", "-s", str(victim_www), str(directory))
    assert directory.is_symlink() and directory.lstat().st_uid == other_user.uid

    server = BridgeServer(directory, _never)
    with pytest.raises(BridgeError) as refused:
        asyncio.run(server.start())
    assert stat.S_IMODE(victim_www.stat().st_mode) == 0o755, "the symlink's target was chmodded"
    assert list(victim_www.iterdir()) == [], "stsdesk wrote into the symlink's target"
    assert "link or a file" in str(refused.value) and "\n" not in str(refused.value)


def test_bridge_refuses_a_directory_planted_by_another_user(
    other_user: OtherUser, shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config, directory = _tmp_fallback(tmp_path, shared_tmp, monkeypatch)
    other_user.run("mkdir", "-m", "777", str(directory))
    server = BridgeServer(directory, _never)
    with pytest.raises(BridgeError) as refused:
        asyncio.run(server.start())
    st = directory.lstat()
    assert st.st_uid == other_user.uid and stat.S_IMODE(st.st_mode) == 0o777, "the squatter's dir was changed"
    assert list(directory.iterdir()) == [], "a secret or socket was put in someone else's directory"
    assert "belongs to another user" in str(refused.value)
    # The client side does not talk to (or trust a secret from) a squatted directory either.
    other_user.run("sh", "-c", f"printf x > {directory / SECRET_NAME}")
    assert bridge_request(directory, "p", timeout=1) is None


def test_own_directory_open_to_others_is_reported_not_used(shared_tmp: Path) -> None:
    loose = shared_tmp / "mine"
    loose.mkdir()
    loose.chmod(0o755)
    with pytest.raises(UnsafeDirectory, match=r"open to other users \(mode 755\).*chmod 700"):
        ensure_private_directory(loose, what="the feature")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o755


def test_private_directory_is_0700_under_a_permissive_umask(shared_tmp: Path) -> None:
    old = os.umask(0)
    try:
        made = ensure_private_directory(shared_tmp / "a" / "b")
    finally:
        os.umask(old)
    assert made
    for path in (shared_tmp / "a", shared_tmp / "a" / "b"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert ensure_private_directory(shared_tmp / "a" / "b") is False  # an existing private one is accepted


def test_symlink_to_a_file_is_refused(other_user: OtherUser, shared_tmp: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("x")
    target.chmod(0o644)
    link = shared_tmp / "stsdesk-link"
    other_user.run("ln", "-s", str(target), str(link))
    with pytest.raises(UnsafeDirectory):
        ensure_private_directory(link)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_loose_bridge_dir_inside_our_own_directory_is_tightened(tmp_path: Path) -> None:
    """Inside a directory only we can write to (the config dir), a loose bridge dir left by an older version
    cannot be someone else's doing: it is made 0700 (with a warning) and the bridge starts."""
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    run = config / "run"
    run.mkdir()
    run.chmod(0o755)

    async def scenario() -> None:
        server = BridgeServer(run, _never)
        await server.start()
        try:
            assert (run / SECRET_NAME).exists()
        finally:
            await server.close()

    asyncio.run(scenario())
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
