"""SAML roles, web-identity roles and federated users end to end against the emulator on resources/demo.toml:
through the Broker in-process, and through the `stsdesk` CLI as a subprocess. The credentials each path returns
are checked by real oracles: boto3's GetCallerIdentity, and the AWS CLI run with the exported environment.

(The GUI path is tests/gui/test_sources_gui.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.demo_world import DemoWorld, close_broker, demo_world

from stsdesk.core.errors import ConfigError, StsdeskError
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.demo import ALICE_KEY_ID

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = Path(sys.executable).with_name("aws")
SAML_ROLE = "arn:aws:iam::222222222222:role/SamlDeveloper"
SAML_PROVIDER = "arn:aws:iam::222222222222:saml-provider/CorpIdP"

# profile -> (the caller ARN prefix GetCallerIdentity must show, the kind of credentials)
EXPECTED = {
    "dev-saml": ("arn:aws:sts::222222222222:assumed-role/SamlDeveloper/", CredentialKind.SAML),
    "ci-deployer": ("arn:aws:sts::222222222222:assumed-role/CiDeployer/ci", CredentialKind.WEB_IDENTITY),
    "alice-federated": ("arn:aws:sts::111111111111:federated-user/alice-console", CredentialKind.FEDERATION_TOKEN),
}


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoWorld]:
    with demo_world(tmp_path) as world:
        yield world


def caller_arn(endpoint: str, creds: Credentials) -> str:
    """GetCallerIdentity with boto3 (the oracle), at the emulator."""
    import boto3

    client = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    )
    try:
        return str(client.get_caller_identity()["Arn"])
    finally:
        client.close()


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_broker_gets_working_credentials(demo: DemoWorld, tmp_path: Path, profile: str) -> None:
    broker = demo.broker(tmp_path / "state")

    async def twice() -> tuple[Credentials, Credentials, str]:
        first = await broker.credentials_for(profile)
        second = await broker.credentials_for(profile)  # from the session cache
        identity = await broker.whoami(profile)
        return first, second, identity.arn

    try:
        first, second, whoami_arn = asyncio.run(twice())
    finally:
        close_broker(broker)
    prefix, kind = EXPECTED[profile]
    assert first.kind is kind
    assert first.session_token and first.expiration is not None
    assert second == first
    assert whoami_arn.startswith(prefix)
    assert caller_arn(demo.endpoint, first).startswith(prefix)
    assert broker.session_state(profile) is not None


def test_saml_assertion_from_a_file(demo: DemoWorld, tmp_path: Path) -> None:
    form = urllib.parse.urlencode({"provider": SAML_PROVIDER, "role": SAML_ROLE, "subject": "file-user"}).encode()
    with urllib.request.urlopen(f"{demo.endpoint}/_stsdesk/saml-assertion", data=form, timeout=10) as reply:
        assertion = reply.read().decode().strip()
    saved = tmp_path / "saml-response.b64"
    saved.write_text(assertion + "\n")
    demo.config.write_text(
        demo.config.read_text()
        + f"\n[profile saml-file]\nregion = us-east-1\nendpoint_url = {demo.endpoint}\nrole_arn = {SAML_ROLE}\n"
        f"saml_principal_arn = {SAML_PROVIDER}\nsaml_assertion_file = {saved}\n"
    )
    broker = demo.broker(tmp_path / "state")
    try:
        creds = asyncio.run(broker.credentials_for("saml-file"))
    finally:
        close_broker(broker)
    assert caller_arn(demo.endpoint, creds) == "arn:aws:sts::222222222222:assumed-role/SamlDeveloper/file-user"


def test_bad_sources_are_one_line_errors(demo: DemoWorld, tmp_path: Path) -> None:
    token = Path(demo.directory / "aws" / "ci-web-identity-token")
    broker = demo.broker(tmp_path / "state")
    try:
        token.write_text("")
        with pytest.raises(ConfigError, match="is empty"):
            asyncio.run(broker.credentials_for("ci-deployer"))
        token.write_text("not.a.jwt")
        with pytest.raises(StsdeskError) as refused:
            asyncio.run(broker.credentials_for("ci-deployer"))
        assert "\n" not in str(refused.value)
        token.unlink()
        with pytest.raises(ConfigError, match="cannot read"):
            asyncio.run(broker.credentials_for("ci-deployer"))
    finally:
        close_broker(broker)


# -- the CLI, as a subprocess ---------------------------------------------------------------------------------


def cli_env(demo: DemoWorld, home: Path) -> dict[str, str]:
    """A `stsdesk` environment on the demo files; alice's secret in the credentials file (no keyring)."""
    demo.credentials.write_text(
        f"[alice]\naws_access_key_id = {ALICE_KEY_ID}\naws_secret_access_key = {demo.alice_secret}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(demo.config),
        AWS_SHARED_CREDENTIALS_FILE=str(demo.credentials),
        STSDESK_CONFIG_DIR=str(home / "stsdesk"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(REPO),
    )
    return env


def stsdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stsdesk", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=env["HOME"],
    )


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_cli_assume_exports_work_in_the_aws_cli(demo: DemoWorld, tmp_path: Path, profile: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(demo, home)
    assumed = stsdesk(env, "assume", profile, "--format", "json")
    assert assumed.returncode == 0, assumed.stderr
    exported = json.loads(assumed.stdout)
    assert exported["AWS_REGION"] == "us-east-1"
    prefix, _kind = EXPECTED[profile]
    # The oracle: the AWS CLI with nothing but the exported variables.
    aws_env = {"PATH": os.environ["PATH"], "HOME": str(home), **exported}
    aws = subprocess.run(
        [str(AWS_CLI), "sts", "get-caller-identity", "--endpoint-url", demo.endpoint, "--output", "json"],
        capture_output=True,
        text=True,
        env=aws_env,
        timeout=60,
    )
    assert aws.returncode == 0, aws.stderr
    assert json.loads(aws.stdout)["Arn"].startswith(prefix)
    # credential-process (no keyring here: each process makes its own session) and whoami, same caller.
    process = stsdesk(env, "credential-process", profile)
    assert process.returncode == 0, process.stderr
    document = json.loads(process.stdout)
    assert document["Version"] == 1
    served = Credentials(
        document["AccessKeyId"], document["SecretAccessKey"], document["SessionToken"], None, CredentialKind.SAML
    )
    assert caller_arn(demo.endpoint, served).startswith(prefix)
    whoami = stsdesk(env, "whoami", profile)
    assert whoami.returncode == 0, whoami.stderr
    assert prefix in whoami.stdout
    assert demo.alice_secret not in assumed.stderr + process.stderr + whoami.stdout + whoami.stderr


def test_cli_saml_without_an_identity_provider_says_what_to_do(demo: DemoWorld, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(demo, home)
    demo.config.write_text(
        demo.config.read_text()
        + f"\n[profile saml-aws]\nregion = us-east-1\nrole_arn = {SAML_ROLE}\nsaml_principal_arn = {SAML_PROVIDER}\n"
    )
    out = stsdesk(env, "assume", "saml-aws")
    assert out.returncode != 0
    assert "saml_assertion_file" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
