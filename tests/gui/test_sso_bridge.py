"""A terminal that needs an Identity Center sign-in while the window runs: the request through the terminal
bridge starts the window's sign-in (its dialog), and two terminals asking for two roles of the same session
get one sign-in between them, then their credentials."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from gui_helpers import run, until

from stsdesk.core.bridge import bridge_request
from stsdesk.gui.app import GuiApp, start_bridge, stop_tray_and_bridge

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


def test_two_terminals_one_sign_in(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso = gui.sso
    assert sso is not None
    sso.open_url = lambda url: True  # no browser in tests: the dialog's demo aid approves
    flows: list[Any] = []
    real_sign_in = sso.service.sign_in

    def counting(*args: Any, **kwargs: Any) -> Any:
        flows.append(args)
        return real_sign_in(*args, **kwargs)

    sso.service.sign_in = counting  # type: ignore[method-assign]
    asked: list[str] = []
    real_sign_in_for = sso.sign_in_for

    async def asking(profile: str) -> bool:
        asked.append(profile)
        return await real_sign_in_for(profile)

    sso.sign_in_for = asking  # type: ignore[method-assign]  # before start_bridge, which hands it to the bridge
    assert run(loop, start_bridge(gui))
    assert gui.bridge is not None
    directory = gui.bridge.directory

    async def scenario() -> list[Any]:
        pool = asyncio.get_running_loop()
        asks = [pool.run_in_executor(None, lambda p=p: bridge_request(directory, p, None, 60.0))
                for p in ("ic-dev-developer", "ic-prod-readonly")]
        row = next(iter(sso.rows.sessions))  # type: ignore[union-attr]
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and sso.dialogs[row].url else None)
        await until(lambda: "Waiting" in dialog.status.text())
        await until(lambda: len(asked) == 2)  # both terminals wait on the window's sign-in now
        dialog.demo_button.click()
        return list(await asyncio.gather(*asks))

    try:
        dev, prod = run(loop, scenario())
    finally:
        run(loop, stop_tray_and_bridge(gui))
    assert sorted(asked) == ["ic-dev-developer", "ic-prod-readonly"]
    assert len(flows) == 1  # one sign-in for both terminals
    assert dev is not None and prod is not None
    for creds, account in ((dev, "222222222222"), (prod, "333333333333")):
        arn = boto3.client(
            "sts", endpoint_url=gui.demo.world.endpoint, region_name="us-east-1",  # type: ignore[union-attr]
            aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
        ).get_caller_identity()["Arn"]
        assert f":{account}:assumed-role/AWSReservedSSO_" in arn and arn.endswith("/ana")
