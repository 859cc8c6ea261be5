"""The HTTP front end: malformed input never earns a 5xx, routing, faults, time travel, the CLI runner and the
AWS CLI against the emulator."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError
from sts_world import ALICE_KEY, B, Emu, start, world

from stsdesk.emulator import server as server_module
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.wire import Request, Response

REPO = Path(__file__).resolve().parents[2]
NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
RUNNER = (
    "import sys; from stsdesk.emulator.server import run_emulator; "
    "sys.exit(run_emulator(scenario_path=sys.argv[1]))"
)


def raw_exchange(emu: Emu, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or goes quiet."""
    with socket.create_connection((emu.server.host, emu.server.port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def post(
    emu: Emu, body: str | bytes, path: str = "/", method: str = "POST"
) -> tuple[int, ElementTree.Element]:
    conn = http.client.HTTPConnection(emu.server.host, emu.server.port, timeout=5)
    data = body.encode() if isinstance(body, str) else body
    conn.request(method, path, body=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    reply = conn.getresponse()
    text = reply.read()
    conn.close()
    return reply.status, ElementTree.fromstring(text)


def error_code(root: ElementTree.Element) -> tuple[str, str]:
    return root.findtext(f"{NS}Error/{NS}Code") or "", root.findtext(f"{NS}Error/{NS}Message") or ""


def test_unknown_action_missing_action_and_missing_auth(emu: Emu) -> None:
    status, root = post(emu, "Action=Frobnicate&Version=2011-06-15")
    assert status == 400
    assert error_code(root) == ("InvalidAction", "Could not find operation Frobnicate for version 2011-06-15")
    assert root.tag == f"{NS}ErrorResponse" and root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    status, root = post(emu, "Version=2011-06-15")
    assert status == 400 and error_code(root)[0] == "MissingAction"
    status, root = post(emu, "Action=GetCallerIdentity&Version=2011-06-15")
    assert (status, error_code(root)) == (
        403,
        ("MissingAuthenticationToken", "Request is missing Authentication Token"),
    )


def test_wrong_method_wrong_path_and_bad_encoding(emu: Emu) -> None:
    status, root = post(emu, "Action=GetCallerIdentity", method="PUT")
    assert status == 405 and error_code(root)[0] == "MethodNotAllowed"
    status, root = post(emu, "", path="/nowhere")
    assert status == 404
    status, root = post(emu, b"Action=\xff\xfe%zz")
    assert status == 400 and error_code(root)[0] == "MalformedQueryString"


def test_oversized_and_lying_bodies(emu: Emu) -> None:
    huge = raw_exchange(emu, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"a" * 1000)
    assert status_of(huge) == 413 and b"<Code>RequestEntityTooLarge</Code>" in huge
    bad = raw_exchange(emu, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
    assert status_of(bad) == 400 and b"<ErrorResponse" in bad
    short = raw_exchange(emu, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAction=Get")
    assert status_of(short) == 400 and b"<ErrorResponse" in short


def test_slow_partial_body_times_out_cleanly(emu: Emu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module._RequestHandler, "timeout", 0.3)
    with socket.create_connection((emu.server.host, emu.server.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nAction=")
        reply = sock.recv(65536)
    assert status_of(reply) == 400 and b"<Code>RequestTimeout</Code>" in reply


def test_junk_never_earns_a_5xx(emu: Emu) -> None:
    rng = random.Random(1234)
    samples = [
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /?Action=%%%% HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 junk\r\nContent-Length: 24\r\n\r\n"
        b"Action=GetCallerIdentity",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    ]
    for _ in range(40):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        samples.append(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(junk) + junk)
        samples.append(junk + b"\r\n\r\n")
    for sample in samples:
        reply = raw_exchange(emu, sample)
        if reply:  # a request line too broken to parse may simply be dropped
            assert reply.startswith(b"HTTP/1."), sample[:60]
            assert status_of(reply) < 500, (sample[:60], reply[:300])
            assert b"Traceback" not in reply
    # And the server still serves.
    assert emu.client(ALICE_KEY).get_caller_identity()["Account"] == "111111111111"


def test_headers_the_fast_path_declines_still_reach_the_handler(emu: Emu) -> None:
    # A tab after the colon sends the block through the stdlib parser; its Content-Type and Content-Length
    # must still be honoured (the body is read and parsed as a form).
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    for version in (b"HTTP/1.1", b"HTTP/1.0"):
        reply = raw_exchange(
            emu,
            b"POST / " + version + b"\r\nHost: h\r\nContent-Type:\tapplication/x-www-form-urlencoded\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
        )
        assert status_of(reply) == 403, reply[:200]
        assert b"<Code>MissingAuthenticationToken</Code>" in reply


def test_keep_alive_serves_several_requests_on_one_connection(emu: Emu) -> None:
    conn = http.client.HTTPConnection(emu.server.host, emu.server.port, timeout=5)
    for _ in range(3):
        conn.request(
            "POST", "/", body=b"Action=Nope", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        reply = conn.getresponse()
        assert reply.status == 400 and reply.getheader("x-amzn-RequestId")
        reply.read()
    conn.close()


def test_time_travel_endpoint(emu: Emu, tmp_path: Path) -> None:
    before = emu.state.clock.now()
    reply = emu.advance(3600)
    assert (emu.state.clock.now() - before).total_seconds() >= 3600
    assert reply["offset_seconds"] >= 3600
    with pytest.raises(urllib.error.HTTPError) as caught:
        emu.advance(-5)
    assert caught.value.code == 400
    caught.value.close()
    frozen = start(scenario_from_dict(world()), tmp_path / "other", time_travel=False)
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            frozen.advance(10)
        assert caught.value.code == 403
        caught.value.close()
    finally:
        frozen.server.stop()


def test_faults_throttle_5xx_and_drop(tmp_path: Path) -> None:
    data = world()
    data["faults"] = {"throttle_every": 3, "error_5xx_every": 5, "drop_every": 7}
    emu = start(scenario_from_dict(data), None)
    try:
        seen: list[str] = []
        sts = emu.client(ALICE_KEY)
        for _ in range(7):
            try:
                sts.get_caller_identity()
                seen.append("ok")
            except ClientError as exc:
                seen.append(exc.response["Error"]["Code"])
            except Exception as exc:  # the dropped connection surfaces as a botocore connection error
                seen.append(type(exc).__name__)
        assert seen[:6] == ["ok", "ok", "Throttling", "ok", "InternalFailure", "Throttling"]
        assert seen[6] not in ("ok", "Throttling", "InternalFailure")
    finally:
        emu.server.stop()


def test_register_service_routes_by_signing_scope_and_action(emu: Emu) -> None:
    def ec2(request: Request) -> Response:
        return Response(200, b"<ec2/>")

    emu.server.register_service("ec2", ec2, actions=["DescribeInstances"])
    conn = http.client.HTTPConnection(emu.server.host, emu.server.port, timeout=5)
    conn.request(
        "POST",
        "/",
        body=b"Action=DescribeInstances&Version=2016-11-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert conn.getresponse().read() == b"<ec2/>"
    conn.request(
        "POST",
        "/",
        body=b"Action=GetCallerIdentity",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/ec2/aws4_request"},
    )
    assert conn.getresponse().read() == b"<ec2/>"
    conn.close()
    assert emu.client(ALICE_KEY).get_caller_identity()["Account"] == "111111111111"


def test_aws_cli_get_caller_identity_and_assume_role_profile(emu: Emu, tmp_path: Path) -> None:
    aws = REPO / ".venv" / "bin" / "aws"
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    credentials.write_text(
        f"[alice]\naws_access_key_id = {ALICE_KEY[0]}\naws_secret_access_key = {ALICE_KEY[1]}\n"
    )
    config.write_text(
        "[profile alice]\nregion = us-east-1\n"
        f"[profile dev]\nregion = us-east-1\nrole_arn = arn:aws:iam::{B}:role/Open\nsource_profile = alice\n"
    )
    env = dict(
        os.environ,
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_ENDPOINT_URL_STS=emu.endpoint,
        HOME=str(tmp_path),
    )
    plain = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--profile", "alice", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["Arn"] == "arn:aws:iam::111111111111:user/alice"
    role = subprocess.run(
        [str(aws), "sts", "get-caller-identity", "--profile", "dev", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert role.returncode == 0, role.stderr
    assert json.loads(role.stdout)["Arn"].startswith(f"arn:aws:sts::{B}:assumed-role/Open/")
    denied = subprocess.run(
        [
            str(aws),
            "sts",
            "assume-role",
            "--profile",
            "alice",
            "--role-arn",
            f"arn:aws:iam::{B}:role/Denied",
            "--role-session-name",
            "cli",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr


def test_run_emulator_prints_endpoint_and_stops_on_sigterm(tmp_path: Path) -> None:
    scenario = tmp_path / "world.json"
    scenario.write_text(json.dumps(world()))
    code = RUNNER
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("endpoint: http://127.0.0.1:")
        with urllib.request.urlopen(line.split(" ", 1)[1] + "/", data=b"Action=Nope", timeout=5) as _:
            pass
    except urllib.error.HTTPError as exc:
        exc.close()
        assert exc.code == 400
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == ""


def test_run_emulator_refuses_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("region = [")
    code = RUNNER
    done = subprocess.run(
        [sys.executable, "-c", code, str(bad)], capture_output=True, text=True, cwd=REPO, timeout=30
    )
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "bad.toml" in done.stderr


def test_run_emulator_default_scenario_comes_from_the_bundle_resources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Inside a PyInstaller bundle resources live under sys._MEIPASS, not next to the package sources.
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert server_module.run_emulator() == 1
    assert "no scenario given" in capsys.readouterr().err
    (tmp_path / "resources").mkdir()
    (tmp_path / "resources" / "demo.toml").write_text("region = [")
    assert server_module.run_emulator() == 1
    # The checkout's own demo.toml is valid: this error can only come from the bundle's copy.
    assert "demo.toml: not valid TOML" in capsys.readouterr().err


def test_stop_closes_keep_alive_connections(tmp_path: Path) -> None:
    # A stopped emulator must look like a server that went away, also to a client holding a keep-alive socket.
    import http.client

    from stsdesk.emulator.scenario import scenario_from_dict
    from stsdesk.emulator.server import EmulatorServer
    from stsdesk.emulator.state import EmulatorState

    server = EmulatorServer(EmulatorState(scenario_from_dict({}), None))
    server.start()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
    first = conn.getresponse()
    first.read()
    assert first.status == 403  # unsigned: MissingAuthenticationToken, on a keep-alive connection
    server.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/?Action=GetCallerIdentity&Version=2011-06-15")
        conn.getresponse().read()
    conn.close()


# ------------------------------------------------------------------ the lean request loop (handle) and its hand-off

UNSIGNED = b"Action=GetCallerIdentity&Version=2011-06-15"


def _request(body: bytes = UNSIGNED, extra: bytes = b"") -> bytes:
    return (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" + extra
        + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )


def _read_replies(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """``count`` responses off ``sock``: (status, lower-cased headers, body) each."""
    replies = []
    data = b""
    for _ in range(count):
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(replies)} replies"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers["content-length"])
        while len(data) < length:
            data += sock.recv(65536)
        replies.append((int(lines[0].split(" ")[1]), headers, data[:length]))
        data = data[length:]
    return replies


def _connect(emu: Emu) -> socket.socket:
    sock = socket.create_connection((emu.server.host, emu.server.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def test_pipelined_requests_in_one_send_are_each_answered_in_order(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(_request() + _request(b"Action=Nope") + _request(b"Version=2011-06-15"))
        replies = _read_replies(sock, 3)
    assert [status for status, _, _ in replies] == [403, 400, 400]
    assert b"MissingAuthenticationToken" in replies[0][2]
    assert b"<Code>InvalidAction</Code>" in replies[1][2] and b"<Code>MissingAction</Code>" in replies[2][2]
    for _, headers, body in replies:  # the header request id is the body's, fresh per request
        assert f"<RequestId>{headers['x-amzn-requestid']}</RequestId>".encode() in body
    assert len({headers["x-amzn-requestid"] for _, headers, _ in replies}) == 3


@pytest.mark.parametrize("cut", [1, 5, 16, 17, 30, 60, -len(UNSIGNED) - 2, -len(UNSIGNED), -10, -1])
def test_a_request_split_across_reads_is_served_whole(emu: Emu, cut: int) -> None:
    # Cuts inside the request line, inside a header, between CR and LF of the blank line and inside the body;
    # then a second request on the same connection, to show the connection kept its place in the stream.
    whole = _request()
    with _connect(emu) as sock:
        sock.sendall(whole[:cut])
        time.sleep(0.05)  # the server reads the first fragment on its own
        sock.sendall(whole[cut:])
        first = _read_replies(sock, 1)[0]
        sock.sendall(_request(b"Action=Nope"))
        second = _read_replies(sock, 1)[0]
    assert first[0] == 403 and b"MissingAuthenticationToken" in first[2]
    assert second[0] == 400 and b"<Code>InvalidAction</Code>" in second[2]


def test_a_head_split_at_an_odd_byte_goes_to_the_stdlib_parser_with_what_was_read(emu: Emu) -> None:
    # The first fragment already holds a tab (not plain): the stdlib path gets it and reads the rest itself.
    whole = _request(extra=b"X-Odd:\tvalue\r\n")
    cut = whole.index(b"\t") + 3
    with _connect(emu) as sock:
        sock.sendall(whole[:cut])
        time.sleep(0.05)
        sock.sendall(whole[cut:] + _request(b"Action=Nope"))
        replies = _read_replies(sock, 2)
    assert [status for status, _, _ in replies] == [403, 400]
    assert b"<Code>InvalidAction</Code>" in replies[1][2]


def test_a_request_after_an_unusual_one_is_still_served_on_the_same_connection(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(_request(extra=b"X-Odd:\tvalue\r\n") + _request(b"Action=Nope") + _request())
        replies = _read_replies(sock, 3)
    assert [status for status, _, _ in replies] == [403, 400, 403]


def test_a_bare_lf_head_is_answered_at_once_not_left_waiting(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(b"POST / HTTP/1.1\nHost: x\nContent-Length: %d\n\n" % len(UNSIGNED) + UNSIGNED)
        (status, _, body), = _read_replies(sock, 1)
    assert status == 403 and b"MissingAuthenticationToken" in body


def test_expect_100_continue_is_honoured(emu: Emu) -> None:
    with _connect(emu) as sock:
        head = _request(extra=b"Expect: 100-continue\r\n")
        sock.sendall(head[: -len(UNSIGNED)])
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 ")
        sock.sendall(UNSIGNED)
        (status, _, body), = _read_replies(sock, 1)
    assert status == 403 and b"MissingAuthenticationToken" in body


def test_connection_close_is_answered_then_closed(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(_request(extra=b"Connection: close\r\n") + _request(b"Action=Nope"))
        (status, headers, _), = _read_replies(sock, 1)
        assert status == 403 and headers["connection"] == "close"
        assert sock.recv(65536) == b""  # the pipelined second request is not served


def test_client_closing_mid_request_leaves_the_server_serving(emu: Emu) -> None:
    whole = _request()
    for cut in (10, whole.index(b"\r\n\r\n") + 4, len(whole) - 5):
        with _connect(emu) as sock:
            sock.sendall(whole[:cut])
            sock.shutdown(socket.SHUT_WR)
            rest = b"".join(iter(lambda: sock.recv(65536), b""))  # used at once
        # Cut in the body: the server says the body was incomplete; cut in the head: whatever the stdlib made
        # of the fragment, never a 5xx.
        if cut == len(whole) - 5:
            assert status_of(rest) == 400 and b"Incomplete request body" in rest
        elif rest:
            assert rest.startswith(b"HTTP/1.1 ") and status_of(rest) < 500
    assert emu.client(ALICE_KEY).get_caller_identity()["Account"] == "111111111111"


def test_oversized_body_split_across_reads_and_a_body_in_many_reads(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Len")
        time.sleep(0.05)
        sock.sendall(b"gth: %d\r\n\r\n" % (server_module.MAX_BODY_BYTES + 1))
        (status, _, body), = _read_replies(sock, 1)
        assert status == 413 and b"RequestEntityTooLarge" in body
    # A body at the limit, sent in pieces, is read whole: its last bytes are seen (the form's last field).
    padding = b"Pad=" + b"a" * (server_module.MAX_BODY_BYTES - len(UNSIGNED) - 5) + b"&"
    big = padding + UNSIGNED
    assert len(big) == server_module.MAX_BODY_BYTES
    with _connect(emu) as sock:
        request = _request(big)
        for start in range(0, len(request), 200_000):
            sock.sendall(request[start : start + 200_000])
            time.sleep(0.01)
        (status, _, body), = _read_replies(sock, 1)
    assert status == 403 and b"MissingAuthenticationToken" in body


def test_a_head_over_the_line_limit_is_refused_not_buffered_forever(emu: Emu) -> None:
    with _connect(emu) as sock:
        sock.sendall(b"GET /" + b"a" * 70000)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    assert status_of(reply) == 414 and b"<ErrorResponse" in reply
