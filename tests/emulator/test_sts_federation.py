"""AssumeRoleWithSAML and AssumeRoleWithWebIdentity (unsigned) through boto3."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sts_world import OIDC_ISSUER, SAML_PROVIDER, B, Emu

from stsdesk.emulator.idp import make_oidc_token, make_saml_response

SAML_ROLE = f"arn:aws:iam::{B}:role/Saml"
WEB_ROLE = f"arn:aws:iam::{B}:role/Web"


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    err = caught.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_assume_role_with_saml(emu: Emu) -> None:
    assertion = make_saml_response(
        emu.state.keys, SAML_PROVIDER, SAML_ROLE, "ana@corp.example", emu.state.clock.now()
    )
    reply = emu.unsigned().assume_role_with_saml(
        RoleArn=SAML_ROLE, PrincipalArn=SAML_PROVIDER, SAMLAssertion=assertion
    )
    assert reply["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert reply["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{B}:assumed-role/Saml/ana@corp.example"
    assert reply["Subject"] == "ana@corp.example"
    assert reply["Audience"] == "https://signin.aws.amazon.com/saml"
    assert reply["Issuer"] and reply["NameQualifier"] and reply["SubjectType"]
    assert "PackedPolicySize" not in reply
    who = emu.from_creds(reply["Credentials"]).get_caller_identity()
    assert who["Arn"] == reply["AssumedRoleUser"]["Arn"]


def test_tampered_saml_assertion_is_refused(emu: Emu) -> None:
    assertion = make_saml_response(
        emu.state.keys, SAML_PROVIDER, SAML_ROLE, "ana@corp.example", emu.state.clock.now()
    )
    xml = base64.b64decode(assertion).replace(b"ana@corp.example", b"eve@corp.example")
    code, _, status = error_of(
        emu.unsigned().assume_role_with_saml,
        RoleArn=SAML_ROLE,
        PrincipalArn=SAML_PROVIDER,
        SAMLAssertion=base64.b64encode(xml).decode(),
    )
    assert (code, status) == ("InvalidIdentityToken", 400)


def test_saml_for_an_unknown_provider_or_untrusted_role(emu: Emu) -> None:
    unknown = f"arn:aws:iam::{B}:saml-provider/Nobody"
    assertion = make_saml_response(emu.state.keys, unknown, SAML_ROLE, "ana", emu.state.clock.now())
    code, message, _ = error_of(
        emu.unsigned().assume_role_with_saml, RoleArn=SAML_ROLE, PrincipalArn=unknown, SAMLAssertion=assertion
    )
    assert (code, message) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
    open_role = f"arn:aws:iam::{B}:role/Open"  # trusts account A, not the SAML provider
    assertion = make_saml_response(emu.state.keys, SAML_PROVIDER, open_role, "ana", emu.state.clock.now())
    assert (
        error_of(
            emu.unsigned().assume_role_with_saml,
            RoleArn=open_role,
            PrincipalArn=SAML_PROVIDER,
            SAMLAssertion=assertion,
        )[0]
        == "AccessDenied"
    )


def test_assume_role_with_web_identity(emu: Emu) -> None:
    token = make_oidc_token(
        emu.state.keys, OIDC_ISSUER, "repo:org/app", "sts.amazonaws.com", emu.state.clock.now()
    )
    reply = emu.unsigned().assume_role_with_web_identity(
        RoleArn=WEB_ROLE, RoleSessionName="ci", WebIdentityToken=token, DurationSeconds=900
    )
    assert reply["SubjectFromWebIdentityToken"] == "repo:org/app"
    assert reply["Audience"] == "sts.amazonaws.com"
    # An IAM OIDC provider is named by its ARN (STS_FACTS.md); never the bare host.
    assert reply["Provider"] == f"arn:aws:iam::{B}:oidc-provider/token.example.test"
    assert reply["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{B}:assumed-role/Web/ci"
    assert emu.from_creds(reply["Credentials"]).get_caller_identity()["Account"] == B


def test_web_identity_from_an_unknown_issuer_or_audience(emu: Emu) -> None:
    now = emu.state.clock.now()
    stranger = make_oidc_token(emu.state.keys, "https://evil.example.test", "me", "sts.amazonaws.com", now)
    code, _, status = error_of(
        emu.unsigned().assume_role_with_web_identity,
        RoleArn=WEB_ROLE,
        RoleSessionName="ci",
        WebIdentityToken=stranger,
    )
    assert (code, status) == ("InvalidIdentityToken", 400)
    wrong_aud = make_oidc_token(emu.state.keys, OIDC_ISSUER, "me", "someone-else", now)
    assert (
        error_of(
            emu.unsigned().assume_role_with_web_identity,
            RoleArn=WEB_ROLE,
            RoleSessionName="ci",
            WebIdentityToken=wrong_aud,
        )[0]
        == "InvalidIdentityToken"
    )
    token = make_oidc_token(emu.state.keys, OIDC_ISSUER, "me", "sts.amazonaws.com", now)
    code, message, _ = error_of(
        emu.unsigned().assume_role_with_web_identity,
        RoleArn=f"arn:aws:iam::{B}:role/Missing",
        RoleSessionName="ci",
        WebIdentityToken=token,
    )
    assert (code, message) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
