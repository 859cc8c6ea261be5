"""Issue 13 item 11: credential_process profiles are sources roles can chain from (the process is run as
botocore runs it), with the AWS CLI as the oracle for the same profiles; failures are one clear line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import AWS_CLI, BOB_KEY, BOB_SECRET

if TYPE_CHECKING:
    from conftest import World

READONLY = "arn:aws:iam::222222222222:role/ReadOnly"


@pytest.fixture
def process_world(world: World, tmp_path: Path) -> World:
    # Outside HOME: the world's teardown looks for leaked secrets there.
    scripts = tmp_path / "bin"
    scripts.mkdir()
    keys = scripts / "bob keys.py"  # a space: the command line is split like a shell's, quotes respected
    keys.write_text(
        "import json\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': '{BOB_KEY}', 'SecretAccessKey': '{BOB_SECRET}'}}))\n"
    )
    failing = scripts / "fail.py"
    failing.write_text("import sys\nprint('the vault is sealed', file=sys.stderr)\nsys.exit(3)\n")
    wrong = scripts / "v2.py"
    wrong.write_text("print('{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"B\"}')\n")
    common = f"region = us-east-1\nendpoint_url = {world.emulator.endpoint}\n"
    with world.config_file.open("a") as config:
        config.write(
            f"\n[profile bob-process]\n{common}credential_process = {sys.executable} \"{keys}\"\n\n"
            f"[profile ro-from-process]\n{common}source_profile = bob-process\nrole_arn = {READONLY}\n\n"
            f"[profile sealed]\n{common}credential_process = {sys.executable} {failing}\n\n"
            f"[profile ro-from-sealed]\n{common}source_profile = sealed\nrole_arn = {READONLY}\n\n"
            f"[profile v2]\n{common}credential_process = {sys.executable} {wrong}\n\n"
            f"[profile ro-from-v2]\n{common}source_profile = v2\nrole_arn = {READONLY}\n"
        )
    return world


def test_a_role_chains_from_a_credential_process_profile(process_world: World) -> None:
    world = process_world
    done = world.stsdesk("assume", "ro-from-process", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    ours = world.stsdesk("whoami", "ro-from-process")
    assert ours.returncode == 0, ours.stderr
    arn = next(line.split()[-1] for line in ours.stdout.splitlines() if line.startswith("Arn:"))
    assert ":assumed-role/ReadOnly/" in arn
    # The AWS CLI (botocore's own process provider and assume-role provider) agrees on the same profile.
    theirs = world.run([str(AWS_CLI), "sts", "get-caller-identity", "--profile", "ro-from-process", "--output",
                        "json"])
    assert theirs.returncode == 0, theirs.stderr
    assert json.loads(theirs.stdout)["Arn"].rsplit("/", 1)[0] == arn.rsplit("/", 1)[0]


def test_the_process_may_be_stsdesk_itself(process_world: World) -> None:
    """readonly-cp runs `stsdesk credential-process readonly`: stsdesk hands out what that process printed."""
    world = process_world
    done = world.stsdesk("assume", "readonly-cp", "--format", "json")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    check = world.run(
        [str(AWS_CLI), "sts", "get-caller-identity", "--endpoint-url", world.emulator.endpoint, "--output", "json"],
        env={**world.env, **exported},
    )
    assert check.returncode == 0, check.stderr
    assert ":assumed-role/ReadOnly/" in json.loads(check.stdout)["Arn"]


@pytest.mark.parametrize(
    ("profile", "said"),
    [("ro-from-sealed", "failed (exit 3): the vault is sealed"), ("ro-from-v2", "Version 2")],
)
def test_a_failing_process_is_one_line(process_world: World, profile: str, said: str) -> None:
    done = process_world.stsdesk("assume", profile)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr


def test_a_profile_with_nothing_says_what_it_lacks(process_world: World) -> None:
    with process_world.config_file.open("a") as config:
        config.write("\n[profile empty]\nregion = us-east-1\n")
    done = process_world.stsdesk("assume", "empty")
    assert done.returncode == 1 and "gives no credentials stsdesk can use" in done.stderr, done.stderr


def test_a_process_that_runs_stsdesk_for_itself_is_stopped(process_world: World) -> None:
    """[profile loop] credential_process = stsdesk credential-process loop-role, and loop-role's source is loop:
    each stsdesk runs the process again. The chain is cut after a few levels with one line, not a fork bomb."""
    world = process_world
    with world.config_file.open("a") as config:
        config.write(
            f"\n[profile loop]\nregion = us-east-1\nendpoint_url = {world.emulator.endpoint}\n"
            f"credential_process = {sys.executable} -m stsdesk credential-process loop-role\n\n"
            f"[profile loop-role]\nregion = us-east-1\nsource_profile = loop\nrole_arn = {READONLY}\n"
        )
    done = world.stsdesk("assume", "loop-role")
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "again and again (a loop)" in done.stderr, done.stderr
