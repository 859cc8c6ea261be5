"""Issue 13 item 12: `stsdesk decode < error.txt` without --profile decodes as the profile that is the refused
principal in the text (and says so), lists the candidates when several are, and IAM users decode with their
own keys (item 1: their sessions may not call DecodeAuthorizationMessage)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from conftest import AWS_CLI

if TYPE_CHECKING:
    from conftest import World


@pytest.fixture
def denied(world: World) -> str:
    """The AWS CLI's stderr for a RunInstances the Developer role (profile dev) is denied."""
    exports = world.stsdesk("assume", "dev", "--format", "json", "--mfa-code", world.emulator.mfa_code())
    assert exports.returncode == 0, exports.stderr
    env = {**world.env, **json.loads(exports.stdout), "AWS_ENDPOINT_URL_EC2": world.emulator.endpoint,
           "AWS_DEFAULT_REGION": "us-east-1"}
    done = world.run([str(AWS_CLI), "ec2", "run-instances", "--image-id", "ami-12345678", "--instance-type",
                      "t2.micro", "--count", "1"], env=env)
    assert "Encoded authorization failure message" in done.stderr
    return done.stderr


def test_decode_without_profile_uses_the_refused_role(world: World, denied: str) -> None:
    done = world.stsdesk("decode", "--json", "--mfa-code", world.emulator.mfa_code(), stdin=denied)
    assert done.returncode == 0, done.stderr
    assert "decoding as profile dev" in done.stderr and done.stderr.count("\n") == 1
    verdict = json.loads(done.stdout)
    assert verdict["allowed"] is False and "RunInstances" in json.dumps(verdict)


def test_several_candidates_are_listed_in_one_line(world: World, denied: str) -> None:
    with world.config_file.open("a") as config:
        config.write(
            "\n[profile dev-too]\nsource_profile = alice\nrole_arn = arn:aws:iam::222222222222:role/Developer\n"
        )
    done = world.stsdesk("decode", stdin=denied)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "dev, dev-too" in done.stderr and "--profile" in done.stderr


def test_no_match_and_no_default_says_what_to_do(world: World) -> None:
    done = world.stsdesk("decode", stdin="Encoded authorization failure message: AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "--profile" in done.stderr


def test_an_iam_user_with_mfa_decodes_with_its_own_keys(world: World, denied: str) -> None:
    done = world.stsdesk("decode", "--profile", "alice", stdin=denied)  # no code asked: no session is made
    assert done.returncode == 0, done.stderr
    assert "RunInstances" in done.stdout
