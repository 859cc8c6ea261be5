"""MFA codes without typing (core/mfa_sources.py): mfa_process, a fake ``ykman`` on PATH, the broker using them
before any prompt, and the waitlist of requests per device."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import keyring
import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.core.broker import Broker, MfaRequest
from stsdesk.core.cache import SessionCache
from stsdesk.core.errors import InvalidMfaCode, MfaRequired
from stsdesk.core.mfa_sources import (
    SERVED,
    MfaSourceError,
    MfaWaitlist,
    run_mfa_process,
    ykman_path,
    yubikey_available,
    yubikey_code,
)
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.profiles import build_tree
from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.core.sts import StsClient

GOOD = "424242"
SERIAL = "arn:aws:iam::111111111111:mfa/alice"
AKID = "AKIAMFASOURCES000001"


def _script(directory: Path, name: str, body: str) -> Path:
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport sys, time, os, json, pathlib\n{body}\n")
    path.chmod(0o755)
    return path


# -- mfa_process -------------------------------------------------------------------------------------------


def test_mfa_process_code_is_its_stripped_stdout(tmp_path: Path) -> None:
    script = _script(tmp_path, "code", "print('  ' + sys.argv[1] + '  ')")
    assert run_mfa_process(f"{script} {GOOD}") == GOOD


def test_mfa_process_is_split_like_a_shell_and_run_without_one(tmp_path: Path) -> None:
    script = _script(tmp_path, "argv", "pathlib.Path(sys.argv[1]).write_text(json.dumps(sys.argv[2:])); print(424242)")
    record = tmp_path / "argv.json"
    marker = tmp_path / "pwned"
    assert run_mfa_process(f"{script} {record} 'two words' \"$(touch {marker})\"") == GOOD
    assert json.loads(record.read_text()) == ["two words", f"$(touch {marker})"]
    assert not marker.exists()  # no shell ever saw the line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("print('12345')", "mfa_process printed 5 digits; AWS needs a 6-digit code"),
        ("print('12345678')", "mfa_process printed 8 digits; AWS needs a 6-digit code"),
        ("print('not-a-code')", "mfa_process printed not a 6-digit code; AWS needs a 6-digit code"),
        ("pass", "mfa_process printed nothing; AWS needs a 6-digit code"),
        (
            "sys.stderr.write('debug\\nthe vault is locked\\n'); sys.exit(3)",
            "mfa_process failed (exit 3): the vault is locked",
        ),
    ],
)
def test_mfa_process_failures_are_one_line(tmp_path: Path, body: str, message: str) -> None:
    script = _script(tmp_path, "bad", body)
    with pytest.raises(MfaSourceError) as caught:
        run_mfa_process(str(script))
    assert str(caught.value) == message


def test_mfa_process_missing_unsplittable_and_timeout(tmp_path: Path) -> None:
    with pytest.raises(MfaSourceError, match="command not found: /nonexistent/otp"):
        run_mfa_process("/nonexistent/otp --now")
    with pytest.raises(MfaSourceError, match="cannot be split"):
        run_mfa_process("otp 'unclosed")
    slow = _script(tmp_path, "slow", "time.sleep(30); print(424242)")
    with pytest.raises(MfaSourceError, match=r"mfa_process did not finish within 0.5 s \(stopped it\)"):
        run_mfa_process(str(slow), timeout=0.5)


# -- a fake ykman --------------------------------------------------------------------------------------------

FAKE_YKMAN = """
mode = os.environ.get("FAKE_YKMAN_MODE", "ok")
pathlib.Path(os.environ["FAKE_YKMAN_LOG"]).open("a").write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:4] == ["oath", "accounts", "list"]:
    if mode == "nodevice":
        sys.stderr.write("Error: No YubiKey detected!\\n"); sys.exit(2)
    print("Amazon Web Services:alice@111111111111")
    print("GitHub:alice")
    sys.exit(0)
