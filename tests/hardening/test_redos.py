"""Issue 18, finding 1: one request must not hang the emulator (ReDoS in policy wildcards).

The matcher's work is counted in character comparisons (``StepCounter``, which runs the same greedy
algorithm with its searches in Python), never timed: for every pattern and value, work <=
(len(pattern) + 1) * (len(value) + 1). Its answers are checked against an independent dynamic-programming
matcher, and the uninstrumented path (str.find, fixed-length regexes of literals and '.') must agree.
A real emulator process is then sent the adversarial session policy from the security review, and must
answer, and stop on SIGTERM while a request is still in progress.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from emu_client import ALICE_KEY, DEMO_SCENARIO, REPO
from fuzz_counts import count, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

from stsdesk.emulator.conditions import Pattern
from stsdesk.emulator.policy import evaluate, parse_policy
from stsdesk.emulator.wildcard import StepCounter, compile_glob

AREA = "wildcards"
HANG = 60.0  # seconds: a generous hang detector, not a speed requirement
ADVERSARIAL = "*:" + "a*" * 12 + "b"


def reference(pattern: str, value: str, *, arn: bool = False, fold: bool = False) -> bool:
    """An independent O(n*m) dynamic-programming matcher: ``*`` any run, ``?`` one character; in ARN mode
    (pattern with at least five colons) wildcards before the pattern's fifth colon do not match ':'."""
    if fold:
        pattern, value = pattern.casefold(), value.casefold()
    restricted: list[bool] = []
    colons = 0
    arn = arn and pattern.count(":") >= 5
    for ch in pattern:
        restricted.append(arn and colons < 5)
        if ch == ":":
            colons += 1
    n = len(value)
    row = [True] + [False] * n  # row[j]: pattern[:i] matches value[:j]
    for i, ch in enumerate(pattern):
        new = [False] * (n + 1)
        if ch == "*":
            new[0] = row[0]
            for j in range(1, n + 1):
                new[j] = row[j] or (new[j - 1] and not (restricted[i] and value[j - 1] == ":"))
        else:
            for j in range(1, n + 1):
                hit = value[j - 1] == ch or (ch == "?" and not (restricted[i] and value[j - 1] == ":"))
                new[j] = row[j - 1] and hit
        row = new
    return row[n]


def bound(pattern: str, value: str) -> int:
    return (len(pattern) + 1) * (len(value) + 1)


pattern_text = st.text(st.sampled_from("a*?:b"), max_size=40)
adversarial_patterns = st.builds(
    lambda prefix, stars, tail: prefix + "a*" * stars + tail,
    st.sampled_from(["*", "*:", "?*", "arn:aws:iam::*:", "", "*a?"]),
    st.integers(1, 30),
    st.sampled_from(["b", "?b", "a?b", "*b", "b*", ":b"]),
)
a_strings = st.builds(
    lambda n, prefix: prefix + "a" * n, st.integers(0, 400), st.sampled_from(["", "AROA:", "a:a:a:a:a:"])
)


@fuzz_settings()
@given(adversarial_patterns, a_strings, st.booleans(), st.booleans())
@example(ADVERSARIAL, "AROAEXAMPLE:" + "a" * 64, False, False)
@example("*" + "a*" * 30 + "b", "a" * 400, False, True)
def test_matcher_work_is_bounded_for_adversarial_patterns(
    pattern: str, value: str, arn: bool, fold: bool
) -> None:
    count(AREA)
    counter = StepCounter()
    glob = compile_glob([(pattern, True)], arn=arn, ignore_case=fold)
    got = glob.matches(value, counter)
    assert counter.steps <= bound(pattern, value), (pattern, len(value), counter.steps)
    assert got == reference(pattern, value, arn=arn, fold=fold)
    assert glob.matches(value) == got  # the production path (str.find, fixed-length regexes) agrees


@fuzz_settings()
@given(pattern_text, st.text(st.sampled_from("ab:A"), max_size=40), st.booleans(), st.booleans())
def test_matcher_agrees_with_the_reference(pattern: str, value: str, arn: bool, fold: bool) -> None:
    count(AREA)
    counter = StepCounter()
    glob = compile_glob([(pattern, True)], arn=arn, ignore_case=fold)
    got = glob.matches(value, counter)
    assert got == reference(pattern, value, arn=arn, fold=fold), (pattern, value, arn, fold)
    assert counter.steps <= bound(pattern, value)
    assert glob.matches(value) == got


