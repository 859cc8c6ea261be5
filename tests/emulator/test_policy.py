"""IAM policy parsing and evaluation, including the IAM user guide's documented examples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stsdesk.emulator.conditions import ContextValue
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import (
    Decision,
    MatchedStatement,
    Principal,
    TrustVerdict,
    evaluate,
    evaluate_trust,
    intersect,
    parse_policy,
)

ROLE = "arn:aws:iam::222222222222:role/Developer"
ALICE = "arn:aws:iam::111111111111:user/alice"


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document = {"Version": version, **document}
    return json.dumps(document)


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def allowed(
    statement: dict[str, Any],
    action: str = "ec2:RunInstances",
    resource: str = "*",
    context: dict[str, ContextValue] | None = None,
) -> bool:
    return evaluate([parse_policy(doc(statement))], action, resource, context or {}).allowed


def user(arn: str = ALICE, account: str = "111111111111") -> Principal:
    return Principal("AWS", frozenset({arn}), account)


def session(role: str = ROLE, name: str = "Ana") -> Principal:
    account = role.split(":")[4]
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[1]}/{name}"
    return Principal("AWS", frozenset({session_arn, role}), account)


# ------------------------------------------------------------------------------------------- parsing


def test_parse_accepts_every_documented_shape() -> None:
    single = parse_policy(
        json.dumps(
            {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}
        )
    )
    listed = parse_policy(
        {
            "Version": "2012-10-17",
            "Id": "x",
            "Statement": [
                {
                    "Sid": "One",
                    "Effect": "Deny",
                    "NotAction": ["iam:*", "sts:*"],
                    "NotResource": ["*"],
                    "Condition": {
                        "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                        "Bool": {"aws:SecureTransport": True},
                    },
                },
            ],
        }
    )
    assert single.statements[0].action == ("s3:GetObject",)
    assert single.statements[0].resource == ("arn:aws:s3:::b/*",)
    stmt = listed.statements[0]
    assert (stmt.sid, stmt.effect, stmt.not_action, stmt.not_resource) == (
        "One",
        "Deny",
        ("iam:*", "sts:*"),
        ("*",),
    )
    assert [(c.operator, c.key, c.values) for c in stmt.conditions] == [
        ("NumericLessThan", "aws:MultiFactorAuthAge", ("3600",)),
        ("Bool", "aws:SecureTransport", ("true",)),
    ]


def test_to_json_is_compact_and_reparses_to_the_same_policy() -> None:
    text = doc(allow("sts:AssumeRole", ROLE, Condition={"StringEquals": {"sts:ExternalId": "x"}}))
    policy = parse_policy(text)
    compact = policy.to_json()
    assert " " not in compact and json.loads(compact) == json.loads(text)
    assert parse_policy(compact).statements == policy.statements
    assert parse_policy(json.loads(text)).to_json() == compact


MALFORMED = [
    ("not json", "{nope", "Syntax errors in policy."),
    ("not an object", "[1, 2]", "Syntax errors in policy."),
    ("no Statement", json.dumps({"Version": "2012-10-17"}), "Syntax errors in policy."),
    ("empty Statement", doc(), "Syntax errors in policy."),
    ("unknown top-level element", json.dumps({"Statement": [allow()], "Foo": 1}), "Syntax errors in policy."),
    ("bad Version", doc(allow(), version="2020-01-01"), "Syntax errors in policy."),
    (
        "lower-case effect",
        doc({"Effect": "allow", "Action": "*", "Resource": "*"}),
        "Syntax errors in policy.",
    ),
    ("no effect", doc({"Action": "*", "Resource": "*"}), "Syntax errors in policy."),
    ("Action and NotAction", doc(allow(NotAction="iam:*")), "Syntax errors in policy."),
    ("Resource and NotResource", doc(allow(NotResource="*")), "Syntax errors in policy."),
    (
        "Principal and NotPrincipal",
        doc(allow(Principal="*", NotPrincipal={"AWS": "*"})),
        "Syntax errors in policy.",
    ),
    ("no action", doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
    ("unknown element", doc(allow(Actions="s3:*")), "Syntax errors in policy."),
    (
        "action without vendor",
        doc(allow("GetObject")),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    ("action with two colons", doc(allow("s3:Get:Object")), "Actions/Condition can contain only one colon."),
    ("action not a string", doc(allow(["s3:*", 5])), "Syntax errors in policy."),
    ("resource not an ARN", doc(allow("s3:*", "bucket")), 'Resource bucket must be in ARN format or "*".'),
    ("principal string other than *", doc(allow(Principal="alice")), "Syntax errors in policy."),
    ("unknown principal type", doc(allow(Principal={"User": "x"})), "Syntax errors in policy."),
    (
        "unknown operator",
        doc(allow(Condition={"StringEqualz": {"aws:username": "a"}})),
        "Syntax errors in policy.",
    ),
    (
        "unknown set operator",
        doc(allow(Condition={"ForSomeValues:StringLike": {"aws:TagKeys": "a"}})),
        "Syntax errors in policy.",
    ),
    (
        "numeric value not a number",
        doc(allow(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "soon"}})),
        "Syntax errors in policy.",
    ),
    (
        "date value not a date",
        doc(allow(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}})),
        "Syntax errors in policy.",
    ),
    (
        "bad CIDR",
        doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})),
        "Syntax errors in policy.",
    ),
    ("bad base64", doc(allow(Condition={"BinaryEquals": {"k:b": "***"}})), "Syntax errors in policy."),
    (
        "Null with a non-boolean",
        doc(allow(Condition={"Null": {"aws:TokenIssueTime": "maybe"}})),
        "Syntax errors in policy.",
    ),
    (
        "NullIfExists",
        doc(allow(Condition={"NullIfExists": {"aws:TokenIssueTime": "true"}})),
        "Syntax errors in policy.",
    ),
    (
        "condition block not an object",
        doc(allow(Condition={"StringEquals": "x"})),
        "Syntax errors in policy.",
    ),
    (
        "condition value an object",
        doc(allow(Condition={"StringEquals": {"k:k": {"a": 1}}})),
        "Syntax errors in policy.",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_documents_are_refused_as_iam_does(text: str, message: str) -> None:
    with pytest.raises(EmulatorError) as raised:
        parse_policy(text)
    assert raised.value.code == "MalformedPolicyDocument"
    assert raised.value.message == message
    assert raised.value.status == 400


# ------------------------------------------------------------------------------ actions and resources

ACTIONS = [
    ("sts:AssumeRole", "sts:AssumeRole", True),
    ("sts:AssumeRole", "STS:assumerole", True),  # actions are case-insensitive
    ("sts:Assume*", "sts:AssumeRoleWithSAML", True),
    ("sts:Assume*", "sts:GetSessionToken", False),
    ("ec2:*", "ec2:RunInstances", True),
    ("ec2:*", "iam:ListUsers", False),
    ("*", "anything:AtAll", True),
    ("ec2:Describe?nstances", "ec2:DescribeInstances", True),
    ("ec2:Describe?nstances", "ec2:DescribeXXInstances", False),
    ("s3:Get*Acl", "s3:GetObjectAcl", True),
    ("s3:Get*Acl", "s3:GetObjectTagging", False),
]


@pytest.mark.parametrize(("pattern", "action", "expected"), ACTIONS)
def test_action_matching(pattern: str, action: str, expected: bool) -> None:
    assert allowed(allow(pattern), action=action) is expected


RESOURCES = [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.txt", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/a", False),  # resources are case-sensitive
    ("arn:aws:iam::*:role/Dev?", "arn:aws:iam::222222222222:role/Dev1", True),
    ("arn:aws:iam::*:role/Dev?", "arn:aws:iam::222222222222:role/Dev12", False),
    ("arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:us-east-1:1:instance/i-1", True),
    ("*", "arn:aws:anything", True),
    ("arn:aws:s3:::b.c", "arn:aws:s3:::bxc", False),  # regex metacharacters are literal
]


@pytest.mark.parametrize(("pattern", "resource", "expected"), RESOURCES)
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    assert allowed(allow("s3:*", pattern), action="s3:GetObject", resource=resource) is expected


def test_statement_without_resource_matches_any_resource() -> None:
    assert allowed({"Effect": "Allow", "Action": "sts:AssumeRole"}, action="sts:AssumeRole", resource=ROLE)


def test_not_action_and_not_resource() -> None:
    stmt = {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"}
    assert allowed(stmt, action="s3:GetObject", resource="arn:aws:s3:::public/x")
    assert not allowed(stmt, action="IAM:CreateUser", resource="arn:aws:s3:::public/x")
    assert not allowed(stmt, action="s3:GetObject", resource="arn:aws:s3:::secret/x")


# ------------------------------------------------------------------------------------ policy variables

VARIABLES: list[tuple[str, dict[str, ContextValue], str, bool]] = [
    ("arn:aws:iam::1:user/${aws:username}", {"aws:username": "alice"}, "arn:aws:iam::1:user/alice", True),
    ("arn:aws:iam::1:user/${aws:username}", {"aws:username": "alice"}, "arn:aws:iam::1:user/bob", False),
    ("arn:aws:iam::1:user/${aws:username}", {}, "arn:aws:iam::1:user/alice", False),  # missing: no match
    ("arn:aws:iam::1:user/${AWS:UserName}", {"aws:username": "alice"}, "arn:aws:iam::1:user/alice", True),
    ("arn:aws:iam::1:user/${aws:username, 'guest'}", {}, "arn:aws:iam::1:user/guest", True),
    (
        "arn:aws:iam::1:user/${aws:username}",
        {"aws:username": "*"},
        "arn:aws:iam::1:user/bob",
        False,
    ),  # literal
    ("arn:aws:iam::1:user/${aws:username}", {"aws:username": "*"}, "arn:aws:iam::1:user/*", True),
    ("arn:aws:s3:::b/${*}/x", {}, "arn:aws:s3:::b/*/x", True),
    ("arn:aws:s3:::b/${*}/x", {}, "arn:aws:s3:::b/any/x", False),
    ("arn:aws:s3:::b/${aws:username}/*", {"aws:username": "al"}, "arn:aws:s3:::b/al/deep/key", True),
]


@pytest.mark.parametrize(("pattern", "context", "resource", "expected"), VARIABLES)
def test_policy_variables_in_resources(
    pattern: str, context: dict[str, ContextValue], resource: str, expected: bool
) -> None:
    assert (
        allowed(allow("iam:*", pattern), action="iam:GetUser", resource=resource, context=context) is expected
    )


def test_variables_are_literal_text_before_version_2012() -> None:
    stmt = allow("iam:*", "arn:aws:iam::1:user/${aws:username}")
    policy = parse_policy(doc(stmt, version="2008-10-17"))
    ctx: dict[str, ContextValue] = {"aws:username": "alice"}
    assert not evaluate([policy], "iam:GetUser", "arn:aws:iam::1:user/alice", ctx).allowed
    assert evaluate([policy], "iam:GetUser", "arn:aws:iam::1:user/${aws:username}", ctx).allowed


def test_unresolved_variable_in_not_resource_or_condition_makes_the_statement_not_match() -> None:
    not_resource = {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}
    decision = evaluate([parse_policy(doc(not_resource, allow()))], "s3:GetObject", "arn:aws:s3:::x", {})
    assert decision.allowed and not decision.explicit_deny
    cond = allow(Condition={"StringNotEquals": {"aws:PrincipalTag/team": "${aws:username}"}})
    assert not allowed(cond, context={"aws:PrincipalTag/team": "a"})
    assert allowed(cond, context={"aws:PrincipalTag/team": "a", "aws:username": "b"})


# ------------------------------------------------------------------------------------------ conditions

T, F = "true", "false"
CONDITIONS: list[tuple[str, str, Any, dict[str, ContextValue], bool]] = [
    # String operators: values case-sensitive, several values OR-ed.
    ("StringEquals", "aws:username", "alice", {"aws:username": "alice"}, True),
    ("StringEquals", "aws:username", "alice", {"aws:username": "Alice"}, False),
    ("StringEquals", "aws:username", ["bob", "alice"], {"aws:username": "alice"}, True),
    ("StringEquals", "AWS:UserName", "alice", {"aws:username": "alice"}, True),  # keys case-insensitive
    ("StringEquals", "aws:username", "alice", {"AWS:USERNAME": "alice"}, True),
    ("StringEquals", "aws:username", "alice", {}, False),  # missing key: false
    ("StringEquals", "aws:username", "al*", {"aws:username": "alice"}, False),  # no wildcards in Equals
    ("StringNotEquals", "aws:username", "alice", {"aws:username": "bob"}, True),
    ("StringNotEquals", "aws:username", "alice", {"aws:username": "alice"}, False),
    ("StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "bob"}, False),  # NOR
    ("StringNotEquals", "aws:username", ["alice", "bob"], {"aws:username": "carol"}, True),
    ("StringNotEquals", "aws:username", "alice", {}, True),  # negated operator, missing key: true
    ("StringEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "alice"}, True),
    ("StringEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "alicia"}, False),
    ("StringNotEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "alice"}, False),
    ("StringNotEqualsIgnoreCase", "aws:username", "ALICE", {"aws:username": "bob"}, True),
    ("StringLike", "s3:prefix", "home/*", {"s3:prefix": "home/alice/x"}, True),
    ("StringLike", "s3:prefix", "home/?", {"s3:prefix": "home/ab"}, False),
    ("StringLike", "s3:prefix", "Home/*", {"s3:prefix": "home/a"}, False),
    ("StringLike", "s3:prefix", ["", "home/*"], {"s3:prefix": ""}, True),
    ("StringNotLike", "s3:prefix", "home/*", {"s3:prefix": "etc/passwd"}, True),
    ("StringNotLike", "s3:prefix", "home/*", {"s3:prefix": "home/x"}, False),
    ("StringNotLike", "s3:prefix", "home/*", {}, True),
    ("StringEqualsIfExists", "ec2:InstanceType", "t2.micro", {}, True),
    ("StringEqualsIfExists", "ec2:InstanceType", "t2.micro", {"ec2:InstanceType": "m5.large"}, False),
    ("StringEqualsIfExists", "ec2:InstanceType", "t2.micro", {"ec2:InstanceType": "t2.micro"}, True),
    (
        "StringLike",
        "aws:username",
        "${aws:PrincipalTag/owner}-*",
        {"aws:username": "ana-1", "aws:principaltag/owner": "ana"},
        True,
    ),
    # Numeric
    ("NumericLessThan", "aws:MultiFactorAuthAge", "3600", {"aws:MultiFactorAuthAge": "120"}, True),
    ("NumericLessThan", "aws:MultiFactorAuthAge", "3600", {"aws:MultiFactorAuthAge": "3600"}, False),
    ("NumericLessThanEquals", "aws:MultiFactorAuthAge", "3600", {"aws:MultiFactorAuthAge": "3600"}, True),
    ("NumericGreaterThan", "k:n", "10", {"k:n": "10.5"}, True),
    ("NumericGreaterThanEquals", "k:n", "10", {"k:n": "9"}, False),
    ("NumericEquals", "k:n", "10", {"k:n": "10.0"}, True),
    ("NumericEquals", "k:n", "10", {"k:n": "ten"}, False),  # unparseable request value: no match
    ("NumericNotEquals", "k:n", ["1", "2"], {"k:n": "3"}, True),
    ("NumericNotEquals", "k:n", ["1", "2"], {"k:n": "2"}, False),
    ("NumericNotEquals", "k:n", "1", {}, True),
    ("NumericLessThan", "k:n", "10", {}, False),
    ("NumericLessThanIfExists", "k:n", "10", {}, True),
    # Date: ISO-8601 and epoch seconds on either side
    (
        "DateLessThan",
        "aws:CurrentTime",
        "2030-01-01T00:00:00Z",
        {"aws:CurrentTime": "2026-05-01T12:00:00Z"},
        True,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2026-05-01T12:00:00Z"},
        False,
    ),
    ("DateGreaterThan", "aws:CurrentTime", "2020-01-01", {"aws:CurrentTime": "2026-05-01T12:00:00Z"}, True),
    ("DateEquals", "aws:EpochTime", "1970-01-01T00:01:40Z", {"aws:EpochTime": "100"}, True),
    (
        "DateLessThanEquals",
        "aws:CurrentTime",
        "1767225600",
        {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        True,
    ),
    (
        "DateGreaterThanEquals",
        "aws:CurrentTime",
        "2026-01-01T01:00:00+01:00",
        {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        True,
    ),
    (
        "DateNotEquals",
        "aws:CurrentTime",
        "2026-01-01T00:00:00Z",
        {"aws:CurrentTime": "2026-01-01T00:00:01Z"},
        True,
    ),
    ("DateNotEquals", "aws:CurrentTime", "2026-01-01T00:00:00Z", {}, True),
    ("DateGreaterThan", "aws:CurrentTime", "2020-01-01", {"aws:CurrentTime": "not a date"}, False),
    # Bool
    ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "true"}, True),
    ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "false"}, False),
    ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": "TRUE"}, True),
    ("Bool", "aws:SecureTransport", "true", {}, False),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", {}, True),
    # Binary: base64 values compared as bytes
    ("BinaryEquals", "k:bin", "QmluYXJ5VmFsdWU=", {"k:bin": "QmluYXJ5VmFsdWU="}, True),
    ("BinaryEquals", "k:bin", "QmluYXJ5VmFsdWU=", {"k:bin": "T3RoZXI="}, False),
    # IP addresses
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.7"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, False),
    ("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "2001:db8::/32"], {"aws:SourceIp": "2001:db8::5"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.9", {"aws:SourceIp": "203.0.113.9"}, True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "::1"}, False),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "garbage"}, False),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, True),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.1"}, False),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {}, True),
    # ARN operators: case-sensitive, wildcards stay inside one of the first five components
    ("ArnEquals", "aws:PrincipalArn", ROLE, {"aws:PrincipalArn": ROLE}, True),
    ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/Dev*", {"aws:PrincipalArn": ROLE}, True),
    ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/dev*", {"aws:PrincipalArn": ROLE}, False),
    (
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:*:us-east-1:1:x",
        {"aws:SourceArn": "arn:aws:s3:x:us-east-1:1:x"},
        False,
    ),
    ("ArnLike", "aws:SourceArn", "arn:aws:s3:::b/*", {"aws:SourceArn": "arn:aws:s3:::b/a:b/c"}, True),
    ("ArnLike", "aws:SourceArn", "*", {"aws:SourceArn": "arn:aws:s3:::b"}, True),
    ("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/Admin*", {"aws:PrincipalArn": ROLE}, True),
    ("ArnNotEquals", "aws:PrincipalArn", ROLE, {"aws:PrincipalArn": ROLE}, False),
    ("ArnNotEquals", "aws:PrincipalArn", ROLE, {}, True),
    # Null
    ("Null", "aws:TokenIssueTime", "true", {}, True),
    ("Null", "aws:TokenIssueTime", "true", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, False),
    ("Null", "aws:TokenIssueTime", "false", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}, True),
    ("Null", "aws:TagKeys", "true", {"aws:TagKeys": []}, True),
    # Set operators on multi-valued keys
    ("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"], {"aws:TagKeys": ["env"]}, True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"], {"aws:TagKeys": ["env", "cost"]}, False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"], {}, True),  # absent key: true
    ("ForAllValues:StringEquals", "aws:TagKeys", ["env"], {"aws:TagKeys": []}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["env", "team"], {"aws:TagKeys": ["cost", "team"]}, True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["env", "team"], {"aws:TagKeys": ["cost"]}, False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["env"], {}, False),  # absent key: false
    ("ForAnyValue:StringEqualsIfExists", "aws:TagKeys", ["env"], {}, False),
    ("ForAnyValue:StringLike", "aws:TagKeys", "key1*", {"aws:TagKeys": "key1:hr"}, True),  # scalar = 1 value
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "env", {"aws:TagKeys": ["env", "team"]}, True),
    ("ForAnyValue:StringNotEquals", "aws:TagKeys", "env", {"aws:TagKeys": ["env"]}, False),
    ("forallvalues:stringlike", "aws:TagKeys", "key1*", {"aws:TagKeys": ["key1:a", "key1:b"]}, True),
    (
        "StringEquals",
        "aws:PrincipalOrgPaths",
        "o-1/r-1/",
        {"aws:PrincipalOrgPaths": ["o-1/r-1/", "o-2/"]},
        True,
    ),
    (
        "StringNotEquals",
        "aws:PrincipalOrgPaths",
        "o-1/r-1/",
        {"aws:PrincipalOrgPaths": ["o-1/r-1/", "o-2/"]},
        False,
    ),
]


@pytest.mark.parametrize(("operator", "key", "values", "context", "expected"), CONDITIONS)
def test_condition_operators(
    operator: str, key: str, values: Any, context: dict[str, ContextValue], expected: bool
) -> None:
    assert allowed(allow(Condition={operator: {key: values}}), context=context) is expected


def test_several_keys_and_operators_are_and_ed() -> None:
    stmt = allow(
        Condition={
            "StringEquals": {"aws:username": "alice", "aws:RequestedRegion": "eu-west-1"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    )
    full: dict[str, ContextValue] = {
        "aws:username": "alice",
        "aws:RequestedRegion": "eu-west-1",
        "aws:SecureTransport": "true",
    }
    assert allowed(stmt, context=full)
    for key in full:
        assert not allowed(stmt, context={k: v for k, v in full.items() if k != key}), key


# The IAM user guide's ForAllValues deny example: a match means the request is denied.
TAG_DENY = deny(
    ["iam:Tag*", "iam:UnTag*"], Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
)


@pytest.mark.parametrize(
    ("tag_keys", "denied"),
    [
        (["key1:legal"], False),
        (["key1:hr", "key1:personnel"], False),
        (["key2:audit"], True),
        (None, True),
    ],
)
def test_user_guide_for_all_values_string_not_like_deny(tag_keys: list[str] | None, denied: bool) -> None:
    ctx: dict[str, ContextValue] = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
    decision = evaluate([parse_policy(doc(TAG_DENY, allow("iam:*")))], "iam:TagUser", "*", ctx)
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied


# ------------------------------------------------------------------------------------------ evaluation


def test_explicit_deny_wins_and_reports_the_deny_statements() -> None:
    identity = parse_policy(
        doc(
            allow("ec2:*", Sid="All"),
            deny(
                "ec2:RunInstances",
                Sid="NoRun",
                Condition={"StringNotEquals": {"ec2:InstanceType": "t2.micro"}},
            ),
        )
    )
    ctx: dict[str, ContextValue] = {"ec2:InstanceType": "m5.large"}
    decision = evaluate([identity], "ec2:RunInstances", "arn:aws:ec2:us-east-1:1:instance/*", ctx)
    assert decision == Decision(
        allowed=False,
        explicit_deny=True,
        matched=(
            MatchedStatement(
                sid="NoRun",
                effect="DENY",
                principals=(),
                actions=("ec2:RunInstances",),
                resources=("*",),
                conditions=(("StringNotEquals", "ec2:InstanceType", ("t2.micro",)),),
            ),
        ),
    )
    small = evaluate([identity], "ec2:RunInstances", "*", {"ec2:InstanceType": "t2.micro"})
    assert small.allowed and [m.sid for m in small.matched] == ["All"] and small.matched[0].effect == "ALLOW"


def test_implicit_deny_and_allows_across_several_policies() -> None:
    first, second = parse_policy(doc(allow("s3:*", Sid="S3"))), parse_policy(doc(allow("s3:Get*", Sid="Get")))
    assert evaluate([first, second], "ec2:RunInstances", "*", {}) == Decision(False, False, ())
    assert [m.sid for m in evaluate([first, second], "s3:GetObject", "*", {}).matched] == ["S3", "Get"]
    assert evaluate([], "s3:GetObject", "*", {}) == Decision(False, False, ())


def test_identity_policies_ignore_the_principal_element() -> None:
    policy = parse_policy(doc(allow("s3:*", Principal={"AWS": "arn:aws:iam::9:user/x"})))
    assert evaluate([policy], "s3:GetObject", "*", {}).allowed


# The IAM user guide: deny everything but managing one's own MFA unless signed in with MFA.
MFA_REQUIRED = parse_policy(
    doc(
        allow("*"),
        {
            "Sid": "BlockMostAccessUnlessSignedInWithMFA",
            "Effect": "Deny",
            "NotAction": [
                "iam:CreateVirtualMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ListUsers",
                "iam:ListVirtualMFADevices",
                "iam:ResyncMFADevice",
                "sts:GetSessionToken",
            ],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    )
)


@pytest.mark.parametrize(
    ("action", "context", "allowed_"),
    [
        ("ec2:RunInstances", {}, False),  # long-term keys: the key is absent
        ("ec2:RunInstances", {"aws:MultiFactorAuthPresent": "false"}, False),
        ("ec2:RunInstances", {"aws:MultiFactorAuthPresent": "true"}, True),
        ("sts:GetSessionToken", {}, True),  # excepted by NotAction
        ("iam:enablemfadevice", {}, True),
    ],
)
def test_user_guide_mfa_required_deny(action: str, context: dict[str, ContextValue], allowed_: bool) -> None:
    decision = evaluate([MFA_REQUIRED], action, "*", context)
    assert decision.allowed is allowed_
    assert decision.explicit_deny is not allowed_


def test_user_guide_source_ip_deny() -> None:
    policy = parse_policy(
        doc(
            allow(),
            deny(
                Condition={
                    "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                    "Bool": {"aws:ViaAWSService": "false"},
                }
            ),
        )
    )
    outside: dict[str, ContextValue] = {"aws:SourceIp": "198.51.100.4", "aws:ViaAWSService": "false"}
    assert evaluate([policy], "s3:ListBucket", "*", outside).explicit_deny
    assert evaluate([policy], "s3:ListBucket", "*", {**outside, "aws:SourceIp": "203.0.113.77"}).allowed
    assert evaluate([policy], "s3:ListBucket", "*", {**outside, "aws:ViaAWSService": "true"}).allowed


def test_user_guide_time_window() -> None:
    stmt = allow(
        Condition={
            "DateGreaterThan": {"aws:CurrentTime": "2026-04-01T00:00:00Z"},
            "DateLessThan": {"aws:CurrentTime": "2026-06-30T23:59:59Z"},
        }
    )
    assert allowed(stmt, context={"aws:CurrentTime": "2026-05-15T10:00:00Z"})
    assert not allowed(stmt, context={"aws:CurrentTime": "2026-07-01T00:00:00Z"})
    assert not allowed(stmt)


# ------------------------------------------------------------------------------------------------ trust


def trust(*statements: dict[str, Any]) -> Any:
    return parse_policy(doc(*statements))


def assume(principal_: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal_, "Action": "sts:AssumeRole", **extra}


TRUST_CASES: list[tuple[str, Any, Principal, TrustVerdict]] = [
    ("user ARN", {"AWS": ALICE}, user(), TrustVerdict.ALLOWED_DIRECT),
    ("user ARN in a list", {"AWS": ["arn:aws:iam::1:user/x", ALICE]}, user(), TrustVerdict.ALLOWED_DIRECT),
    ("other user", {"AWS": "arn:aws:iam::111111111111:user/bob"}, user(), TrustVerdict.NOT_ALLOWED),
    ("account root", {"AWS": "arn:aws:iam::111111111111:root"}, user(), TrustVerdict.ALLOWED_VIA_ACCOUNT),
    ("bare account id", {"AWS": "111111111111"}, user(), TrustVerdict.ALLOWED_VIA_ACCOUNT),
    ("other account", {"AWS": "arn:aws:iam::999999999999:root"}, user(), TrustVerdict.NOT_ALLOWED),
    ("account of a session", {"AWS": "222222222222"}, session(), TrustVerdict.ALLOWED_VIA_ACCOUNT),
    ("role ARN admits its sessions", {"AWS": ROLE}, session(), TrustVerdict.ALLOWED_DIRECT),
    (
        "session ARN",
        {"AWS": "arn:aws:sts::222222222222:assumed-role/Developer/Ana"},
        session(),
        TrustVerdict.ALLOWED_DIRECT,
    ),
    (
        "other session of the role",
        {"AWS": "arn:aws:sts::222222222222:assumed-role/Developer/Bo"},
        session(),
        TrustVerdict.NOT_ALLOWED,
    ),
    ("wildcard", "*", user(), TrustVerdict.ALLOWED_DIRECT),
    ("AWS wildcard", {"AWS": "*"}, user(), TrustVerdict.ALLOWED_DIRECT),
    (
        "service",
        {"Service": "ec2.amazonaws.com"},
        Principal("Service", frozenset({"ec2.amazonaws.com"}), None),
        TrustVerdict.ALLOWED_DIRECT,
    ),
    (
        "other service",
        {"Service": "lambda.amazonaws.com"},
        Principal("Service", frozenset({"ec2.amazonaws.com"}), None),
        TrustVerdict.NOT_ALLOWED,
    ),
    (
        "service name is not an AWS principal",
        {"AWS": "ec2.amazonaws.com"},
        Principal("Service", frozenset({"ec2.amazonaws.com"}), None),
        TrustVerdict.NOT_ALLOWED,
    ),
]


@pytest.mark.parametrize(
    ("principal_", "caller", "verdict"), [c[1:] for c in TRUST_CASES], ids=[c[0] for c in TRUST_CASES]
)
def test_trust_principals(principal_: Any, caller: Principal, verdict: TrustVerdict) -> None:
    result, decision = evaluate_trust(trust(assume(principal_)), caller, "sts:AssumeRole", ROLE, {})
    assert result is verdict
    assert decision.allowed is (verdict in (TrustVerdict.ALLOWED_DIRECT, TrustVerdict.ALLOWED_VIA_ACCOUNT))


def test_trust_naming_caller_and_account_is_direct_and_action_must_match() -> None:
    policy = trust(assume({"AWS": "111111111111"}), assume({"AWS": ALICE}))
    assert evaluate_trust(policy, user(), "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.ALLOWED_DIRECT
    assert evaluate_trust(policy, user(), "sts:TagSession", ROLE, {})[0] is TrustVerdict.NOT_ALLOWED


def test_trust_external_id_and_mfa_conditions() -> None:
    policy = trust(
        assume(
            {"AWS": "arn:aws:iam::111111111111:root"},
            Condition={
                "StringEquals": {"sts:ExternalId": "Unique-Id-1"},
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "NumericLessThan": {"aws:MultiFactorAuthAge": "3600"},
            },
        )
    )
    good: dict[str, ContextValue] = {
        "sts:ExternalId": "Unique-Id-1",
        "aws:MultiFactorAuthPresent": "true",
        "aws:MultiFactorAuthAge": "60",
    }
    assert evaluate_trust(policy, user(), "sts:AssumeRole", ROLE, good)[0] is TrustVerdict.ALLOWED_VIA_ACCOUNT
    for change in (
        {"sts:ExternalId": "unique-id-1"},
        {"aws:MultiFactorAuthAge": "7200"},
        {"aws:MultiFactorAuthPresent": "false"},
    ):
        bad = {**good, **change}
        assert evaluate_trust(policy, user(), "sts:AssumeRole", ROLE, bad)[0] is TrustVerdict.NOT_ALLOWED


def test_trust_federated_saml_with_audience() -> None:
    provider = "arn:aws:iam::222222222222:saml-provider/CorpIdP"
    policy = trust(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }
    )
    caller = Principal("Federated", frozenset({provider}), None)
    ok: dict[str, ContextValue] = {"saml:aud": "https://signin.aws.amazon.com/saml"}
    assert (
        evaluate_trust(policy, caller, "sts:AssumeRoleWithSAML", ROLE, ok)[0] is TrustVerdict.ALLOWED_DIRECT
    )
    assert evaluate_trust(policy, caller, "sts:AssumeRoleWithSAML", ROLE, {})[0] is TrustVerdict.NOT_ALLOWED


def test_trust_explicit_deny_beats_allow() -> None:
    policy = trust(
        assume("*"), {"Effect": "Deny", "Principal": {"AWS": ALICE}, "Action": "sts:*", "Sid": "NoAlice"}
    )
    verdict, decision = evaluate_trust(policy, user(), "sts:AssumeRole", ROLE, {})
    assert verdict is TrustVerdict.EXPLICIT_DENY
    assert [(m.sid, m.principals) for m in decision.matched] == [("NoAlice", (ALICE,))]
    bob = user("arn:aws:iam::111111111111:user/bob")
    assert evaluate_trust(policy, bob, "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.ALLOWED_DIRECT


def test_resource_policy_statement_without_principal_admits_nobody() -> None:
    policy = trust({"Effect": "Allow", "Action": "sts:AssumeRole"})
    assert evaluate_trust(policy, user(), "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.NOT_ALLOWED


# NotPrincipal with Deny: the IAM user guide's rule that the account, the role and the session must all
# be listed for an assumed-role caller to be spared.
NOT_PRINCIPAL_CASES: list[tuple[str, list[str], Principal, bool]] = [
    (
        "session, role and account listed",
        ["arn:aws:sts::222222222222:assumed-role/Developer/Ana", ROLE, "arn:aws:iam::222222222222:root"],
        session(),
        False,
    ),
    ("account missing", ["arn:aws:sts::222222222222:assumed-role/Developer/Ana", ROLE], session(), True),
    ("session missing", [ROLE, "222222222222"], session(), True),
    ("user and account listed", [ALICE, "arn:aws:iam::111111111111:root"], user(), False),
    ("user listed, account not", [ALICE], user(), True),
    ("someone else", ["arn:aws:iam::111111111111:user/bob", "111111111111"], user(), True),
]


@pytest.mark.parametrize(
    ("listed", "caller", "denied"),
    [c[1:] for c in NOT_PRINCIPAL_CASES],
    ids=[c[0] for c in NOT_PRINCIPAL_CASES],
)
def test_not_principal_with_deny(listed: list[str], caller: Principal, denied: bool) -> None:
    policy = parse_policy(
        doc(allow("s3:*", Principal="*"), deny("s3:*", NotPrincipal={"AWS": listed}, Sid="OnlyThese"))
    )
    decision = evaluate([policy], "s3:GetObject", "arn:aws:s3:::b/k", {}, caller)
    assert decision.explicit_deny is denied
    assert decision.allowed is not denied


# ---------------------------------------------------------------------------------------------- intersect

ALLOW_A = Decision(True, False, (MatchedStatement("A", "ALLOW", (), ("*",), ("*",), ()),))
ALLOW_B = Decision(True, False, (MatchedStatement("B", "ALLOW", (), ("s3:*",), ("*",), ()),))
DENY_D = Decision(False, True, (MatchedStatement("D", "DENY", (), ("s3:*",), ("*",), ()),))
IMPLICIT = Decision(False, False, ())


@pytest.mark.parametrize(
    ("decisions", "allowed_", "explicit", "sids"),
    [
        ([ALLOW_A, ALLOW_B], True, False, ["A", "B"]),
        ([ALLOW_A, IMPLICIT], False, False, []),
        ([ALLOW_A, DENY_D], False, True, ["D"]),
        ([IMPLICIT, DENY_D], False, True, ["D"]),
        ([], False, False, []),
    ],
)
def test_intersect(decisions: list[Decision], allowed_: bool, explicit: bool, sids: list[str]) -> None:
    result = intersect(decisions)
    assert (result.allowed, result.explicit_deny, [m.sid for m in result.matched]) == (
        allowed_,
        explicit,
        sids,
    )


def test_session_policy_narrows_role_permissions() -> None:
    role_policy = parse_policy(doc(allow("s3:*")))
    session_policy = parse_policy(doc(allow("s3:GetObject", "arn:aws:s3:::shared/*")))

    def effective(action: str, resource: str) -> bool:
        return intersect(
            [evaluate([role_policy], action, resource, {}), evaluate([session_policy], action, resource, {})]
        ).allowed

    assert effective("s3:GetObject", "arn:aws:s3:::shared/a")
    assert not effective("s3:PutObject", "arn:aws:s3:::shared/a")
    assert not effective("s3:GetObject", "arn:aws:s3:::private/a")


# ------------------------------------------------------------------------------- remembered outcomes


def test_only_policies_without_conditions_or_variables_are_context_free() -> None:
    assert parse_policy(doc(allow("s3:Get*", "arn:aws:s3:::b/*"), deny("ec2:*"))).context_free
    assert not parse_policy(doc(allow(Condition={"Bool": {"aws:SecureTransport": "true"}}))).context_free
    assert not parse_policy(doc(allow("s3:*", "arn:aws:s3:::b/${aws:username}/*"))).context_free


def test_a_remembered_outcome_is_the_outcome_of_a_fresh_evaluation() -> None:
    text = doc(allow("s3:Get*", "arn:aws:s3:::b/*"), deny("s3:GetObject", "arn:aws:s3:::b/secret*"))
    remembered = parse_policy(text)
    keys = [f"arn:aws:s3:::b/{name}{i}" for i in range(1100) for name in ("public", "secret")]  # past the cap
    for resource in keys + keys[:50]:
        for action in ("s3:GetObject", "s3:GetObjectAcl", "s3:PutObject"):
            expected = evaluate([parse_policy(text)], action, resource, {})
            assert evaluate([remembered], action, resource, {}) == expected


def test_trust_verdicts_are_remembered_per_caller() -> None:
    trust = parse_policy(doc({"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"},
                             {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}))
    bob = user("arn:aws:iam::111111111111:user/bob")
    for _ in range(2):
        assert evaluate_trust(trust, user(), "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.ALLOWED_DIRECT
        assert evaluate_trust(trust, bob, "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.ALLOWED_VIA_ACCOUNT
        assert evaluate_trust(trust, session(), "sts:AssumeRole", ROLE, {})[0] is TrustVerdict.NOT_ALLOWED


def test_policies_that_read_the_context_are_evaluated_afresh_each_time() -> None:
    policy = parse_policy(doc(allow("s3:*", "arn:aws:s3:::b/${aws:username}/*")))
    resource = "arn:aws:s3:::b/alice/key"
    assert evaluate([policy], "s3:GetObject", resource, {"aws:username": "alice"}).allowed
    assert not evaluate([policy], "s3:GetObject", resource, {"aws:username": "bob"}).allowed
    mfa = parse_policy(doc(allow(Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})))
    assert evaluate([mfa], "ec2:RunInstances", "*", {"aws:MultiFactorAuthPresent": "true"}).allowed
    assert not evaluate([mfa], "ec2:RunInstances", "*", {"aws:MultiFactorAuthPresent": "false"}).allowed
