"""Issue 13 item 1: an IAM user without MFA hands out a GetSessionToken session, never its long-term key,
unless ``--no-session`` asks for the key explicitly. Checked through the CLI against the emulator, with the
AWS CLI as the independent reader of the credential_process output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from conftest import AWS_CLI, BOB_KEY, BOB_SECRET

if TYPE_CHECKING:
    from conftest import World


def test_assume_iam_user_without_mfa_gives_a_session(world: World) -> None:
    done = world.stsdesk("assume", "bob", "--format", "json")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert exported["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert exported["AWS_SECRET_ACCESS_KEY"] != BOB_SECRET and exported["AWS_SESSION_TOKEN"]
    assert BOB_KEY not in done.stdout and BOB_SECRET not in done.stdout


def test_credential_process_and_exec_give_a_session(world: World) -> None:
    done = world.stsdesk("credential-process", "bob")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["AccessKeyId"].startswith("ASIA") and document["SessionToken"] and document["Expiration"]
    assert BOB_SECRET not in done.stdout
    code = "import os; print(os.environ['AWS_ACCESS_KEY_ID'], os.environ.get('AWS_SESSION_TOKEN', ''))"
    ran = world.stsdesk("exec", "bob", "--", sys.executable, "-c", code)
    assert ran.returncode == 0, ran.stderr
    key, token = ran.stdout.split()
    assert key.startswith("ASIA") and token


def test_aws_cli_reads_the_session_as_bob(world: World) -> None:
    with world.config_file.open("a") as config:
        config.write(
            f"\n[profile bob-cp]\nregion = us-east-1\nendpoint_url = {world.emulator.endpoint}\n"
            f"credential_process = {sys.executable} -m stsdesk credential-process bob\n"
        )
    done = world.run([str(AWS_CLI), "sts", "get-caller-identity", "--profile", "bob-cp", "--output", "json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"] == "arn:aws:iam::111111111111:user/bob"


def test_no_session_hands_out_the_long_term_key_only_when_asked(world: World) -> None:
    done = world.stsdesk("assume", "bob", "--format", "json", "--no-session")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert exported["AWS_ACCESS_KEY_ID"] == BOB_KEY and exported["AWS_SECRET_ACCESS_KEY"] == BOB_SECRET
    assert not exported.get("AWS_SESSION_TOKEN")
    process = world.stsdesk("credential-process", "bob", "--no-session")
    assert process.returncode == 0, process.stderr
    document = json.loads(process.stdout)
    assert document["AccessKeyId"] == BOB_KEY and "Expiration" not in document
    # A role is still a role session with --no-session.
    role = world.stsdesk("assume", "readonly", "--format", "json", "--no-session")
    assert role.returncode == 0, role.stderr
    assert json.loads(role.stdout)["AWS_ACCESS_KEY_ID"].startswith("ASIA")
