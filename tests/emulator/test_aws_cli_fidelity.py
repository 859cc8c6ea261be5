"""The AWS CLI (the venv's ``aws``, botocore underneath but its own argument parsing and output) against the
emulator for issue 14's areas, pointed at it with the plugin's ``env()``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stsdesk.testing import StsEmulator, World, allow

AWS = str(Path(sys.executable).with_name("aws"))
ACCOUNT = "111111111111"
TAGGABLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                   "Action": ["sts:AssumeRole", "sts:TagSession"]}],
}
WORLD = (
    World().account(ACCOUNT)
    .user("ana", policies=[allow(["sts:AssumeRole", "sts:TagSession", "sts:GetFederationToken"])])
    .role("Tagged", trust=TAGGABLE, policies=[allow("sts:AssumeRole")])
    .role("Plain", trust=ACCOUNT, policies=[allow("sts:AssumeRole")])
)


def aws(emulator: StsEmulator, *args: str, **identity: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **emulator.env(**identity), "HOME": os.devnull}
    return subprocess.run([AWS, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.sts_scenario(WORLD)
def test_cli_session_tags_need_tag_session(sts_emulator: StsEmulator) -> None:
    tagged = aws(sts_emulator, "sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/Tagged",
                 "--role-session-name", "cli", "--tags", "Key=team,Value=blue", "--transitive-tag-keys", "team",
                 user="ana")
    assert tagged.returncode == 0, tagged.stderr
    assert json.loads(tagged.stdout)["PackedPolicySize"] >= 1
    plain = aws(sts_emulator, "sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/Plain",
                "--role-session-name", "cli", "--tags", "Key=team,Value=blue", user="ana")
    assert plain.returncode != 0
    assert "AccessDenied" in plain.stderr and "sts:TagSession" in plain.stderr


@pytest.mark.sts_scenario(WORLD)
def test_cli_invalid_role_arn_and_federation_packed_size(sts_emulator: StsEmulator) -> None:
    bad = aws(sts_emulator, "sts", "assume-role", "--role-arn", "nothing-valid-in-here", "--role-session-name", "cli",
              user="ana")
    assert bad.returncode != 0
    assert "(ValidationError)" in bad.stderr and "nothing-valid-in-here is invalid" in bad.stderr
    federated = aws(sts_emulator, "sts", "get-federation-token", "--name", "ana", user="ana")
    assert federated.returncode == 0, federated.stderr
    assert json.loads(federated.stdout)["PackedPolicySize"] == 0


def test_cli_keeps_working_after_time_travel(sts_emulator: StsEmulator) -> None:
    sts_emulator.advance(24 * 3600)
    done = aws(sts_emulator, "sts", "get-caller-identity", user="alice")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
