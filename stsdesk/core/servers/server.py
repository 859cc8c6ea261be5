"""The loopback listener of a local credential server: 127.0.0.1 only, Host checked, one request per
connection, bounded in size and time, and (on Linux) connections from other local users refused.

What it answers is in :mod:`stsdesk.core.servers.routes`; the variables a client needs are
:meth:`CredentialServer.variables`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import re
from dataclasses import dataclass

from stsdesk.core.errors import StsdeskError
from stsdesk.core.servers.http import MAX_HEAD_BYTES, HttpError, Response, error_response, read_request
from stsdesk.core.servers.peer import loopback_peer_uid, peer_uid_supported
from stsdesk.core.servers.routes import ContainerRoutes, ImdsRoutes
from stsdesk.core.servers.supply import CredentialSupply

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_CONNECTIONS = 1000  # beyond this, new connections are closed at once (slow clients cost ~8 KiB each)
WRITE_TIMEOUT = 5.0

# Variables that would make an SDK pick other credentials before reaching the server: unset in the child.
SHADOWING = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CREDENTIAL_FILE",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SDK_LOAD_CONFIG",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)
CONTAINER_VARIABLES = (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",  # botocore prefers it to FULL_URI
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",  # botocore prefers it to the token: only one may be set
)
IMDS_VARIABLES = (
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_V1_DISABLED",
)

_ROLE_NAME = re.compile(r"[^A-Za-z0-9+=,.@_-]")


class ServerMode(enum.Enum):
    """Which credential provider of the SDKs the server speaks to."""

    CONTAINER = "container"  # AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN
    IMDS = "imds"  # AWS_EC2_METADATA_SERVICE_ENDPOINT, IMDSv2 token flow


class ServerError(StsdeskError):
    """The server could not start (port in use, no permission to bind)."""


@dataclass
class ServerCounters:
    """What the server did, for the GUI and tests. Counts only: no request content is ever kept."""

    served: int = 0
    refused: int = 0  # bad Host, other user, browser origin, wrong token, malformed


def imds_role_name(profile: str, role_arn: str | None) -> str:
    """The role name the IMDS mode reports: the role's own name when known, else the profile name, reduced to
    the characters IAM allows in a role name."""
    name = role_arn.rsplit("/", 1)[-1] if role_arn and "/" in role_arn else profile
    return _ROLE_NAME.sub("-", name)[:64] or "stsdesk"


class CredentialServer:
    """One endpoint serving ``supply``'s session in ``mode`` on 127.0.0.1:``port`` (0: any free port).

    Create, ``await start()``, read :attr:`endpoint` and :meth:`variables`, ``await stop()`` (which also
    invalidates the token). ``region`` is what clients get as AWS_REGION; ``account_id`` goes into the
    container document; ``role_name`` is what IMDS reports.
    """

    def __init__(
        self,
        supply: CredentialSupply,
        mode: ServerMode = ServerMode.CONTAINER,
        *,
        port: int = 0,
        region: str | None = None,
        account_id: str | None = None,
        role_name: str = "stsdesk",
    ) -> None:
        self.supply = supply
        self.mode = mode
        self.region = region
        self.counters = ServerCounters()
        self._requested_port = port
        self._port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._routes: ContainerRoutes | ImdsRoutes = (
            ContainerRoutes(supply, account_id) if mode is ServerMode.CONTAINER else ImdsRoutes(supply, role_name)
        )
        self._uid = os.getuid() if hasattr(os, "getuid") else None
        self._check_peer = peer_uid_supported() and self._uid is not None

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1. Raises ServerError when the port is taken or may not be bound."""
        try:
            self._server = await asyncio.start_server(
                self._on_connection, HOST, self._requested_port, limit=MAX_HEAD_BYTES, reuse_address=True
            )
        except OSError as exc:
            raise ServerError(
                f"cannot listen on {HOST}:{self._requested_port}: {exc.strerror or exc}"
                + ("; choose another --port" if self._requested_port else "")
            ) from None
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, drop connections in progress and invalidate the token(s)."""
        self._routes.invalidate()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._server is not None

    # -- what clients need -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (0 before start())."""
        return self._port

    @property
    def endpoint(self) -> str:
        """The URL a client is given: the credentials URL (container) or the IMDS base URL."""
        base = f"http://{HOST}:{self._port}"
        if isinstance(self._routes, ContainerRoutes):
            return base + self._routes.path
        return base + "/"

    @property
    def token(self) -> str | None:
        """The container mode's authorization token (a secret); None in IMDS mode."""
        return self._routes.token if isinstance(self._routes, ContainerRoutes) else None

    def variables(self) -> list[tuple[str, str | None]]:
        """The environment for a client, in order; None means "unset". Contains the token (a secret)."""
        unset: list[tuple[str, str | None]] = [(name, None) for name in SHADOWING]
        if self.mode is ServerMode.CONTAINER:
            unset += [(name, None) for name in (*IMDS_VARIABLES[:2], *CONTAINER_VARIABLES[1:])]
            setting: list[tuple[str, str | None]] = [
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", self.endpoint),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", self.token),
            ]
        else:
            unset += [(name, None) for name in (*CONTAINER_VARIABLES, "AWS_EC2_METADATA_DISABLED")]
            setting = [
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.endpoint),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv4"),
                ("AWS_EC2_METADATA_V1_DISABLED", "true"),  # the SDKs need not try IMDSv1: it is refused
            ]
        if self.region:
            setting += [("AWS_REGION", self.region), ("AWS_DEFAULT_REGION", self.region)]
        return unset + setting

    # -- connections -------------------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._connections) >= MAX_CONNECTIONS or self._server is None:
            writer.transport.abort()
            return
        self._connections.add(task)
        try:
            response = await self._answer(reader, writer)
            if response.status == 200:
                self.counters.served += 1
            else:
                self.counters.refused += 1
            writer.write(response.encode())
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (OSError, TimeoutError, asyncio.CancelledError):
            pass  # the client went away or was too slow; nothing to tell it
        except Exception:  # a bug must not take the server down, nor log what the request held
            log.error("credential server: unexpected error answering a request (details withheld)")
        finally:
            self._connections.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Response:
        if self._check_peer:
            sock = writer.get_extra_info("socket")
            if sock is None or loopback_peer_uid(sock) != self._uid:
                return error_response(403, "AccessDenied", "connections from other local users are refused")
        try:
            request = await read_request(reader)
        except HttpError as exc:
            return exc.response
        allowed = {f"{HOST}:{self._port}", f"localhost:{self._port}"}
        if request.headers.get("host", "").lower() not in allowed:
            # DNS rebinding: a web page whose name resolves to 127.0.0.1 still sends its own name.
            return error_response(403, "InvalidHost", "the Host header must name this server")
        if any(name == "origin" or name.startswith("sec-fetch-") for name in request.headers):
            return error_response(403, "AccessDenied", "requests from web pages are refused")
        return self._routes.handle(request)
