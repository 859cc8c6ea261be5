"""EC2 authorization failures and their decoding, the console federation endpoint and the demo IdP routes,
driven through boto3, the AWS CLI and plain HTTP against a real emulator on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stsdesk.emulator.app import build_server
from stsdesk.emulator.mfa import current_code
from stsdesk.emulator.scenario import load_scenario
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.toml"
ALICE = ("AKIADEMOALICE0000001", "demo/alice/wJalrXUtnFEMI/K7MDENGbPxRfiCYEX")
SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
MFA = "arn:aws:iam::111111111111:mfa/alice"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    state = EmulatorState(load_scenario(DEMO), tmp_path_factory.mktemp("state"), allow_time_travel=True)
    srv = build_server(state)
    srv.start()
    yield srv
    srv.stop()


def client(server: EmulatorServer, service: str, creds: tuple[str, ...] = ALICE) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1],
        aws_session_token=creds[2] if len(creds) > 2 else None,
        config=Config(retries={"max_attempts": 1}),
    )


_USED_STEPS: set[int] = set()


def fresh_code(server: EmulatorServer) -> str:
    """A TOTP code at a time step not used before (reuse is rejected). Time travel does not move the MFA
    device's clock, so: the current, next or previous step's code, else wait for the next step."""
    while True:
        now = server.state.clock.wall().timestamp()
        for delta in (0, 1, -1):
            step = int(now // 30) + delta
            if step not in _USED_STEPS:
                _USED_STEPS.add(step)
                return current_code(SEED, step * 30 + 1)
        time.sleep(30 - now % 30 + 0.05)


def role_creds(server: EmulatorServer, role: str, mfa: bool) -> tuple[str, str, str]:
    sts = client(server, "sts")
    kwargs: dict[str, Any] = {"RoleArn": role, "RoleSessionName": "ana"}
    if mfa:
        kwargs.update(SerialNumber=MFA, TokenCode=fresh_code(server))
    c = sts.assume_role(**kwargs)["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


@pytest.fixture(scope="module")
def developer(server: EmulatorServer) -> tuple[str, str, str]:
    return role_creds(server, "arn:aws:iam::222222222222:role/Developer", mfa=True)


@pytest.fixture(scope="module")
def readonly(server: EmulatorServer) -> tuple[str, str, str]:
    return role_creds(server, "arn:aws:iam::222222222222:role/ReadOnly", mfa=False)


def test_denied_run_instances_carries_an_encoded_message_that_decodes(
    server: EmulatorServer, developer: tuple[str, str, str]
) -> None:
    ec2 = client(server, "ec2", developer)
    with pytest.raises(ClientError) as info:
        ec2.run_instances(ImageId="ami-12345678", InstanceType="t2.micro", MinCount=1, MaxCount=1)
    err = info.value.response["Error"]
    assert err["Code"] == "UnauthorizedOperation"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "assumed-role/Developer/ana is not authorized to perform: ec2:RunInstances" in err["Message"]
    assert "with an explicit deny" in err["Message"]
    blob = err["Message"].split("Encoded authorization failure message: ", 1)[1]
    decoded = client(server, "sts", developer).decode_authorization_message(EncodedMessage=blob)
    doc = json.loads(decoded["DecodedMessage"])
    assert doc["allowed"] is False and doc["explicitDeny"] is True
    (stmt,) = doc["matchedStatements"]["items"]
    assert stmt["statementId"] == "DenyRunInstances" and stmt["effect"] == "DENY"
    assert stmt["actions"]["items"] == [{"value": "ec2:RunInstances"}]
    assert stmt["principals"]["items"][0]["value"].startswith("AROA")
    assert doc["context"]["action"] == "ec2:RunInstances"  # with its service prefix, as real services send
    assert doc["context"]["principal"]["arn"].endswith(":assumed-role/Developer/ana")
    assert "name" not in doc["context"]["principal"]  # a role session: no IAM user name
    assert doc["context"]["resource"] == "arn:aws:ec2:us-east-1:222222222222:instance/*"
    keys = {c["key"]: c["values"]["items"] for c in doc["context"]["conditions"]["items"]}
    assert keys["ec2:InstanceType"] == [{"value": "t2.micro"}]
    # The request's own keys, not the caller's global ones.
    assert keys["aws:Resource"] == [{"value": "instance/*"}]
    assert keys["aws:Account"] == [{"value": "222222222222"}]
    assert keys["aws:Service"] == [{"value": "ec2"}] and keys["aws:Type"] == [{"value": "instance"}]
    assert keys["aws:ARN"] == [{"value": "arn:aws:ec2:us-east-1:222222222222:instance/*"}]
    assert keys["aws:Region"] == [{"value": "us-east-1"}]
    assert "aws:userid" not in keys and "aws:CurrentTime" not in keys


def test_implicit_deny_and_tampered_blob(server: EmulatorServer, readonly: tuple[str, str, str]) -> None:
    ec2 = client(server, "ec2", readonly)
    with pytest.raises(ClientError) as info:
        ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    message = info.value.response["Error"]["Message"]
    assert "because no identity-based policy allows the ec2:RunInstances action" in message
    blob = message.split("Encoded authorization failure message: ", 1)[1]
    # ReadOnly may not call DecodeAuthorizationMessage; alice may.
    with pytest.raises(ClientError) as denied:
        client(server, "sts", readonly).decode_authorization_message(EncodedMessage=blob)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    doc = json.loads(
        client(server, "sts").decode_authorization_message(EncodedMessage=blob)["DecodedMessage"]
    )
    assert doc["explicitDeny"] is False and doc["matchedStatements"]["items"] == []
    tampered = blob[:-5] + ("A" if blob[-5] != "A" else "B") + blob[-4:]
    with pytest.raises(ClientError) as bad:
        client(server, "sts").decode_authorization_message(EncodedMessage=tampered)
    assert bad.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"


def test_allowed_run_then_describe_and_dry_run(server: EmulatorServer) -> None:
    deployer_src = role_creds(server, "arn:aws:iam::222222222222:role/Developer", mfa=True)
    sts = client(server, "sts", deployer_src)
    c = sts.assume_role(RoleArn="arn:aws:iam::333333333333:role/Deployer", RoleSessionName="ci")[
        "Credentials"
    ]
    ec2 = client(server, "ec2", (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    made = ec2.run_instances(ImageId="ami-0abcdef1", InstanceType="t3.micro", MinCount=2, MaxCount=2)
    ids = {i["InstanceId"] for i in made["Instances"]}
    assert len(ids) == 2 and made["OwnerId"] == "333333333333"
    seen = ec2.describe_instances()["Reservations"]
    assert {i["InstanceId"] for r in seen for i in r["Instances"]} == ids
    with pytest.raises(ClientError) as dry:
        ec2.run_instances(ImageId="ami-0abcdef1", MinCount=1, MaxCount=1, DryRun=True)
    assert dry.value.response["Error"]["Code"] == "DryRunOperation"
    with pytest.raises(ClientError) as missing:
        ec2.describe_instances(InstanceIds=["i-0000000000000000f"])
    assert missing.value.response["Error"]["Code"] == "InvalidInstanceID.NotFound"


def test_ec2_unknown_key_is_auth_failure(server: EmulatorServer) -> None:
    ec2 = client(server, "ec2", ("AKIAUNKNOWNUNKNOWN00", "x" * 40))
    with pytest.raises(ClientError) as info:
        ec2.describe_instances()
    assert info.value.response["Error"]["Code"] == "AuthFailure"


def test_aws_cli_run_instances_message_decodes(
    server: EmulatorServer, developer: tuple[str, str, str], tmp_path: Path
) -> None:
    aws = Path(sys.executable).with_name("aws")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=developer[0],
        AWS_SECRET_ACCESS_KEY=developer[1],
        AWS_SESSION_TOKEN=developer[2],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "c"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "cr"),
        AWS_MAX_ATTEMPTS="1",
    )
    run = subprocess.run(
        [str(aws), "ec2", "run-instances", "--image-id", "ami-12345678", "--count", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode != 0
    assert "(UnauthorizedOperation)" in run.stderr
    blob = run.stderr.split("Encoded authorization failure message: ", 1)[1].strip()
    out = subprocess.run(
        [str(aws), "sts", "decode-authorization-message", "--encoded-message", blob, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(json.loads(out.stdout)["DecodedMessage"])
    assert doc["matchedStatements"]["items"][0]["statementId"] == "DenyRunInstances"


def _get(url: str, opener: urllib.request.OpenerDirector | None = None) -> tuple[int, str]:
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def _signin_url(server: EmulatorServer, creds: tuple[str, ...], duration: int | None = None) -> str:
    session = json.dumps({"sessionId": creds[0], "sessionKey": creds[1], "sessionToken": creds[2]})
    query = {"Action": "getSigninToken", "Session": session}
    if duration is not None:
        query["SessionDuration"] = str(duration)
    return f"{server.endpoint}/federation?{urllib.parse.urlencode(query)}"


def test_console_sign_in_round_trip(server: EmulatorServer, readonly: tuple[str, str, str]) -> None:
    status, body = _get(_signin_url(server, readonly, 3600))
    assert status == 200
    token = json.loads(body)["SigninToken"]
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = urllib.parse.urlencode(
        {
            "Action": "login",
            "Issuer": "stsdesk",
            "SigninToken": token,
            "Destination": "https://console.aws.amazon.com/",
        }
    )
    status, page = _get(f"{server.endpoint}/federation?{login}", opener)
    assert status == 200
    assert "assumed-role/ReadOnly/ana" in page and "222222222222 (dev)" in page
    assert _get(f"{server.endpoint}/console")[0] == 401  # no cookie, not signed in


def test_console_session_duration_rules(server: EmulatorServer, readonly: tuple[str, str, str]) -> None:
    sts = client(server, "sts")
    s = sts.get_session_token(SerialNumber=MFA, TokenCode=fresh_code(server))["Credentials"]
    session_creds = (s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"])
    status, body = _get(_signin_url(server, session_creds))
    assert (status, body.strip()) == (
        400,
        "Only federation tokens or assume role tokens may be used for federated login",
    )
    f = sts.get_federation_token(
        Name="alice-console",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
            }
        ),
    )["Credentials"]
    fed = (f["AccessKeyId"], f["SecretAccessKey"], f["SessionToken"])
    assert _get(_signin_url(server, fed))[0] == 200
    assert _get(_signin_url(server, fed, 900))[0] == 400
    dev = role_creds(server, "arn:aws:iam::222222222222:role/Developer", mfa=True)
    c = client(server, "sts", dev).assume_role(
        RoleArn="arn:aws:iam::333333333333:role/Deployer", RoleSessionName="xy"
    )["Credentials"]
    chained = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert _get(_signin_url(server, chained, 3599))[0] == 200
    status, body = _get(_signin_url(server, chained, 3600))
    assert (status, body.strip()) == (400, "Invalid credentials parameter")
    wrong_secret = (readonly[0], "x" * 40, readonly[2])
    assert _get(_signin_url(server, wrong_secret))[0] == 400
    bad_login = urllib.parse.urlencode({"Action": "login", "SigninToken": "junk"})
    assert _get(f"{server.endpoint}/federation?{bad_login}")[0] == 400


def test_demo_idp_routes_issue_tokens_that_sts_accepts(server: EmulatorServer) -> None:
    form = urllib.parse.urlencode(
        {
            "provider": "arn:aws:iam::222222222222:saml-provider/CorpIdP",
            "role": "arn:aws:iam::222222222222:role/SamlDeveloper",
            "subject": "ana@example.test",
        }
    ).encode()
    with urllib.request.urlopen(f"{server.endpoint}/_stsdesk/saml-assertion", data=form, timeout=10) as resp:
        assertion = resp.read().decode()
    sts = client(server, "sts")
    out = sts.assume_role_with_saml(
        RoleArn="arn:aws:iam::222222222222:role/SamlDeveloper",
        PrincipalArn="arn:aws:iam::222222222222:saml-provider/CorpIdP",
        SAMLAssertion=assertion,
    )
    assert out["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::222222222222:assumed-role/SamlDeveloper/")
    form = urllib.parse.urlencode(
        {
            "issuer": "https://token.example.test",
            "subject": "repo:example/app",
            "audience": "sts.amazonaws.com",
        }
    ).encode()
    with urllib.request.urlopen(f"{server.endpoint}/_stsdesk/oidc-token", data=form, timeout=10) as resp:
        token = resp.read().decode()
    out = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::222222222222:role/CiDeployer", RoleSessionName="ci", WebIdentityToken=token
    )
    assert out["SubjectFromWebIdentityToken"] == "repo:example/app"
    bad = urllib.parse.urlencode({"issuer": "https://evil.example", "subject": "x"}).encode()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server.endpoint}/_stsdesk/oidc-token", data=bad, timeout=10)
    info.value.close()
    assert info.value.code == 400
