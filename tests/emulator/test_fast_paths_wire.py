"""Session 5's shortcuts give what the long way gives: text escaping of long values, the header lists SigV4
canonicalises, the signed-date cache, and the condition keys an AssumeRole gathers only for policies that read
them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest

from stsdesk.emulator import xmlout
from stsdesk.emulator.caller import Caller
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import Principal, parse_policy
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.sealing import json_string
from stsdesk.emulator.sigv4 import SignedRequest, _amz_date_and_text, _header_map
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.sts import assume_role
from stsdesk.emulator.wire import Request


# What text() and json_string() gave before the long-value shortcut (the slow, general path).
def _xml_reference(value: str) -> str:
    if xmlout._NEEDS_WORK.search(value) is None:
        return value
    return escape(xmlout._NOT_XML.sub("\ufffd", value))


def _json_reference(value: str) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Every byte value, and a few characters beyond, at the start, middle and end of values either side of the
# length where the table check takes over.
ODD = [chr(c) for c in range(0x00, 0x80)] + ["\x85", "\u00e9", "\u2028", "\ud800", "\ufffe", "\U0001f600"]
LENGTHS = [0, 1, 31, 127, 128, 129, 600]


@pytest.mark.parametrize("length", LENGTHS)
def test_text_and_json_string_agree_with_the_long_way(length: int) -> None:
    base = "A0-_" * (length // 4 + 1)
    base = base[:length]
    assert xmlout.text(base) == _xml_reference(base)
    assert json_string(base) == _json_reference(base)
    for char in ODD:
        for at in {0, length // 2, length}:
            value = base[:at] + char + base[at:]
            assert xmlout.text(value) == _xml_reference(value), (length, at, hex(ord(char)))
            assert json_string(value) == _json_reference(value), (length, at, hex(ord(char)))


def test_a_long_value_with_markup_is_still_escaped() -> None:
    token = "x" * 500 + "<script>&"
    assert xmlout.text(token) == "x" * 500 + "&lt;script&gt;&amp;"
    assert json_string("y" * 300 + '"\\') == '"' + "y" * 300 + '\\"\\\\"'


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "h"), ("X-Amz-Date", "20260101T000000Z"), ("Content-Type", "a")],
        [("Host", "h"), ("x-amz-date", "1"), ("X-AMZ-DATE", "2"), ("Accept", "a"), ("accept", "b")],
        [],
    ],
)
def test_header_lists_are_the_sigv4_header_map(headers: list[tuple[str, str]]) -> None:
    request = Request(method="POST", target="/", headers=headers, body=b"")
    assert request.header_lists() == _header_map(headers)
    request.header("host")  # the first-value map built first, as the server does
    assert Request(method="POST", target="/", headers=headers, body=b"").header_lists() == _header_map(headers)


@pytest.mark.parametrize("bad", ["20261304T000000Z", "20260229T120000Z", "2026-01-01T00:00:00Z"])
def test_a_bad_signed_date_is_refused_every_time(bad: str) -> None:
    for _ in range(3):  # a refusal is not remembered as an answer
        with pytest.raises(EmulatorError, match="ISO-8601"):
            _amz_date_and_text(bad)


def test_a_signed_date_and_its_text() -> None:
    moment, text = _amz_date_and_text("20260103t040506z")  # strptime's %Y%m%dT%H%M%SZ takes any case
    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second) == (2026, 1, 3, 4, 5, 6)
    assert moment.utcoffset() is not None and not moment.utcoffset()
    assert text == "20260103T040506Z"
    assert _amz_date_and_text("20260103t040506z") == (moment, text)


def _caller(*policies: str, session: tuple[str, ...] = ()) -> Caller:
    return Caller(
        kind="user", arn="arn:aws:iam::111111111111:user/u", account="111111111111", user_id="AIDA",
        principal=Principal("AWS", frozenset({"arn:aws:iam::111111111111:user/u"}), "111111111111"),
        policies=tuple(parse_policy(p) for p in policies),
        session_policies=tuple(parse_policy(p) for p in session),
        temporary=False, role_chained=False, mfa_authenticated=False, mfa_auth_time=None,
        source_identity=None, expiration=None, access_key_id="AKIA",
    )


PLAIN = '{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}'
CONDITIONED = (
    '{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*",'
    ' "Condition": {"StringEquals": {"sts:RoleSessionName": "allowed"}}}]}'
)
VARIABLE = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
    ' "Resource": "arn:aws:iam::*:role/${aws:username}"}]}'
)


def test_policies_context_free() -> None:
    assert _caller().policies_context_free
    assert _caller(PLAIN).policies_context_free
    assert not _caller(PLAIN, CONDITIONED).policies_context_free
    assert not _caller(VARIABLE).policies_context_free
    assert not _caller(PLAIN, session=(CONDITIONED,)).policies_context_free


def test_assume_role_gathers_the_context_an_identity_policy_reads() -> None:
    """The role's trust policy is context-free (it names the account); the caller's identity policy allows
    sts:AssumeRole only for one session name: the condition must still see sts:RoleSessionName."""
    a, b = "111111111111", "222222222222"
    scenario = scenario_from_dict({
        "accounts": [{"id": a}, {"id": b}],
        "users": [{"account": a, "name": "u", "access_keys": [{"id": "AKIAEXAMPLEUSER00001", "secret": "s" * 40}],
                   "policies": [CONDITIONED]}],
        "roles": [{"account": b, "name": "R", "trust_policy":
                   f'{{"Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{a}:root"}},'
                   f' "Action": "sts:AssumeRole"}}]}}'}],
    })
    state = EmulatorState(scenario)
    role = scenario.role_by_arn(f"arn:aws:iam::{b}:role/R")
    assert role is not None and role.trust_policy.context_free
    signed = SignedRequest("AKIAEXAMPLEUSER00001", None, "us-east-1", "sts", datetime.now(UTC))
    caller = state.caller(signed)
    assert not caller.policies_context_free
    request = Request(method="POST", target="/", headers=[], body=b"")
    params = {"RoleArn": role.arn, "RoleSessionName": "allowed"}
    result = assume_role(state, caller, params, signed, request)
    assert result[1][1][1] == ("Arn", f"arn:aws:sts::{b}:assumed-role/R/allowed")
    with pytest.raises(EmulatorError, match="not authorized to perform: sts:AssumeRole"):
        assume_role(state, caller, {**params, "RoleSessionName": "other"}, signed, request)
