"""The credential servers in-process: what each route answers and refuses, on real loopback sockets.

The SDKs themselves are the oracles in tests/e2e/test_servers*.py; here the wire is written by hand so that
every refusal (token, Host, method, size, IMDSv1) is checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.servers import CredentialServer, CredentialSupply, ServerMode
from stsdesk.core.servers.peer import loopback_peer_uid, peer_uid_supported


def creds(seconds: float, key: str = "ASIATESTKEY000000001") -> Credentials:
    return Credentials(
        key,
        "secret/" + key,
        "token/" + key,
        datetime.now(UTC) + timedelta(seconds=seconds),
        CredentialKind.ASSUMED_ROLE,
    )


def fixed(*answers: Credentials) -> Callable[[float], Awaitable[Credentials]]:
    """A fetch handing out ``answers`` in turn (the last one again when they run out)."""
    queue = list(answers)

    async def fetch(min_ttl: float) -> Credentials:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return fetch


async def raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as is; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def call(
    server: CredentialServer, method: str, path: str, headers: dict[str, str] | None = None, host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    fields = {"Host": host if host is not None else f"127.0.0.1:{server.port}", **(headers or {})}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v is not None)
    return await raw(server.port, (head + "\r\n").encode())


def run(mode: ServerMode, body: Callable[[CredentialServer], Awaitable[Any]], *answers: Credentials) -> Any:
    async def main() -> Any:
        supply = CredentialSupply(fixed(*(answers or (creds(3600),))))
        await supply.start()
        server = CredentialServer(supply, mode, region="eu-west-1", account_id="222222222222", role_name="Dev")
        await server.start()
        try:
            return await body(server)
        finally:
            await server.stop()
            await supply.stop()

    return asyncio.run(main())


def path_of(server: CredentialServer) -> str:
    return "/" + server.endpoint.split("/", 3)[3]


# -- container provider ------------------------------------------------------------------------------------


def test_container_serves_the_document_with_the_token() -> None:
    async def body(server: CredentialServer) -> None:
        assert server.endpoint.startswith(f"http://127.0.0.1:{server.port}/")
        assert path_of(server) not in ("/", "")
        assert server.token is not None and len(server.token) >= 40  # 32 random bytes, url-safe
        status, headers, payload = await call(server, "GET", path_of(server), {"Authorization": server.token})
        assert status == 200 and headers["content-type"] == "application/json"
        document = json.loads(payload)
        assert document["AccessKeyId"] == "ASIATESTKEY000000001"
        assert document["SecretAccessKey"] == "secret/ASIATESTKEY000000001"
        assert document["Token"] == "token/ASIATESTKEY000000001"
        assert document["AccountId"] == "222222222222"
        assert datetime.strptime(document["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        assert headers["cache-control"] == "no-store"

    run(ServerMode.CONTAINER, body)


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 43, "TOKEN-PREFIX"])
def test_container_refuses_a_missing_or_wrong_token(token: str | None) -> None:
    async def body(server: CredentialServer) -> None:
        assert server.token is not None
        given = server.token[:10] if token == "TOKEN-PREFIX" else token
        status, _, payload = await call(server, "GET", path_of(server), {"Authorization": given}) if given is not None \
            else await call(server, "GET", path_of(server))
        assert status == 403
        document = json.loads(payload)
        assert document["Code"] == "AccessDenied" and document["Message"]
        assert "ASIA" not in payload.decode()

    run(ServerMode.CONTAINER, body)


def test_container_other_paths_and_methods() -> None:
    async def body(server: CredentialServer) -> None:
        auth = {"Authorization": str(server.token)}
        assert (await call(server, "GET", "/", auth))[0] == 404
        assert (await call(server, "GET", path_of(server) + "x", auth))[0] == 404
        assert (await call(server, "POST", path_of(server), auth))[0] == 405

    run(ServerMode.CONTAINER, body)


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1", "127.0.0.1:1", "", "localhost.evil:{port}"])
def test_bad_host_header_is_refused(host: str) -> None:
    async def body(server: CredentialServer) -> None:
        status, _, payload = await call(
            server, "GET", path_of(server), {"Authorization": str(server.token)}, host=host.format(port=server.port)
        )
        assert status == 403 and json.loads(payload)["Code"] == "InvalidHost"

    run(ServerMode.CONTAINER, body)


def test_localhost_host_header_is_accepted() -> None:
    async def body(server: CredentialServer) -> None:
        status, _, _ = await call(
            server, "GET", path_of(server), {"Authorization": str(server.token)}, host=f"LOCALHOST:{server.port}"
        )
        assert status == 200

    run(ServerMode.CONTAINER, body)


def test_requests_from_web_pages_are_refused() -> None:
    async def body(server: CredentialServer) -> None:
        auth = {"Authorization": str(server.token)}
        assert (await call(server, "GET", path_of(server), {**auth, "Origin": "http://evil.example"}))[0] == 403
        assert (await call(server, "GET", path_of(server), {**auth, "Sec-Fetch-Mode": "cors"}))[0] == 403

    run(ServerMode.CONTAINER, body)


def test_malformed_and_oversized_requests() -> None:
    async def body(server: CredentialServer) -> list[int]:
        host = f"Host: 127.0.0.1:{server.port}\r\n"
        auth = f"Authorization: {server.token}\r\n"
        path = path_of(server)
        cases = [
            b"GARBAGE\r\n\r\n",
            f"GET {path} HTTP/1.1\r\n{host}{host}{auth}\r\n".encode(),  # duplicate header
            f"GET {path} HTTP/1.1\r\n{host}X-A: {'a' * 9000}\r\n\r\n".encode(),  # head too large
            f"GET {path} HTTP/1.1\r\n{host}{''.join(f'X-{i}: 1' + chr(13) + chr(10) for i in range(60))}\r\n".encode(),
            f"GET {path} HTTP/1.1\r\n{host}{auth}Content-Length: 5000\r\n\r\n".encode(),
            f"GET {path} HTTP/1.1\r\n{host}{auth}Transfer-Encoding: chunked\r\n\r\n".encode(),
            f"GET {path} HTTP/1.1\r\n{host}{auth} folded\r\n\r\n".encode(),
            f"GET {path} HTTP/1.1\r\n{host}Authorization: \xe9\r\n\r\n".encode("latin-1"),
        ]
        return [(await raw(server.port, case))[0] for case in cases]

    assert run(ServerMode.CONTAINER, body) == [400, 400, 431, 431, 413, 400, 400, 400]


def test_a_slow_request_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from stsdesk.core.servers import http

    monkeypatch.setattr(http, "READ_TIMEOUT", 0.2)
    monkeypatch.setattr(http.read_request, "__defaults__", (0.2,))

    async def body(server: CredentialServer) -> int:
        return (await raw(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"))[0]  # never finished

    assert run(ServerMode.CONTAINER, body) == 408


def test_nothing_valid_answers_503_at_once() -> None:
    """The served session is past its floor and the renewal fails: the SDK gets an error at once."""
    shift = [0.0]

    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=shift[0])

    async def failing(min_ttl: float) -> Credentials:
        from stsdesk.core.errors import NetworkError

        raise NetworkError("could not reach STS at https://sts.example")

    async def main() -> tuple[int, dict[str, str], str]:
        supply = CredentialSupply(fixed(creds(3600)), now=clock)
        await supply.start()
        supply._fetch = failing  # later renewals fail
        server = CredentialServer(supply, ServerMode.CONTAINER)
        await server.start()
        try:
            shift[0] = 3590.0  # ten seconds left: under the floor
            supply.renew_now()
            while supply.status().error is None:
                await asyncio.sleep(0.01)
            status, _, payload = await call(server, "GET", path_of(server), {"Authorization": str(server.token)})
            return status, json.loads(payload), supply.status().state.value
        finally:
            await server.stop()
            await supply.stop()

    status, document, state = asyncio.run(main())
    assert status == 503 and state == "failed"
    assert document["Code"] == "CredentialsUnavailable"
    assert document["Message"] == "no valid credentials: could not reach STS at https://sts.example"


def test_stopping_invalidates_the_token_and_closes_the_port() -> None:
    async def main() -> None:
        supply = CredentialSupply(fixed(creds(3600)))
        await supply.start()
        server = CredentialServer(supply, ServerMode.CONTAINER)
        await server.start()
        port, path, token = server.port, path_of(server), str(server.token)
        assert (await call(server, "GET", path, {"Authorization": token}))[0] == 200
        await server.stop()
        await supply.stop()
        with pytest.raises(OSError):
            await raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\n\r\n".encode())

    asyncio.run(main())


# -- IMDSv2 ------------------------------------------------------------------------------------------------


def test_imds_v2_flow() -> None:
    async def body(server: CredentialServer) -> None:
        assert server.endpoint == f"http://127.0.0.1:{server.port}/" and server.token is None
        status, headers, token = await call(
            server, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"}
        )
        assert status == 200 and len(token) >= 40
        assert headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600"
        auth = {"X-aws-ec2-metadata-token": token.decode()}
        status, _, role = await call(server, "GET", "/latest/meta-data/iam/security-credentials/", auth)
        assert (status, role) == (200, b"Dev")
        status, _, payload = await call(server, "GET", "/latest/meta-data/iam/security-credentials/Dev", auth)
        document = json.loads(payload)
        assert status == 200 and document["Code"] == "Success" and document["Type"] == "AWS-HMAC"
        assert document["AccessKeyId"] == "ASIATESTKEY000000001" and document["Token"]
        assert (await call(server, "GET", "/latest/meta-data/iam/security-credentials/Other", auth))[0] == 404

    run(ServerMode.IMDS, body)


def test_imds_v1_and_bad_tokens_are_refused() -> None:
    async def body(server: CredentialServer) -> None:
        path = "/latest/meta-data/iam/security-credentials/Dev"
        status, _, payload = await call(server, "GET", path)  # IMDSv1: no token
        assert status == 401 and json.loads(payload)["Code"] == "Unauthorized"
        assert (await call(server, "GET", path, {"X-aws-ec2-metadata-token": "made-up"}))[0] == 401
        assert (await call(server, "GET", "/latest/meta-data/iam/security-credentials/"))[0] == 401

    run(ServerMode.IMDS, body)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "0"}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "21601"}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "-5"}, 400),
        ({"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"}, 403),
    ],
)
def test_imds_token_request_is_checked(headers: dict[str, str], status: int) -> None:
    async def body(server: CredentialServer) -> int:
        return (await call(server, "PUT", "/latest/api/token", headers))[0]

    assert run(ServerMode.IMDS, body) == status


def test_imds_token_with_get_is_refused() -> None:
    async def body(server: CredentialServer) -> int:
        return (await call(server, "GET", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"}))[0]

    assert run(ServerMode.IMDS, body) == 405


def test_imds_tokens_die_with_the_server() -> None:
    async def main() -> int:
        supply = CredentialSupply(fixed(creds(3600)))
        await supply.start()
        server = CredentialServer(supply, ServerMode.IMDS, role_name="Dev")
        await server.start()
        _, _, token = await call(server, "PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        routes = server._routes
        await server.stop()
        await supply.stop()
        # The same routes object (as if a connection were still in flight) no longer honours the token.
        from stsdesk.core.servers.http import Request

        answer = routes.handle(
            Request(
                "GET", "/latest/meta-data/iam/security-credentials/Dev", {"x-aws-ec2-metadata-token": token.decode()}
            )
        )
        return answer.status

    assert asyncio.run(main()) == 401


# -- environment -------------------------------------------------------------------------------------------


def test_variables_clean_static_credentials_and_set_only_one_token() -> None:
    async def body(server: CredentialServer) -> list[tuple[str, str | None]]:
        return server.variables()

    variables = dict(run(ServerMode.CONTAINER, body))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_CREDENTIAL_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SDK_LOAD_CONFIG",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        assert name in variables and variables[name] is None, name
    assert variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"] and variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert variables["AWS_REGION"] == variables["AWS_DEFAULT_REGION"] == "eu-west-1"

    imds = dict(run(ServerMode.IMDS, body))
    assert imds["AWS_EC2_METADATA_SERVICE_ENDPOINT"] and imds["AWS_EC2_METADATA_DISABLED"] is None
    assert imds["AWS_CONTAINER_CREDENTIALS_FULL_URI"] is None and imds["AWS_ACCESS_KEY_ID"] is None


@pytest.mark.skipif(not peer_uid_supported(), reason="needs /proc/net/tcp (Linux)")
def test_peer_uid_of_our_own_connection() -> None:
    async def main() -> int | None:
        found: list[int | None] = []

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            found.append(loopback_peer_uid(writer.get_extra_info("socket")))
            writer.close()

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        while not found:
            await asyncio.sleep(0.01)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return found[0]

    assert asyncio.run(main()) == os.getuid()


@pytest.mark.skipif(not peer_uid_supported(), reason="needs /proc/net/tcp (Linux)")
def test_peer_uid_falls_back_to_the_proc_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from stsdesk.core.servers import peer

    monkeypatch.setattr(peer, "_diag_uid", lambda client, server: None)
    test_peer_uid_of_our_own_connection()


def test_any_bytes_give_a_request_or_a_clean_refusal() -> None:
    """Property: whatever arrives, the reader returns a Request or raises HttpError (answered, then closed);
    nothing else escapes (the server would otherwise drop the connection without an answer)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from stsdesk.core.servers.http import HttpError, Request, read_request

    pieces = st.sampled_from([
        b"GET ", b"PUT ", b"/latest/api/token", b"/", b" HTTP/1.1", b"\r\n", b"\r\n\r\n", b"Host: 127.0.0.1:1",
        b"Content-Length: ", b"9999999", b"3", b"abc", b":", b" ", b"\t", b"\x00", b"\xff", b"Transfer-Encoding: x",
        b"Authorization: ", b"X-aws-ec2-metadata-token: ", b"\n",
    ])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(pieces, st.binary(max_size=20)), max_size=30))
    def check(parts: list[bytes]) -> None:
        async def main() -> object:
            reader = asyncio.StreamReader(limit=8192)
            reader.feed_data(b"".join(parts))
            reader.feed_eof()
            try:
                return await read_request(reader, timeout=5)
            except HttpError as exc:
                return exc

        result = asyncio.run(main())
        assert isinstance(result, Request | HttpError)
        if isinstance(result, HttpError):
            assert result.response.status in (400, 408, 413, 431)

    check()
