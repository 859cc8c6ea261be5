"""pytest plugin: a real STS emulator for testing your own AWS code (``sts_emulator`` fixture).

Registered through the ``pytest11`` entry point ``stsdesk``, so installing stsdesk is enough::

    import pytest
    from stsdesk.testing import World, allow

    WORLD = (World().account("111111111111").user("alice", mfa=True, policies=[allow("sts:AssumeRole")])
             .role("Admin", trust="arn:aws:iam::111111111111:user/alice", mfa=True, policies=[allow("*")]))

    @pytest.mark.sts_scenario(WORLD)
    def test_admin_needs_mfa(sts_emulator):
        sts = sts_emulator.client("sts", user="alice")
        ...

Each test gets a fresh, isolated emulator (its own credentials, MFA replay memory and EC2 instances) on
127.0.0.1; in-process by default, or a subprocess with ``--sts-emulator-subprocess`` or the
``sts_emulator_subprocess`` marker. The world comes from ``@pytest.mark.sts_scenario(...)`` — a TOML/JSON file
(relative to the test file), a dict in the scenario format, or a ``World`` — else ``default_world()``.
A bad world fails the test with the emulator's one-line scenario error. No Qt is imported; boto3 only when
``client()`` is called.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the plugin loads with every pytest run: the emulator is imported only when a test uses it
    from stsdesk.emulator.scenario import Scenario

__all__ = ["StsEmulator", "World", "allow", "default_world", "sts_emulator"]

_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_MFA_STEP = 30


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    """An identity-policy document allowing ``action`` on ``resource`` (extra keys such as Condition go into
    the statement)."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource,
                                                     **extra}]}


