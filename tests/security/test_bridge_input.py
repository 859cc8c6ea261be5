"""Finding 6a: whatever an unauthenticated client sends to the terminal bridge, the answer is ``refused``.

Before: a deeply nested array (RecursionError in json) or a lone surrogate in the secret (UnicodeEncodeError)
escaped the checks, the client got an empty reply and the GUI an error.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from stsdesk.core.bridge import SECRET_NAME, SOCKET_NAME, BridgeServer
from stsdesk.core.model import Credentials

HOSTILE_LINES = [
    b"[" * 20_000 + b"\n",  # nesting past the recursion limit
    b'{"secret": "\\ud800", "op": "credentials", "profile": "p"}\n',  # lone surrogate
    b'{"secret": "\\udfff\\ud800"}\n',
    b'{"secret": ' + b"[" * 20_000 + b"\n",
    b'{"secret": 1' + b"0" * 5000 + b"}\n",  # an integer past int-to-str limits
    b"\xff\xfe\x00\n",  # not UTF-8
    b'{"secret": {"__proto__": []}}\n',
    b"null\n",
    b'"\\ud800"\n',
]


async def _handler(profile: str, duration: int | None) -> Credentials:
    raise AssertionError("an unauthenticated request reached the handler")


def _ask(path: Path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=lambda b: repr(b[:24]))
def test_unauthenticated_hostile_line_is_refused(tmp_path: Path, line: bytes) -> None:
    directory = tmp_path / "run"
    errors: list[BaseException] = []

    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception") or RuntimeError(ctx)))
        server = BridgeServer(directory, _handler)
        await server.start()
        try:
            return await loop.run_in_executor(None, _ask, directory / SOCKET_NAME, line)
        finally:
            await server.close()

    reply = asyncio.run(scenario())
    assert json.loads(reply) == {"ok": False, "error": "refused"}
    assert errors == []
    assert not (directory / SECRET_NAME).exists()


def test_authenticated_request_with_a_lone_surrogate_gets_a_one_line_error(tmp_path: Path) -> None:
    directory = tmp_path / "run"

    async def handler(profile: str, duration: int | None) -> Credentials:
        profile.encode()  # what a real handler would do with it: raises UnicodeEncodeError
        raise AssertionError("unreachable")

    async def scenario() -> bytes:
        server = BridgeServer(directory, handler)
        await server.start()
        try:
            secret = (directory / SECRET_NAME).read_text()
            line = json.dumps({"secret": secret, "op": "credentials", "profile": "\ud800"}).encode() + b"\n"
            return await asyncio.get_running_loop().run_in_executor(None, _ask, directory / SOCKET_NAME, line)
        finally:
            await server.close()

    answer = json.loads(asyncio.run(scenario()))
    assert answer["ok"] is False and "\n" not in answer["error"] and answer["error"] != "refused"
