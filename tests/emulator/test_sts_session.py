"""GetSessionToken, GetCallerIdentity, GetFederationToken, DecodeAuthorizationMessage, GetAccessKeyInfo and
the credential checks every signed action shares (bad signature, unknown key, expired or foreign token)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sts_world import ALICE_KEY, ALICE_MFA, ALICE_SEED, CAROL_KEY, ROOT_KEY, A, B, Emu, start, world

from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.sts import encode_authorization_message

OPEN = f"arn:aws:iam::{B}:role/Open"
INVALID = "The security token included in the request is invalid."
NARROW = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
)


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    err = caught.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def lifetime(emu: Emu, creds: dict[str, Any]) -> float:
    return (creds["Expiration"] - emu.state.clock.now()).total_seconds()


def test_get_caller_identity_for_user_and_root(emu: Emu) -> None:
    who = emu.client(ALICE_KEY).get_caller_identity()
    assert (who["Account"], who["Arn"]) == (A, f"arn:aws:iam::{A}:user/alice")
    assert who["UserId"].startswith("AIDA") and len(who["UserId"]) == 21
    root = emu.client(ROOT_KEY).get_caller_identity()
    assert (root["UserId"], root["Arn"]) == (A, f"arn:aws:iam::{A}:root")


def test_get_session_token_durations_and_mfa(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    plain = alice.get_session_token()["Credentials"]
    assert 43190 <= lifetime(emu, plain) <= 43200
    assert emu.caller_of(plain).mfa_authenticated is False
    with_mfa = alice.get_session_token(
        DurationSeconds=129600, SerialNumber=ALICE_MFA, TokenCode=emu.totp(ALICE_SEED)
    )["Credentials"]
    assert 129590 <= lifetime(emu, with_mfa) <= 129600
    assert emu.caller_of(with_mfa).mfa_authenticated is True
    assert emu.from_creds(with_mfa).get_caller_identity()["Arn"] == f"arn:aws:iam::{A}:user/alice"
    code, message, _ = error_of(alice.get_session_token, DurationSeconds=129601)
    assert code == "ValidationError" and "Member must have value less than or equal to 129600" in message
    # Root: longer requests are clamped to an hour, not refused.
    root = emu.client(ROOT_KEY).get_session_token(DurationSeconds=7200)["Credentials"]
    assert 3590 <= lifetime(emu, root) <= 3600


def test_get_session_token_wrong_code_uses_its_own_wording(emu: Emu) -> None:
    good = emu.totp(ALICE_SEED)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    code, message, status = error_of(
        emu.client(ALICE_KEY).get_session_token, SerialNumber=ALICE_MFA, TokenCode=wrong
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number "
        "is valid and associated with this user."
    )
    assert error_of(emu.client(ALICE_KEY).get_session_token, SerialNumber=ALICE_MFA)[1] == (
        "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code."
    )


def test_session_credentials_may_not_get_more_sessions(emu: Emu) -> None:
    session = emu.from_creds(emu.client(ALICE_KEY).get_session_token()["Credentials"])
    assert error_of(session.get_session_token)[:2] == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
    )
    assert error_of(session.get_federation_token, Name="ana")[:2] == (
        "AccessDenied",
        "Cannot call GetFederationToken with session credentials",
    )
    # GetSessionToken credentials may assume roles but not decode messages.
    assert session.assume_role(RoleArn=OPEN, RoleSessionName="ana")["Credentials"]
    assert error_of(session.decode_authorization_message, EncodedMessage="abcd")[0] == "AccessDenied"
    role = emu.from_creds(
        emu.client(ALICE_KEY).assume_role(RoleArn=OPEN, RoleSessionName="ana")["Credentials"]
    )
    assert error_of(role.get_session_token)[0] == "AccessDenied"


def test_get_federation_token(emu: Emu) -> None:
    reply = emu.client(ALICE_KEY).get_federation_token(Name="ana", Policy=NARROW, DurationSeconds=3600)
    assert reply["FederatedUser"] == {
        "FederatedUserId": f"{A}:ana",
        "Arn": f"arn:aws:sts::{A}:federated-user/ana",
    }
    assert 1 <= reply["PackedPolicySize"] <= 100
    fed = emu.from_creds(reply["Credentials"])
    assert fed.get_caller_identity()["Arn"] == f"arn:aws:sts::{A}:federated-user/ana"
    code, message, _ = error_of(fed.assume_role, RoleArn=OPEN, RoleSessionName="ana")
    assert (
        code == "AccessDenied"
        and "federated-user/ana is not authorized to perform: sts:AssumeRole" in message
    )
    # GetFederationToken always reports it, 0 without a policy (recorded against AWS).
    assert emu.client(ALICE_KEY).get_federation_token(Name="bo")["PackedPolicySize"] == 0
    assert "at 'name'" in error_of(emu.client(ALICE_KEY).get_federation_token, Name="x" * 33)[1]
    # carol has no policy allowing sts:GetFederationToken.
    assert error_of(emu.client(CAROL_KEY).get_federation_token, Name="cc")[0] == "AccessDenied"


def test_decode_authorization_message(emu: Emu) -> None:
    document = {"allowed": False, "explicitDeny": False, "matchedStatements": {"items": []}}
    blob = encode_authorization_message(emu.state, document)
    decoded = emu.client(ALICE_KEY).decode_authorization_message(EncodedMessage=blob)["DecodedMessage"]
    assert json.loads(decoded) == document
    tampered = blob[:-4] + ("AAAA" if not blob.endswith("AAAA") else "BBBB")
    code, _, status = error_of(emu.client(ALICE_KEY).decode_authorization_message, EncodedMessage=tampered)
    assert (code, status) == ("InvalidAuthorizationMessageException", 400)
    assert (
        error_of(emu.client(CAROL_KEY).decode_authorization_message, EncodedMessage=blob)[0] == "AccessDenied"
    )
    short = encode_authorization_message(emu.state, document, ttl=60)
    emu.advance(61)
    code, _, _ = error_of(emu.client(ALICE_KEY).decode_authorization_message, EncodedMessage=short)
    assert code == "InvalidAuthorizationMessageException"


def test_get_access_key_info(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    assert alice.get_access_key_info(AccessKeyId=ROOT_KEY[0])["Account"] == A
    creds = alice.assume_role(RoleArn=OPEN, RoleSessionName="ana")["Credentials"]
    assert alice.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == B
    assert "at 'accessKeyId'" in error_of(alice.get_access_key_info, AccessKeyId="AKIA-not-a-valid-key")[1]
    # As STS: the account is read from the key id itself, so an expired temporary key still answers, and so
    # does a key this emulator never issued (the published example of a real ASIA key and its account).
    emu.advance(3601)
    assert alice.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == B
    assert alice.get_access_key_info(AccessKeyId="ASIAY34FZKBOKMUTVV7A")["Account"] == "609629065308"
    code, message, _ = error_of(alice.get_access_key_info, AccessKeyId="ASIAAAAAAAAAAAAAAAAA")  # old generation
    assert code == "InvalidParameterValue"
    assert message == "The access key ASIAAAAAAAAAAAAAAAAA is not known to this emulator."


def test_bad_signature_unknown_key_and_foreign_token(emu: Emu) -> None:
    code, message, status = error_of(emu.client((ALICE_KEY[0], "wrong" * 8)).get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")
    assert error_of(emu.client(("AKIAUNKNOWNKEY000001", "x" * 40)).get_caller_identity)[:3] == (
        "InvalidClientTokenId",
        INVALID,
        403,
    )
    one = emu.client(ALICE_KEY).get_session_token()["Credentials"]
    two = emu.client(ALICE_KEY).get_session_token()["Credentials"]
    mixed = emu.client((one["AccessKeyId"], one["SecretAccessKey"]), two["SessionToken"])
    assert error_of(mixed.get_caller_identity)[:2] == ("InvalidClientTokenId", INVALID)
    forged = emu.client((one["AccessKeyId"], one["SecretAccessKey"]), one["SessionToken"][:-6] + "AAAAAA")
    assert error_of(forged.get_caller_identity)[0] == "InvalidClientTokenId"


def test_expired_token_after_time_travel(emu: Emu) -> None:
    creds = emu.client(ALICE_KEY).assume_role(RoleArn=OPEN, RoleSessionName="ana", DurationSeconds=900)[
        "Credentials"
    ]
    assert emu.from_creds(creds).get_caller_identity()["Account"] == B
    emu.advance(901)
    code, message, status = error_of(emu.from_creds(creds).get_caller_identity)
    assert (code, message, status) == (
        "ExpiredToken",
        "The security token included in the request is expired",
        403,
    )


def test_tokens_survive_a_restart_with_the_same_state_dir(emu: Emu) -> None:
    creds = emu.client(ALICE_KEY).assume_role(RoleArn=OPEN, RoleSessionName="ana")["Credentials"]
    state_dir = emu.state.state_dir
    emu.server.stop()
    again = start(scenario_from_dict(world()), state_dir)
    try:
        assert (
            again.from_creds(creds).get_caller_identity()["Arn"] == f"arn:aws:sts::{B}:assumed-role/Open/ana"
        )
    finally:
        again.server.stop()


def test_tokens_do_not_survive_a_restart_without_state_dir(emu: Emu) -> None:
    first = start(scenario_from_dict(world()), None)
    creds = first.client(ALICE_KEY).get_session_token()["Credentials"]
    first.server.stop()
    second = start(scenario_from_dict(world()), None)
    try:
        assert error_of(second.from_creds(creds).get_caller_identity)[0] == "InvalidClientTokenId"
    finally:
        second.server.stop()
