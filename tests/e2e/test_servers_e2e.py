"""`stsdesk exec --server|--imds` and `stsdesk serve` end to end: boto3, the AWS CLI and the JavaScript SDK,
each in a real child process, get their credentials from the local server and call the emulator with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (  # at import time: at run time `conftest` may be another directory's
    ALICE_KEY,
    ALICE_SECRET,
    BOB_KEY,
    BOB_SECRET,
    MFA_SEED,
    REPO,
    SCENARIO,
    Emulator,
    World,
    config_text,
)
from test_servers_support import CLIENTS, Child, ClientKind

MODES = ["--server", "--imds"]
READONLY_ARN = ":assumed-role/ReadOnly/"
# Planted in stsdesk's own environment: none of it may reach the child.
PLANTED = {
    "AWS_ACCESS_KEY_ID": BOB_KEY,
    "AWS_SECRET_ACCESS_KEY": BOB_SECRET,
    "AWS_SESSION_TOKEN": "planted-session-token",
    "AWS_SECURITY_TOKEN": "planted-security-token",
    "AWS_PROFILE": "bob",
    "AWS_DEFAULT_PROFILE": "bob",
    "AWS_SDK_LOAD_CONFIG": "1",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/planted",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/nonexistent/planted",
}


def exec_child(world: World, mode: str, profile: str, argv: list[str], extra: dict[str, str]) -> Child:
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint, **PLANTED, **extra}
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "exec", mode, profile, "--", *argv],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=world.home,
    )
    return Child(process)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_each_client_gets_the_role_from_the_server(
    world: World, tmp_path: Path, client: ClientKind, mode: str
) -> None:
    argv, extra = client.argv(tmp_path)
    with exec_child(world, mode, "readonly", argv, extra) as child:
        assert child.static == []  # no static key, no AWS_PROFILE reached the child
        answer = child.ask()
        assert answer["ok"], answer
        assert READONLY_ARN in str(answer["arn"])
        assert str(answer["key"]) != BOB_KEY
        if client.name == "aws-cli":
            assert str(answer["key"]).endswith("container-role" if mode == "--server" else "iam-role")
        if client.name == "boto3":
            assert answer["method"] == ("container-role" if mode == "--server" else "iam-role")
        status, err = child.finish()
    assert status == 0, err


# -- renewal while the child keeps running -----------------------------------------------------------------

# The emulator's clock runs 880 s behind this machine's: a 900-second session looks 20 s long here, so the
# server renews it (at half-life) within the test, exactly as it renews a 900-second role at
# 450 s in real use. The signatures stay within SigV4's 15-minute skew.
SKEW = -880


@pytest.fixture
def skewed_world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    directory = tmp_path / "emulator"
    directory.mkdir()
    scenario = directory / "scenario.json"
    skew = getattr(request, "param", SKEW)
    scenario.write_text(json.dumps({**SCENARIO, "faults": {"clock_offset_seconds": skew}}))
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(scenario), "--allow-time-travel"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("endpoint: "), process.stderr.read() if process.stderr else line
    endpoint = line.split(" ", 1)[1].strip()
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "STSDESK_CONFIG_DIR": str(home / "stsdesk"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": str(REPO),
    })
    (home / ".aws" / "config").write_text(
        config_text(endpoint)
        + "\n[profile short]\nsource_profile = bob\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n"
        "duration_seconds = 900\n"
    )
    (home / ".aws" / "credentials").write_text(
        f"[bob]\naws_access_key_id = {BOB_KEY}\naws_secret_access_key = {BOB_SECRET}\n"
        f"[alice]\naws_access_key_id = {ALICE_KEY}\naws_secret_access_key = {ALICE_SECRET}\n"
    )
    try:
        yield World(home, env, Emulator(endpoint, process))
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_sessions_are_renewed_while_the_child_keeps_running(
    skewed_world: World, tmp_path: Path, client: ClientKind, mode: str
) -> None:
    argv, extra = client.argv(tmp_path)
    if client.name == "boto3" and mode == "--imds":
        # botocore extends IMDS credentials that expire within 12-20 minutes locally instead of fetching new
        # ones (its "static stability"), and sessions here look 20 s long: one long-lived boto3 session would
        # never ask again. The server warns about this (checked below); here each request is a new session.
        extra = {**extra, "FRESH_SESSION": "1"}
    keys: list[str] = []
    with exec_child(skewed_world, mode, "short", argv, extra) as child:
        for _ in range(90):  # sessions are renewed every ~10 s here: a second one is expected in ~10 s
            answer = child.ask()
            assert answer["ok"], answer  # every call along the way works: no gap between sessions
            assert READONLY_ARN in str(answer["arn"])
            if str(answer["key"]) not in keys:
                keys.append(str(answer["key"]))
            if len(keys) >= 2:
                break
            time.sleep(1)
        status, err = child.finish()
    assert len(keys) >= 2, f"the child saw only {keys}"
    assert status == 0, err
    assert ("prefer --server" in err) == (mode == "--imds"), err


# -- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["wrong", None])
@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_wrong_or_missing_token_is_refused(world: World, tmp_path: Path, client: ClientKind, token: str | None) -> None:
    argv, extra = client.argv(tmp_path)
    change = ["AWS_CONTAINER_AUTHORIZATION_TOKEN=" + token] if token else ["-u", "AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    with exec_child(world, "--server", "readonly", ["env", *change, *argv], extra) as child:
        answer = child.ask()
        status, err = child.finish()
    assert not answer["ok"], answer
    error = str(answer["error"])
    if client.name != "js-sdk":  # the JS chain folds every provider's error into "Could not load credentials"
        assert "403" in error or "AccessDenied" in error, error
    assert status == 0, err


# A raw request from a child process of `exec`, made by one of three tools. The launcher fills {base}, {port}
# and {token} from the environment the server gave it, then makes the request itself (python) or hands the
# concrete request to node or curl; each prints the HTTP status.
LAUNCHER = r"""
import json, os, re, sys, urllib.error, urllib.request
tool, method, target, headers = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
base = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
port = re.match(r"http://127\.0\.0\.1:(\d+)", base).group(1)
values = {"base": base, "port": port, "token": os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")}
url = target.format(**values)
headers = {k: v.format(**values) for k, v in headers.items()}
if tool == "curl":
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\n", "-X", method, url]
    for k, v in headers.items():
        argv[1:1] = ["-H", f"{k}: {v}"]
    os.execvp("curl", argv)
if tool == "node":
    script = ("const [m,u,h]=process.argv.slice(1);const x=new URL(u);require('http').request({method:m,"
              "host:x.hostname,port:x.port,path:x.pathname,headers:JSON.parse(h)},(r)=>{console.log(r.statusCode);"
              "r.resume();}).end();")
    os.execvp("node", ["node", "-e", script, method, url, json.dumps(headers)])
request = urllib.request.Request(url, method=method, headers=headers)
try:
    print(urllib.request.urlopen(request, timeout=10).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
"""
TOOLS = ["python", "node", "curl"]


def probe(world: World, mode: str, tool: str, method: str, target: str, headers: dict[str, str]) -> int:
    """Run one raw request under `exec MODE readonly` (so it sees the server's variables); its status."""
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
    done = subprocess.run(
        [sys.executable, "-m", "stsdesk", "exec", mode, "readonly", "--",
         sys.executable, "-c", LAUNCHER, tool, method, target, json.dumps(headers)],
        capture_output=True, text=True, env=env, cwd=world.home, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tool", TOOLS)
def test_imds_v1_is_refused(world: World, tool: str) -> None:
    url = "{base}latest/meta-data/iam/security-credentials/"
    assert probe(world, "--imds", tool, "GET", url, {}) == 401
    assert probe(world, "--imds", tool, "GET", url + "ReadOnly", {}) == 401


@pytest.mark.parametrize("tool", TOOLS)
def test_container_token_checked_from_every_tool(world: World, tool: str) -> None:
    assert probe(world, "--server", tool, "GET", "{base}", {"Authorization": "{token}"}) == 200
    assert probe(world, "--server", tool, "GET", "{base}", {"Authorization": "{token}x"}) == 403
    assert probe(world, "--server", tool, "GET", "{base}", {}) == 403


@pytest.mark.parametrize("tool", TOOLS)
def test_bad_host_is_refused(world: World, tool: str) -> None:
    rebound = {"Host": "rebound.example:{port}"}
    assert probe(world, "--server", tool, "GET", "{base}", {"Authorization": "{token}", **rebound}) == 403
    ttl = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    assert probe(world, "--imds", tool, "PUT", "{base}latest/api/token", {**ttl, **rebound}) == 403
    assert probe(world, "--imds", tool, "PUT", "{base}latest/api/token", ttl) == 200


# -- an MFA code asked on the terminal ahead of time, while requests go on being answered ----------------

MFA_SKEW = -860  # sessions of 900 s look 40 s long here: renewed after 20 s, the old one served 10 s more
FETCH_LOOP = r"""
import json, os, sys, time, urllib.error, urllib.request
url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
while not os.path.exists(sys.argv[1]):
    try:
        request = urllib.request.Request(url, headers={"Authorization": token})
        print("FETCH 200", json.load(urllib.request.urlopen(request, timeout=5))["AccessKeyId"], flush=True)
    except urllib.error.HTTPError as exc:
        print("FETCH", exc.code, "-", flush=True)
    time.sleep(0.3)
"""


def skewed_code(used: set[str]) -> str:
    """An unused TOTP code of alice's device by the emulator's (skewed) clock."""
    import pyotp

    totp = pyotp.TOTP(MFA_SEED)
    while True:
        for offset in (0, 30):
            code = totp.at(time.time() + MFA_SKEW + offset)
            if code not in used:
                used.add(code)
                return code
        time.sleep(1)


@pytest.mark.parametrize("skewed_world", [MFA_SKEW], indirect=True)
def test_mfa_renewal_asks_the_terminal_ahead_and_never_inside_a_request(skewed_world: World, tmp_path: Path) -> None:
    """An IAM user with MFA is served MFA sessions: each renewal needs a code. The prompt appears on the
    terminal that ran exec while the current session is still served; every request made while it waits is
    answered at once with that session; the code typed makes the next one."""
    import pty

    used: set[str] = set()
    stop = tmp_path / "stop"
    argv = [sys.executable, "-m", "stsdesk", "exec", "--server", "alice", "--duration", "900",
            "--mfa-code", skewed_code(used), "--", sys.executable, "-c", FETCH_LOOP, str(stop)]
    env = {**skewed_world.env, "AWS_ENDPOINT_URL_STS": skewed_world.emulator.endpoint}
    pid, fd = pty.fork()
    if pid == 0:  # the child: stsdesk exec on its own terminal (pty.fork made it the controlling one)
        os.chdir(skewed_world.home)
        os.execve(sys.executable, argv, env)
    output = b""
    events: list[str] = []

    def lines() -> Iterator[str]:
        nonlocal output
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            output += chunk
            *complete, rest = output.split(b"\n")
            output = rest
            for raw in complete:
                yield raw.decode(errors="replace").strip()
            if b"MFA code for" in output:  # the prompt has no newline
                output = b""
                yield "PROMPT"

    try:
        keys: list[str] = []
        waiting = 0
        for line in lines():
            events.append(line)
            if line == "PROMPT":
                assert len(keys) == 1, events  # asked while the first session is served
                waiting = 1
            elif line.startswith("FETCH"):
                status, key = line.split()[1:3]
                assert status == "200", events  # never an error, never a wait for the prompt
                if key not in keys:
                    keys.append(key)
                if waiting > 0:
                    waiting += 1
                if waiting == 4:  # three requests answered while the prompt waited: now type the code
                    assert len(keys) == 1, events
                    os.write(fd, (skewed_code(used) + "\n").encode())
                    waiting = -1
                if len(keys) == 2:
                    stop.write_text("x")
        _, status = os.waitpid(pid, 0)
    finally:
        stop.write_text("x")
        os.close(fd)
    assert len(keys) == 2 and waiting == -1, "\n".join(events)
    assert os.waitstatus_to_exitcode(status) == 0, events
