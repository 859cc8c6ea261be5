"""MFA without typing, end to end: `stsdesk assume` with no terminal and no --mfa-code gets its code from the
profile's mfa_process, or from a (fake) YubiKey through ykman on PATH, and the emulator accepts it (TOTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

PRINT_FILE = "import pathlib, sys\nprint(pathlib.Path(sys.argv[-1]).read_text().strip())\n"


def _with_profile_lines(world: World, profile: str, lines: str) -> None:
    text = world.config_file.read_text()
    header = f"[profile {profile}]\n"
    assert header in text
    world.config_file.write_text(text.replace(header, header + lines, 1))


def test_assume_takes_the_code_from_mfa_process(world: World, tmp_path: Path) -> None:
    script = tmp_path / "print_code.py"
    script.write_text(PRINT_FILE)
    code_file = tmp_path / "code"
    code_file.write_text(world.emulator.mfa_code())
    _with_profile_lines(world, "dev", f"mfa_process = {sys.executable} {script} {code_file}\n")
    done = world.stsdesk("assume", "dev", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["AWS_ACCESS_KEY_ID"].startswith("ASIA")


def test_a_wrong_code_from_mfa_process_is_one_line(world: World, tmp_path: Path) -> None:
    script = tmp_path / "print_code.py"
    script.write_text(PRINT_FILE)
    code_file = tmp_path / "code"
    code_file.write_text("000000")
    _with_profile_lines(world, "dev", f"mfa_process = {sys.executable} {script} {code_file}\n")
    done = world.stsdesk("assume", "dev")
    assert done.returncode == 1
    assert "the code from mfa_process was refused" in done.stderr, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_assume_takes_the_code_from_a_yubikey(world: World, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    code_file = tmp_path / "code"
    code_file.write_text(world.emulator.mfa_code())
    ykman = bin_dir / "ykman"
    ykman.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        f"pathlib.Path({str(tmp_path / 'argv')!r}).write_text(' '.join(sys.argv[1:]))\n"
        "sys.stderr.write('Touch your YubiKey...\\n')\n"
        f"print(pathlib.Path({str(code_file)!r}).read_text().strip())\n"
    )
    ykman.chmod(0o755)
    _with_profile_lines(world, "alice", "stsdesk_yubikey_account = Amazon Web Services:alice@111111111111\n")
    env = {**world.env, "PATH": f"{bin_dir}{os.pathsep}{world.env.get('PATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-m", "stsdesk", "assume", "dev", "--format", "json"], capture_output=True, text=True,
        env=env, timeout=60, cwd=world.home, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "argv").read_text() == "oath accounts code --single Amazon Web Services:alice@111111111111"
