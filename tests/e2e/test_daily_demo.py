"""Issue 13: the demo's Identity Center is wired into its AWS config (sign in as ana through the emulator and
use a demo SSO profile), and the demo's temporary directory is removed at exit (item 19)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AWS_CLI, REPO

from stsdesk.demo import DEMO_SSO_SESSION, demo_environment, write_demo_files


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`stsdesk emulator` on the demo world and the demo's AWS files written for it."""
    process = subprocess.Popen([sys.executable, "-m", "stsdesk", "emulator"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("endpoint: "), line
    endpoint = line.split(" ", 1)[1].strip()
    try:
        config, credentials = write_demo_files(tmp_path / "demo", endpoint)
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"HOME": str(home), "AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
                    "STSDESK_CONFIG_DIR": str(tmp_path / "stsdesk"), "PYTHONPATH": str(REPO),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "AWS_EC2_METADATA_DISABLED": "true"})
        yield {"endpoint": endpoint, "env": env, "config": config, "home": home}
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _post(url: str, form: dict[str, str]) -> int:
    import urllib.parse
    import urllib.request

    with urllib.request.urlopen(url, urllib.parse.urlencode(form).encode(), timeout=10) as reply:
        return int(reply.status)


def test_demo_config_has_the_identity_center_session(demo: dict[str, Any]) -> None:
    text = demo["config"].read_text()
    assert f"[sso-session {DEMO_SSO_SESSION}]" in text
    assert "sso_start_url = https://d-9067e0e0e0.awsapps.com/start" in text
    assert "sso_registration_scopes = sso:account:access" in text
    assert set(demo_environment("http://127.0.0.1:1")) == {
        "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_STS"}


def test_sign_in_to_the_demo_identity_center_as_ana(demo: dict[str, Any]) -> None:
    env = demo["env"]
    login = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "sso", "login", DEMO_SSO_SESSION, "--device-code", "--no-browser"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=demo["home"],
        stdin=subprocess.DEVNULL,
    )
    assert login.stdout is not None
    opened = login.stdout.readline()
    assert opened.startswith("open: ") and opened.split(" ", 1)[1].startswith(demo["endpoint"]), opened
    code = login.stdout.readline()
    assert code.startswith("code: "), code
    assert _post(f"{demo['endpoint']}/_stsdesk/sso-approve",
                 {"user_code": code.split(" ", 1)[1].strip(), "user": "ana"}) == 200
    _out, err = login.communicate(timeout=60)
    assert login.returncode == 0, err
    assumed = subprocess.run([sys.executable, "-m", "stsdesk", "assume", "ic-dev-developer", "--format", "json"],
                             capture_output=True, text=True, env=env, cwd=demo["home"], timeout=60)
    assert assumed.returncode == 0, assumed.stderr
    check = subprocess.run(
        [str(AWS_CLI), "sts", "get-caller-identity", "--endpoint-url", demo["endpoint"], "--output", "json"],
        capture_output=True, text=True, env={**env, **json.loads(assumed.stdout)}, timeout=60,
    )
    assert check.returncode == 0, check.stderr
    arn = json.loads(check.stdout)["Arn"]
    assert arn.startswith("arn:aws:sts::222222222222:assumed-role/AWSReservedSSO_DeveloperAccess_"), arn


def test_demo_directory_is_removed_at_exit() -> None:
    code = "from stsdesk.demo import demo_directory; d = demo_directory(); (d / 'f').write_text('x'); print(d)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    made = Path(done.stdout.strip())
    assert made.name.startswith("stsdesk-demo-") and not made.exists()
