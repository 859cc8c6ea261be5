"""An in-process emulator with an Identity Center, and a person's part in a sign-in (approve, deny, browser)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stsdesk.core.sso.client import SsoEndpoints
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.service import SsoService
from stsdesk.core.sso.signin import EventKind, SignIn, SignInEvent
from stsdesk.emulator.scenario import scenario_from_dict
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState

START_URL = "https://d-9067e0e0e0.awsapps.com/start"
SESSION = SsoSession("corp", START_URL, "us-east-1", ("sso:account:access",))
DEV, PROD, OTHER = "222222222222", "333333333333", "444444444444"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def world(accounts: int = 0, **center: Any) -> dict[str, Any]:
    """dev and prod (ana: ReadOnly+Admin in dev, ReadOnly in prod), OTHER with nothing for ana; ``accounts``
    more accounts named ``acct-N`` where ana has ReadOnly."""
    extra = [f"{500000000000 + i:012d}" for i in range(accounts)]
    return {
        "region": "us-east-1",
        "accounts": [
            {"id": DEV, "name": "Dev Account", "email": "dev@example.com"},
            {"id": PROD, "alias": "prod"},
            {"id": OTHER, "alias": "other"},
            *({"id": a, "name": f"acct-{i}"} for i, a in enumerate(extra)),
        ],
        "identity_center": {
            "start_url": START_URL,
            "users": ["ana", "ben"],
            "permission_sets": [
                {"name": "ReadOnly", "policies": [ALLOW_ALL]},
                {"name": "Admin", "session_duration": 7200, "policies": [ALLOW_ALL]},
            ],
            "assignments": [
                {"user": "ana", "account": DEV, "permission_set": "ReadOnly"},
                {"user": "ana", "account": DEV, "permission_set": "Admin"},
                {"user": "ana", "account": PROD, "permission_set": "ReadOnly"},
                {"user": "ben", "account": OTHER, "permission_set": "Admin"},
                *({"user": "ana", "account": a, "permission_set": "ReadOnly"} for a in extra),
            ],
            **center,
        },
    }


@dataclass
class Emu:
    state: EmulatorState
    server: EmulatorServer

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def travel(self, seconds: float) -> None:
        self.state.clock.advance(seconds)

    def post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        data = urllib.parse.urlencode(form).encode()
        opener = urllib.request.build_opener(_NoRedirect)  # the caller follows a 303 itself (it plays the browser)
        try:
            with opener.open(f"{self.endpoint}{path}", data=data, timeout=10) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def approve_code(self, user_code: str, user: str = "ana", deny: bool = False) -> None:
        form = {"user_code": user_code, "user": user, **({"deny": "1"} if deny else {})}
        status, body = self.post("/_stsdesk/sso-approve", form)
        assert status == 200, body

    def browse(self, url: str, user: str = "ana", deny: bool = False) -> int:
        """Play the browser of a PKCE sign-in: open the authorize URL, approve, follow the redirect to the
        loopback server; returns the loopback's HTTP status."""
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(url, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code in (302, 303), exc.code
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
        form = {"state": state, "user": user, **({"deny": "1"} if deny else {})}
        status, body = self.post("/_stsdesk/sso-approve", form)
        assert status == 303, body
        return get_status(body["redirect"])

    def service(self, tmp: Path, now: bool = True, **kwargs: Any) -> SsoService:
        """A service whose token files are in ``tmp/cache`` and whose clock is the emulator's."""
        endpoints = SsoEndpoints(oidc=self.endpoint, portal=self.endpoint)
        clock = {"now": self.state.clock.now} if now else {}
        return SsoService(tmp, None, endpoints=endpoints, token_dir=tmp / "cache", env={}, **clock, **kwargs)  # type: ignore[arg-type]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def start(data: dict[str, Any]) -> Emu:
    state = EmulatorState(scenario_from_dict(data), None, allow_time_travel=True)
    server = EmulatorServer(state)
    server.start()
    return Emu(state, server)


def run(flow: SignIn, act: Any) -> tuple[Any, list[SignInEvent]]:
    """Run ``flow``; ``act(event)`` plays the person (in a thread) when the URL/code is shown."""
    events: list[SignInEvent] = []

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[Any]] = []

        def listener(event: SignInEvent) -> None:
            events.append(event)
            pending.append(loop.run_in_executor(None, act, event))

        flow.on_event(listener)
        try:
            return await flow.run()
        finally:
            for outcome in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(outcome, AssertionError):
                    raise outcome  # the person's side saw something wrong

    return asyncio.run(main()), events


def device(emu: Emu, user: str = "ana", deny: bool = False) -> Any:
    def act(event: SignInEvent) -> None:
        if event.kind is EventKind.USER_CODE:
            assert event.user_code
            emu.approve_code(event.user_code, user, deny)

    return act


def browser(emu: Emu, user: str = "ana", deny: bool = False) -> Any:
    def act(event: SignInEvent) -> None:
        if event.kind is EventKind.OPEN_URL:
            assert event.url
            assert emu.browse(event.url, user, deny) == 200

    return act
