"""Finding 3: every file stsdesk writes is 0600 and every directory 0700, whatever the umask and whatever was
there before; a pre-existing directory open to others is reported, not silently used.

Real runs under ``umask 000``: the CLI against the e2e emulator, and the GUI (``--demo --self-test``, which
writes its log, settings, demo world, emulator state, session cache and terminal bridge) in a config dir.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from e2e.conftest import World

REPO = Path(__file__).resolve().parents[2]


def _loose(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) whose mode lets anyone else in."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            continue
        wanted = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
        if stat.S_ISSOCK(st.st_mode):
            wanted = 0o600
        if mode & ~wanted & 0o777:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found


def _umask0(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    def permissive() -> None:
        os.umask(0)

    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        preexec_fn=permissive,
    )


def test_cli_flows_under_umask_000_leave_only_private_files(world: World) -> None:
    env = dict(world.env)
    for argv in (["assume", "readonly", "--format", "json"], ["credential-process", "readonly"],
                 ["console", "readonly"], ["list"], ["forget", "--all"]):
        out = _umask0([sys.executable, "-m", "stsdesk", *argv], env, world.home)
        assert out.returncode == 0, (argv, out.stderr)
    assert world.config_dir.is_dir()
    assert _loose(world.config_dir) == []


def test_gui_demo_under_umask_000_leaves_only_private_files(tmp_path: Path) -> None:
    config = tmp_path / "state"  # does not exist: created by stsdesk
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("XDG_RUNTIME_DIR", None)  # the bridge then lives in the config dir: checked too
    out = _umask0([sys.executable, "-m", "stsdesk", "--demo", "--self-test", "--config-dir", str(config)], env,
                  tmp_path, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (config / "stsdesk.log").exists()
    assert _loose(config) == [], "\n".join(_loose(config))


def test_a_loose_config_dir_is_reported_by_the_cli_not_changed(world: World) -> None:
    config = world.config_dir
    config.mkdir(mode=0o700, exist_ok=True)
    config.chmod(0o755)  # made by an older version, or by hand
    try:
        out = _umask0([sys.executable, "-m", "stsdesk", "assume", "readonly", "--format", "json"],
                      dict(world.env), world.home)
        assert out.returncode == 0, out.stderr
        warnings = [line for line in out.stderr.splitlines() if "open to other users" in line]
        assert len(warnings) == 1 and "chmod 700" in warnings[0] and str(config) in warnings[0]
        assert stat.S_IMODE(config.stat().st_mode) == 0o755  # reported, not changed behind the user's back
    finally:
        config.chmod(0o700)


def test_gui_tightens_files_left_loose_and_reports_a_loose_config_dir(tmp_path: Path) -> None:
    config = tmp_path / "state"
    (config / "demo").mkdir(parents=True)
    config.chmod(0o755)
    log = config / "stsdesk.log"
    log.write_text("older lines\n")
    log.chmod(0o644)
    settings = config / "demo" / "stsdesk-gui.ini"
    settings.write_text("[prefs]\ndefault_shell=zsh\n")
    settings.chmod(0o666)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("XDG_RUNTIME_DIR", None)
    out = _umask0([sys.executable, "-m", "stsdesk", "--demo", "--self-test", "--config-dir", str(config)], env,
                  tmp_path, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "open to other users" in out.stderr and "chmod 700" in out.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and log.read_text().startswith("older lines")
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    config.chmod(0o700)
    assert _loose(config) == [], "\n".join(_loose(config))


def test_files_left_loose_by_an_older_version_are_tightened_when_used(world: World) -> None:
    flows = (["assume", "readonly", "--format", "json"], ["credential-process", "readonly"], ["list"])
    for argv in flows:
        assert _umask0([sys.executable, "-m", "stsdesk", *argv], dict(world.env), world.home).returncode == 0
    made = [p for p in world.config_dir.rglob("*") if p.is_file()]
    assert made, "the flows wrote nothing to check"
    for path in made:
        path.chmod(0o644)  # what an older version (or a umask of 022) left
    for argv in flows:
        out = _umask0([sys.executable, "-m", "stsdesk", *argv], dict(world.env), world.home)
        assert out.returncode == 0, out.stderr
    assert _loose(world.config_dir) == [], "\n".join(_loose(world.config_dir))
