"""`stsdesk sso` end to end: `python -m stsdesk` against `stsdesk emulator --allow-time-travel`, with the AWS
CLI's own SSO provider (and its botocore) as the independent reader of the shared sign-in."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = Path(sys.executable).with_name("aws")
START_URL = "https://d-9067e0e0e0.awsapps.com/start"
DEV, PROD = "222222222222", "333333333333"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST_DEV = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def scenario(extra_accounts: int = 0) -> dict[str, Any]:
    extra = [f"{500000000000 + i:012d}" for i in range(extra_accounts)]
    return {
        "region": "us-east-1",
        "accounts": [
            {"id": DEV, "name": "Dev Account"},
            {"id": PROD, "alias": "prod"},
            *({"id": a, "name": f"team {i} (prod)"} for i, a in enumerate(extra)),
        ],
        "roles": [{"account": PROD, "name": "Target", "trust_policy": TRUST_DEV, "policies": [ALLOW_ALL]}],
        "identity_center": {
            "start_url": START_URL,
            "users": ["ana", "ben"],
            "permission_sets": [{"name": "ReadOnly", "policies": [ALLOW_ALL]}],
            "assignments": [
                {"user": "ana", "account": DEV, "permission_set": "ReadOnly"},
                *({"user": "ana", "account": a, "permission_set": "ReadOnly"} for a in extra),
            ],
        },
    }


@dataclass
class SsoWorld:
    home: Path
    env: dict[str, str]
    endpoint: str

    @property
    def config_file(self) -> Path:
        return self.home / ".aws" / "config"

    @property
    def token_file(self) -> Path:
        import hashlib

        return self.home / ".aws" / "sso" / "cache" / f"{hashlib.sha1(b'corp').hexdigest()}.json"

    def stsdesk(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stsdesk", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout, cwd=self.home, stdin=subprocess.DEVNULL)

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS_CLI), *args], capture_output=True, text=True, env=self.env, timeout=120,
                              cwd=self.home, stdin=subprocess.DEVNULL)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(self.endpoint + path, urllib.parse.urlencode(form).encode(), timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def travel(self, seconds: int) -> None:
        status, body = self.post("/_stsdesk/advance", {"seconds": str(seconds)})
        assert status == 200, body

    def start_login(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "stsdesk", "sso", "login", "corp", "--no-browser", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env,
                                cwd=self.home, stdin=subprocess.DEVNULL)

    def login(self, device: bool = True, deny: bool = False) -> subprocess.CompletedProcess[str]:
        """`stsdesk sso login corp --no-browser` with the person's part played through the emulator."""
        process = self.start_login(*(["--device-code"] if device else []))
        assert process.stdout is not None
        opened = process.stdout.readline()
        assert opened.startswith("open: "), opened
        url = opened.split(" ", 1)[1].strip()
        if device:
            code = process.stdout.readline()
            assert code.startswith("code: "), code
            form = {"user_code": code.split(" ", 1)[1].strip(), "user": "ana"}
            assert f"user_code={form['user_code']}" in url
            status, body = self.post("/_stsdesk/sso-approve", {**form, **({"deny": "1"} if deny else {})})
            assert status == 200, body
        else:
            state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
            with contextlib.suppress(urllib.error.HTTPError):  # the authorize page, as a browser opens it
                urllib.request.build_opener().open(url, timeout=10).close()
            status, body = self.post("/_stsdesk/sso-approve", {"state": state, "user": "ana"})
            assert status == 303, body
            with urllib.request.urlopen(body["redirect"], timeout=10) as reply:  # back to the loopback server
                assert reply.status == 200
        out, err = process.communicate(timeout=60)
        return subprocess.CompletedProcess(process.args, process.returncode, opened + out, err)


def _start_emulator(directory: Path, data: dict[str, Any]) -> tuple[subprocess.Popen[str], str]:
    path = directory / "scenario.json"
    path.write_text(json.dumps(data))
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(path), "--allow-time-travel"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("endpoint: "):
        process.kill()
        pytest.fail(f"the emulator did not start: {line!r} {process.communicate(timeout=10)[1]}")
    return process, line.split(" ", 1)[1].strip()


def _world(tmp_path: Path, data: dict[str, Any]) -> Iterator[SsoWorld]:
    process, endpoint = _start_emulator(tmp_path, data)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "STSDESK_CONFIG_DIR": str(home / "stsdesk"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL_SSO": endpoint,
        "AWS_ENDPOINT_URL_SSO_OIDC": endpoint,
        "AWS_ENDPOINT_URL_STS": endpoint,
        "PYTHONPATH": str(REPO),
        "BROWSER": "false",  # never a real browser, whatever the test does
    })
    (home / ".aws" / "config").write_text(
        f"# hand-written\n[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    world = SsoWorld(home, env, endpoint)
    try:
        yield world
        secrets = _secrets(world)
        for path in (home / "stsdesk").rglob("*"):  # no token in stsdesk's own files
            if path.is_file():
                data_bytes = path.read_bytes()
                assert not any(s.encode() in data_bytes for s in secrets), path
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _secrets(world: SsoWorld) -> list[str]:
    if not world.token_file.exists():
        return []
    token = json.loads(world.token_file.read_text())
    return [token[k] for k in ("accessToken", "refreshToken", "clientSecret") if token.get(k)]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SsoWorld]:
    yield from _world(tmp_path, scenario())


