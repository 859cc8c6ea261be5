"""Secret hygiene through every CLI flow: the long-term secrets, the MFA seed and every session secret, token
and sign-in URL the emulator issued never appear in a file under HOME or the config dir, nor on stderr.

Keys live in a stand-in keyring (tests/resilience/resilience_keyring.SharedFileKeyring) whose storage is
outside HOME, so that import-credentials and add-user work across processes as with a Secret Service."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from resilience_support import (
    ALICE_SECRET,
    BOB_KEY,
    BOB_SECRET,
    COUNTS,
    LONG_TERM_SECRETS,
    MFA_SEED,
    CliWorld,
    CountingEmulator,
    TotpSource,
    config_text,
    make_world,
    start_counting_emulator,
)

FORMATS = ("bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")


@pytest.fixture
def emulator() -> Iterator[CountingEmulator]:
    started = start_counting_emulator()
    yield started
    started.server.stop()


class Hygiene:
    """Runs CLI commands, collects every secret they were handed, and checks files and stderr for them."""

    def __init__(self, world: CliWorld) -> None:
        self.world = world
        self.canaries: set[str] = {ALICE_SECRET, BOB_SECRET, MFA_SEED}
        self.failures: list[str] = []

    def learn(self, text: str) -> None:
        """Add session secrets, tokens and sign-in tokens found in a command's stdout to the canaries."""
        for pattern in (
            r"AWS_SECRET_ACCESS_KEY\W+([A-Za-z0-9/+=]{30,})",
            r"AWS_SESSION_TOKEN\W+([A-Za-z0-9/+=_.-]{30,})",
            r'"SecretAccessKey":\s*"([^"]+)"',
            r'"SessionToken":\s*"([^"]+)"',
            r"SigninToken=([A-Za-z0-9%_.-]{20,})",
        ):
            self.canaries.update(re.findall(pattern, text))

    def run(self, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.world.stsdesk(*args, stdin=stdin)
        if ok:
            assert result.returncode == 0, (args, result.stderr)
        else:
            assert result.returncode == 1, (args, result.returncode, result.stderr)
            assert "Traceback" not in result.stderr and result.stdout == ""
        self.learn(result.stdout)
        self.check_text(f"stderr of {' '.join(args)}", result.stderr)
        self.check_files()
        return result

    def check_text(self, where: str, text: str) -> None:
        for canary in self.canaries:
            COUNTS["canary checks"] += 1
            if canary in text:
                self.failures.append(f"{where} contains {canary[:6]}...")

    def check_files(self) -> None:
        for path in self.world.files():
            data = path.read_bytes().decode("utf-8", "replace")
            self.check_text(str(path), data)


def test_no_secret_reaches_a_file_or_stderr_in_any_flow(
    tmp_path: Path, emulator: CountingEmulator
) -> None:
    world = make_world(tmp_path / "home", emulator.endpoint, "resilience_keyring.SharedFileKeyring")
    world.env["RESILIENCE_KEYRING_FILE"] = str(tmp_path / "keyring-store.json")
    h = Hygiene(world)
    totp = TotpSource()

    # The test wrote the long-term secrets into the credentials file; import-credentials must move them out.
    assert ALICE_SECRET in world.credentials_file.read_text()
    h.run("import-credentials")
    h.canaries.update(LONG_TERM_SECRETS)
    assert not any(s in world.credentials_file.read_text() for s in LONG_TERM_SECRETS)
    h.run("add-user", "bob2", "--access-key-id", BOB_KEY, stdin=BOB_SECRET + "\n")

    for shell in FORMATS:
        h.run("assume", "readonly", "--format", shell)
    h.run("assume", "bob", "--format", "json")
    h.run("credential-process", "readonly")
    h.run("exec", "readonly", "--", sys.executable, "-c", "import os; print(os.environ['AWS_SESSION_TOKEN'])")
    h.run("whoami", "readonly")
    h.run("assume", "dev", "--format", "json", "--mfa-code", totp.code())
    h.run("whoami", "dev")
    h.run("console", "readonly")
    h.run("list")
    h.run("list", "--json")
    assert len(h.canaries) > 3 + 4, "the flows handed out session secrets to watch for"

    # Error paths: undecodable message, access denied, wrong MFA code, a broken config file.
    h.run("decode", "--profile", "dev", "Encoded authorization failure message: AAAAAAAAAAAAAAAAAAAA", ok=False)
    h.run("assume", "denied", ok=False)
    h.run("forget", "dev")
    h.run("forget", "--all")  # the MFA session too: the next code is really checked
    h.run("assume", "dev", "--mfa-code", "000000", ok=False)
    h.run("credential-process", "alice", ok=False)  # MFA needed, no code, no terminal
    good = world.config_file.read_text()
    world.config_file.write_text(good + "\n[profile broken\nrole_arn = nonsense\n")
    h.run("assume", "readonly", ok=False)
    world.config_file.write_text(config_text(emulator.endpoint) + "[profile bad]\nrole_arn = arn:nope\n")
    h.run("assume", "bad", ok=False)
    world.config_file.write_text(good)
    h.run("forget", "readonly")
    h.run("forget", "--all")

    assert h.failures == [], h.failures
    files = list(world.files())
    assert any(p.name == "sessions.json" for p in files) and any(p == world.config_file for p in files)
    assert json.loads((world.config_dir / "sessions.json").read_text())["sessions"] == {}
