"""Encoded authorization failure messages: extraction from pasted text, parsing, plain-words rendering."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stsdesk.core.decode import (
    DecodeInputError,
    StatementInfo,
    extract_encoded_message,
    parse_decoded_message,
    render_verdict,
)

BLOB_ALPHABET = string.ascii_letters + string.digits + "-_"
BLOB = "".join(random.Random(7).choice(BLOB_ALPHABET) for _ in range(1180))
ROLE_SESSION = "arn:aws:sts::222222222222:assumed-role/Developer/Ana"
INSTANCE = "arn:aws:ec2:us-east-1:222222222222:instance/*"

CLI_TEXT = (
    "\nAn error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not "
    f"authorized to perform this operation. User: {ROLE_SESSION} is not authorized to perform: "
    f"ec2:RunInstances on resource: {INSTANCE} with an explicit deny in an identity-based policy. "
    f"Encoded authorization failure message: {BLOB}\n"
)


def hard_wrap(text: str, width: int, indent: str = "") -> str:
    """What a terminal that inserts line breaks at the margin puts on the clipboard."""
    lines: list[str] = []
    for line in text.split("\n"):
        chunks = [line[i : i + width] for i in range(0, len(line), width)] or [""]
        lines.append(chunks[0])
        lines += [indent + chunk for chunk in chunks[1:]]
    return "\n".join(lines)


# The example in STS_FACTS.md: an explicit deny.
EXPLICIT = {
    "allowed": False,
    "explicitDeny": True,
    "matchedStatements": {
        "items": [
            {
                "statementId": "DenyRunInstances",
                "effect": "DENY",
                "principals": {"items": [{"value": "AROAEXAMPLEDEVELOPER1"}]},
                "principalGroups": {"items": []},
                "actions": {"items": [{"value": "ec2:RunInstances"}]},
                "resources": {"items": [{"value": "*"}]},
                "conditions": {"items": []},
            }
        ]
    },
    "failures": {"items": []},
    "context": {
        "principal": {"id": "AROAEXAMPLEDEVELOPER1:Ana", "arn": ROLE_SESSION},
        "action": "RunInstances",
        "resource": INSTANCE,
        "conditions": {
            "items": [
                {"key": "ec2:InstanceType", "values": {"items": [{"value": "t2.micro"}]}},
                {"key": "aws:RequestedRegion", "values": {"items": [{"value": "us-east-1"}]}},
                {"key": "ec2:Region", "values": {"items": [{"value": "us-east-1"}]}},
            ]
        },
    },
}


def test_explicit_deny_from_sts_facts() -> None:
    verdict = parse_decoded_message(json.dumps(EXPLICIT))
    assert (verdict.allowed, verdict.explicit_deny) == (False, True)
    assert verdict.principal_arn == ROLE_SESSION
    assert verdict.principal_id == "AROAEXAMPLEDEVELOPER1:Ana"
    assert verdict.action == "RunInstances"
    assert verdict.resource == INSTANCE
    assert verdict.statements == (
        StatementInfo(
            "DenyRunInstances", "DENY", ("AROAEXAMPLEDEVELOPER1",), ("ec2:RunInstances",), ("*",), ()
        ),
    )
    assert verdict.conditions[0] == ("ec2:InstanceType", ("t2.micro",))
    assert verdict.raw == EXPLICIT

    lines = render_verdict(verdict).splitlines()
    assert lines[0] == f"Denied explicitly: {ROLE_SESSION} may not perform ec2:RunInstances on {INSTANCE}."
    assert lines[1] == "  Statement 'DenyRunInstances' (Deny) matched: actions ec2:RunInstances, resources *."
    assert "  Request context:" in lines
    assert "    ec2:InstanceType = t2.micro" in lines
    assert "    aws:RequestedRegion = us-east-1" in lines
    assert "adding an Allow will not help" in lines[-1]


def test_implicit_deny_names_the_role_to_change() -> None:
    message = {
        "allowed": False,
        "explicitDeny": False,
        "matchedStatements": {"items": []},
        "failures": {"items": []},
        "context": {
            "principal": {"id": "AROAEXAMPLEDEVELOPER1:Ana", "arn": ROLE_SESSION},
            "action": "TerminateInstances",
            "resource": "arn:aws:ec2:us-east-1:222222222222:instance/i-0abc",
            "conditions": {
                "items": [{"key": "ec2:ResourceTag/team", "values": {"items": [{"value": "web"}]}}]
            },
        },
    }
    text = render_verdict(parse_decoded_message(json.dumps(message)))
    first, *rest = text.splitlines()
    assert first == (
        f"Denied implicitly: {ROLE_SESSION} may not perform ec2:TerminateInstances on "
        "arn:aws:ec2:us-east-1:222222222222:instance/i-0abc: no statement allows it."
    )
    assert "    ec2:ResourceTag/team = web" in rest
    assert "the role Developer (arn:aws:iam::222222222222:role/Developer)" in rest[-1]
    assert "Statement" not in text


def test_multiple_statements_with_conditions() -> None:
    message = json.loads(json.dumps(EXPLICIT))
    message["matchedStatements"]["items"].append(
        {
            "statementId": "",
            "effect": "DENY",
            "actions": {"items": [{"value": "ec2:Run*"}, {"value": "ec2:StartInstances"}]},
            "resources": {"items": [{"value": "arn:aws:ec2:*:*:instance/*"}]},
            "conditions": {
                "items": [
                    {
                        "key": "ec2:InstanceType",
                        "values": {"items": [{"value": "t2.micro"}, {"value": "t3.*"}]},
                    }
                ]
            },
        }
    )
    verdict = parse_decoded_message(json.dumps(message))
    assert len(verdict.statements) == 2
    lines = render_verdict(verdict).splitlines()
    assert lines[2] == (
        "  A statement without an Sid (Deny) matched: actions ec2:Run*, ec2:StartInstances, resources "
        "arn:aws:ec2:*:*:instance/*; conditions ec2:InstanceType = t2.micro, t3.*."
    )


def test_service_prefix_comes_from_a_wildcard_statement_when_the_resource_has_none() -> None:
    message = {
        "allowed": "false",
        "explicitDeny": "true",
        "matchedStatements": {"items": [{"statementId": "NoS3", "effect": "DENY", "actions": ["s3:Put*"]}]},
        "context": {"action": "PutObject", "resource": "*"},
    }
    verdict = parse_decoded_message(json.dumps(message))
    assert verdict.explicit_deny is True
    assert render_verdict(verdict).splitlines()[0] == (
        "Denied explicitly: the caller may not perform s3:PutObject on *."
    )


def test_bare_action_stays_bare_without_any_hint() -> None:
    message = {"allowed": False, "explicitDeny": False, "context": {"action": "RunInstances"}}
    text = render_verdict(parse_decoded_message(json.dumps(message)))
    assert (
        text.splitlines()[0]
        == "Denied implicitly: the caller may not perform RunInstances: no statement allows it."
    )
    assert "the caller's identity" in text


def test_documented_shape_with_string_booleans_and_item_wrappers() -> None:
    # The shape of the example in the STS API reference / boto3 docs.
    message = {
        "allowed": "false",
        "explicitDeny": "false",
        "matchedStatements": "",
        "failures": "",
        "context": {
            "principal": {
                "id": "AIDACKCEVSQ6C2EXAMPLE",
                "name": "Bob",
                "arn": "arn:aws:iam::123456789012:user/Bob",
            },
            "action": "ec2:StopInstances",
            "resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-dd01c9bd",
            "conditions": [
                {"item": {"key": "ec2:Tenancy", "values": ["default"]}},
                {
                    "item": {
                        "key": "ec2:ResourceTag/elasticbeanstalk:environment-name",
                        "values": ["Default-Environment"],
                    }
                },
            ],
        },
    }
    verdict = parse_decoded_message(json.dumps(message))
    assert (verdict.allowed, verdict.explicit_deny, verdict.statements) == (False, False, ())
    assert verdict.conditions == (
        ("ec2:Tenancy", ("default",)),
        ("ec2:ResourceTag/elasticbeanstalk:environment-name", ("Default-Environment",)),
    )
    text = render_verdict(verdict)
    assert text.startswith(
        "Denied implicitly: arn:aws:iam::123456789012:user/Bob may not perform ec2:StopInstances"
    )
    assert "a policy of the user Bob" in text


def test_aws_cli_output_wrapper_and_allowed() -> None:
    inner = json.dumps(
        {"allowed": True, "explicitDeny": False, "context": {"action": "sts:GetCallerIdentity"}}
    )
    verdict = parse_decoded_message(json.dumps({"DecodedMessage": inner}))
    assert verdict.allowed is True
    assert render_verdict(verdict) == "Allowed: the caller may perform sts:GetCallerIdentity."


@pytest.mark.parametrize("bad", ["", "not json", "<ErrorResponse/>", "[1, 2]", '"text"', "[" * 100000])
def test_parse_rejects_non_objects(bad: str) -> None:
    with pytest.raises(DecodeInputError, match="decoded authorization message is not"):
        parse_decoded_message(bad)


def test_parse_tolerates_missing_parts() -> None:
    verdict = parse_decoded_message('{"context": "oops", "matchedStatements": {"items": [3, null]}}')
    assert (verdict.allowed, verdict.explicit_deny, verdict.statements) == (False, False, ())
    assert (verdict.principal_arn, verdict.principal_id, verdict.action, verdict.resource) == (None,) * 4
    assert render_verdict(verdict).startswith(
        "Denied implicitly: the caller may not perform the requested action"
    )


def test_extract_from_cli_text() -> None:
    assert extract_encoded_message(CLI_TEXT) == BLOB


@pytest.mark.parametrize(("width", "indent"), [(80, ""), (57, ""), (120, "    "), (33, "\t")])
def test_extract_from_hard_wrapped_cli_text(width: int, indent: str) -> None:
    assert extract_encoded_message(hard_wrap(CLI_TEXT, width, indent)) == BLOB


def test_extract_stops_before_following_lines() -> None:
    terraform = hard_wrap(
        "Error: creating EC2 Instance: UnauthorizedOperation: You are not authorized to perform this. "
        f"Encoded authorization failure message: {BLOB}",
        100,
    )
    text = terraform + "\n\tstatus code: 403, request id: 0f3c1a2b-aaaa-bbbb-cccc-1234567890ab\n"
    assert extract_encoded_message(text) == BLOB
    java = hard_wrap(
        f"... Encoded authorization failure message: {BLOB} (Service: AmazonEC2; Status Code: 403; "
        "Error Code: UnauthorizedOperation)",
        90,
    )
    assert extract_encoded_message(java) == BLOB
    assert extract_encoded_message(f"{CLI_TEXT}\nuser@host:~$ ls\n") == BLOB


def test_extract_from_sdk_exception_and_json_error() -> None:
    boto = (
        "botocore.exceptions.ClientError: An error occurred (UnauthorizedOperation) when calling the "
        f"RunInstances operation: You are not authorized to perform this operation. Encoded authorization "
        f"failure message: {BLOB}."
    )
    assert extract_encoded_message(boto) == BLOB
    error = {
        "Error": {
            "Code": "UnauthorizedOperation",
            "Message": f"Denied.\nEncoded authorization failure message: {BLOB}",
        }
    }
    assert extract_encoded_message(json.dumps(error, indent=2)) == BLOB
    assert extract_encoded_message(json.dumps(error)) == BLOB


@pytest.mark.parametrize(
    "text",
    [BLOB, f"  '{BLOB}'.\n", f'"{BLOB}"', hard_wrap(BLOB, 64, "   "), f"`{BLOB}`"],
)
def test_extract_bare_blob(text: str) -> None:
    assert extract_encoded_message(text) == BLOB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no encoded authorization failure message found"),
        ("hello world", "no encoded authorization failure message found"),
        ("AKIAIOSFODNN7EXAMPLE", "no encoded authorization failure message found"),
        ("An error occurred (AccessDenied) when calling the AssumeRole operation", "no encoded"),
        ("Encoded authorization failure message: ", "no message after it"),
        ("Encoded authorization failure message: ...", "no message after it"),
        ("Encoded authorization failure message: " + "A" * 10241, "longer than the 10240"),
        ("[" * 100000, "no encoded"),
        ('{"Error": {"Message": "nope"}}', "no encoded"),
    ],
)
def test_extract_junk(text: str, expected: str) -> None:
    with pytest.raises(DecodeInputError, match=expected) as info:
        extract_encoded_message(text)
    assert "\n" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_extract_never_raises_anything_else(text: str) -> None:
    try:
        blob = extract_encoded_message(text)
    except DecodeInputError:
        return
    assert blob and set(blob) <= set(BLOB_ALPHABET + "+/=")


@settings(max_examples=100, deadline=None)
@given(
    blob=st.text(st.sampled_from(BLOB_ALPHABET + "+/="), min_size=1, max_size=3000),
    width=st.integers(min_value=20, max_value=200),
    indent=st.sampled_from(["", "  ", "\t"]),
)
def test_extract_recovers_any_wrapped_blob(blob: str, width: int, indent: str) -> None:
    text = f"An error occurred (UnauthorizedOperation): Encoded authorization failure message: {blob}\n"
    assert extract_encoded_message(hard_wrap(text, width, indent)) == blob


def test_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, stsdesk.core.decode; "
        "print(sorted(m for m in ('boto3', 'botocore', 'urllib.request', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True, timeout=20)
    assert out.stdout.strip() == "[]"
