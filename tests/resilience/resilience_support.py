"""Shared pieces of the resilience tests: a small world (scenario + AWS config), an in-process emulator whose
requests and injected faults are counted, a counting/truncating TCP proxy for the `stsdesk emulator`
subprocess, a CLI runner, and the counters printed at the end of the session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.server import EmulatorServer, Request, Response
from stsdesk.emulator.state import EmulatorState

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Canaries: long-term secrets and the MFA seed, none of which may ever be found where they do not belong.
ALICE_KEY = "AKIARESALICE00000001"
ALICE_SECRET = "canaryALICEsecret0000000000000000000001x"
BOB_KEY = "AKIARESBOB0000000001"
BOB_SECRET = "canaryBOBsecret000000000000000000000001x"
MFA_SERIAL = "arn:aws:iam::111111111111:mfa/alice"
MFA_SEED = "KRSXG5CTMVZHK4TBMNQXEZLTMVSGK3DP"
LONG_TERM_SECRETS = (ALICE_SECRET, BOB_SECRET)

# Every figure the session prints at the end ("faults injected: N, survived: M", canary checks).
COUNTS: Counter[str] = Counter()


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _trust(mfa: bool) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "sts:AssumeRole",
    }
    if mfa:
        statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    return _policy(statement)


ALLOW_ASSUME = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}
ALLOW_DECODE = {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}


def scenario_dict(**faults: int) -> dict[str, Any]:
    """The resilience world: alice (MFA) and bob (no MFA) in 111111111111, roles in 222222222222."""
    data: dict[str, Any] = {
        "region": "us-east-1",
        "accounts": [{"id": "111111111111", "alias": "identity"}, {"id": "222222222222", "alias": "dev"}],
        "users": [
            {
                "account": "111111111111",
                "name": "alice",
                "policies": [_policy(ALLOW_ASSUME, ALLOW_DECODE)],
                "access_keys": [{"id": ALICE_KEY, "secret": ALICE_SECRET}],
                "mfa": {"serial": MFA_SERIAL, "seed": MFA_SEED},
            },
            {
                "account": "111111111111",
                "name": "bob",
                "policies": [_policy(ALLOW_ASSUME)],
                "access_keys": [{"id": BOB_KEY, "secret": BOB_SECRET}],
            },
        ],
        "roles": [
            {
                "account": "222222222222",
                "name": "ReadOnly",
                "max_session_duration": 3600,
                "trust_policy": _trust(False),
                "policies": [_policy({"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"})],
            },
            {
                "account": "222222222222",
                "name": "Developer",
                "max_session_duration": 14400,
                "trust_policy": _trust(True),
                "policies": [
                    _policy(
                        {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:RunInstances"], "Resource": "*"},
                        {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*"},
                        ALLOW_DECODE,
                    )
                ],
            },
            {
                "account": "222222222222",
                "name": "Nobody",
                "max_session_duration": 3600,
                "trust_policy": _policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                        "Action": "sts:AssumeRole",
                    }
                ),
            },
        ],
    }
    if faults:
        data["faults"] = dict(faults)
    return data


def config_text(endpoint: str) -> str:
    """AWS config over the scenario: users (keys in the credentials file or keyring), roles, a denied role."""
    common = f"region = us-east-1\nendpoint_url = {endpoint}\n"
    return (
        f"[profile alice]\n{common}mfa_serial = {MFA_SERIAL}\n\n"
        f"[profile bob]\n{common}\n"
        "[profile readonly]\nsource_profile = bob\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n\n"
        "[profile dev]\nsource_profile = alice\nrole_arn = arn:aws:iam::222222222222:role/Developer\n"
        f"mfa_serial = {MFA_SERIAL}\n\n"
        "[profile denied]\nsource_profile = bob\nrole_arn = arn:aws:iam::222222222222:role/Nobody\n\n"
    )


def credentials_text() -> str:
    return (
        f"[alice]\naws_access_key_id = {ALICE_KEY}\naws_secret_access_key = {ALICE_SECRET}\n\n"
        f"[bob]\naws_access_key_id = {BOB_KEY}\naws_secret_access_key = {BOB_SECRET}\n"
    )


class TotpSource:
    """Fresh TOTP codes for alice's device (the emulator refuses a replayed code)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def code(self) -> str:
        totp = pyotp.TOTP(MFA_SEED)
        while True:
            now = time.time()
            for offset in (0, 30, -30):  # the current step first: the previous one may lapse in flight
                code = totp.at(now + offset)
                if code not in self.used:
                    self.used.add(code)
                    return code
            time.sleep(1)


# -- in-process emulator with counted requests ---------------------------------------------------------


def _action(request: Request) -> str:
    try:
        return request.form().get("Action", "") or request.path
    except Exception:
        return request.path


def is_fault(response: Response) -> str | None:
    """Which injected fault a response is ("throttle", "5xx"), or None."""
    if response.status >= 500:
        return "5xx"
    if b"<Code>Throttling</Code>" in response.body:
        return "throttle"
    return None


@dataclass
class CountingEmulator:
    """An in-process EmulatorServer whose dispatch counts requests per action and the faults it injected."""

    server: EmulatorServer
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def injected(self) -> int:
        return sum(self.faults.values())


def start_counting_emulator(**faults: int) -> CountingEmulator:
    """Start an in-process emulator over ``scenario_dict(**faults)``; stop it with ``.server.stop()``."""
    server = EmulatorServer(EmulatorState(scenario_from_dict(scenario_dict(**faults)), None), "127.0.0.1", 0)
    counting = CountingEmulator(server)
    inner: Callable[[Request], Response] = server.dispatch

    def dispatch(request: Request) -> Response:
        action = _action(request)
        try:
            response = inner(request)
        except Exception:  # the drop fault (server._Drop) and anything else that closes the connection
            with counting.lock:
                counting.actions[action] += 1
                counting.faults["drop"] += 1
            raise
        kind = is_fault(response)
        with counting.lock:
            counting.actions[action] += 1
            if kind is not None:
                counting.faults[kind] += 1
        return response

    server.dispatch = dispatch  # type: ignore[method-assign]  # the handler looks it up on the instance
    server.start()
    return counting


