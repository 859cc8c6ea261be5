"""AssumeRole through boto3: trust, cross-account rules, MFA, chaining, durations, session policies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sts_world import (
    ALICE_KEY,
    ALICE_MFA,
    ALICE_SEED,
    BOB_KEY,
    BOB_MFA,
    BOB_SEED,
    CAROL_KEY,
    ROOT_KEY,
    A,
    B,
    C,
    Emu,
)

OPEN = f"arn:aws:iam::{B}:role/Open"
NEEDS_MFA = f"arn:aws:iam::{B}:role/NeedsMfa"
CHAINED = f"arn:aws:iam::{C}:role/Chained"


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    err = caught.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_assume_role_cross_account_returns_the_shapes_boto3_expects(emu: Emu) -> None:
    sts = emu.client(ALICE_KEY)
    reply = sts.assume_role(RoleArn=OPEN, RoleSessionName="ana", DurationSeconds=7200)
    creds = reply["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert reply["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{B}:assumed-role/Open/ana"
    assert reply["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA")
    assert reply["AssumedRoleUser"]["AssumedRoleId"].endswith(":ana")
    assert "PackedPolicySize" not in reply and "SourceIdentity" not in reply
    lifetime = (creds["Expiration"] - emu.state.clock.now()).total_seconds()
    assert 7190 <= lifetime <= 7200
    who = emu.from_creds(creds).get_caller_identity()
    assert who["Arn"] == reply["AssumedRoleUser"]["Arn"] and who["Account"] == B


def test_cross_account_chain_with_mfa(emu: Emu) -> None:
    """user -> GetSessionToken with MFA -> AssumeRole in B needing MFA -> chained AssumeRole into C."""
    alice = emu.client(ALICE_KEY)
    # Without MFA the role in B refuses (its trust policy demands aws:MultiFactorAuthPresent).
    code, message, status = error_of(alice.assume_role, RoleArn=NEEDS_MFA, RoleSessionName="ana")
    assert (code, status) == ("AccessDenied", 403)
    alice_arn = f"arn:aws:iam::{A}:user/alice"
    assert (
        message == f"User: {alice_arn} is not authorized to perform: sts:AssumeRole on resource: {NEEDS_MFA}"
    )

    session = alice.get_session_token(SerialNumber=ALICE_MFA, TokenCode=emu.totp(ALICE_SEED))["Credentials"]
    emu.advance(120)  # MFA age grows with time
    in_b = emu.from_creds(session).assume_role(RoleArn=NEEDS_MFA, RoleSessionName="ana")
    in_c = emu.from_creds(in_b["Credentials"]).assume_role(RoleArn=CHAINED, RoleSessionName="ana")
    assert in_c["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{C}:assumed-role/Chained/ana"
    caller = emu.caller_of(in_c["Credentials"])
    assert caller.mfa_authenticated and caller.role_chained
    ctx = caller.context(emu.state.clock.now(), "us-east-1", False)
    assert ctx["aws:MultiFactorAuthPresent"] == "true"
    assert int(str(ctx["aws:MultiFactorAuthAge"])) >= 120


def test_role_chaining_is_limited_to_one_hour(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    first = alice.assume_role(
        RoleArn=NEEDS_MFA, RoleSessionName="ana", SerialNumber=ALICE_MFA, TokenCode=emu.totp(ALICE_SEED)
    )
    chained = emu.from_creds(first["Credentials"])
    code, message, status = error_of(
        chained.assume_role, RoleArn=CHAINED, RoleSessionName="xx", DurationSeconds=3601
    )
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    )
    ok = chained.assume_role(RoleArn=CHAINED, RoleSessionName="xx", DurationSeconds=3600)
    assert ok["AssumedRoleUser"]["Arn"].endswith("/Chained/xx")


def test_duration_above_role_maximum_and_above_43200(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    code, message, _ = error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="ana", DurationSeconds=7201)
    assert (code, message) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    code, message, _ = error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="ana", DurationSeconds=43201)
    assert code == "ValidationError"
    assert message == (
        "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 43200"
    )


def test_mfa_wrong_code_reused_code_and_half_pair(emu: Emu) -> None:
    bob = emu.client(BOB_KEY)
    good = emu.totp(BOB_SEED)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    code, message, status = error_of(
        bob.assume_role, RoleArn=NEEDS_MFA, RoleSessionName="bb", SerialNumber=BOB_MFA, TokenCode=wrong
    )
    assert (code, message, status) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
        403,
    )
    bob.assume_role(RoleArn=NEEDS_MFA, RoleSessionName="bb", SerialNumber=BOB_MFA, TokenCode=good)
    code, message, _ = error_of(
        bob.assume_role, RoleArn=NEEDS_MFA, RoleSessionName="bb", SerialNumber=BOB_MFA, TokenCode=good
    )
    assert (code, message) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
    )
    both = "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
    assert error_of(bob.assume_role, RoleArn=OPEN, RoleSessionName="bb", SerialNumber=BOB_MFA)[:2] == (
        "AccessDenied",
        both,
    )
    assert error_of(bob.get_session_token, TokenCode="123456")[:2] == ("AccessDenied", both)


def test_someone_elses_mfa_device_is_refused(emu: Emu) -> None:
    code, message, _ = error_of(
        emu.client(BOB_KEY).assume_role,
        RoleArn=OPEN,
        RoleSessionName="bb",
        SerialNumber=ALICE_MFA,
        TokenCode=emu.totp(ALICE_SEED),
    )
    assert (code, message) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code. ",
    )


def test_root_may_not_assume_roles(emu: Emu) -> None:
    code, message, status = error_of(emu.client(ROOT_KEY).assume_role, RoleArn=OPEN, RoleSessionName="rr")
    assert (code, message, status) == ("AccessDenied", "Roles may not be assumed by root accounts.", 403)


def test_same_account_trust_naming_the_user_needs_no_identity_policy(emu: Emu) -> None:
    carol = emu.client(CAROL_KEY)  # carol has no policies at all
    reply = carol.assume_role(RoleArn=f"arn:aws:iam::{A}:role/TrustsCarol", RoleSessionName="cc")
    assert reply["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{A}:assumed-role/TrustsCarol/cc"
    # A trust policy naming only the account also needs the identity-policy allow, which carol lacks.
    code, _, _ = error_of(
        carol.assume_role, RoleArn=f"arn:aws:iam::{A}:role/TrustsAccount", RoleSessionName="cc"
    )
    assert code == "AccessDenied"
    assert emu.client(ALICE_KEY).assume_role(
        RoleArn=f"arn:aws:iam::{A}:role/TrustsAccount", RoleSessionName="aa"
    )


def test_missing_role_explicit_deny_and_external_id(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    ghost = f"arn:aws:iam::{B}:role/DoesNotExist"
    assert error_of(alice.assume_role, RoleArn=ghost, RoleSessionName="aa")[1] == (
        f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: sts:AssumeRole on resource: {ghost}"
    )
    assert error_of(alice.assume_role, RoleArn=f"arn:aws:iam::{B}:role/Denied", RoleSessionName="aa")[0] == (
        "AccessDenied"
    )
    ext_role = f"arn:aws:iam::{B}:role/WithExternalId"
    assert (
        error_of(alice.assume_role, RoleArn=ext_role, RoleSessionName="aa", ExternalId="wrong")[0]
        == "AccessDenied"
    )
    assert alice.assume_role(RoleArn=ext_role, RoleSessionName="aa", ExternalId="ext-123")["Credentials"]


def test_parameter_patterns_and_maxima_are_enforced(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    code, message, status = error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="bad name!")
    assert (code, status) == ("ValidationError", 400)
    assert message == (
        "1 validation error detected: Value 'bad name!' at 'roleSessionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    )
    assert (
        "Member must have length less than or equal to 64"
        in error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="xx" * 65)[1]
    )
    assert (
        "at 'externalId'"
        in error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="aa", ExternalId="a b")[1]
    )
    assert (
        "at 'sourceIdentity'"
        in error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="aa", SourceIdentity="x" * 65)[1]
    )
    assert error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="aa", SourceIdentity="aws:me")[0] == (
        "ValidationError"
    )


def test_source_identity_is_returned_and_kept_down_the_chain(emu: Emu) -> None:
    tagging = f"arn:aws:iam::{B}:role/Tagging"
    reply = emu.client(ALICE_KEY).assume_role(RoleArn=tagging, RoleSessionName="aa", SourceIdentity="alice@corp")
    assert reply["SourceIdentity"] == "alice@corp"
    caller = emu.caller_of(reply["Credentials"])
    assert caller.context(emu.state.clock.now(), "us-east-1", False)["aws:SourceIdentity"] == "alice@corp"
    # Down the chain it persists, and it cannot be changed.
    session = emu.from_creds(reply["Credentials"])
    chained = session.assume_role(RoleArn=f"arn:aws:iam::{B}:role/TaggingChained", RoleSessionName="bb")
    later = emu.caller_of(chained["Credentials"])
    assert later.context(emu.state.clock.now(), "us-east-1", False)["aws:SourceIdentity"] == "alice@corp"
    code, message, _ = error_of(
        session.assume_role, RoleArn=f"arn:aws:iam::{B}:role/TaggingChained", RoleSessionName="bb",
        SourceIdentity="mallory",
    )
    assert code == "AccessDenied" and "sts:SetSourceIdentity" in message


def test_source_identity_needs_sts_set_source_identity_in_the_trust_policy(emu: Emu) -> None:
    code, message, status = error_of(
        emu.client(ALICE_KEY).assume_role, RoleArn=OPEN, RoleSessionName="aa", SourceIdentity="alice@corp"
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: sts:SetSourceIdentity on resource: {OPEN}"
    )


def test_session_policy_intersects_and_reports_packed_size(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    narrow = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        }
    )
    reply = alice.assume_role(RoleArn=OPEN, RoleSessionName="aa", Policy=narrow)
    assert 1 <= reply["PackedPolicySize"] <= 100
    # The role allows DecodeAuthorizationMessage, the session policy does not: denied.
    code, message, _ = error_of(
        emu.from_creds(reply["Credentials"]).decode_authorization_message, EncodedMessage="whatever"
    )
    assert code == "AccessDenied" and "sts:DecodeAuthorizationMessage" in message
    # Without a session policy the same role may decode (and the blob is then judged on its merits).
    plain = alice.assume_role(RoleArn=OPEN, RoleSessionName="aa")
    assert (
        error_of(
            emu.from_creds(plain["Credentials"]).decode_authorization_message, EncodedMessage="whatever"
        )[0]
        == "InvalidAuthorizationMessageException"
    )


def test_malformed_and_oversized_session_policies(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    assert error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="aa", Policy="{not json")[:2] == (
        "MalformedPolicyDocument",
        "Syntax errors in policy.",
    )
    big = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"S{i}",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::bucket-{i}/*",
                }
                for i in range(40)
            ],
        }
    )
    code, message, status = error_of(alice.assume_role, RoleArn=OPEN, RoleSessionName="aa", Policy=big)
    assert (code, status) == ("PackedPolicyTooLarge", 400)
    assert message.startswith("Packed policy consumes ") and "% of allotted space" in message
