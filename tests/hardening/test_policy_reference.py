"""Policy evaluation against hand-written reference cases taken from the IAM user guide's examples, plus
hypothesis properties: a matching Deny never turns a deny into an allow, and statement order does not matter.

Doc references (IAM user guide): "Policy evaluation logic" (PEL), "IAM JSON policy elements: NotAction"
(NA), "...: NotResource" (NR), "...: NotPrincipal" (NP), "...: Condition operators" (CO), "Conditions with
multiple context keys or values" (MV), "IAM policy elements: Variables and tags" (VAR), "AWS global condition
context keys" (GK), "Example IAM identity-based policies" (EX), "IAM JSON policy elements: Principal" (PR).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from fuzz_counts import count, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import Principal, TrustVerdict, evaluate, evaluate_trust, parse_policy

ALLOW, DENY, IMPLICIT = "allow", "explicit deny", "implicit deny"
ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
ALICE = "arn:aws:iam::111111111111:user/alice"
PAYROLL = "arn:aws:s3:::HRBucket/Payroll"


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)})


def outcome(policies: list[str], action: str, resource: str, context: dict[str, Any]) -> str:
    decision = evaluate([parse_policy(p) for p in policies], action, resource, context)
    if decision.explicit_deny:
        assert not decision.allowed
        return DENY
    return ALLOW if decision.allowed else IMPLICIT


S3_BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"
MFA_DENY_IFEXISTS = {"Effect": "Deny", "Action": "*", "Resource": "*",
                     "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
MFA_DENY_BOOL = {"Effect": "Deny", "Action": "*", "Resource": "*",
                 "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
HOME = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": S3_BUCKET + "/home/${aws:username}/*"}
LIST_HOME = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": S3_BUCKET,
             "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}}
TAG_KEYS_ALL = {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}}
TAG_KEYS_ANY = {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}}
IP_ALLOW = {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:DB8:1234:5678::/64"]}}}
IP_DENY = {"Effect": "Deny", "Action": "*", "Resource": "*",
           "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}}
DATES = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
         "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                       "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}}
MFA_AGE = {"Effect": "Allow", "Action": "ec2:*", "Resource": "*",
           "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}

# (id, policies, action, resource, context, expected)
CASES: list[tuple[str, list[str], str, str, dict[str, Any], str]] = [
    # PEL: "an explicit deny in any policy overrides any allows"
    ("PEL deny beats allow", [doc(ALL), doc({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})],
     "s3:DeleteBucket", S3_BUCKET, {}, DENY),
    ("PEL allow elsewhere", [doc(ALL), doc({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})],
     "s3:GetObject", S3_BUCKET + "/k", {}, ALLOW),
    # PEL: "by default, all requests are implicitly denied" when nothing allows them
    ("PEL implicit deny", [doc({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})],
     "s3:GetObject", S3_BUCKET + "/k", {}, IMPLICIT),
    ("PEL no policies", [], "s3:GetObject", S3_BUCKET, {}, IMPLICIT),
    # EX: actions match case-insensitively, with * and ? wildcards; resources are case-sensitive
    ("wildcard action", [doc({"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "*"})],
     "iam:CreateAccessKey", "*", {}, ALLOW),
    ("action case", [doc({"Effect": "Allow", "Action": "S3:getobject", "Resource": "*"})],
     "s3:GetObject", S3_BUCKET + "/k", {}, ALLOW),
    ("? wildcard", [doc({"Effect": "Allow", "Action": "ec2:Describe?nstances", "Resource": "*"})],
     "ec2:DescribeInstances", "*", {}, ALLOW),
    ("resource case", [doc({"Effect": "Allow", "Action": "s3:*", "Resource": S3_BUCKET + "/Home/*"})],
     "s3:GetObject", S3_BUCKET + "/home/x", {}, IMPLICIT),
    # NA: Deny + NotAction "iam:*" with an allow-all: everything except IAM is denied
    ("NA deny except iam: iam", [doc(ALL, {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})],
     "iam:CreateUser", "*", {}, ALLOW),
    ("NA deny except iam: s3", [doc(ALL, {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"})],
     "s3:ListBucket", S3_BUCKET, {}, DENY),
    # NA: Allow + NotAction "iam:*": everything except IAM is allowed, IAM is implicitly denied
    ("NA allow except iam", [doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
     "iam:CreateUser", "*", {}, IMPLICIT),
    ("NA allow except iam: s3", [doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
     "s3:ListBucket", S3_BUCKET, {}, ALLOW),
    # NR: deny s3 on every resource except the HRBucket Payroll folder
    *[(f"NR payroll {res}", [doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                                 {"Effect": "Deny", "Action": "s3:*",
                                  "NotResource": [PAYROLL, PAYROLL + "/*"]})],
       "s3:GetObject", res, {}, expected)
      for res, expected in [("arn:aws:s3:::HRBucket/Payroll/2024.csv", ALLOW), ("arn:aws:s3:::HRBucket/Other", DENY),
                            ("arn:aws:s3:::HRBucket/Payroll", ALLOW)]],
    # GK/EX: MFA. With long-term keys aws:MultiFactorAuthPresent is absent: BoolIfExists false denies them,
    # plain Bool false does not match an absent key (the documented pitfall), so the allow stands.
    ("MFA BoolIfExists, long-term keys", [doc(ALL, MFA_DENY_IFEXISTS)], "ec2:RunInstances", "*", {}, DENY),
    ("MFA BoolIfExists, no MFA", [doc(ALL, MFA_DENY_IFEXISTS)], "ec2:RunInstances", "*",
     {"aws:MultiFactorAuthPresent": "false"}, DENY),
    ("MFA BoolIfExists, with MFA", [doc(ALL, MFA_DENY_IFEXISTS)], "ec2:RunInstances", "*",
     {"aws:MultiFactorAuthPresent": "true"}, ALLOW),
    ("MFA Bool, long-term keys", [doc(ALL, MFA_DENY_BOOL)], "ec2:RunInstances", "*", {}, ALLOW),
    ("MFA Bool, no MFA", [doc(ALL, MFA_DENY_BOOL)], "ec2:RunInstances", "*",
     {"aws:MultiFactorAuthPresent": "false"}, DENY),
    ("MFA allow Bool true, absent", [doc({**ALL, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}})],
     "ec2:RunInstances", "*", {}, IMPLICIT),
    ("MFA key case-insensitive", [doc({**ALL, "Condition": {"Bool": {"aws:multifactorauthpresent": "true"}}})],
     "ec2:RunInstances", "*", {"aws:MultiFactorAuthPresent": "true"}, ALLOW),
    # GK: aws:MultiFactorAuthAge (seconds since MFA); absent for long-term keys, so NumericLessThan fails
    ("MFA age recent", [doc(MFA_AGE)], "ec2:StartInstances", "*", {"aws:MultiFactorAuthAge": "100"}, ALLOW),
    ("MFA age old", [doc(MFA_AGE)], "ec2:StartInstances", "*", {"aws:MultiFactorAuthAge": "7200"}, IMPLICIT),
    ("MFA age absent", [doc(MFA_AGE)], "ec2:StartInstances", "*", {}, IMPLICIT),
    # CO/EX: aws:SourceIp with IpAddress (CIDR, IPv6) and NotIpAddress ("deny access based on source IP")
    ("IP in range", [doc(IP_ALLOW)], "s3:GetObject", "*", {"aws:SourceIp": "192.0.2.44"}, ALLOW),
    ("IPv6 in range", [doc(IP_ALLOW)], "s3:GetObject", "*", {"aws:SourceIp": "2001:db8:1234:5678::1"}, ALLOW),
    ("IP out of range", [doc(IP_ALLOW)], "s3:GetObject", "*", {"aws:SourceIp": "198.51.100.7"}, IMPLICIT),
    ("IP absent", [doc(IP_ALLOW)], "s3:GetObject", "*", {}, IMPLICIT),
    ("NotIpAddress inside", [doc(ALL, IP_DENY)], "s3:GetObject", "*", {"aws:SourceIp": "203.0.113.9"}, ALLOW),
    ("NotIpAddress outside", [doc(ALL, IP_DENY)], "s3:GetObject", "*", {"aws:SourceIp": "10.1.2.3"}, DENY),
    # CO/EX: "allows access within specific dates" (DateGreaterThan + DateLessThan on aws:CurrentTime)
    ("date inside", [doc(DATES)], "ec2:RunInstances", "*", {"aws:CurrentTime": "2020-05-01T12:00:00Z"}, ALLOW),
    ("date after", [doc(DATES)], "ec2:RunInstances", "*", {"aws:CurrentTime": "2021-01-01T00:00:00Z"}, IMPLICIT),
    ("date before", [doc(DATES)], "ec2:RunInstances", "*", {"aws:CurrentTime": "2020-03-31T23:59:59Z"}, IMPLICIT),
    # VAR/EX: "allows IAM users to access their own home directory in S3" with ${aws:username}
    ("home own", [doc(HOME)], "s3:GetObject", S3_BUCKET + "/home/alice/notes.txt", {"aws:username": "alice"}, ALLOW),
    ("home other", [doc(HOME)], "s3:GetObject", S3_BUCKET + "/home/bob/notes.txt", {"aws:username": "alice"},
     IMPLICIT),
    ("home no username", [doc(HOME)], "s3:GetObject", S3_BUCKET + "/home/alice/x", {}, IMPLICIT),
    ("list own prefix", [doc(LIST_HOME)], "s3:ListBucket", S3_BUCKET,
     {"aws:username": "alice", "s3:prefix": "home/alice/photos"}, ALLOW),
    ("list root prefix", [doc(LIST_HOME)], "s3:ListBucket", S3_BUCKET, {"aws:username": "alice", "s3:prefix": ""},
     ALLOW),
    ("list other prefix", [doc(LIST_HOME)], "s3:ListBucket", S3_BUCKET,
     {"aws:username": "alice", "s3:prefix": "home/bob/"}, IMPLICIT),
    # VAR: policy variables only exist from Version 2012-10-17; in 2008-10-17 "${aws:username}" is literal
    ("variables need 2012", [doc(HOME, version="2008-10-17")], "s3:GetObject", S3_BUCKET + "/home/alice/x",
     {"aws:username": "alice"}, IMPLICIT),
    ("literal in 2008", [doc(HOME, version="2008-10-17")], "s3:GetObject",
     S3_BUCKET + "/home/${aws:username}/x", {"aws:username": "alice"}, ALLOW),
    # MV: ForAllValues is true for an absent key; ForAnyValue is false for one
    ("ForAllValues subset", [doc(TAG_KEYS_ALL)], "ec2:CreateTags", "*", {"aws:TagKeys": ["environment"]}, ALLOW),
    ("ForAllValues extra key", [doc(TAG_KEYS_ALL)], "ec2:CreateTags", "*",
     {"aws:TagKeys": ["environment", "owner"]}, IMPLICIT),
    ("ForAllValues absent", [doc(TAG_KEYS_ALL)], "ec2:CreateTags", "*", {}, ALLOW),
    ("ForAnyValue one matches", [doc(TAG_KEYS_ANY)], "ec2:CreateTags", "*",
     {"aws:TagKeys": ["owner", "cost-center"]}, ALLOW),
    ("ForAnyValue none", [doc(TAG_KEYS_ANY)], "ec2:CreateTags", "*", {"aws:TagKeys": ["owner"]}, IMPLICIT),
    ("ForAnyValue absent", [doc(TAG_KEYS_ANY)], "ec2:CreateTags", "*", {}, IMPLICIT),
    # MV: several keys in one block are AND-ed; several values for one key are OR-ed
    ("AND of keys", [doc({**ALL, "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"],
                                                                 "aws:PrincipalAccount": "111111111111"}}})],
     "ec2:RunInstances", "*", {"aws:RequestedRegion": "eu-central-1", "aws:PrincipalAccount": "222222222222"},
     IMPLICIT),
    ("OR of values", [doc({**ALL, "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"],
                                                                  "aws:PrincipalAccount": "111111111111"}}})],
     "ec2:RunInstances", "*", {"aws:RequestedRegion": "eu-central-1", "aws:PrincipalAccount": "111111111111"}, ALLOW),
    # CO: negated string operators are true when the key is absent
    ("StringNotEquals absent", [doc({**ALL, "Condition": {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}}})],
     "ec2:RunInstances", "*", {}, ALLOW),
    # GK/CO: Null true matches an absent key (aws:TokenIssueTime is absent for long-term keys)
    ("Null true, long-term", [doc({**ALL, "Condition": {"Null": {"aws:TokenIssueTime": "true"}}})],
     "ec2:RunInstances", "*", {}, ALLOW),
    ("Null true, temporary", [doc({**ALL, "Condition": {"Null": {"aws:TokenIssueTime": "true"}}})],
     "ec2:RunInstances", "*", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, IMPLICIT),
    ("Null false, temporary", [doc({**ALL, "Condition": {"Null": {"aws:TokenIssueTime": "false"}}})],
     "ec2:RunInstances", "*", {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}, ALLOW),
]


@pytest.mark.parametrize(("policies", "action", "resource", "context", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_identity_policy_reference(
    policies: list[str], action: str, resource: str, context: dict[str, Any], expected: str
) -> None:
    assert outcome(policies, action, resource, context) == expected


def trust(principal: Any, effect: str = "Allow", key: str = "Principal", **extra: Any) -> str:
    return doc({"Effect": effect, key: principal, "Action": "sts:AssumeRole", **extra})


ROLE = "arn:aws:iam::222222222222:role/Dev"
ALICE_P = Principal("AWS", frozenset({ALICE}), "111111111111")
BOB_P = Principal("AWS", frozenset({"arn:aws:iam::111111111111:user/bob"}), "111111111111")
OTHER_ACCOUNT = Principal("AWS", frozenset({"arn:aws:iam::999999999999:user/alice"}), "999999999999")
SESSION = Principal("AWS", frozenset({"arn:aws:sts::222222222222:assumed-role/Dev/s", ROLE}), "222222222222")
EC2 = Principal("Service", frozenset({"ec2.amazonaws.com"}))
SAML = Principal("Federated", frozenset({"arn:aws:iam::222222222222:saml-provider/CorpIdP"}))
NP_DENY = dict(key="NotPrincipal", effect="Deny")
T = TrustVerdict

TRUST_CASES: list[tuple[str, str, Principal, dict[str, Any], TrustVerdict]] = [
    # PR: the account root principal stands for the account; identity policies must also allow
    ("account root", trust({"AWS": "arn:aws:iam::111111111111:root"}), ALICE_P, {}, T.ALLOWED_VIA_ACCOUNT),
    ("account id", trust({"AWS": "111111111111"}), BOB_P, {}, T.ALLOWED_VIA_ACCOUNT),
    ("other account", trust({"AWS": "arn:aws:iam::111111111111:root"}), OTHER_ACCOUNT, {}, T.NOT_ALLOWED),
    # PR: a specific IAM user
    ("user arn", trust({"AWS": ALICE}), ALICE_P, {}, T.ALLOWED_DIRECT),
    ("user arn, other user", trust({"AWS": ALICE}), BOB_P, {}, T.NOT_ALLOWED),
    ("user list", trust({"AWS": ["arn:aws:iam::111111111111:user/bob", ALICE]}), ALICE_P, {}, T.ALLOWED_DIRECT),
    # PR: everyone ("*" and {"AWS": "*"})
    ("star", trust("*"), OTHER_ACCOUNT, {}, T.ALLOWED_DIRECT),
    ("AWS star", trust({"AWS": "*"}), ALICE_P, {}, T.ALLOWED_DIRECT),
    # PR: role principal matches sessions of the role
    ("role arn", trust({"AWS": ROLE}), SESSION, {}, T.ALLOWED_DIRECT),
    # PR: service and federated principals
    ("service", trust({"Service": "ec2.amazonaws.com"}), EC2, {}, T.ALLOWED_DIRECT),
    ("service vs user", trust({"Service": "ec2.amazonaws.com"}), ALICE_P, {}, T.NOT_ALLOWED),
    ("saml aud ok", trust({"Federated": "arn:aws:iam::222222222222:saml-provider/CorpIdP"},
                          Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}),
     SAML, {"SAML:aud": "https://signin.aws.amazon.com/saml"}, T.ALLOWED_DIRECT),
    ("saml aud wrong", trust({"Federated": "arn:aws:iam::222222222222:saml-provider/CorpIdP"},
                             Condition={"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}),
     SAML, {"SAML:aud": "https://evil.example"}, T.NOT_ALLOWED),
    # GK: trust with MFA required (Bool true; absent for long-term keys)
    ("trust mfa absent", trust({"AWS": ALICE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
     ALICE_P, {}, T.NOT_ALLOWED),
    ("trust mfa present", trust({"AWS": ALICE}, Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
     ALICE_P, {"aws:MultiFactorAuthPresent": "true"}, T.ALLOWED_DIRECT),
    # NP: Deny with NotPrincipal exempts only the listed principals (user and its account)
    ("NotPrincipal exempt", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(trust("*"))["Statement"][0],
        json.loads(trust({"AWS": [ALICE, "arn:aws:iam::111111111111:root"]}, **NP_DENY))["Statement"][0]]}),
     ALICE_P, {}, T.ALLOWED_DIRECT),
    ("NotPrincipal denies others", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(trust("*"))["Statement"][0],
        json.loads(trust({"AWS": [ALICE, "arn:aws:iam::111111111111:root"]}, **NP_DENY))["Statement"][0]]}),
     BOB_P, {}, T.EXPLICIT_DENY),
    # NP: for a role session the session ARN, role ARN and account must all be listed to be exempt
    ("NotPrincipal role only", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(trust("*"))["Statement"][0],
        json.loads(trust({"AWS": [ROLE, "arn:aws:iam::222222222222:root"]}, **NP_DENY))["Statement"][0]]}),
     SESSION, {}, T.EXPLICIT_DENY),
    ("NotPrincipal session listed", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(trust("*"))["Statement"][0],
        json.loads(trust({"AWS": [ROLE, "arn:aws:sts::222222222222:assumed-role/Dev/s", "222222222222"]},
                         **NP_DENY))["Statement"][0]]}),
     SESSION, {}, T.ALLOWED_DIRECT),
    # PEL: an explicit deny in the trust policy wins over its allow
    ("trust deny wins", json.dumps({"Version": "2012-10-17", "Statement": [
        json.loads(trust({"AWS": ALICE}))["Statement"][0],
        json.loads(trust("*", effect="Deny", Condition={"StringNotEquals": {"sts:ExternalId": "x-1"}}))
        ["Statement"][0]]}), ALICE_P, {"sts:ExternalId": "nope"}, T.EXPLICIT_DENY),
]


@pytest.mark.parametrize(("policy", "principal", "context", "expected"),
                         [c[1:] for c in TRUST_CASES], ids=[c[0] for c in TRUST_CASES])
def test_trust_policy_reference(
    policy: str, principal: Principal, context: dict[str, Any], expected: TrustVerdict
) -> None:
    verdict, _ = evaluate_trust(parse_policy(policy), principal, "sts:AssumeRole", ROLE, context)
    assert verdict is expected


# ------------------------------------------------------------------------------------------ properties

ACTIONS = ["s3:GetObject", "s3:PutObject", "ec2:RunInstances", "ec2:DescribeInstances", "iam:CreateUser"]
ACTION_PATTERNS = [*ACTIONS, "*", "s3:*", "ec2:Describe*", "ec2:*Instances", "iam:?reateUser"]
RESOURCES = ["*", S3_BUCKET, S3_BUCKET + "/a", "arn:aws:ec2:us-east-1:1:instance/i-1"]
RESOURCE_PATTERNS = [*RESOURCES, "arn:aws:s3:::*", S3_BUCKET + "/*", "arn:aws:ec2:*"]
conditions = st.one_of(
    st.none(),
    st.builds(lambda op, v: {op: {"aws:MultiFactorAuthPresent": v}},
              st.sampled_from(["Bool", "BoolIfExists"]), st.sampled_from(["true", "false"])),
    st.builds(lambda op, v: {op: {"aws:SourceIp": v}},
              st.sampled_from(["IpAddress", "NotIpAddress"]), st.sampled_from(["192.0.2.0/24", "10.0.0.0/8"])),
    st.builds(lambda op, v: {op: {"aws:TagKeys": v}},
              st.sampled_from(["ForAllValues:StringEquals", "ForAnyValue:StringLike"]),
              st.lists(st.sampled_from(["env", "owner", "o*"]), min_size=1, max_size=2)),
)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    stmt["NotAction" if draw(st.integers(0, 4)) == 0 else "Action"] = draw(
        st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3))
    stmt["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(
        st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=2))
    condition = draw(conditions)
    if condition:
        stmt["Condition"] = condition
    return stmt


policy_sets = st.lists(st.lists(statements(), min_size=1, max_size=4), min_size=0, max_size=3)
contexts = st.fixed_dictionaries({}, optional={
    "aws:MultiFactorAuthPresent": st.sampled_from(["true", "false"]),
    "aws:SourceIp": st.sampled_from(["192.0.2.7", "10.9.9.9", "203.0.113.1"]),
    "aws:TagKeys": st.lists(st.sampled_from(["env", "owner", "other"]), max_size=3),
})


def decide(policy_set: list[list[dict[str, Any]]], action: str, resource: str, ctx: dict[str, Any]) -> Any:
    return evaluate([parse_policy(doc(*stmts)) for stmts in policy_set], action, resource, ctx)


@pytest.mark.fuzz
@fuzz_settings()
@given(policy_set=policy_sets, extra=statements(effect="Deny"), action=st.sampled_from(ACTIONS),
       resource=st.sampled_from(RESOURCES), ctx=contexts)
def test_adding_a_deny_never_turns_a_deny_into_an_allow(
    policy_set: list[list[dict[str, Any]]], extra: dict[str, Any], action: str, resource: str, ctx: dict[str, Any]
) -> None:
    count("policy")
    before = decide(policy_set, action, resource, ctx)
    # Anywhere: into an existing policy or as a policy of its own.
    after = decide([*policy_set, [extra]], action, resource, ctx)
    if not before.allowed:
        assert not after.allowed
    assert not after.allowed or before.allowed
    matching = {"Effect": "Deny", "Action": action, "Resource": resource}
    assert decide([*policy_set, [matching]], action, resource, ctx).explicit_deny


@pytest.mark.fuzz
@fuzz_settings()
@given(policy_set=policy_sets, action=st.sampled_from(ACTIONS), resource=st.sampled_from(RESOURCES), ctx=contexts,
       seed=st.integers(0, 2**32))
def test_evaluation_is_invariant_to_statement_order(
    policy_set: list[list[dict[str, Any]]], action: str, resource: str, ctx: dict[str, Any], seed: int
) -> None:
    count("policy")
    before = decide(policy_set, action, resource, ctx)
    shuffler = random.Random(seed)
    shuffled = [shuffler.sample(stmts, len(stmts)) for stmts in policy_set]
    shuffler.shuffle(shuffled)
    after = decide(shuffled, action, resource, ctx)
    assert (after.allowed, after.explicit_deny) == (before.allowed, before.explicit_deny)
    assert sorted(map(repr, after.matched)) == sorted(map(repr, before.matched))
    # One merged policy decides the same as the separate ones.
    merged = [[s for stmts in policy_set for s in stmts]] if policy_set else []
    assert decide(merged, action, resource, ctx).allowed == before.allowed


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10),
              st.sampled_from(["Allow", "Deny", "*", "s3:*", "arn:aws:s3:::b", "2012-10-17", "Bool", "true"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["Version", "Statement", "Effect", "Action", "NotAction", "Resource", "NotResource",
                         "Principal", "NotPrincipal", "Condition", "Sid", "AWS", "StringLike", "Null",
                         "ForAllValues:StringEquals", "aws:SourceIp", "IpAddress", "DateLessThan"]),
        inner, max_size=5)),
    max_leaves=25,
)


@pytest.mark.fuzz
@fuzz_settings()
@given(document=json_values, action=st.sampled_from(ACTIONS), ctx=contexts)
def test_parse_policy_raises_only_malformed_policy_document(document: Any, action: str, ctx: dict[str, Any]) -> None:
    count("policy")
    try:
        policy = parse_policy(json.dumps(document))
    except EmulatorError as exc:
        assert exc.code == "MalformedPolicyDocument"
        return
    evaluate([policy], action, "*", ctx)  # a parsed policy never makes evaluation raise
    evaluate_trust(policy, ALICE_P, action, "*", ctx)
