"""A test module as a user of the plugin writes it (copied into a separate directory and run by pytest there).

Not collected here: the name does not start with ``test_``. Nothing from stsdesk's own tests is imported.
"""

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from stsdesk.testing import World, allow

ACCOUNT = "111111111111"
WORLD = (
    World().account(ACCOUNT)
    .user("alice", mfa=True, policies=[allow(["sts:AssumeRole", "ec2:*"])])
    .user("bob", policies=[allow("sts:AssumeRole")])
    .role("Deployer", trust=f"arn:aws:iam::{ACCOUNT}:user/alice", mfa=True, policies=[allow("ec2:*")])
    .role("Reader", trust=ACCOUNT, policies=[allow("ec2:Describe*")])
)


def test_default_world_alice_needs_mfa_for_admin(sts_emulator):
    sts = sts_emulator.client("sts", user="alice")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    with pytest.raises(ClientError) as denied:
        sts_emulator.client("sts", user="alice", role="Admin")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    admin = sts_emulator.client("sts", user="alice", role="Admin", mfa=True)
    assert ":assumed-role/Admin/pytest" in admin.get_caller_identity()["Arn"]


@pytest.mark.sts_scenario(WORLD)
def test_builder_world_roles_and_denied_actions(sts_emulator):
    reader = sts_emulator.client("ec2", user="bob", role="Reader")
    assert reader.describe_instances()["Reservations"] == []
    with pytest.raises(ClientError) as denied:
        reader.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"
    with pytest.raises(ClientError):
        sts_emulator.client("sts", user="bob", role="Deployer")  # trusts alice only


@pytest.mark.sts_scenario(WORLD)
def test_totp_and_explicit_mfa(sts_emulator):
    code = sts_emulator.totp("alice")
    assert len(code) == 6 and code.isdigit()
    sts = sts_emulator.client("sts", user="alice")
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Deployer", RoleSessionName="me",
        SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/alice", TokenCode=code,
    )["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    with pytest.raises(ClientError) as replay:  # a code is accepted once
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Deployer", RoleSessionName="me",
                        SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/alice", TokenCode=code)
    assert replay.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.sts_scenario(WORLD)
def test_each_test_gets_a_fresh_world(sts_emulator):
    # The previous test consumed the current code; a fresh emulator has never seen it.
    sts = sts_emulator.client("sts", user="alice")
    sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Deployer", RoleSessionName="me",
                    SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/alice", TokenCode=sts_emulator.totp("alice"))


@pytest.mark.sts_scenario(WORLD)
def test_advance_expires_credentials(sts_emulator):
    reply = sts_emulator.client("sts", user="bob").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/Reader", RoleSessionName="short", DurationSeconds=900
    )["Credentials"]
    session = sts_emulator._client("sts", reply)
    assert session.get_caller_identity()["Account"] == ACCOUNT
    sts_emulator.advance(901)
    with pytest.raises(ClientError) as expired:
        session.get_caller_identity()
    assert expired.value.response["Error"]["Code"] == "ExpiredToken"
    # The long-term key still works: a client with a right clock is unaffected by time travel.
    assert sts_emulator.client("sts", user="bob").get_caller_identity()["Account"] == ACCOUNT
    assert reply["Expiration"] > datetime.datetime.now(datetime.UTC)


@pytest.mark.sts_scenario({
    "accounts": [{"id": "222222222222"}],
    "users": [{"account": "222222222222", "name": "carol"}],
})
def test_a_dict_world_with_a_generated_key(sts_emulator):
    creds = sts_emulator.credentials("carol")
    assert creds["AccessKeyId"].startswith("AKIA")
    assert sts_emulator.client("sts", user="carol").get_caller_identity()["Account"] == "222222222222"


@pytest.mark.sts_scenario("world.toml")
def test_a_toml_world_next_to_the_test(sts_emulator):
    assert sts_emulator.client("sts", user="dave").get_caller_identity()["Arn"].endswith(":user/dave")


@pytest.mark.sts_scenario(WORLD)
def test_env_points_the_aws_cli_at_the_emulator(sts_emulator):
    aws = Path(sys.executable).with_name("aws")
    env = {**os.environ, **sts_emulator.env(user="bob", role="Reader")}
    done = subprocess.run([str(aws), "sts", "get-caller-identity", "--output", "text", "--query", "Arn"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"arn:aws:sts::{ACCOUNT}:assumed-role/Reader/pytest"
