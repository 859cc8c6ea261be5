"""Issue 13 items 10 and 19: import-credentials leaves profiles the AWS CLI still finds credentials for (a
credential_process line naming this stsdesk by absolute path), and names the profiles it leaves alone.

Keys live in the resilience tests' file-backed stand-in keyring (outside HOME), so that they persist across
the stsdesk and AWS CLI processes as with a Secret Service."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import AWS_CLI, BOB_KEY, BOB_SECRET, REPO

if TYPE_CHECKING:
    from conftest import World

TEMP_KEY = "ASIAE2ETEMP000000001"


@pytest.fixture
def file_keyring_world(world: World, tmp_path: Path) -> World:
    world.env["PYTHON_KEYRING_BACKEND"] = "resilience_keyring.SharedFileKeyring"
    world.env["RESILIENCE_KEYRING_FILE"] = str(tmp_path / "keyring.json")
    world.env["PYTHONPATH"] = os.pathsep.join((str(REPO), str(REPO / "tests" / "resilience")))
    endpoint = world.emulator.endpoint
    with world.config_file.open("a") as config:
        config.write(
            f"\n[default]\nregion = us-east-1\nendpoint_url = {endpoint}\n\n"
            "[profile role-with-keys]\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n"
            "source_profile = role-with-keys\n"
        )
    world.credentials_file.write_text(
        f"[default]\naws_access_key_id = {BOB_KEY}\naws_secret_access_key = {BOB_SECRET}\n\n"
        f"[temporary]\naws_access_key_id = {TEMP_KEY}\naws_secret_access_key = x\naws_session_token = y\n\n"
        f"[role-with-keys]\naws_access_key_id = {BOB_KEY}\naws_secret_access_key = {BOB_SECRET}\n"
    )
    return world


def test_imported_default_keeps_working_for_the_aws_cli(file_keyring_world: World) -> None:
    world = file_keyring_world
    done = world.stsdesk("import-credentials")
    assert done.returncode == 0, done.stderr
    assert "profile default: key moved into the keyring" in done.stdout
    # The profiles left alone are named, with the reason.
    assert "profile temporary: left in" in done.stdout and "session token" in done.stdout
    assert "profile role-with-keys: left in" in done.stdout and "role_arn" in done.stdout
    credentials = world.credentials_file.read_text()
    assert "[default]" not in credentials and "[temporary]" in credentials and "[role-with-keys]" in credentials

    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(world.config_file.read_text())
    command = shlex.split(parsed["default"]["credential_process"])
    assert Path(command[0]).is_absolute() and Path(command[0]).exists()
    assert command[-2:] == ["credential-process", "default"]
    assert "--config-dir" in command  # this world's config dir is not the default one

    # Plain `aws`, no --profile: [default] still gives credentials, now a session through stsdesk.
    ident = world.run([str(AWS_CLI), "sts", "get-caller-identity", "--output", "json"])
    assert ident.returncode == 0, ident.stderr
    assert json.loads(ident.stdout)["Arn"] == "arn:aws:iam::111111111111:user/bob"
    # boto3 too, and what it holds is a session, not the long-term key.
    code = (
        "import boto3; s = boto3.Session()\n"
        "print(s.get_credentials().get_frozen_credentials().access_key)\n"
        "print(s.client('sts').get_caller_identity()['Arn'])"
    )
    boto = world.run([sys.executable, "-c", code])
    assert boto.returncode == 0, boto.stderr
    key, arn = boto.stdout.split()
    assert key.startswith("ASIA") and arn.endswith(":user/bob")


def test_naming_a_profile_that_cannot_be_imported_says_why(file_keyring_world: World) -> None:
    world = file_keyring_world
    done = world.stsdesk("import-credentials", "temporary")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "temporary" in done.stderr and "session token" in done.stderr


def test_add_user_profile_works_for_the_aws_cli(file_keyring_world: World) -> None:
    world = file_keyring_world
    with world.config_file.open("a") as config:  # a profile with settings only (no credentials yet)
        config.write(f"\n[profile bobby]\nregion = us-east-1\nendpoint_url = {world.emulator.endpoint}\n")
    added = world.stsdesk("add-user", "bobby", "--access-key-id", BOB_KEY, stdin=BOB_SECRET + "\n")
    assert added.returncode == 0, added.stderr
    ident = world.run([str(AWS_CLI), "sts", "get-caller-identity", "--profile", "bobby", "--output", "json"])
    assert ident.returncode == 0, ident.stderr
    assert json.loads(ident.stdout)["Arn"] == "arn:aws:iam::111111111111:user/bob"


def test_no_session_is_never_answered_from_the_cached_session(file_keyring_world: World) -> None:
    world = file_keyring_world
    first = world.stsdesk("credential-process", "default")  # a session, cached in the (persistent) keyring
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["AccessKeyId"].startswith("ASIA")
    again = world.stsdesk("credential-process", "default")
    assert json.loads(again.stdout)["AccessKeyId"] == json.loads(first.stdout)["AccessKeyId"]  # the cache
    keys = world.stsdesk("credential-process", "default", "--no-session")
    assert keys.returncode == 0, keys.stderr
    assert json.loads(keys.stdout)["AccessKeyId"] == BOB_KEY
