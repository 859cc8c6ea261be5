"""The command line end to end: `python -m stsdesk` against `stsdesk emulator`, with the AWS CLI on top."""

from __future__ import annotations

import http.cookiejar
import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

AWS_CLI = Path(sys.executable).with_name("aws")


def test_bash_exports_work_for_the_aws_cli(world: World) -> None:
    out = world.stsdesk("assume", "readonly", "--format", "bash")
    assert out.returncode == 0, out.stderr
    script = f'eval "$(cat)"\nexec "{AWS_CLI}" sts get-caller-identity --output json'
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        ["bash", "-c", script], input=out.stdout, capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/ReadOnly/")


def test_credential_process_profile_from_the_aws_cli(world: World) -> None:
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
    done = world.run(
        [str(AWS_CLI), "sts", "get-caller-identity", "--profile", "readonly-cp", "--output", "json"], env=env
    )
    assert done.returncode == 0, done.stderr
    assert ":assumed-role/ReadOnly/" in json.loads(done.stdout)["Arn"]


def test_credential_process_json_shape(world: World) -> None:
    out = world.stsdesk("credential-process", "readonly")
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert document["Version"] == 1 and document["AccessKeyId"].startswith("ASIA")
    assert document["Expiration"].endswith("Z") or "+00:00" in document["Expiration"]


def test_chain_across_three_accounts_with_one_mfa_code(world: World) -> None:
    out = world.stsdesk("whoami", "deployer", "--mfa-code", world.emulator.mfa_code())
    assert out.returncode == 0, out.stderr
    assert "arn:aws:sts::333333333333:assumed-role/Deployer/" in out.stdout


def test_wrong_mfa_code_is_one_line_exit_1(world: World) -> None:
    out = world.stsdesk("assume", "dev", "--mfa-code", "000000")
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "MFA" in out.stderr


def test_missing_mfa_code_without_terminal_says_what_to_do(world: World) -> None:
    out = world.stsdesk("assume", "dev")
    assert out.returncode == 1
    assert (
        out.stderr.strip() == "stsdesk: profile dev needs an MFA code: pass --mfa-code or run in a terminal"
    )


def test_cycle_is_reported_and_other_profiles_work(world: World) -> None:
    bad = world.stsdesk("assume", "loop-a")
    assert bad.returncode == 1 and "cycle" in bad.stderr and "Traceback" not in bad.stderr
    good = world.stsdesk("assume", "readonly", "--format", "json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    listing = world.stsdesk("list", "--json")
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["loop-a"]["state"] == "error" and rows["readonly"]["state"] != "error"


def test_malformed_config_is_one_line_and_file_unchanged(world: World) -> None:
    broken = "[profile ok]\nregion = us-east-1\nthis line is not a setting\n"
    world.config_file.write_text(broken)
    for argv in (["list"], ["assume", "ok"], ["add-user", "x", "--access-key-id", "AKIAE2EXXXXXXXXX0001"]):
        out = world.stsdesk(*argv, stdin="a-secret-for-x\n")
        assert out.returncode == 1, argv
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
        assert "line" in out.stderr
    assert world.config_file.read_text() == broken


def test_exec_runs_the_command_with_credentials_and_passes_its_status(world: World) -> None:
    code = "import os, sys; print(os.environ['AWS_ACCESS_KEY_ID']); sys.exit(7)"
    out = world.stsdesk("exec", "readonly", "--", sys.executable, "-c", code)
    assert out.returncode == 7, out.stderr
    assert out.stdout.strip().startswith("ASIA")


def test_usage_errors_exit_2(world: World) -> None:
    assert world.stsdesk("assume").returncode == 2
    assert world.stsdesk("exec", "readonly").returncode == 2
    assert world.stsdesk("forget").returncode == 2
    assert world.stsdesk("--version").stdout.startswith("stsdesk ")


def test_unknown_profile_suggests_a_close_name(world: World) -> None:
    out = world.stsdesk("assume", "readonli")
    assert out.returncode == 1 and "did you mean 'readonly'" in out.stderr


def test_no_keyring_refuses_to_move_keys(world: World) -> None:
    before = world.credentials_file.read_text()
    out = world.stsdesk("import-credentials")
    assert out.returncode == 1 and "keyring" in out.stderr.lower()
    assert world.credentials_file.read_text() == before


def test_console_url_signs_in_at_the_emulator(world: World) -> None:
    out = world.stsdesk("console", "readonly")
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert url.startswith(world.emulator.endpoint + "/federation?Action=login")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["SigninToken"][0]
    # login sets the console session cookie and redirects to the console page, as the real endpoint does
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(url, timeout=10) as response:
        page = response.read().decode()
    assert "ReadOnly" in page


def test_decode_a_run_instances_denial(world: World) -> None:
    code = world.emulator.mfa_code()
    exports = world.stsdesk("assume", "dev", "--format", "json", "--mfa-code", code)
    assert exports.returncode == 0, exports.stderr
    env = {
        **world.env,
        **json.loads(exports.stdout),
        "AWS_ENDPOINT_URL_EC2": world.emulator.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    denied = world.run(
        [
            str(AWS_CLI),
            "ec2",
            "run-instances",
            "--image-id",
            "ami-12345678",
            "--instance-type",
            "t2.micro",
            "--count",
            "1",
        ],
        env=env,
    )
    assert denied.returncode != 0
    assert "(UnauthorizedOperation)" in denied.stderr
    assert "Encoded authorization failure message" in denied.stderr
    # A fresh process has no cached session (no keyring): the dev role needs a code again.
    out = world.stsdesk(
        "decode",
        "--profile",
        "dev",
        "--json",
        "--mfa-code",
        world.emulator.mfa_code(),
        "-",
        stdin=denied.stderr,
    )
    assert out.returncode == 0, out.stderr
    verdict = json.loads(out.stdout)
    assert verdict["allowed"] is False and verdict["explicit_deny"] is True
    assert re.search("RunInstances", json.dumps(verdict))


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_forget_and_list_without_sessions(world: World) -> None:
    out = world.stsdesk("forget", "--all")
    assert out.returncode == 0 and "forgot 0" in out.stdout
    listing = world.stsdesk("list")
    assert listing.returncode == 0
    assert "deployer" in listing.stdout and "PROFILE" in listing.stdout