class World:
    """A small builder for the scenario format (DESIGN.md, "The emulator"). Methods chain; ``user`` and
    ``role`` belong to the account most recently added unless ``account=`` says otherwise. Mistakes are
    reported when the emulator loads the world, with the scenario's one-line errors."""

    def __init__(self, region: str = "us-east-1") -> None:
        self._data: dict[str, Any] = {"region": region, "accounts": [], "users": [], "roles": []}

    def _account(self, account: str | None) -> str:
        if account is not None:
            return account
        if not self._data["accounts"]:
            raise ValueError("World: add an account before its users and roles (World().account('111111111111'))")
        return str(self._data["accounts"][-1]["id"])

    def account(self, id: str, alias: str | None = None) -> World:
        """Add an account (12 digits)."""
        entry: dict[str, Any] = {"id": id}
        if alias is not None:
            entry["alias"] = alias
        self._data["accounts"].append(entry)
        return self

    def user(self, name: str, *, account: str | None = None, mfa: bool | str = False,
             policies: list[Any] | None = None, access_key: tuple[str, str] | None = None) -> World:
        """Add an IAM user with an access key (generated unless given) and, with ``mfa``, a virtual MFA device
        (``mfa=True`` draws a seed; a string is the base32 seed)."""
        acct = self._account(account)
        key_id, secret = access_key or ("AKIA" + "".join(secrets.choice(_B32[:26] + "0123456789")
                                                           for _ in range(16)), secrets.token_urlsafe(30)[:40])
        entry: dict[str, Any] = {"account": acct, "name": name, "policies": list(policies or []),
                                 "access_keys": [{"id": key_id, "secret": secret}]}
        if mfa:
            seed = mfa if isinstance(mfa, str) else "".join(secrets.choice(_B32) for _ in range(32))
            entry["mfa"] = {"serial": f"arn:aws:iam::{acct}:mfa/{name}", "seed": seed}
        self._data["users"].append(entry)
        return self

    def role(self, name: str, *, trust: str | list[str] | Mapping[str, Any], account: str | None = None,
             mfa: bool = False, policies: list[Any] | None = None, max_session_duration: int = 3600) -> World:
        """Add a role. ``trust`` is a trust-policy document (dict or JSON), or the principal(s) allowed to
        assume it (ARNs or account ids), which ``mfa=True`` restricts to MFA-authenticated callers."""
        if isinstance(trust, Mapping) or (isinstance(trust, str) and trust.lstrip().startswith("{")):
            document: Any = trust
        else:
            statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": trust}, "Action": "sts:AssumeRole"}
            if mfa:
                statement["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
            document = {"Version": "2012-10-17", "Statement": [statement]}
        self._data["roles"].append({"account": self._account(account), "name": name, "trust_policy": document,
                                    "policies": list(policies or []), "max_session_duration": max_session_duration})
        return self

    def to_dict(self) -> dict[str, Any]:
        """The scenario as the emulator's dict format (a deep copy)."""
        copy: dict[str, Any] = json.loads(json.dumps(self._data))
        return copy


def default_world() -> World:
    """The world of a test without a ``sts_scenario`` marker: account 111111111111 with user ``alice`` (MFA
    device, may assume roles) and role ``Admin`` (trusts the account, needs MFA, may do everything)."""
    return (World().account("111111111111", alias="test")
            .user("alice", mfa=True, policies=[allow("sts:AssumeRole")])
            .role("Admin", trust="111111111111", mfa=True, policies=[allow("*")]))


_PARSED: dict[str, Scenario] = {}  # scenario JSON -> parsed world; a Scenario is never changed by serving


def _world_dict(source: Any, base: Path) -> dict[str, Any]:
    from stsdesk.emulator.scenario import ScenarioError

    if isinstance(source, World):
        return source.to_dict()
    if isinstance(source, Mapping):
        copy: dict[str, Any] = json.loads(json.dumps(source))
        return copy
    if isinstance(source, str | Path):
        path = Path(source) if Path(source).is_absolute() else base / source
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if path.suffix.lower() != ".json" else json.loads(text)
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read the scenario ({exc.strerror})") from None
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ScenarioError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: the scenario must be a table")
        return data
    raise ScenarioError(f"sts_scenario takes a file name, a dict or a World, not {type(source).__name__}")


def _load(data: dict[str, Any], label: str) -> Scenario:
    """Parse once per distinct world; keys that the scenario generates are written back into ``data``."""
    from stsdesk.emulator.scenario import scenario_from_dict

    text = json.dumps(data, sort_keys=True)
    parsed = _PARSED.get(text)
    if parsed is None:
        parsed = scenario_from_dict(data, label)
        _PARSED[text] = parsed
    for owner, key in parsed.generated_keys:
        for user in data.get("users", []):
            if owner.endswith(f"/{user.get('name')}") and owner.split(":")[4] == str(user.get("account")):
                user.setdefault("access_keys", [{"id": key.id, "secret": key.secret}])
    return parsed


class StsEmulator:
    """A running emulator for one test. ``endpoint`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, scenario: Scenario, data: dict[str, Any], endpoint: str, state: Any = None,
                 process: subprocess.Popen[str] | None = None) -> None:
        self.scenario = scenario
        self.endpoint = endpoint
        self._data = data
        self._state = state  # EmulatorState in-process, None for a subprocess
        self._process = process
        self._used_steps: dict[str, set[int]] = {}
        self._boto: Any = None

    # ------------------------------------------------------------------------------------ the world

    def _user(self, name: str) -> Any:
        found = [u for u in self.scenario.users if u.name == name]
        if not found:
            raise KeyError(f"no user named {name!r} in this world (users: {[u.name for u in self.scenario.users]})")
        return found[0]

    def _role_arn(self, role: str) -> str:
        if role.startswith("arn:"):
            return role
        found = [r.arn for r in self.scenario.roles if r.name == role]
        if len(found) != 1:
            raise KeyError(f"no single role named {role!r} in this world; pass its ARN")
        return found[0]

    def totp(self, user: str, *, unused: bool = False) -> str:
        """The code ``user``'s MFA device shows now. With ``unused`` a code of a 30-second step this emulator
        has not accepted yet (the current, next or previous one: each is accepted once); if all three are
        used, waits for the next step. Raises KeyError for an unknown user or one without a device."""
        from stsdesk.emulator.mfa import current_code

        device = self._user(user).mfa
        if device is None:
            raise KeyError(f"user {user!r} has no MFA device (World().user(..., mfa=True))")
        used = self._used_steps.setdefault(user, set())
        while True:
            now = time.time() + self.scenario.faults.clock_offset_seconds
            candidates = (0,) if not unused else (0, 1, -1)
            for delta in candidates:
                step = int(now // _MFA_STEP) + delta
                if not unused or step not in used:
                    used.add(step)
                    return current_code(device.seed, step * _MFA_STEP + 1)
            time.sleep(_MFA_STEP - now % _MFA_STEP + 0.05)

    def advance(self, seconds: float) -> None:
        """Make ``seconds`` pass for the world: credentials, MFA sessions and messages age; your client's
        clock (SigV4) and MFA codes are unaffected. Raises ValueError for a negative amount."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        if self._state is not None:
            self._state.clock.advance(seconds)
            return
        data = f"seconds={seconds}".encode()
        with urllib.request.urlopen(f"{self.endpoint}/_stsdesk/advance", data=data, timeout=30):
            pass

    # ------------------------------------------------------------------------------------ identities

    def credentials(self, user: str | None = None, role: str | None = None, *, mfa: bool = False,
                    session_name: str = "pytest", **assume: Any) -> dict[str, str]:
        """Credentials (AccessKeyId, SecretAccessKey and, for a role, SessionToken) of ``user`` (default:
        the first user), or of a session of ``role`` (name or ARN) assumed by that user. ``mfa=True`` passes
        the user's MFA serial and an unused code; ``assume`` goes to AssumeRole (Tags, DurationSeconds, ...).
        Raises botocore's ClientError when the emulator refuses, KeyError for unknown names."""
        account_user = self._user(user) if user is not None else self.scenario.users[0]
        if not account_user.access_keys:
            raise KeyError(f"user {account_user.name!r} has no access key")
        key = account_user.access_keys[0]
        creds = {"AccessKeyId": key.id, "SecretAccessKey": key.secret}
        if role is None:
            return creds
        params: dict[str, Any] = {"RoleArn": self._role_arn(role), "RoleSessionName": session_name, **assume}
        if mfa:
            if account_user.mfa is None:
                raise KeyError(f"user {account_user.name!r} has no MFA device")
            params.update(SerialNumber=account_user.mfa.serial, TokenCode=self.totp(account_user.name, unused=True))
        reply = self._client("sts", creds).assume_role(**params)["Credentials"]
        return {k: reply[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    def client(self, service: str, user: str | None = None, role: str | None = None, *, mfa: bool = False,
               **assume: Any) -> Any:
        """A boto3 client for ``service`` at this emulator with the identity of ``credentials(...)``."""
        return self._client(service, self.credentials(user, role, mfa=mfa, **assume))

    def _client(self, service: str, creds: Mapping[str, str]) -> Any:
        if self._boto is None:
            self._boto = _boto_session()
        from botocore.config import Config

        return self._boto.client(
            service, endpoint_url=self.endpoint, region_name=self.scenario.region,
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"), config=Config(retries={"total_max_attempts": 1}),
        )

    def env(self, user: str | None = None, role: str | None = None, *, mfa: bool = False) -> dict[str, str]:
        """Environment variables that point the AWS CLI and SDKs at this emulator with ``credentials(...)``:
        endpoint (all services, and STS/EC2 explicitly), region, keys; shared config files and instance
        metadata switched off so nothing of the real machine leaks in. Merge with ``os.environ``."""
        creds = self.credentials(user, role, mfa=mfa)
        values = {
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_STS": self.endpoint,
            "AWS_ENDPOINT_URL_EC2": self.endpoint, "AWS_REGION": self.scenario.region,
            "AWS_DEFAULT_REGION": self.scenario.region, "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"], "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
        }
        if "SessionToken" in creds:
            values["AWS_SESSION_TOKEN"] = creds["SessionToken"]
        return values


_BOTO: Any = None


def _boto_session() -> Any:
    """One boto3 session for every test: clients share its loaded service models (a client costs ~4 ms)."""
    global _BOTO
    if _BOTO is None:
        import boto3

        _BOTO = boto3.session.Session()
    return _BOTO


def _start_in_process(scenario: Scenario, data: dict[str, Any]) -> tuple[StsEmulator, Any]:
    from stsdesk.emulator.server import EmulatorServer
    from stsdesk.emulator.state import EmulatorState

    state = EmulatorState(scenario, None, allow_time_travel=True)
    server = EmulatorServer(state)
    server.start()
    return StsEmulator(scenario, data, server.endpoint, state=state), server


def _start_process(scenario: Scenario, data: dict[str, Any], directory: Path) -> StsEmulator:
    world = directory / "world.json"
    world.write_text(json.dumps(data), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "emulator", "--scenario", str(world), "--allow-time-travel"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("endpoint: "):
        process.kill()
        err = process.communicate(timeout=30)[1].strip()
        pytest.fail(f"the stsdesk emulator did not start: {err or line}", pytrace=False)
    return StsEmulator(scenario, data, line.split(" ", 1)[1], process=process)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stsdesk", "stsdesk STS emulator")
    group.addoption("--sts-emulator-subprocess", action="store_true", default=False,
                    help="run the sts_emulator fixture's emulator as a subprocess instead of a thread")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sts_scenario(world): the sts_emulator world: a TOML/JSON file "
                            "(relative to the test file), a scenario dict or a stsdesk.testing.World")
    config.addinivalue_line("markers", "sts_emulator_subprocess: run this test's emulator as a subprocess")


@pytest.fixture
def sts_emulator(request: pytest.FixtureRequest) -> Iterator[StsEmulator]:
    """A fresh emulator for this test (see the module docstring). Fails the test, without a traceback, when
    the world is not valid."""
    from stsdesk.emulator.scenario import ScenarioError

    marker = request.node.get_closest_marker("sts_scenario")
    base = Path(str(request.node.path)).parent
    source = marker.args[0] if marker and marker.args else default_world()
    problem = None
    try:
        data = _world_dict(source, base)
        scenario = _load(data, str(source) if isinstance(source, str | Path) else "sts_scenario")
    except ScenarioError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)  # outside the except: no "during handling" chain in the report
    as_process = bool(request.config.getoption("--sts-emulator-subprocess")) or (
        request.node.get_closest_marker("sts_emulator_subprocess") is not None)
    if not as_process:
        emulator, server = _start_in_process(scenario, data)
        try:
            yield emulator
        finally:
            server.stop()
        return
    with tempfile.TemporaryDirectory(prefix="stsdesk-emulator-") as directory:
        emulator = _start_process(scenario, data, Path(directory))
        try:
            yield emulator
        finally:
            process = emulator._process
            assert process is not None
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
