"""How long a real emulator process takes to answer the security review's adversarial request (issue 18,
finding 1): a session policy with ``StringLike aws:userid "*:a*a*...*b"`` and a session name of ``a``s, then
DescribeInstances. A script, not a test: ``.venv/bin/python tests/hardening/measure_adversarial_policy.py``.
Before the linear-time matcher: 12 s with 8 wildcards, more than 120 s with 9.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
ALICE_KEY = ("AKIADEMOALICE0000001", "demo/alice/wJalrXUtnFEMI/K7MDENGbPxRfiCYEX")


def client(service: str, endpoint: str, key: str, secret: str, token: str | None = None) -> object:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}, read_timeout=600))


def main() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "stsdesk", "emulator", "--scenario",
                             str(REPO / "resources" / "demo.toml")], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    endpoint = proc.stdout.readline().strip().split(" ", 1)[1]
    try:
        sts = client("sts", endpoint, *ALICE_KEY)
        for stars in (8, 9, 12, 30):
            pattern = "*:" + "a*" * stars + "b"
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*",
                "Condition": {"StringLike": {"aws:userid": pattern}}}]})
            c = sts.assume_role(RoleArn="arn:aws:iam::222222222222:role/ReadOnly",  # type: ignore[attr-defined]
                                RoleSessionName="a" * 64, Policy=policy)["Credentials"]
            ec2 = client("ec2", endpoint, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
            times = []
            for _ in range(20):
                started = time.perf_counter()
                with contextlib.suppress(ClientError):  # UnauthorizedOperation: the condition does not hold
                    ec2.describe_instances()  # type: ignore[attr-defined]
                times.append(time.perf_counter() - started)
            print(f"{stars} wildcards, 64-character session name: DescribeInstances answered in "
                  f"{statistics.median(times) * 1000:.1f} ms (median of 20, max {max(times) * 1000:.1f} ms)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