def _synced_profile(world: SsoWorld) -> str:
    """`sso sync --write` and the profile it wrote for ana's role in DEV."""
    done = world.stsdesk("sso", "sync", "corp", "--write")
    assert done.returncode == 0, done.stderr
    names = [line.split()[-2] for line in done.stdout.splitlines() if line.startswith(DEV) and "(new)" in line]
    assert len(names) == 1, done.stdout
    return names[0]


def test_device_login_then_the_aws_cli_uses_the_shared_sign_in(world: SsoWorld) -> None:
    done = world.login(device=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("signed in to corp")
    profile = _synced_profile(world)
    caller = world.aws("sts", "get-caller-identity", "--profile", profile, "--output", "json")
    assert caller.returncode == 0, caller.stderr
    assert json.loads(caller.stdout)["Arn"].startswith(f"arn:aws:sts::{DEV}:assumed-role/AWSReservedSSO_ReadOnly_")
    assert json.loads(caller.stdout)["Arn"].endswith("/ana")
    ours = world.stsdesk("whoami", profile)
    assert ours.returncode == 0 and "/ana" in ours.stdout, ours.stderr
    status = world.stsdesk("sso", "status", "--json")
    row = json.loads(status.stdout)[0]
    assert row["session"] == "corp" and row["signed_in"] and row["refreshable"] and row["storage"] == "file"


def test_pkce_login_and_every_command_on_an_sso_profile_and_a_chain(world: SsoWorld) -> None:
    done = world.login(device=False)
    assert done.returncode == 0, done.stderr
    assert "code:" not in done.stdout
    profile = _synced_profile(world)
    with world.config_file.open("a") as config:
        config.write(f"\n[profile target]\nsource_profile = {profile}\nrole_arn = arn:aws:iam::{PROD}:role/Target\n")
    chained = world.stsdesk("whoami", "target")
    assert chained.returncode == 0 and f"arn:aws:sts::{PROD}:assumed-role/Target/" in chained.stdout, chained.stderr
    process = world.stsdesk("credential-process", profile)
    assert process.returncode == 0 and json.loads(process.stdout)["AccessKeyId"].startswith("ASIA")
    exported = world.stsdesk("assume", profile, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    script = "import os; print(os.environ['AWS_SESSION_TOKEN'] != '')"
    run = world.stsdesk("exec", profile, "--", sys.executable, "-c", script)
    assert run.returncode == 0 and run.stdout.strip() == "True", run.stderr
    console = world.stsdesk("console", profile)
    assert console.returncode == 0 and "/federation?Action=login" in console.stdout, console.stderr
    listed = world.stsdesk("list", "--json")
    kinds = {row["name"]: row["kind"] for row in json.loads(listed.stdout)}
    assert kinds[profile] == "sso" and kinds["target"] == "role"
    too_long = world.stsdesk("assume", profile, "--duration", "7200")
    assert too_long.returncode == 1 and "permission set" in too_long.stderr


def test_refresh_after_the_access_token_expired_without_signing_in_again(world: SsoWorld) -> None:
    assert world.login().returncode == 0
    profile = _synced_profile(world)
    before = json.loads(world.token_file.read_text())
    world.travel(3700)  # the emulator's access token (1 h) expired; the refresh token (8 h) did not
    served = world.stsdesk("credential-process", profile)
    assert served.returncode == 0, served.stderr
    after = json.loads(world.token_file.read_text())
    assert after["accessToken"] != before["accessToken"] and after["refreshToken"] != before["refreshToken"]
    assert set(after) == set(before)
    # The refreshed file is still one the AWS CLI's SSO provider reads (its portal call needs no signature).
    listed = world.aws("sso", "list-accounts", "--access-token", after["accessToken"], "--region", "us-east-1",
                       "--output", "json")
    assert listed.returncode == 0 and DEV in listed.stdout, listed.stderr


def test_logout_then_neither_tool_has_a_sign_in(world: SsoWorld) -> None:
    assert world.login().returncode == 0
    profile = _synced_profile(world)
    old = json.loads(world.token_file.read_text())["accessToken"]
    done = world.stsdesk("sso", "logout", "corp")
    assert done.returncode == 0 and "signed out of corp" in done.stdout, done.stderr
    assert not world.token_file.exists()
    refused = world.aws("sso", "list-accounts", "--access-token", old, "--region", "us-east-1")
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr  # revoked server-side too
    cli = world.aws("sts", "get-caller-identity", "--profile", profile)
    assert cli.returncode != 0
    ours = world.stsdesk("whoami", profile)
    assert ours.returncode == 1 and ours.stderr.count("\n") == 1 and "stsdesk sso login corp" in ours.stderr
    status = json.loads(world.stsdesk("sso", "status", "--json").stdout)
    assert status[0]["state"] == "signed out"


def test_denied_and_expired_sign_ins_are_one_line_and_write_nothing(world: SsoWorld) -> None:
    denied = world.login(deny=True)
    assert denied.returncode == 1 and denied.stderr.count("\n") == 1 and "denied" in denied.stderr
    assert not world.token_file.exists()
    process = world.start_login("--device-code")
    assert process.stdout is not None
    assert process.stdout.readline().startswith("open: ") and process.stdout.readline().startswith("code: ")
    world.travel(601)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "expired before it was approved" in err and err.count("\n") == 1
    assert not world.token_file.exists()


def test_ctrl_c_cancels_the_sign_in(world: SsoWorld) -> None:
    process = world.start_login()
    assert process.stdout is not None
    assert process.stdout.readline().startswith("open: ")
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip() == "stsdesk: sign-in cancelled"
    assert not world.token_file.exists()


def test_sync_on_a_500_account_world(tmp_path: Path) -> None:
    for world in _world(tmp_path, scenario(extra_accounts=500)):
        assert world.login().returncode == 0
        before = world.config_file.read_text()
        listed = world.stsdesk("sso", "sync", "corp")
        assert listed.returncode == 0 and listed.stdout.startswith("501 account(s), 501 role(s)")
        assert world.config_file.read_text() == before  # without --write nothing is written
        done = world.stsdesk("sso", "sync", "corp", "--write", "--prefix", "sso/")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "added 501 profile(s) to ~/.aws/config"
        text = world.config_file.read_text()
        assert text.startswith(before)
        import botocore.configloader  # the reader every SDK on the machine follows

        loaded = botocore.configloader.load_config(str(world.config_file))
        names = list(loaded["profiles"])
        assert len(names) == 501 and all(n.startswith("sso/") for n in names)
        assert all(loaded["profiles"][n]["sso_session"] == "corp" for n in names)
        assert "sso/team-7-prod/" in text  # "team 7 (prod)" made safe to type
        again = world.stsdesk("sso", "sync", "corp", "--write", "--prefix", "sso/")
        assert again.stdout.splitlines()[-1].startswith("added 0 profile(s)")
        assert world.config_file.read_text() == text


def test_legacy_profile_with_a_trailing_slash_start_url(world: SsoWorld) -> None:
    # Legacy form: the four sso_* keys on the profile, no [sso-session]; the token is keyed by the exact URL.
    done = world.stsdesk("sso", "sync", "corp")  # needs a sign-in first: one line saying how
    assert done.returncode == 1 and done.stderr.strip() == (
        "stsdesk: not signed in to IAM Identity Center (corp); run: stsdesk sso login corp"
    )
    assert world.login().returncode == 0
    role = _synced_profile(world).split("/", 1)[1]
    with world.config_file.open("a") as config:
        config.write(f"\n[profile old]\nsso_start_url = {START_URL}/\nsso_region = us-east-1\n"
                     f"sso_account_id = {DEV}\nsso_role_name = {role}\nregion = us-east-1\n")
    process = subprocess.Popen([sys.executable, "-m", "stsdesk", "sso", "login", "old", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=world.env,
                               cwd=world.home, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    assert process.stdout.readline().startswith("open: ")
    code = process.stdout.readline()
    assert code.startswith("code: ")  # a legacy profile signs in with the device code, as the AWS CLI does
    status, body = world.post("/_stsdesk/sso-approve", {"user_code": code.split()[1], "user": "ana"})
    assert status == 200, body
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    import hashlib

    legacy_file = world.token_file.with_name(hashlib.sha1(f"{START_URL}/".encode()).hexdigest() + ".json")
    assert json.loads(legacy_file.read_text())["startUrl"] == f"{START_URL}/"
    caller = world.aws("sts", "get-caller-identity", "--profile", "old", "--output", "json")
    assert caller.returncode == 0 and json.loads(caller.stdout)["Arn"].endswith("/ana"), caller.stderr
    status_rows = json.loads(world.stsdesk("sso", "status", "--json").stdout)
    assert [(r["session"], r["start_url"], r["refreshable"]) for r in status_rows] == [
        ("corp", START_URL, True), (None, f"{START_URL}/", False)
    ]
