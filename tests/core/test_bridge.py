"""Terminal bridge: round trip, shared MFA "dialog" for concurrent terminals, refusal without information,
file modes, single instance with stale-socket takeover, and a quick None when no GUI runs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stsdesk.core.bridge import (
    SECRET_NAME,
    SOCKET_NAME,
    BridgeError,
    BridgeInUse,
    BridgeServer,
    bridge_directory,
    bridge_request,
    credentials_from_json,
    credentials_to_json,
)
from stsdesk.core.errors import MfaCancelled
from stsdesk.core.model import CredentialKind, Credentials

EXPIRY = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def creds(tag: str = "1") -> Credentials:
    return Credentials(
        f"ASIATEST{tag:0>12}", f"secret-{tag}", f"token-{tag}", EXPIRY, CredentialKind.ASSUMED_ROLE,
        "eu-west-1",
    )


@pytest.fixture
def bridge_dir() -> Iterator[Path]:
    """A short path (AF_UNIX paths are limited to ~100 bytes; pytest's tmp_path can be longer)."""
    base = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))
    try:
        yield base / "b"
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def call(
    directory: Path, profile: str, duration: int | None = None, timeout: float = 10.0
) -> Credentials | None:
    """The synchronous client, run off the loop as a terminal would (another process, in effect)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: bridge_request(directory, profile, duration, timeout))


async def raw_exchange(directory: Path, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(directory / SOCKET_NAME))
    writer.write(payload)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


def test_round_trip(bridge_dir: Path) -> None:
    seen: list[tuple[str, int | None]] = []

    async def handler(profile: str, duration: int | None) -> Credentials:
        seen.append((profile, duration))
        return creds()

    async def main() -> Credentials | None:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            return await call(bridge_dir, "dev", 1800)
        finally:
            await server.close()

    got = asyncio.run(main())
    assert got == creds()
    assert got is not None and got.expiration == EXPIRY and got.region == "eu-west-1"
    assert seen == [("dev", 1800)]
    assert not (bridge_dir / SOCKET_NAME).exists()
    assert not (bridge_dir / SECRET_NAME).exists()


def test_two_terminals_share_one_prompt(bridge_dir: Path) -> None:
    calls: list[str] = []
    dialogs: list[asyncio.Future[Credentials]] = []

    async def main() -> list[Credentials | None]:
        arrived = asyncio.Event()

        async def handler(profile: str, duration: int | None) -> Credentials:
            # The broker's single-flight: the first caller opens the "dialog", the next one waits on it.
            calls.append(profile)
            if not dialogs:
                dialogs.append(asyncio.get_running_loop().create_future())
            if len(calls) == 2:
                arrived.set()
            return await dialogs[0]

        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            clients = asyncio.gather(call(bridge_dir, "prod"), call(bridge_dir, "prod"))
            await asyncio.wait_for(arrived.wait(), 10)
            dialogs[0].set_result(creds("mfa"))  # the user typed the code once
            return list(await clients)
        finally:
            await server.close()

    first, second = asyncio.run(main())
    assert calls == ["prod", "prod"]
    assert len(dialogs) == 1
    assert first == second == creds("mfa")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"secret": "wrong", "op": "credentials", "profile": "dev"}\n',
        b'{"op": "credentials", "profile": "dev"}\n',
        b'{"secret": 42, "op": "credentials", "profile": "nope"}\n',
        b'["not", "an", "object"]\n',
        b"garbage\n",
        b"\n",
    ],
)
def test_wrong_or_missing_secret_is_refused_without_information(bridge_dir: Path, payload: bytes) -> None:
    called: list[str] = []

    async def handler(profile: str, duration: int | None) -> Credentials:
        called.append(profile)
        raise MfaCancelled(f"profile {profile} is secret information")

    async def main() -> bytes:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            return await raw_exchange(bridge_dir, payload)
        finally:
            await server.close()

    answer = asyncio.run(main())
    assert json.loads(answer) == {"ok": False, "error": "refused"}
    assert called == []


def test_authenticated_errors_are_one_line(bridge_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(profile: str, duration: int | None) -> Credentials:
        if profile == "boom":
            raise RuntimeError("internal detail")
        raise MfaCancelled("MFA prompt for\nprod was cancelled")

    async def main() -> list[str]:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        messages = []
        try:
            for profile in ("prod", "boom"):
                with pytest.raises(BridgeError) as caught:
                    await call(bridge_dir, profile)
                messages.append(str(caught.value))
            secret = (bridge_dir / SECRET_NAME).read_text()
            bad = json.dumps({"secret": secret, "op": "credentials", "profile": "dev", "duration": -5})
            messages.append(json.loads(await raw_exchange(bridge_dir, bad.encode() + b"\n"))["error"])
            other = json.dumps({"secret": secret, "op": "delete-everything", "profile": "dev"})
            messages.append(json.loads(await raw_exchange(bridge_dir, other.encode() + b"\n"))["error"])
        finally:
            await server.close()
        return messages

    with caplog.at_level(logging.ERROR, logger="stsdesk.core.bridge"):
        messages = asyncio.run(main())
    assert messages[0] == "MFA prompt for prod was cancelled"
    assert "internal detail" not in messages[1] and "unexpectedly" in messages[1]
    assert "positive" in messages[2]
    assert messages[3] == "unknown operation"
    assert "boom" in caplog.text


def test_modes(bridge_dir: Path) -> None:
    async def handler(profile: str, duration: int | None) -> Credentials:
        return creds()

    async def main() -> dict[str, int]:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            return {
                name: stat.S_IMODE(os.lstat(bridge_dir / name).st_mode) for name in (SOCKET_NAME, SECRET_NAME)
            } | {".": stat.S_IMODE(os.lstat(bridge_dir).st_mode)}
        finally:
            await server.close()

    modes = asyncio.run(main())
    assert modes == {SOCKET_NAME: 0o600, SECRET_NAME: 0o600, ".": 0o700}


def test_stale_socket_is_replaced_and_live_one_is_kept(bridge_dir: Path) -> None:
    bridge_dir.mkdir(mode=0o700)
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(bridge_dir / SOCKET_NAME))  # a crashed GUI leaves its socket file behind
    crashed.close()
    (bridge_dir / SECRET_NAME).write_text("old secret")
    (bridge_dir / SECRET_NAME).chmod(0o600)
    assert bridge_request(bridge_dir, "dev") is None  # nobody listens on it

    async def handler(profile: str, duration: int | None) -> Credentials:
        return creds(profile)

    async def main() -> tuple[Credentials | None, str, Credentials | None]:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            got = await call(bridge_dir, "a")
            second = BridgeServer(bridge_dir, handler)
            with pytest.raises(BridgeInUse) as caught:
                await second.start()
            after = await call(bridge_dir, "b")  # the live GUI was not disturbed
            return got, str(caught.value), after
        finally:
            await server.close()

    got, message, after = asyncio.run(main())
    assert got == creds("a")
    assert after == creds("b")
    assert "another stsdesk window" in message


def test_no_gui_returns_none(bridge_dir: Path) -> None:
    assert bridge_request(bridge_dir, "dev") is None  # no directory at all
    bridge_dir.mkdir(mode=0o700)
    assert bridge_request(bridge_dir, "dev") is None  # no secret, no socket
    (bridge_dir / SECRET_NAME).write_text("s")
    (bridge_dir / SECRET_NAME).chmod(0o600)
    assert bridge_request(bridge_dir, "dev") is None  # a secret but no socket


def test_client_does_not_trust_an_open_directory_or_secret(bridge_dir: Path) -> None:
    async def handler(profile: str, duration: int | None) -> Credentials:
        return creds()

    async def main() -> tuple[Credentials | None, Credentials | None]:
        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            (bridge_dir / SECRET_NAME).chmod(0o644)
            readable_secret = await call(bridge_dir, "dev")
            (bridge_dir / SECRET_NAME).chmod(0o600)
            bridge_dir.chmod(0o755)
            open_dir = await call(bridge_dir, "dev")
            bridge_dir.chmod(0o700)
            return readable_secret, open_dir
        finally:
            await server.close()

    assert asyncio.run(main()) == (None, None)


def test_client_gives_up_after_timeout_and_hangup_cancels_the_handler(bridge_dir: Path) -> None:
    cancelled = []

    async def main() -> str:
        async def handler(profile: str, duration: int | None) -> Credentials:
            try:
                await asyncio.Event().wait()  # a dialog nobody answers
            except asyncio.CancelledError:
                cancelled.append(profile)
                raise
            raise AssertionError("unreachable")

        server = BridgeServer(bridge_dir, handler)
        await server.start()
        try:
            with pytest.raises(BridgeError) as caught:
                await call(bridge_dir, "slow", timeout=0.3)
            for _ in range(200):
                if cancelled:
                    break
                await asyncio.sleep(0.01)
            return str(caught.value)
        finally:
            await server.close()

    message = asyncio.run(main())
    assert "did not answer within 0.3 s" in message
    assert cancelled == ["slow"]


def test_bridge_directory_choice(tmp_path: Path) -> None:
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    one, two = tmp_path / "c1", tmp_path / "c2"
    first = bridge_directory(one, str(runtime))
    assert first.parent == runtime and first.name.startswith("stsdesk-")
    assert bridge_directory(one, str(runtime)) == first
    assert bridge_directory(two, str(runtime)) != first  # one bridge per config directory
    runtime.chmod(0o755)
    assert bridge_directory(one, str(runtime)) == one / "run"  # a shared runtime dir is not used
    deep = tmp_path / ("x" * 120)
    far = bridge_directory(deep, str(tmp_path / "missing"))
    assert far.parent == Path(tempfile.gettempdir()) and str(os.getuid()) in far.name


def test_bridge_directory_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert bridge_directory(tmp_path / "conf").parent == runtime


def test_wire_format_round_trip_and_malformed_answers() -> None:
    assert credentials_from_json(credentials_to_json(creds())) == creds()
    long_term = Credentials("AKIA", "s", None, None, CredentialKind.LONG_TERM)
    assert credentials_from_json(credentials_to_json(long_term)) == long_term
    naive = credentials_to_json(creds()) | {"expiration": EXPIRY.replace(tzinfo=None).isoformat()}
    for bad in (None, [], {"access_key_id": "x"}, credentials_to_json(creds()) | {"kind": "nonsense"}, naive):
        with pytest.raises(BridgeError, match="malformed"):
            credentials_from_json(bad)


def test_client_imports_no_botocore_or_qt() -> None:
    import subprocess
    import sys

    code = (
        "import sys, stsdesk.core.bridge as b; "
        "bad = [m for m in ('botocore', 'boto3', 'PySide6', 'keyring') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