# -- `stsdesk emulator` subprocess and a counting / truncating proxy in front of it ---------------------


@dataclass
class EmulatorProcess:
    endpoint: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process.communicate()


def start_emulator_process(directory: Path, **faults: int) -> EmulatorProcess:
    """Run `stsdesk emulator --scenario` (a JSON scenario with ``faults``) until ``.stop()``."""
    directory.mkdir(parents=True, exist_ok=True)
    scenario = directory / "scenario.json"
    scenario.write_text(json.dumps(scenario_dict(**faults)))
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("endpoint: "):
        process.kill()
        _out, err = process.communicate(timeout=10)
        raise RuntimeError(f"the emulator did not start: {line!r} {err}")
    return EmulatorProcess(line.split(" ", 1)[1].strip(), process)


class CountingProxy:
    """A loopback TCP proxy in front of an HTTP server. It counts requests and responses (an injected fault
    shows as a 5xx / Throttling response, or as a request without a response: a dropped connection). With
    ``truncate=True`` it forwards only the head and half the body of each response, then closes: a response
    that drops mid-way."""

    def __init__(
        self, upstream: str, truncate: bool = False, rewrite: Callable[[bytes], bytes] | None = None
    ) -> None:
        host, port = upstream.removeprefix("http://").rsplit(":", 1)
        self._upstream = (host, int(port))
        self.truncate = truncate
        self.rewrite = rewrite  # applied to each response body (Content-Length fixed up)
        self.counts: Counter[str] = Counter()
        self.responses: list[bytes] = []  # every full response from upstream, before any mangling
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()

    def faults(self) -> int:
        """Injected faults seen: 5xx and throttled answers plus requests that got no answer at all."""
        c = self.counts
        return c["5xx"] + c["throttle"] + max(0, c["requests"] - c["responses"])

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self._upstream) as upstream:
            upstream.settimeout(30)
            client.settimeout(30)
            while True:
                request = _read_message(client, is_request=True)
                if request is None:
                    return
                self._count("requests")
                upstream.sendall(request)
                response = _read_message(upstream, is_request=False)
                if response is None:
                    return  # dropped by the emulator: the client sees the connection close
                self._count("responses")
                with self._lock:
                    self.responses.append(response)
                status = response.split(b" ", 2)[1] if response.count(b" ") >= 2 else b""
                if status.startswith(b"5"):
                    self._count("5xx")
                elif b"<Code>Throttling</Code>" in response:
                    self._count("throttle")
                head, _, body = response.partition(b"\r\n\r\n")
                if self.rewrite is not None:
                    new_body = self.rewrite(body)
                    head = head.replace(b"Content-Length: %d" % len(body), b"Content-Length: %d" % len(new_body))
                    response, body = head + b"\r\n\r\n" + new_body, new_body
                    self._count("rewritten")
                if self.truncate:
                    client.sendall(head + b"\r\n\r\n" + body[: len(body) // 2])
                    self._count("truncated")
                    return
                client.sendall(response)


def _read_message(sock: socket.socket, *, is_request: bool) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (all the emulator and botocore send), or None on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    del is_request
    return head + b"\r\n\r\n" + body


# -- the CLI -------------------------------------------------------------------------------------------


@dataclass
class CliWorld:
    """A temporary HOME with AWS files over ``endpoint`` and a config dir, and a `stsdesk` runner."""

    home: Path
    env: dict[str, str]

    @property
    def config_file(self) -> Path:
        return Path(self.env["AWS_CONFIG_FILE"])

    @property
    def credentials_file(self) -> Path:
        return Path(self.env["AWS_SHARED_CREDENTIALS_FILE"])

    @property
    def config_dir(self) -> Path:
        return Path(self.env["STSDESK_CONFIG_DIR"])

    def popen(self, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "stsdesk", *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=self.home,
        )

    def stsdesk(self, *args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        process = self.popen(*args, stdin=stdin is not None)
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def files(self) -> Iterator[Path]:
        """Every file under HOME and the config dir."""
        seen: set[Path] = set()
        for root in (self.home, self.config_dir):
            for path in root.rglob("*"):
                if path.is_file() and path not in seen:
                    seen.add(path)
                    yield path


def make_world(home: Path, endpoint: str, backend: str = "keyring.backends.fail.Keyring") -> CliWorld:
    """A CliWorld whose subprocesses use keyring ``backend`` (tests/resilience is on PYTHONPATH for test
    backends) and a log file under the config dir (STSDESK_LOG_FILE, if the program honours it)."""
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "STSDESK_"))}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "STSDESK_CONFIG_DIR": str(home / "stsdesk"),
            "PYTHON_KEYRING_BACKEND": backend,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONPATH": os.pathsep.join((str(REPO), str(HERE))),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
    )
    (home / ".aws" / "config").write_text(config_text(endpoint))
    (home / ".aws" / "credentials").write_text(credentials_text())
    return CliWorld(home, env)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 1, nothing on stdout, one `stsdesk: ...` line on stderr (no traceback) containing ``needles``."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    # The error is the last line; before it, at most the keyring warning a command printed on its way.
    errors = lines[-1:]
    assert all(line.startswith("stsdesk: No usable keyring") for line in lines[:-1]), result.stderr
    assert len(lines) <= 2 and errors and errors[0].startswith("stsdesk: "), result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]
