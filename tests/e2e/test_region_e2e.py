"""`--region` end to end: stsdesk's own STS call and the AWS CLI it starts are both signed for the chosen region,
as the emulator saw them (its SigV4 credential scopes, ``GET /_stsdesk/requests``)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

AWS_CLI = Path(sys.executable).with_name("aws")


def _scopes(world: World) -> list[dict[str, str]]:
    with urllib.request.urlopen(f"{world.emulator.endpoint}/_stsdesk/requests", timeout=10) as answer:
        requests: list[dict[str, str]] = json.loads(answer.read())["requests"]
    return requests


def _mark(world: World) -> int:
    return len(_scopes(world))


def test_exec_with_region_signs_sts_and_the_aws_cli_for_that_region(world: World) -> None:
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
    before = _scopes(world)
    done = subprocess.run(
        [sys.executable, "-m", "stsdesk", "exec", "readonly", "--region", "eu-west-1", "--",
         str(AWS_CLI), "sts", "get-caller-identity", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=90, cwd=world.home, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/ReadOnly/")
    seen = _scopes(world)
    # The log is bounded and shared by the session's tests: take what was added by this test.
    new = seen[len(before):] if len(seen) > len(before) else seen[-2:]
    by_action = {entry["action"]: entry for entry in new}
    assert by_action["AssumeRole"]["region"] == "eu-west-1"  # stsdesk's own call (profile says us-east-1)
    assert by_action["AssumeRole"]["service"] == "sts"
    assert by_action["GetCallerIdentity"]["region"] == "eu-west-1"  # the AWS CLI, from AWS_REGION


def test_without_region_the_profile_region_is_used(world: World) -> None:
    before = _mark(world)
    out = world.stsdesk("assume", "readonly", "--format", "dotenv")
    assert out.returncode == 0, out.stderr
    assert 'AWS_REGION="us-east-1"' in out.stdout.splitlines()
    new = _scopes(world)[before:]
    assert [entry["region"] for entry in new if entry["action"] == "AssumeRole"] == ["us-east-1"]


def test_assume_exports_the_chosen_region(world: World) -> None:
    out = world.stsdesk("assume", "readonly", "--region", "ap-southeast-2", "--format", "bash")
    assert out.returncode == 0, out.stderr
    assert "export AWS_REGION='ap-southeast-2'" in out.stdout.splitlines()
    assert "us-east-1" not in out.stdout


def test_bad_region_is_a_usage_error(world: World) -> None:
    out = world.stsdesk("assume", "readonly", "--region", "eu-west1")
    assert out.returncode == 2
    assert "not an AWS region name" in out.stderr
    assert "Traceback" not in out.stderr
    out = world.stsdesk("exec", "readonly", "--region", "sts.evil.example/", "--", "true")
    assert out.returncode == 2
    assert "not a region name" in out.stderr


def test_exec_server_with_region_serves_that_region(world: World) -> None:
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
    before = _mark(world)
    done = subprocess.run(
        [sys.executable, "-m", "stsdesk", "exec", "--server", "readonly", "--region", "eu-west-2", "--",
         str(AWS_CLI), "sts", "get-caller-identity", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=90, cwd=world.home, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    new = _scopes(world)[before:]
    assert {entry["action"]: entry["region"] for entry in new} == {
        "AssumeRole": "eu-west-2",  # the served sessions are made there
        "GetCallerIdentity": "eu-west-2",  # and the client was given it as AWS_REGION
    }