def test_adversarial_pattern_work_grows_linearly_with_the_value() -> None:
    # The review's case: exponential in the stars for a backtracking regex. Here doubling the value at most
    # doubles the work (plus a constant), and 12 stars cost about what 6 do per character.
    # With a trailing star the last piece cannot fail fast: the search for 'b' has to scan the value.
    for pattern in (ADVERSARIAL, ADVERSARIAL + "*", "*:" + "a?" * 12 + "*b*"):
        works = []
        for n in (100, 200, 400, 800):
            counter = StepCounter()
            assert not Pattern(pattern, "glob").matches("AROA:" + "a" * n, {}, counter)
            works.append(counter.steps)
        for small, large in itertools.pairwise(works):
            assert large <= 2 * small + 64, (pattern, works)
        assert works[-1] <= 3 * 800 + 100, (pattern, works)


def test_variable_text_stays_literal_and_bounded() -> None:
    # ${aws:username} brings its value in literally: its '*' must not act as a wildcard.
    pattern = Pattern("arn:aws:s3:::bucket/${aws:username}/*", "glob")
    counter = StepCounter()
    assert pattern.matches("arn:aws:s3:::bucket/a*b/x", {"aws:username": "a*b"}, counter)
    assert not pattern.matches("arn:aws:s3:::bucket/axxb/x", {"aws:username": "a*b"})
    assert counter.steps <= bound(pattern.text, "arn:aws:s3:::bucket/a*b/x") + 64


@fuzz_settings(0.5)
@given(adversarial_patterns, st.integers(0, 120), st.sampled_from(["StringLike", "ArnLike", "StringNotLike"]))
def test_policies_with_pattern_shaped_values_evaluate(pattern: str, n: int, operator: str) -> None:
    # Actions, resources and conditions all go through the same matcher.
    count(AREA)
    document = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "ec2:" + pattern.replace(":", ""),
            "Resource": "arn:aws:ec2:*:" + pattern,
            "Condition": {operator: {"aws:userid": pattern}},
        }],
    }
    policy = parse_policy(json.dumps(document))
    value = "a" * n
    decision = evaluate([policy], "ec2:" + value, "arn:aws:ec2:us-east-1:" + value, {"aws:userid": value})
    expected = (
        reference(pattern.replace(":", ""), value, fold=True)
        and reference("arn:aws:ec2:*:" + pattern, "arn:aws:ec2:us-east-1:" + value)
        and {"StringLike": reference(pattern, value), "StringNotLike": not reference(pattern, value),
             "ArnLike": reference(pattern, value, arn=True)}[operator]
    )
    assert decision.allowed == expected


# ----------------------------------------------------------------------------------- a real process


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(DEMO_SCENARIO)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("endpoint: "):
        proc.kill()
        pytest.fail(f"the emulator did not start: {line!r} {proc.communicate(timeout=10)[1]}")
    try:
        yield proc, line.split(" ", 1)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=HANG)


def _client(service: str, endpoint: str, creds: tuple[str, str, str | None]) -> object:
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1], aws_session_token=creds[2],
        config=Config(retries={"max_attempts": 1}, read_timeout=HANG, connect_timeout=10),
    )


def test_adversarial_session_policy_is_answered_by_a_real_emulator(
    emulator_process: tuple[subprocess.Popen[str], str],
) -> None:
    proc, endpoint = emulator_process
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*",
                       "Condition": {"StringLike": {"aws:userid": ADVERSARIAL}}}],
    })
    sts = _client("sts", endpoint, (*ALICE_KEY, None))
    creds = sts.assume_role(  # type: ignore[attr-defined]
        RoleArn="arn:aws:iam::222222222222:role/ReadOnly", RoleSessionName="a" * 64, Policy=policy,
    )["Credentials"]
    ec2 = _client("ec2", endpoint, (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
    with pytest.raises(Exception) as denied:
        ec2.describe_instances()  # type: ignore[attr-defined]
    # The condition does not hold (no 'b'), so the session policy denies: answered, not hung.
    assert "UnauthorizedOperation" in str(denied.value)
    # A session name that does match is allowed through the same pattern.
    creds = sts.assume_role(  # type: ignore[attr-defined]
        RoleArn="arn:aws:iam::222222222222:role/ReadOnly", RoleSessionName="a" * 40 + "b", Policy=policy,
    )["Credentials"]
    ec2 = _client("ec2", endpoint, (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))
    assert "Reservations" in ec2.describe_instances()  # type: ignore[attr-defined]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=HANG) == 0


def test_sigterm_does_not_wait_for_a_request_in_progress(tmp_path: Path) -> None:
    # A request held for 10 minutes (latency fault) is in progress when SIGTERM arrives; the process must
    # exit without waiting for it.
    scenario = tmp_path / "slow.toml"
    scenario.write_text(DEMO_SCENARIO.read_text().replace("[faults]", "[faults_unused]")
                        + "\n[faults]\nlatency_ms = 600000\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(scenario)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip().split(" ", 1)[1]
        host, port = endpoint.rsplit("/", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=HANG) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: 30\r\n\r\nAction=GetCallerIdentity&V=1&x")
            sock.settimeout(1.0)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # the request is in progress (held by the latency fault)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=HANG) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=HANG)
