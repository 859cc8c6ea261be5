"""Issue 18, finding 1: how long a real emulator process takes to answer the security review's adversarial
request, next to the same request without the hostile pattern, on the same server in the same run.

The request: a session policy whose condition is ``StringLike aws:userid "*:a*a*…*b"`` (30 wildcards) on a role
session named with 64 ``a``s, then DescribeInstances. With backtracking regexes this took 12 s at 8 wildcards and
more than 120 s at 9; the linear-time matcher (emulator/wildcard.py) must answer it like any other request.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, alternate, rounds

REPO = Path(__file__).resolve().parent.parent
ALICE_KEY = ("AKIADEMOALICE0000001", "demo/alice/wJalrXUtnFEMI/K7MDENGbPxRfiCYEX")
FIGURE = "adversarial wildcard policy (30 *), DescribeInstances vs the same without the pattern"
RATIO_TARGET = 2.0
WILDCARDS = 30


def _client(service: str, endpoint: str, key: str, secret: str, token: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token, config=Config(retries={"max_attempts": 1}, read_timeout=600),
    )


def _policy(condition: dict[str, Any] | None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def run() -> list[Row]:
    """One row: medians of alternating adversarial and plain DescribeInstances calls against one emulator."""
    from botocore.exceptions import ClientError

    proc = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(REPO / "resources" / "demo.toml")],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdout is not None
    try:
        endpoint = proc.stdout.readline().strip().split(" ", 1)[1]
        sts = _client("sts", endpoint, *ALICE_KEY)
        hostile = {"StringLike": {"aws:userid": "*:" + "a*" * WILDCARDS + "b"}}
        clients = []
        for condition in (hostile, None):
            c = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/ReadOnly", RoleSessionName="a" * 64,
                                Policy=_policy(condition))["Credentials"]
            clients.append(_client("ec2", endpoint, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))

        def call(ec2: Any) -> None:
            with contextlib.suppress(ClientError):  # the hostile condition does not hold: UnauthorizedOperation
                ec2.describe_instances()

        for ec2 in clients:  # warm both connections
            call(ec2)
        ours, peer = alternate(lambda: call(clients[0]), lambda: call(clients[1]), rounds(60, 3))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    ratio = ours_median / peer_median
    note = (f"strict A B, {len(ours)} each, one `stsdesk emulator` process; slowest adversarial answer "
            f"{max(ours) * 1000:.1f} ms (was 12 s with 8 wildcards, >120 s with 9, before the linear matcher)")
    return [Row(FIGURE, f"{ours_median * 1000:.2f} ms", f"plain policy {peer_median * 1000:.2f} ms", f"{ratio:.2f}x",
                f"<= {RATIO_TARGET:g}x", ratio <= RATIO_TARGET, note)]
