"""The STS test world (accounts, users, roles, IdPs) and a handle on a running emulator."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stsdesk.emulator.caller import Caller
from stsdesk.emulator.mfa import current_code
from stsdesk.emulator.scenario import Scenario
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.sigv4 import SignedRequest
from stsdesk.emulator.state import EmulatorState

A, B, C = "111111111111", "222222222222", "333333333333"
ALICE_KEY = ("AKIAEXAMPLEALICE0001", "alice-secret-alice-secret-alice-secret-01")
BOB_KEY = ("AKIAEXAMPLEBOBB00001", "bob-secret-bob-secret-bob-secret-bob-s01")
CAROL_KEY = ("AKIAEXAMPLECAROL0001", "carol-secret-carol-secret-carol-secre001")
ROOT_KEY = ("AKIAEXAMPLEROOTA0001", "root-secret-root-secret-root-secret-ro01")
ALICE_SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
BOB_SEED = "KRSXG5CTMVRXEZLUKRSXG5CT"
ALICE_MFA = f"arn:aws:iam::{A}:mfa/alice"
BOB_MFA = f"arn:aws:iam::{A}:mfa/bob"
OIDC_ISSUER = "https://token.example.test"
SAML_PROVIDER = f"arn:aws:iam::{B}:saml-provider/CorpIdP"


def doc(*statements: Mapping[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(
    principal: Any, action: str | list[str] = "sts:AssumeRole", condition: Any = None, effect: str = "Allow"
) -> str:
    stmt: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action}
    if condition:
        stmt["Condition"] = condition
    return doc(stmt)


def role(
    account: str, name: str, trust_policy: str, *policies: str, max_session: int = 3600
) -> dict[str, Any]:
    return {
        "account": account,
        "name": name,
        "trust_policy": trust_policy,
        "policies": list(policies),
        "max_session_duration": max_session,
    }


MFA_PRESENT = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def world() -> dict[str, Any]:
    """Accounts A (people), B and C (workloads)."""
    user_policy = doc(
        allow("sts:AssumeRole"),
        allow("sts:GetFederationToken"),
        allow("sts:DecodeAuthorizationMessage"),
        allow("sts:GetAccessKeyInfo"),
        allow(["sts:TagSession", "sts:SetSourceIdentity"], f"arn:aws:iam::{B}:role/Tagging*"),
    )
    tagging_actions = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]
    return {
        "region": "us-east-1",
        "accounts": [
            {"id": A, "root_access_key": {"id": ROOT_KEY[0], "secret": ROOT_KEY[1]}},
            {"id": B},
            {"id": C},
        ],
        "users": [
            {
                "account": A,
                "name": "alice",
                "access_keys": [{"id": ALICE_KEY[0], "secret": ALICE_KEY[1]}],
                "mfa": {"serial": ALICE_MFA, "seed": ALICE_SEED},
                "policies": [user_policy],
            },
            {
                "account": A,
                "name": "bob",
                "access_keys": [{"id": BOB_KEY[0], "secret": BOB_KEY[1]}],
                "mfa": {"serial": BOB_MFA, "seed": BOB_SEED},
                "policies": [user_policy],
            },
            {"account": A, "name": "carol", "access_keys": [{"id": CAROL_KEY[0], "secret": CAROL_KEY[1]}]},
        ],
        "roles": [
            role(
                B,
                "Open",
                trust({"AWS": f"arn:aws:iam::{A}:root"}),
                doc(allow("sts:DecodeAuthorizationMessage"), allow("sts:AssumeRole")),
                max_session=7200,
            ),
            role(
                B,
                "NeedsMfa",
                trust({"AWS": A}, condition=MFA_PRESENT),
                doc(allow("sts:AssumeRole")),
                max_session=43200,
            ),
            role(
                C,
                "Chained",
                trust({"AWS": f"arn:aws:iam::{B}:role/NeedsMfa"}, condition=MFA_PRESENT),
                doc(allow("sts:DecodeAuthorizationMessage")),
                max_session=43200,
            ),
            role(
                B,
                "Tagging",
                trust({"AWS": f"arn:aws:iam::{A}:root"}, tagging_actions),
                doc(
                    allow(tagging_actions),
                    allow("sts:DecodeAuthorizationMessage",
                          Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}}),
                ),
            ),
            role(
                B,
                "TaggingChained",
                trust({"AWS": f"arn:aws:iam::{B}:role/Tagging"}, tagging_actions),
                doc(allow("sts:DecodeAuthorizationMessage",
                          Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})),
            ),
            role(
                B,
                "TaggingBlueOnly",
                trust({"AWS": f"arn:aws:iam::{A}:root"}, tagging_actions,
                      {"StringEquals": {"aws:RequestTag/team": "blue"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}}),
            ),
            role(A, "TrustsCarol", trust({"AWS": f"arn:aws:iam::{A}:user/carol"})),
            role(A, "TrustsAccount", trust({"AWS": f"arn:aws:iam::{A}:root"})),
            role(
                B,
                "WithExternalId",
                trust({"AWS": A}, condition={"StringEquals": {"sts:ExternalId": "ext-123"}}),
            ),
            role(
                B,
                "Denied",
                doc(
                    {"Effect": "Allow", "Principal": {"AWS": A}, "Action": "sts:AssumeRole"},
                    {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
                ),
            ),
            role(
                B,
                "Saml",
                trust(
                    {"Federated": SAML_PROVIDER},
                    "sts:AssumeRoleWithSAML",
                    {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
                ),
            ),
            role(
                B,
                "Web",
                trust(
                    {"Federated": f"arn:aws:iam::{B}:oidc-provider/token.example.test"},
                    "sts:AssumeRoleWithWebIdentity",
                    {"StringEquals": {"token.example.test:aud": "sts.amazonaws.com"}},
                ),
            ),
            role(
                B,
                "WebTagged",
                trust(
                    {"Federated": f"arn:aws:iam::{B}:oidc-provider/token.example.test"},
                    ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                    {"StringEquals": {"token.example.test:aud": "sts.amazonaws.com",
                                      "aws:RequestTag/team": "blue"}},
                ),
            ),
        ],
        "saml_providers": [{"account": B, "name": "CorpIdP"}],
        "oidc_providers": [{"account": B, "url": OIDC_ISSUER, "client_ids": ["sts.amazonaws.com"]}],
    }


@dataclass
class Emu:
    state: EmulatorState
    server: EmulatorServer

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def client(self, key: tuple[str, str], token: str | None = None, service: str = "sts") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            aws_session_token=token,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def from_creds(self, creds: Mapping[str, Any]) -> Any:
        return self.client((creds["AccessKeyId"], creds["SecretAccessKey"]), creds["SessionToken"])

    def unsigned(self) -> Any:
        from botocore import UNSIGNED

        return boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}),
        )

    def caller_of(self, creds: Mapping[str, Any]) -> Caller:
        """The emulator's view of whoever holds ``creds`` (Credentials from an STS reply)."""
        now = self.state.clock.now()
        signed = SignedRequest(creds["AccessKeyId"], creds["SessionToken"], "us-east-1", "sts", now)
        return self.state.caller(signed)

    def totp(self, seed: str) -> str:
        return current_code(seed, self.state.clock.wall().timestamp())

    def advance(self, seconds: float) -> Any:
        data = f"seconds={seconds}".encode()
        with urllib.request.urlopen(f"{self.endpoint}/_stsdesk/advance", data=data, timeout=5) as reply:
            return json.loads(reply.read())


def start(scenario: Scenario, state_dir: Path | None, time_travel: bool = True) -> Emu:
    state = EmulatorState(scenario, state_dir, allow_time_travel=time_travel)
    server = EmulatorServer(state)
    server.start()
    return Emu(state, server)
