"""End-to-end fixtures: `stsdesk emulator` as a subprocess on a test scenario, and a `stsdesk` runner with a
temporary HOME, AWS config files and config dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = Path(sys.executable).with_name("aws")

ALICE_KEY = "AKIAE2EALICE00000001"
ALICE_SECRET = "e2e/alice/SecretValue0000000000000000001"
BOB_KEY = "AKIAE2EBOB0000000001"
BOB_SECRET = "e2e/bob/SecretValue00000000000000000001"
MFA_SERIAL = "arn:aws:iam::111111111111:mfa/alice"
MFA_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRETS = (ALICE_SECRET, BOB_SECRET)


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(principal: str, mfa: bool) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return _policy(statement)


ALLOW_ASSUME = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
ALLOW_DECODE = {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}

SCENARIO = {
    "region": "us-east-1",
    "accounts": [
        {"id": "111111111111", "alias": "identity"},
        {"id": "222222222222", "alias": "dev"},
        {"id": "333333333333", "alias": "prod"},
    ],
    "users": [
        {
            "account": "111111111111",
            "name": "alice",
            "policies": [_policy(ALLOW_ASSUME, ALLOW_DECODE)],
            "access_keys": [{"id": ALICE_KEY, "secret": ALICE_SECRET}],
            "mfa": {"serial": MFA_SERIAL, "seed": MFA_SEED},
        },
        {
            "account": "111111111111",
            "name": "bob",
            "policies": [_policy(ALLOW_ASSUME)],
            "access_keys": [{"id": BOB_KEY, "secret": BOB_SECRET}],
        },
    ],
    "roles": [
        {
            "account": "222222222222",
            "name": "ReadOnly",
            "max_session_duration": 3600,
            "trust_policy": _trust("arn:aws:iam::111111111111:root", False),
            "policies": [_policy({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})],
        },
        {
            "account": "222222222222",
            "name": "Developer",
            "max_session_duration": 14400,
            "trust_policy": _trust("arn:aws:iam::111111111111:root", True),
            "policies": [
                _policy(
                    {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:RunInstances"], "Resource": "*"},
                    {
                        "Sid": "DenyRunInstances",
                        "Effect": "Deny",
                        "Action": "ec2:RunInstances",
                        "Resource": "*",
                    },
                    ALLOW_DECODE,
                    ALLOW_ASSUME,
                )
            ],
        },
        {
            "account": "333333333333",
            "name": "Deployer",
            "max_session_duration": 3600,
            "trust_policy": _trust("arn:aws:iam::222222222222:role/Developer", True),
            "policies": [_policy({"Effect": "Allow", "Action": "*", "Resource": "*"})],
        },
    ],
}


@dataclass
class Emulator:
    endpoint: str
    process: subprocess.Popen[str]
    used_codes: set[str] = field(default_factory=set)

    def mfa_code(self) -> str:
        """A TOTP code for alice's device not used before (the emulator refuses a replayed code)."""
        totp = pyotp.TOTP(MFA_SEED)
        while True:
            now = time.time()
            # The emulator accepts the previous, current and next step. The current and next codes stay valid
            # for 30-60 s; the previous one only until this step ends, so it is used only early in a step (a slow
            # CLI run under load would otherwise present it too late).
            offsets = (0, 30, -30) if now % 30 < 15 else (0, 30)
            for offset in offsets:
                code = totp.at(now + offset)
                if code not in self.used_codes:
                    self.used_codes.add(code)
                    return code
            time.sleep(1)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    directory = tmp_path_factory.mktemp("emulator")
    scenario = directory / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stsdesk",
            "emulator",
            "--scenario",
            str(scenario),
            "--state-dir",
            str(directory / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("endpoint: "):
        process.kill()
        _out, err = process.communicate(timeout=10)
        pytest.fail(f"the emulator did not start: {line!r} {err}")
    yield Emulator(line.split(" ", 1)[1].strip(), process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    process.communicate()


@dataclass
class World:
    home: Path
    env: dict[str, str]
    emulator: Emulator

    bob_key: str = BOB_KEY
    bob_secret: str = BOB_SECRET

    @property
    def config_file(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    @property
    def credentials_file(self) -> Path:
        return Path(self.env["AWS_SHARED_CREDENTIALS_FILE"])

    @property
    def config_dir(self) -> Path:
        return Path(self.env["STSDESK_CONFIG_DIR"])

    def stsdesk(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stsdesk", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=self.home,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env or self.env,
            timeout=60,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
        )


def config_text(endpoint: str) -> str:
    """Profiles over the scenario: a user with MFA (keys in the credentials file), roles with MFA, a chain."""
    common = f"region = us-east-1\nendpoint_url = {endpoint}\n"
    return (
        f"[profile alice]\n{common}mfa_serial = {MFA_SERIAL}\n\n"
        f"[profile bob]\n{common}\n"
        f"[profile readonly]\nsource_profile = bob\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n\n"
        f"[profile dev]\nsource_profile = alice\nrole_arn = arn:aws:iam::222222222222:role/Developer\n"
        f"mfa_serial = {MFA_SERIAL}\n\n"
        f"[profile deployer]\nsource_profile = dev\nrole_arn = arn:aws:iam::333333333333:role/Deployer\n\n"
        f"[profile loop-a]\nsource_profile = loop-b\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n\n"
        f"[profile loop-b]\nsource_profile = loop-a\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n\n"
        f"[profile readonly-cp]\nregion = us-east-1\ncredential_process = {sys.executable} -m stsdesk "
        "credential-process readonly\n"
    )


@pytest.fixture
def world(tmp_path: Path, emulator: Emulator) -> Iterator[World]:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "STSDESK_CONFIG_DIR": str(home / "stsdesk"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": str(REPO),
        }
    )
    (home / ".aws" / "config").write_text(config_text(emulator.endpoint))
    (home / ".aws" / "credentials").write_text(
        f"[alice]\naws_access_key_id = {ALICE_KEY}\naws_secret_access_key = {ALICE_SECRET}\n\n"
        f"[bob]\naws_access_key_id = {BOB_KEY}\naws_secret_access_key = {BOB_SECRET}\n"
    )
    world = World(home, env, emulator)
    yield world
    # No secret of this world may have leaked into a file stsdesk wrote (the credentials file holds them
    # on purpose and is skipped; a .bak of it too).
    leaks = []
    for path in [*home.rglob("*"), *world.config_dir.rglob("*")]:
        if path.is_file() and not path.name.startswith("credentials"):
            data = path.read_bytes()
            leaks += [f"{path}" for secret in SECRETS if secret.encode() in data]
    assert leaks == [], f"secrets found in {leaks}"
