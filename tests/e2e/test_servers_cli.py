"""`stsdesk serve` and the lifecycle of `exec --server|--imds`: lines to paste, clean stop, exit status,
signals, the server's lifetime, option parsing, refusals of unusable profiles and of other local users."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import World

AWS_CLI = Path(sys.executable).with_name("aws")


def start_serve(world: World, *args: str) -> tuple[subprocess.Popen[str], list[str], str]:
    """Start `stsdesk serve ARGS`; its process, the lines it printed and its 'serving' message."""
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "serve", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}, cwd=world.home,
    )
    assert process.stderr is not None and process.stdout is not None
    message = process.stderr.readline()
    while message.startswith("stsdesk: No usable keyring"):  # the e2e world has none, on purpose
        message = process.stderr.readline()
    if "serving" not in message:
        process.kill()
        _out, err = process.communicate(timeout=30)
        pytest.fail(f"serve did not start: {message}{err}")
    lines: list[str] = []
    while True:  # everything on stdout was flushed before the message; the last line sets the region
        line = process.stdout.readline()
        lines.append(line)
        last = line.strip() == "}" if lines[0].startswith("{") else "AWS_DEFAULT_REGION" in line
        if last or not line:
            break
    return process, lines, message


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("imds", [False, True])
def test_serve_prints_bash_lines_that_work_and_stops_cleanly(world: World, imds: bool) -> None:
    process, lines, message = start_serve(world, "readonly", *(["--imds"] if imds else []))
    try:
        text = "".join(lines)
        assert "unset AWS_ACCESS_KEY_ID" in text and "unset AWS_PROFILE" in text
        variable = "AWS_EC2_METADATA_SERVICE_ENDPOINT" if imds else "AWS_CONTAINER_CREDENTIALS_FULL_URI"
        assert f"export {variable}='http://127.0.0.1:" in text
        assert ("AWS_CONTAINER_AUTHORIZATION_TOKEN='" in text) is not imds
        port = int(message.split("127.0.0.1:")[1].split("/")[0])
        # A shell that still holds static keys and a profile: the pasted lines make the CLI use the server.
        script = (
            f"export AWS_ACCESS_KEY_ID={world.bob_key} AWS_SECRET_ACCESS_KEY=x AWS_PROFILE=bob\n"
            + text
            + f'exec "{AWS_CLI}" sts get-caller-identity --query Arn --output text\n'
        )
        env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert ":assumed-role/ReadOnly/" in done.stdout
        secrets = [line.split("'")[1] for line in lines if "AUTHORIZATION_TOKEN=" in line]
        if not imds:  # what the server hands out is a secret too
            url = next(line.split("'")[1] for line in lines if "CREDENTIALS_FULL_URI=" in line)
            request = urllib.request.Request(url, headers={"Authorization": secrets[0]})
            document = json.load(urllib.request.urlopen(request, timeout=10))
            secrets += [document["SecretAccessKey"], document["Token"]]
        # Hostile requests: nothing of them may reach the terminal or a log.
        with socket.create_connection(("127.0.0.1", port)) as hostile:
            hostile.sendall(b"GET /MARKER-$(id)`id` HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Evil: MARKER\r\n\r\n" % port)
            hostile.recv(4096)
        with socket.create_connection(("127.0.0.1", port)) as hostile:
            hostile.sendall(b"MARKER\x00\xff junk\r\n\r\n")
            hostile.recv(4096)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "its token no longer works" in err and "Traceback" not in err
        assert "MARKER" not in err
        assert not [secret for secret in secrets if secret in err]
        assert not port_open(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_json_format_and_fixed_port(world: World) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    process, lines, _message = start_serve(world, "readonly", "--format", "json", "--port", str(port))
    try:
        document = json.loads("".join(lines))
        assert document["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith(f"http://127.0.0.1:{port}/stsdesk/")
        assert len(document["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 40
        assert "AWS_ACCESS_KEY_ID" not in document  # only what is set
        # The same port again: a one-line error, exit 1.
        taken = world.stsdesk("serve", "readonly", "--port", str(port))
        assert taken.returncode == 1 and taken.stderr.count("\n") == 1, taken.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_exec_status_is_the_commands_and_the_server_dies_with_it(world: World) -> None:
    code = "import os; print(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI']); raise SystemExit(7)"
    done = world.stsdesk("exec", "--server", "readonly", "--", sys.executable, "-c", code)
    assert done.returncode == 7, done.stderr
    port = int(done.stdout.split("127.0.0.1:")[1].split("/")[0])
    assert not port_open(port)  # gone as soon as the command ended


def test_exec_forwards_sigterm_to_the_command(world: World, tmp_path: Path) -> None:
    marker = tmp_path / "ready"
    code = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(3)))\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "exec", "--imds", "readonly", "--", sys.executable, "-c", code],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}, cwd=world.home,
        start_new_session=True,  # no terminal: a SIGTERM to stsdesk reaches the command only if forwarded
    )
    try:
        for _ in range(600):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists(), "the command did not start"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert "got TERM" in out, err
        assert process.returncode == 3, err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_exec_options_before_the_double_dash(world: World) -> None:
    """`exec P --duration 900 -- CMD` runs CMD with a 900-second session (--duration was taken for CMD)."""
    code = "import os; print(os.environ['AWS_CREDENTIAL_EXPIRATION'])"
    done = world.stsdesk("exec", "readonly", "--duration", "900", "--", sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    from datetime import UTC, datetime

    expiry = datetime.strptime(done.stdout.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < (expiry - datetime.now(UTC)).total_seconds() <= 900
    fetch = (
        "import json, os, urllib.request\n"
        "request = urllib.request.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'],\n"
        "    headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']})\n"
        "print(json.load(urllib.request.urlopen(request))['Expiration'])\n"
    )
    served = world.stsdesk("exec", "readonly", "--server", "--duration", "900", "--", sys.executable, "-c", fetch)
    assert served.returncode == 0, served.stderr
    expiry = datetime.strptime(served.stdout.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < (expiry - datetime.now(UTC)).total_seconds() <= 900  # the server's sessions have that length too
    bad = world.stsdesk("exec", "readonly", "--bogus", "--", "true")
    assert bad.returncode == 2 and "--bogus" in bad.stderr


def test_an_iam_user_is_served_a_session_never_its_key(world: World) -> None:
    """bob has long-term keys and no MFA: the server hands out temporary sessions made from them (the core
    refuses to serve long-term keys at all: tests/core/test_servers_supply.py)."""
    fetch = (
        "import json, os, urllib.request\n"
        "request = urllib.request.Request(os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'],\n"
        "    headers={'Authorization': os.environ['AWS_CONTAINER_AUTHORIZATION_TOKEN']})\n"
        "document = json.load(urllib.request.urlopen(request))\n"
        "print(document['AccessKeyId'], bool(document['Token']))\n"
    )
    done = world.stsdesk("exec", "--server", "bob", "--", sys.executable, "-c", fetch)
    assert done.returncode == 0, done.stderr
    key, has_token = done.stdout.split()
    assert key.startswith("ASIA") and key != world.bob_key and has_token == "True"


def test_mfa_profile_with_a_code_from_the_command_line(world: World) -> None:
    code = (
        "import boto3, os\n"
        "print(boto3.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL_STS']).get_caller_identity()['Arn'])"
    )
    done = subprocess.run(
        [sys.executable, "-m", "stsdesk", "exec", "--server", "dev", "--mfa-code", world.emulator.mfa_code(), "--",
         sys.executable, "-c", code],
        capture_output=True, text=True, env={**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint},
        cwd=world.home, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert ":assumed-role/Developer/" in done.stdout


def test_unknown_profile_is_one_line(world: World) -> None:
    done = world.stsdesk("serve", "nope")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "nope" in done.stderr


def test_other_local_users_are_refused(world: World, tmp_path: Path) -> None:
    """A second local user reaches 127.0.0.1 too: it gets no IMDS token and no container credentials."""
    from tests.security.conftest import INTRUDER, unavailable

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        unavailable("acting as a second local user needs root (useradd, runuser)")
    import shutil

    if shutil.which("useradd") is None or shutil.which("runuser") is None or shutil.which("curl") is None:
        unavailable("useradd, runuser and curl are needed to act as a second local user")
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", "--user-group", INTRUDER],
                   capture_output=True)  # kept if it exists already
    script = (
        'base="${AWS_EC2_METADATA_SERVICE_ENDPOINT:-$AWS_CONTAINER_CREDENTIALS_FULL_URI}"\n'
        'if [ -n "$AWS_EC2_METADATA_SERVICE_ENDPOINT" ]; then\n'
        '  set -- -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "${base}latest/api/token"\n'
        'else\n'
        '  set -- -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$base"\n'
        "fi\n"
        f'runuser -u {INTRUDER} -- curl -s -o /dev/null -w "%{{http_code}}\\n" "$@"\n'
        'curl -s -o /dev/null -w "%{http_code}\\n" "$@"\n'
    )
    for mode in ("--imds", "--server"):
        done = world.stsdesk("exec", mode, "readonly", "--", "sh", "-c", script)
        assert done.returncode == 0, done.stderr
        # The intruder (even holding the container token) is refused; the owner is served.
        assert done.stdout.split() == ["403", "200"], (mode, done.stdout, done.stderr)


def test_ctrl_c_at_the_terminal_reaches_the_command_once(world: World, tmp_path: Path) -> None:
    """The terminal sends SIGINT to its whole foreground group (stsdesk and CMD): stsdesk must not forward it
    again (CMD would see two), and it keeps serving until CMD has finished."""
    import pty

    code = (
        "import signal, sys, time\n"
        "seen = []\n"
        "signal.signal(signal.SIGINT, lambda *a: seen.append(1))\n"
        "print('READY', flush=True)\n"
        "while not seen:\n"
        "    time.sleep(0.05)\n"
        "time.sleep(1.0)  # a forwarded second SIGINT would arrive meanwhile\n"
        "print('SIGINTS', len(seen), flush=True)\n"
        "sys.exit(5)\n"
    )
    env = {**world.env, "AWS_ENDPOINT_URL_STS": world.emulator.endpoint}
    argv = [sys.executable, "-m", "stsdesk", "exec", "--server", "readonly", "--", sys.executable, "-c", code]
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(world.home)
        os.execve(sys.executable, argv, env)
    output = b""
    try:
        while b"READY" not in output:
            chunk = os.read(fd, 4096)
            assert chunk, output
            output += chunk
        os.write(fd, b"\x03")  # Ctrl-C typed at the terminal
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert b"SIGINTS 1" in output, output
    assert os.waitstatus_to_exitcode(status) == 5, output


def test_every_exec_option_works_before_the_double_dash(world: World) -> None:
    code = "import os; print(os.environ['AWS_REGION'], 'AWS_CONTAINER_CREDENTIALS_FULL_URI' in os.environ)"
    done = world.stsdesk("exec", "readonly", "--region", "eu-west-1", "--server", "--", sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["eu-west-1", "True"]
    both = world.stsdesk("exec", "--server", "readonly", "--imds", "--", "true")
    assert both.returncode == 2 and "--imds" in both.stderr
    keys = world.stsdesk("exec", "--server", "bob", "--no-session", "--", "true")
    assert keys.returncode == 2 and "temporary sessions only" in keys.stderr
