"""A second, independent client: the AWS SDK for JavaScript v3 (its own SigV4, Query serializer, XML error
parser and clock-skew correction) against the emulator, for the areas of issue 14.

The fixture installs @aws-sdk/client-sts, client-ec2 and credential-providers (no versions pinned) into a
cache directory once. Without node/npm, or when the install fails, the tests skip with the reason; with
CI=true they fail instead, so CI cannot silently lose this oracle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sts_world import ALICE_KEY, OIDC_ISSUER, A, B, Emu

from stsdesk.emulator.idp_oidc import make_oidc_token
from stsdesk.testing import StsEmulator, default_world

RUNNER = Path(__file__).with_name("js") / "runner.cjs"
PACKAGES = ("@aws-sdk/client-sts", "@aws-sdk/client-ec2", "@aws-sdk/credential-providers")
CACHE = Path(os.environ.get("STSDESK_NODE_CACHE", Path.home() / ".cache" / "stsdesk-tests" / "aws-sdk-js-v3"))
ALICE = {"accessKeyId": ALICE_KEY[0], "secretAccessKey": ALICE_KEY[1]}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the JavaScript SDK oracle is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The cache's node_modules with the SDK installed (installed on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node and npm are needed for the AWS SDK for JavaScript v3 tests")
    modules = CACHE / "node_modules"
    if not all((modules / name / "package.json").is_file() for name in PACKAGES):
        CACHE.mkdir(parents=True, exist_ok=True)
        if not (CACHE / "package.json").exists():
            (CACHE / "package.json").write_text('{"private": true}\n')
        try:
            done = subprocess.run(["npm", "i", "--no-audit", "--no-fund", *PACKAGES], cwd=CACHE,
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            _unavailable("npm install of the AWS SDK for JavaScript v3 timed out")
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            _unavailable(f"npm install of the AWS SDK for JavaScript v3 failed: {last}")
    return modules


def run_js(modules: Path, endpoint: str, steps: list[dict[str, Any]], region: str = "us-east-1") -> list[Any]:
    job = json.dumps({"endpoint": endpoint, "region": region, "steps": steps})
    env = {**os.environ, "NODE_PATH": str(modules), "NODE_NO_WARNINGS": "1"}
    done = subprocess.run(["node", str(RUNNER)], input=job, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    results: list[Any] = json.loads(done.stdout)
    return results


def body_request_id(body: str) -> str:
    found = re.findall(r"<(?:RequestId|RequestID|requestId)>([^<]+)<", body)
    assert len(found) == 1, body
    return found[0]


def test_tags_transitive_chain_and_conflict(emu: Emu, node_modules: Path) -> None:
    results = run_js(node_modules, emu.endpoint, [
        {"service": "sts", "op": "AssumeRole", "creds": ALICE, "input": {
            "RoleArn": f"arn:aws:iam::{B}:role/Tagging", "RoleSessionName": "js",
            "Tags": [{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "1"}], "TransitiveTagKeys": ["team"],
        }},
        {"service": "sts", "op": "AssumeRole", "creds": {"fromStep": 0},
         "input": {"RoleArn": f"arn:aws:iam::{B}:role/TaggingChained", "RoleSessionName": "js2"}},
        {"service": "sts", "op": "DecodeAuthorizationMessage", "creds": {"fromStep": 1},
         "input": {"EncodedMessage": "bogus"}},
        {"service": "sts", "op": "AssumeRole", "creds": {"fromStep": 0}, "input": {
            "RoleArn": f"arn:aws:iam::{B}:role/TaggingChained", "RoleSessionName": "js3",
            "Tags": [{"Key": "TEAM", "Value": "red"}]}},
        {"service": "sts", "op": "AssumeRole", "creds": ALICE, "maxAttempts": 1, "input": {
            "RoleArn": f"arn:aws:iam::{B}:role/Tagging", "RoleSessionName": "js",
            "Tags": [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]}},
    ])
    assert results[0]["ok"] and results[0]["output"]["PackedPolicySize"] >= 1
    assert results[1]["ok"]
    # The inherited transitive tag lets the chained role decode: the message itself is judged (and refused).
    assert results[2]["error"]["name"] == "InvalidAuthorizationMessageException"
    assert results[3]["error"]["name"] == "InvalidParameterValue"
    assert "conflicts with a transitive tag key from the calling session" in results[3]["error"]["message"]
    assert results[4]["error"]["message"] == (
        "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    )


def test_errors_request_ids_and_role_arn_validation(emu: Emu, node_modules: Path) -> None:
    results = run_js(node_modules, emu.endpoint, [
        {"service": "sts", "op": "AssumeRole", "creds": ALICE, "maxAttempts": 1,
         "input": {"RoleArn": "nothing-valid-in-here", "RoleSessionName": "js"}},
        {"service": "sts", "op": "AssumeRole", "creds": ALICE, "maxAttempts": 1,
         "input": {"RoleArn": f"arn:aws:iam::{B}:role/Open", "RoleSessionName": "js", "SourceIdentity": "ana"}},
        {"service": "ec2", "op": "DescribeInstances", "creds": ALICE, "maxAttempts": 1},
        {"service": "sts", "op": "GetFederationToken", "creds": ALICE, "input": {"Name": "ana"}},
    ])
    invalid, no_si, ec2, federation = results
    assert (invalid["error"]["name"], invalid["error"]["message"]) == (
        "ValidationError", "nothing-valid-in-here is invalid"
    )
    assert no_si["error"]["name"] == "AccessDenied" and "sts:SetSourceIdentity" in no_si["error"]["message"]
    assert ec2["error"]["name"] == "UnauthorizedOperation"
    assert ec2["error"]["message"] == (
        f"You are not authorized to perform this operation. User: arn:aws:iam::{A}:user/alice is not authorized "
        "to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"
    )
    for result in (invalid, no_si, ec2):
        (raw,) = result["responses"]
        assert result["error"]["requestId"] == raw["requestId"] == body_request_id(raw["body"])
    assert federation["ok"] and federation["output"]["PackedPolicySize"] == 0
    (raw,) = federation["responses"]
    assert federation["metadata"]["requestId"] == raw["requestId"] == body_request_id(raw["body"])


def test_web_identity_provider_is_the_providers_arn(emu: Emu, node_modules: Path) -> None:
    token = make_oidc_token(emu.state.keys, OIDC_ISSUER, "repo:org/app", "sts.amazonaws.com", emu.state.clock.now())
    (result,) = run_js(node_modules, emu.endpoint, [
        {"service": "sts", "op": "AssumeRoleWithWebIdentity", "creds": ALICE, "input": {
            "RoleArn": f"arn:aws:iam::{B}:role/Web", "RoleSessionName": "ci", "WebIdentityToken": token}},
    ])
    assert result["ok"], result
    assert result["output"]["Provider"] == f"arn:aws:iam::{B}:oidc-provider/token.example.test"


def test_a_right_clock_keeps_working_after_time_travel(sts_emulator: StsEmulator, node_modules: Path) -> None:
    key = sts_emulator.credentials("alice")
    creds = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    sts_emulator.advance(3 * 3600)
    (result,) = run_js(node_modules, sts_emulator.endpoint,
                       [{"service": "sts", "op": "GetCallerIdentity", "creds": creds, "maxAttempts": 1}])
    assert result["ok"] and result["output"]["Arn"] == "arn:aws:iam::111111111111:user/alice"


@pytest.mark.sts_scenario({**default_world().to_dict(), "faults": {"clock_offset_seconds": 7200}})
def test_the_sdk_corrects_its_clock_from_a_skewed_servers_date_header(
    sts_emulator: StsEmulator, node_modules: Path
) -> None:
    key = sts_emulator.credentials("alice")
    creds = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    (result,) = run_js(node_modules, sts_emulator.endpoint,
                       [{"service": "sts", "op": "GetCallerIdentity", "creds": creds, "maxAttempts": 3}])
    assert result["ok"], result
    first, *_, last = result["responses"]
    # Refused for skew first (the Date header two hours ahead), then served once the SDK corrected its clock.
    assert first["status"] == 403 and "Signature expired" in first["body"]
    assert last["status"] == 200 and result["metadata"]["attempts"] >= 2


def test_the_sdks_own_assume_role_provider_with_mfa(sts_emulator: StsEmulator, node_modules: Path) -> None:
    key = sts_emulator.credentials("alice")
    master = {"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}
    params = {"RoleArn": "arn:aws:iam::111111111111:role/Admin", "RoleSessionName": "js-provider",
              "SerialNumber": "arn:aws:iam::111111111111:mfa/alice"}
    wrong = "000000" if sts_emulator.totp("alice") != "000000" else "111111"
    code = sts_emulator.totp("alice", unused=True)
    results = run_js(node_modules, sts_emulator.endpoint, [
        {"service": "sts", "op": "GetCallerIdentity", "maxAttempts": 1,
         "creds": {"temporary": {"master": master, "params": params, "mfaCode": code}}},
        {"service": "sts", "op": "GetCallerIdentity", "maxAttempts": 1,
         "creds": {"temporary": {"master": master, "params": params, "mfaCode": wrong}}},
    ])
    assert results[0]["ok"], results[0]
    assert results[0]["output"]["Arn"] == "arn:aws:sts::111111111111:assumed-role/Admin/js-provider"
    assert not results[1]["ok"]
    assert "MultiFactorAuthentication failed with invalid MFA one time pass code" in results[1]["error"]["message"]