if mode == "nodevice":
    sys.stderr.write("Error: No YubiKey detected!\\n"); sys.exit(2)
if mode == "multiple":
    sys.stderr.write("Error: Multiple matches, make the query more specific.\\n"); sys.exit(2)
if mode == "nomatch":
    sys.stderr.write("Error: No matching account found.\\n"); sys.exit(2)
sys.stderr.write("Touch your YubiKey...\\n"); sys.stderr.flush()
if mode == "untouched":
    time.sleep(30)
print(os.environ.get("FAKE_YKMAN_CODE", "424242"))
"""


@pytest.fixture
def fake_ykman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir, "ykman", FAKE_YKMAN)
    log = tmp_path / "ykman.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_YKMAN_LOG", str(log))
    return log


def test_ykman_on_path_gives_the_code_and_says_touch(fake_ykman: Path) -> None:
    assert ykman_path() is not None
    touched: list[bool] = []
    assert yubikey_code("alice@111111111111", on_touch=lambda: touched.append(True)) == GOOD
    assert touched == [True]
    assert fake_ykman.read_text().splitlines()[-1] == '["oath", "accounts", "code", "--single", "alice@111111111111"]'


def test_yubikey_available_only_with_a_matching_account(fake_ykman: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert yubikey_available("alice@111111111111")
    assert not yubikey_available("bob@111111111111")
    monkeypatch.setenv("FAKE_YKMAN_MODE", "nodevice")
    assert not yubikey_available("alice@111111111111")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ykman_path() is None
    assert not yubikey_available("alice@111111111111")
    with pytest.raises(MfaSourceError, match="ykman is not installed"):
        yubikey_code("alice")


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("nodevice", "no YubiKey found: insert it and try again"),
        ("multiple", "several accounts on the YubiKey match 'alice'; set stsdesk_yubikey_account to one of them"),
        ("nomatch", "no OATH account on the YubiKey matches 'alice'; set stsdesk_yubikey_account in the profile"),
    ],
)
def test_ykman_failures_are_one_line(
    fake_ykman: Path, monkeypatch: pytest.MonkeyPatch, mode: str, message: str
) -> None:
    monkeypatch.setenv("FAKE_YKMAN_MODE", mode)
    with pytest.raises(MfaSourceError) as caught:
        yubikey_code("alice")
    assert str(caught.value) == message


def test_an_untouched_key_times_out(fake_ykman: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_YKMAN_MODE", "untouched")
    touched: list[bool] = []
    with pytest.raises(MfaSourceError, match=r"^the YubiKey was not touched within 0.5 s$"):
        yubikey_code("alice", on_touch=lambda: touched.append(True), timeout=0.5)
    assert touched == [True]  # it did say "touch your key" while it waited


def test_an_eight_digit_oath_account_is_refused(fake_ykman: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_YKMAN_CODE", "12345678")
    with pytest.raises(MfaSourceError, match="ykman printed 8 digits; AWS needs a 6-digit code"):
        yubikey_code("alice")


# -- the broker ----------------------------------------------------------------------------------------------


class FakeSts:
    def __init__(self) -> None:
        self.codes: list[str | None] = []

    async def _check(self, code: str | None) -> None:
        self.codes.append(code)
        await asyncio.sleep(0.01)
        if code is not None and code != GOOD:
            message = "MultiFactorAuthentication failed with invalid MFA one time pass code."
            raise InvalidMfaCode(message, "AccessDenied")

    def _creds(self, kind: CredentialKind) -> Credentials:
        return Credentials(f"ASIAFAKE{len(self.codes):012d}", "s", "t", datetime.now(UTC) + timedelta(hours=1), kind)

    async def assume_role(self, source: Credentials, **kwargs: Any) -> tuple[Credentials, str]:
        await self._check(kwargs.get("mfa_code"))
        return self._creds(CredentialKind.ASSUMED_ROLE), "arn:aws:sts::222222222222:assumed-role/R/s"

    async def get_session_token(self, source: Credentials, **kwargs: Any) -> Credentials:
        await self._check(kwargs.get("mfa_code"))
        return self._creds(CredentialKind.SESSION_TOKEN)


@pytest.fixture
def memory_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


def _broker(tmp_path: Path, user_extra: dict[str, str], prompt: Any = None) -> tuple[Broker, FakeSts, SessionCache]:
    config: dict[str, dict[str, Any]] = {
        "alice": {"stsdesk_access_key_id": AKID, "mfa_serial": SERIAL, **user_extra},
        "dev": {"role_arn": "arn:aws:iam::222222222222:role/Developer", "source_profile": "alice",
                "mfa_serial": SERIAL},
        "ops": {"role_arn": "arn:aws:iam::222222222222:role/Ops", "source_profile": "alice", "mfa_serial": SERIAL,
                "duration_seconds": "1800"},
    }
    tree = build_tree(config, tmp_path / "config", tmp_path / "credentials")
    secrets = SecretStore("stsdesk-test-mfa-sources")
    secrets.set(user_key("alice", AKID), "alice-secret-for-the-mfa-source-tests-0")
    fake = FakeSts()
    cache = SessionCache(tmp_path / "state", secrets)
    return Broker(tree, cast(StsClient, fake), cache, secrets, prompt), fake, cache


pytestmark_broker = pytest.mark.usefixtures("memory_keyring")


@pytestmark_broker
def test_broker_takes_the_code_from_mfa_process_before_any_prompt(tmp_path: Path) -> None:
    script = _script(tmp_path, "otp", f"print('{GOOD}')")
    broker, fake, cache = _broker(tmp_path, {"mfa_process": str(script)})
    asyncio.run(broker.credentials_for("dev"))  # no prompt at all: would raise MfaRequired
    assert [code for code in fake.codes if code] == [GOOD]
    cache.flush()


@pytestmark_broker
def test_a_refused_process_code_is_said_and_a_prompt_takes_over(tmp_path: Path) -> None:
    script = _script(tmp_path, "otp", "print('000000')")
    asked: list[MfaRequest] = []

    async def prompt(request: MfaRequest) -> str:
        asked.append(request)
        return GOOD

    broker, fake, cache = _broker(tmp_path, {"mfa_process": str(script)}, prompt)
    asyncio.run(broker.credentials_for("dev"))
    assert [code for code in fake.codes if code] == ["000000", GOOD]
    assert asked[0].error is not None and asked[0].error.startswith("the code from mfa_process was refused: ")
    cache.flush()


@pytestmark_broker
def test_without_a_prompt_process_errors_are_the_one_line_reason(tmp_path: Path) -> None:
    wrong = _script(tmp_path, "wrong", "print('000000')")
    broker, _fake, cache = _broker(tmp_path, {"mfa_process": str(wrong)})
    with pytest.raises(InvalidMfaCode, match=r"^the code from mfa_process was refused: MultiFactor"):
        asyncio.run(broker.credentials_for("dev"))
    broken = _script(tmp_path, "broken", "sys.exit(1)")
    broker, _fake, cache2 = _broker(tmp_path / "b", {"mfa_process": str(broken)})
    with pytest.raises(MfaRequired, match=r"^mfa_process failed \(exit 1\)$"):
        asyncio.run(broker.credentials_for("dev"))
    cache.flush()
    cache2.flush()


@pytestmark_broker
def test_a_yubikey_profile_gets_its_code_from_ykman_and_the_waitlist_says_touch(
    tmp_path: Path, fake_ykman: Path
) -> None:
    broker, fake, cache = _broker(tmp_path, {"stsdesk_yubikey_account": "alice@111111111111"})
    touch_seen: list[bool] = []
    broker.mfa_waitlist.subscribe(lambda serial: touch_seen.append(broker.mfa_waitlist.touch_needed(serial)))
    asyncio.run(broker.credentials_for("dev"))
    assert [code for code in fake.codes if code] == [GOOD]
    assert True in touch_seen  # "touch your key" while ykman waited
    assert not broker.mfa_waitlist.touch_needed(SERIAL)  # and no longer once it answered
    assert '"--single", "alice@111111111111"' in fake_ykman.read_text()
    cache.flush()


# -- the waitlist ----------------------------------------------------------------------------------------------


@pytestmark_broker
def test_the_prompt_can_list_every_request_waiting_for_its_device(tmp_path: Path) -> None:
    seen: list[list[tuple[str, str | None, int | None, str]]] = []
    broker: Broker

    async def prompt(request: MfaRequest) -> str:
        await asyncio.sleep(0.05)  # let every caller arrive
        seen.append([(w.profile, w.role_arn, w.duration, w.requester)
                     for w in broker.mfa_waitlist.waiting_for(request.mfa_serial)])
        return GOOD

    broker, _fake, cache = _broker(tmp_path, {}, prompt)
    changes: list[str] = []
    broker.mfa_waitlist.subscribe(changes.append)

    async def three() -> None:
        await asyncio.gather(
            broker.credentials_for("dev"),
            broker.credentials_for("ops", requester=SERVED),
            broker.credentials_for("alice", duration=7200, requester="terminal"),
        )

    asyncio.run(three())
    assert seen[0] == [
        ("dev", "arn:aws:iam::222222222222:role/Developer", None, "interactive"),
        ("ops", "arn:aws:iam::222222222222:role/Ops", 1800, "served"),
        ("alice", None, 7200, "terminal"),
    ]
    assert broker.mfa_waitlist.waiting_for(SERIAL) == [] and broker.mfa_waitlist.devices() == []
    assert changes and set(changes) == {SERIAL}
    cache.flush()


def test_waitlist_unsubscribe_and_a_broken_listener(caplog: pytest.LogCaptureFixture) -> None:
    waitlist = MfaWaitlist()
    heard: list[str] = []
    stop = waitlist.subscribe(heard.append)

    def broken(serial: str) -> None:
        raise RuntimeError("listener bug")

    waitlist.subscribe(broken)
    with waitlist.waiting("p", None, "arn:x", None, "interactive"):
        assert waitlist.devices() == ["arn:x"]
    stop()
    with waitlist.waiting("q", None, "arn:x", None, "interactive"):
        pass
    assert heard == ["arn:x", "arn:x"]  # entry and exit of the first only
    assert "MFA waitlist subscriber failed" in caplog.text


def test_the_yubikey_account_of_a_device(tmp_path: Path) -> None:
    from stsdesk.core.mfa_sources import code_source, yubikey_account

    tree = build_tree(
        {
            "u": {"stsdesk_access_key_id": AKID, "mfa_serial": SERIAL, "stsdesk_yubikey_account": "AWS:alice"},
            "r": {"role_arn": "arn:aws:iam::222222222222:role/R", "source_profile": "u", "mfa_serial": SERIAL},
            "p": {"role_arn": "arn:aws:iam::222222222222:role/P", "source_profile": "u", "mfa_serial": SERIAL,
                  "mfa_process": "otp --now"},
            "plain": {"stsdesk_access_key_id": AKID, "mfa_serial": SERIAL},
        },
        tmp_path / "config", tmp_path / "credentials",
    )
    assert yubikey_account(tree.chain("r"), SERIAL) == "AWS:alice"  # from its source user
    assert yubikey_account(tree.chain("plain"), SERIAL) == SERIAL
    source = code_source(tree.chain("p"), SERIAL)
    assert source is not None and (source.kind, source.command, source.profile) == ("process", "otp --now", "p")
    source = code_source(tree.chain("r"), SERIAL)
    assert source is not None and (source.kind, source.command) == ("yubikey", "AWS:alice")
    assert code_source(tree.chain("plain"), SERIAL) is None
