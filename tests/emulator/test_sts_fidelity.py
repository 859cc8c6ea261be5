"""Issue 14, round 2 of emulator fidelity: session tags, sts:TagSession, RoleArn validation, request ids,
EC2's implicit-deny text, and the two kinds of time (time travel vs a server with a wrong clock).

Facts from STS_FACTS.md and DESIGN.md, checked against botocore's STS model where it has them.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from xml.etree import ElementTree

import botocore.auth
import pytest
from botocore.exceptions import ClientError
from sts_world import ALICE_KEY, OIDC_ISSUER, A, B, Emu

from stsdesk.emulator.idp_oidc import make_oidc_token
from stsdesk.testing import StsEmulator, default_world

TAGGING = f"arn:aws:iam::{B}:role/Tagging"
CHAINED = f"arn:aws:iam::{B}:role/TaggingChained"
BLUE_ONLY = f"arn:aws:iam::{B}:role/TaggingBlueOnly"
OPEN = f"arn:aws:iam::{B}:role/Open"
DUPLICATE = "Duplicate tag keys found. Please note that Tag keys are case insensitive."


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    return err["Code"], err["Message"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


# ------------------------------------------------------------------------------------------ session tags


def test_tag_limits_are_enforced_by_the_server(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    code, message, status = error_of(alice.assume_role, RoleArn=TAGGING, RoleSessionName="aa", Tags=many)
    assert (code, status) == ("ValidationError", 400) and "less than or equal to 50" in message
    code, message, _ = error_of(alice.assume_role, RoleArn=TAGGING, RoleSessionName="aa",
                                Tags=[{"Key": "k" * 129, "Value": "v"}])
    assert code == "ValidationError" and "at 'tags.1.member.key'" in message and "128" in message
    code, message, _ = error_of(alice.assume_role, RoleArn=TAGGING, RoleSessionName="aa",
                                Tags=[{"Key": "k", "Value": "v" * 257}])
    assert code == "ValidationError" and "at 'tags.1.member.value'" in message and "256" in message
    code, message, _ = error_of(alice.assume_role, RoleArn=TAGGING, RoleSessionName="aa",
                                Tags=[{"Key": "semi;colon", "Value": "v"}])
    assert code == "ValidationError" and "regular expression pattern" in message
    # Exactly at the limits is fine (value may be empty).
    longest = [{"Key": "k" * 128, "Value": "v" * 256}]
    assert alice.assume_role(RoleArn=TAGGING, RoleSessionName="aa", Tags=longest)["PackedPolicySize"] >= 1
    fifty = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    assert alice.assume_role(RoleArn=TAGGING, RoleSessionName="aa", Tags=fifty)["PackedPolicySize"] >= 1
    # Together they may still outgrow the packed size, as on AWS.
    big = [{"Key": f"k{i:03}" + "x" * 124, "Value": "v" * 256} for i in range(50)]
    assert error_of(alice.assume_role, RoleArn=TAGGING, RoleSessionName="aa", Tags=big)[0] == "PackedPolicyTooLarge"


def test_tag_keys_are_case_insensitive(emu: Emu) -> None:
    code, message, status = error_of(
        emu.client(ALICE_KEY).assume_role, RoleArn=TAGGING, RoleSessionName="aa",
        Tags=[{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}],
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."


def test_a_transitive_key_must_be_among_the_tags(emu: Emu) -> None:
    code, message, _ = error_of(
        emu.client(ALICE_KEY).assume_role, RoleArn=TAGGING, RoleSessionName="aa", Tags=tags(team="blue"),
        TransitiveTagKeys=["cost"],
    )
    assert code == "InvalidParameterValue"
    assert message == "The specified transitive tag key must be included in the requested tags."


def test_tags_need_sts_tag_session_in_the_trust_policy(emu: Emu) -> None:
    code, message, status = error_of(
        emu.client(ALICE_KEY).assume_role, RoleArn=OPEN, RoleSessionName="aa", Tags=tags(team="blue")
    )
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: sts:TagSession on resource: {OPEN}"
    )
    # Without tags the same role is fine.
    assert emu.client(ALICE_KEY).assume_role(RoleArn=OPEN, RoleSessionName="aa")["Credentials"]


def test_session_tags_become_principal_tags_in_later_requests(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    blue = alice.assume_role(RoleArn=TAGGING, RoleSessionName="aa", Tags=tags(team="blue"))["Credentials"]
    red = alice.assume_role(RoleArn=TAGGING, RoleSessionName="aa", Tags=tags(Team="red"))["Credentials"]
    # The role allows DecodeAuthorizationMessage only when aws:PrincipalTag/team is blue: a blue session gets
    # as far as judging the (bogus) message, a red one is refused the action.
    assert error_of(emu.from_creds(blue).decode_authorization_message, EncodedMessage="bogus")[0] == (
        "InvalidAuthorizationMessageException"
    )
    code, message, _ = error_of(emu.from_creds(red).decode_authorization_message, EncodedMessage="bogus")
    assert code == "AccessDenied" and "sts:DecodeAuthorizationMessage" in message


def test_transitive_tags_pass_down_a_chain_and_cannot_be_set_again(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    first = alice.assume_role(
        RoleArn=TAGGING, RoleSessionName="aa", Tags=tags(team="blue", cost="42"), TransitiveTagKeys=["team"]
    )["Credentials"]
    session = emu.from_creds(first)
    second = session.assume_role(RoleArn=CHAINED, RoleSessionName="bb")["Credentials"]
    context = emu.caller_of(second).context(emu.state.clock.now(), "us-east-1", False)
    assert context["aws:PrincipalTag/team"] == "blue"
    assert "aws:PrincipalTag/cost" not in context  # not transitive: stays behind
    # The chained role's own policy depends on the inherited tag.
    assert error_of(emu.from_creds(second).decode_authorization_message, EncodedMessage="bogus")[0] == (
        "InvalidAuthorizationMessageException"
    )
    code, message, _ = error_of(session.assume_role, RoleArn=CHAINED, RoleSessionName="bb", Tags=tags(TEAM="red"))
    assert code == "InvalidParameterValue"
    assert message == (
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key "
        "from the calling session."
    )
    # A key that is not transitive upstream may be set again.
    assert session.assume_role(RoleArn=CHAINED, RoleSessionName="bb", Tags=tags(cost="7"))["Credentials"]


def test_request_tags_and_tag_keys_are_judged_by_the_trust_policy(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    assert alice.assume_role(RoleArn=BLUE_ONLY, RoleSessionName="aa", Tags=tags(team="blue"))["Credentials"]
    code, _, _ = error_of(alice.assume_role, RoleArn=BLUE_ONLY, RoleSessionName="aa", Tags=tags(team="red"))
    assert code == "AccessDenied"
    code, _, _ = error_of(alice.assume_role, RoleArn=BLUE_ONLY, RoleSessionName="aa",
                          Tags=tags(team="blue", owner="x"))  # aws:TagKeys must be within team/cost
    assert code == "AccessDenied"


def test_get_federation_token_tags_become_principal_tags(emu: Emu) -> None:
    alice = emu.client(ALICE_KEY)
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}'
    reply = alice.get_federation_token(Name="ana", Policy=policy, Tags=tags(team="blue"))
    assert reply["PackedPolicySize"] >= 1
    context = emu.caller_of(reply["Credentials"]).context(emu.state.clock.now(), "us-east-1", False)
    assert context["aws:PrincipalTag/team"] == "blue"
    code, message, _ = error_of(alice.get_federation_token, Name="ana", Tags=tags(team="a", TEAM="b"))
    assert (code, message) == ("InvalidParameterValue", DUPLICATE)


def _web_token(emu: Emu, tags: dict[str, Any] | None) -> str:
    extra = {"https://aws.amazon.com/tags": tags} if tags is not None else None
    return make_oidc_token(emu.state.keys, OIDC_ISSUER, "repo:org/app", "sts.amazonaws.com",
                           emu.state.clock.now(), extra=extra)


def test_web_identity_tags_need_tag_session_and_become_principal_tags(emu: Emu) -> None:
    blue = {"principal_tags": {"team": ["blue"], "cost": ["7"]}, "transitive_tag_keys": ["team"]}
    reply = emu.unsigned().assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{B}:role/WebTagged", RoleSessionName="ci", WebIdentityToken=_web_token(emu, blue)
    )
    assert reply["PackedPolicySize"] >= 1
    context = emu.caller_of(reply["Credentials"]).context(emu.state.clock.now(), "us-east-1", False)
    assert (context["aws:PrincipalTag/team"], context["aws:PrincipalTag/cost"]) == ("blue", "7")
    # The trust policy wants team=blue in the request's tags; and Web does not allow sts:TagSession at all.
    red = {"principal_tags": {"team": ["red"]}}
    for role, token in (("WebTagged", _web_token(emu, red)), ("Web", _web_token(emu, blue))):
        code, _, status = error_of(emu.unsigned().assume_role_with_web_identity,
                                   RoleArn=f"arn:aws:iam::{B}:role/{role}", RoleSessionName="ci",
                                   WebIdentityToken=token)
        assert (code, status) == ("AccessDenied", 403)
    # Untagged tokens keep working for the plain role.
    assert emu.unsigned().assume_role_with_web_identity(
        RoleArn=f"arn:aws:iam::{B}:role/Web", RoleSessionName="ci", WebIdentityToken=_web_token(emu, None)
    )["Credentials"]
    code, _, _ = error_of(emu.unsigned().assume_role_with_web_identity, RoleArn=f"arn:aws:iam::{B}:role/WebTagged",
                          RoleSessionName="ci", WebIdentityToken=_web_token(emu, {"principal_tags": ["x"]}))
    assert code == "InvalidIdentityToken"


# ------------------------------------------------------------------------------------ RoleArn, sizes, ids


NOT_ARNS = ["nothing-valid-in-here", "arn::b:::x/r", "arn:a::::x/r", "arn:a:::x/r", "arn:a:a::aaaaaaaaaa:"]


@pytest.mark.parametrize("arn", [  # botocore itself refuses the shorter ones (model minimum 20)
    *(a for a in NOT_ARNS if len(a) >= 20), "arn::b:::x/rrrrrrrrrrrrrr", "arn:a::::x/rrrrrrrrrrrrrr",
    "arn:a:::x/rrrrrrrrrrrrrrrr",
])
def test_a_role_arn_that_is_not_an_arn_is_a_validation_error(emu: Emu, arn: str) -> None:
    code, message, status = error_of(emu.client(ALICE_KEY).assume_role, RoleArn=arn, RoleSessionName="aa")
    assert (code, message, status) == ("ValidationError", f"{arn} is invalid", 400)


@pytest.mark.parametrize("arn", NOT_ARNS)
def test_short_non_arns_are_invalid_also_on_the_wire(emu: Emu, arn: str) -> None:
    # botocore refuses ARNs under 20 characters itself; a raw request reaches the emulator's own check.
    status, _, body = _raw(emu, {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": arn,
                                 "RoleSessionName": "aa", "WebIdentityToken": "token-token"})
    assert status == 400 and f"<Message>{arn} is invalid</Message>".encode() in body


def test_an_iam_users_decoded_message_names_the_user(emu: Emu) -> None:
    with pytest.raises(ClientError) as denied:
        emu.client(ALICE_KEY, service="ec2").run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)
    message = denied.value.response["Error"]["Message"]
    assert "because no identity-based policy allows the ec2:RunInstances action. Encoded authorization" in message
    blob = message.split("Encoded authorization failure message: ", 1)[1]
    doc = json.loads(emu.client(ALICE_KEY).decode_authorization_message(EncodedMessage=blob)["DecodedMessage"])
    assert doc["context"]["principal"] == {
        "id": emu.caller_of({"AccessKeyId": ALICE_KEY[0], "SessionToken": None}).user_id,
        "name": "alice", "arn": f"arn:aws:iam::{A}:user/alice",
    }
    assert doc["context"]["action"] == "ec2:RunInstances" and doc["explicitDeny"] is False


def test_a_well_formed_arn_of_a_missing_role_is_access_denied(emu: Emu) -> None:
    missing = f"arn:aws:iam::{B}:role/Missing"
    code, _, status = error_of(emu.client(ALICE_KEY).assume_role, RoleArn=missing, RoleSessionName="aa")
    assert (code, status) == ("AccessDenied", 403)


def _raw(emu: Emu, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """An unsigned-action request (no credentials needed), raw."""
    data = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(emu.endpoint + "/", data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _body_request_id(body: bytes) -> str:
    root = ElementTree.fromstring(body)
    found = [e.text for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("RequestId", "RequestID", "requestId")]
    assert len(found) == 1, body
    return found[0] or ""


def test_the_request_id_header_equals_the_body(emu: Emu) -> None:
    status, headers, body = _raw(emu, {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert status == 403 and headers["x-amzn-requestid"] == _body_request_id(body)
    status, headers, body = _raw(emu, {"Action": "Nope", "Version": "2011-06-15"})
    assert status == 400 and headers["x-amzn-requestid"] == _body_request_id(body)
    sts = emu.client(ALICE_KEY)
    reply = sts.get_caller_identity()["ResponseMetadata"]
    assert reply["HTTPHeaders"]["x-amzn-requestid"] == reply["RequestId"]
    ec2 = emu.client(ALICE_KEY, service="ec2")
    with pytest.raises(ClientError) as denied:
        ec2.describe_instances()
    meta = denied.value.response["ResponseMetadata"]
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]


def test_ec2_implicit_deny_text(emu: Emu) -> None:
    with pytest.raises(ClientError) as denied:
        emu.client(ALICE_KEY, service="ec2").describe_instances()
    err = denied.value.response["Error"]
    assert err["Code"] == "UnauthorizedOperation"
    assert err["Message"] == (
        f"You are not authorized to perform this operation. User: arn:aws:iam::{A}:user/alice is not authorized "
        "to perform: ec2:DescribeInstances because no identity-based policy allows the ec2:DescribeInstances action"
    )


# ------------------------------------------------------------------------------------------------- time


def _date_of(endpoint: str) -> float:
    """The Date header of any answer (here an InvalidAction error), as epoch seconds."""
    try:
        with urllib.request.urlopen(endpoint + "/?Action=Nope&Version=2011-06-15", timeout=10) as reply:
            date = reply.headers["Date"]
    except urllib.error.HTTPError as exc:
        with exc:
            date = exc.headers["Date"]
    return email.utils.parsedate_to_datetime(date).timestamp()


# These two use the project's own pytest plugin (stsdesk.testing): its clients sign with the real clock.


def test_time_travel_ages_the_world_but_a_correct_client_keeps_working(sts_emulator: StsEmulator) -> None:
    creds = sts_emulator.credentials("alice", role="Admin", mfa=True, DurationSeconds=900)
    sts_emulator.advance(3600)  # far beyond the 15-minute SigV4 window
    assert abs(_date_of(sts_emulator.endpoint) - time.time()) < 120  # the Date header stays real
    assert sts_emulator.client("sts", user="alice").get_caller_identity()["Arn"].endswith(":user/alice")
    # ...while the world has aged: the 15-minute credentials have expired.
    assert error_of(sts_emulator._client("sts", creds).get_caller_identity)[0] == "ExpiredToken"


@pytest.mark.sts_scenario({**default_world().to_dict(), "faults": {"clock_offset_seconds": 7200}})
def test_a_server_with_a_wrong_clock_shifts_its_date_header(
    sts_emulator: StsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert abs(_date_of(sts_emulator.endpoint) - (time.time() + 7200)) < 120
    # A client with a right clock is refused for skew, as real STS refuses a skewed client...
    code, message, _ = error_of(sts_emulator.client("sts", user="alice").get_caller_identity)
    assert code == "SignatureDoesNotMatch" and "Signature expired" in message
    # ...and one that corrects its clock from the Date header (as the JS SDK v3 does) is served.
    skew = _date_of(sts_emulator.endpoint) - time.time()
    shifted = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(seconds=skew)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: shifted)
    assert sts_emulator.client("sts", user="alice").get_caller_identity()["Account"] == "111111111111"
