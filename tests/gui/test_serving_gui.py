"""Serving a profile's credentials from the window, against the demo emulator: the row is marked, the strip
under the details shows the endpoint, Copy environment gives working lines, and Stop serving revokes the token.
The served endpoint is fetched with urllib, as the SDKs' container provider would, and the credentials are
checked with boto3."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from gui_helpers import run

from stsdesk.gui.app import GuiApp
from stsdesk.gui.serving import ServingController
from stsdesk.gui.tree_presentation import NAME, STATE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")
PROFILE = "dev-readonly"  # a role that needs no MFA code


def _fetch(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def _in_thread(call: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, call, *args)


def _serving(gui: GuiApp) -> ServingController:
    assert gui.serving is not None
    return gui.serving


def test_serve_fetch_copy_and_stop(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    serving = _serving(gui)
    assert gui.controller.select(PROFILE)
    served = run(loop, serving.serve(PROFILE))
    assert served is not None, gui.model.error(PROFILE)
    endpoint, token = served.endpoint, served.token
    assert endpoint.startswith("http://127.0.0.1:") and token
    # Marked in the tree, and the strip under the details names the endpoint.
    assert gui.model.index_of(PROFILE, STATE).data() == "served"
    assert endpoint in str(gui.model.index_of(PROFILE, NAME).data(3))  # tool tip
    assert serving.panel.isVisible() and endpoint in serving.panel.label.text()

    status, document = run(loop, _in_thread(_fetch, endpoint, token))
    assert status == 200 and document["AccessKeyId"] and document["Token"]
    arn = boto3.client(
        "sts", endpoint_url=gui.demo.world.endpoint, region_name="us-east-1",  # type: ignore[union-attr]
        aws_access_key_id=document["AccessKeyId"], aws_secret_access_key=document["SecretAccessKey"],
        aws_session_token=document["Token"],
    ).get_caller_identity()["Arn"]
    assert ":assumed-role/" in arn

    wrong, _ = run(loop, _in_thread(_fetch, endpoint, "not-the-token"))
    assert wrong == 403

    gui.window.shell_combo.setCurrentText("bash")
    lines = serving.copy_environment(PROFILE)
    assert lines is not None
    assert f"export AWS_CONTAINER_CREDENTIALS_FULL_URI='{endpoint}'" in lines.replace('"', "'")
    assert token in lines and "unset AWS_PROFILE" in lines.replace("'", "")

    assert run(loop, serving.stop(PROFILE)) is True
    assert gui.model.index_of(PROFILE, STATE).data() != "served"
    assert not serving.panel.isVisible()

    def after_stop() -> str:
        try:
            code, _ = _fetch(endpoint, token)
        except urllib.error.URLError:
            return "refused"  # nothing listens any more
        return "refused" if code in (403, 404) else f"answered {code}"

    assert run(loop, _in_thread(after_stop)) == "refused"


def test_menu_offers_serve_then_stop(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    serving = _serving(gui)
    assert gui.controller.select(PROFILE)
    menu = gui.controller.profile_menu()
    texts = [a.text() for a in menu.actions()]
    assert "Serve credentials" in texts and "Stop serving" not in texts
    assert run(loop, serving.serve(PROFILE)) is not None
    texts = [a.text() for a in gui.controller.profile_menu().actions()]
    assert "Stop serving" in texts and "Serve credentials" not in texts
    run(loop, serving.close())
    assert serving.servers.get(PROFILE) is None


def test_serving_a_broken_profile_says_why(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    serving = _serving(gui)
    assert run(loop, serving.serve("no-such-profile")) is None
    assert "no-such-profile" in gui.window.statusBar().currentMessage()
    assert serving.servers.served() == []


def test_session_menu_serves_and_stops(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    serving = _serving(gui)
    menu = gui.window.menus["session"]
    assert serving.menu_action in menu.actions()
    assert gui.controller.select(PROFILE)
    menu.aboutToShow.emit()
    assert serving.menu_action.text() == "Serve credentials" and serving.menu_action.isEnabled()
    serving.menu_action.trigger()

    async def served() -> None:
        from gui_helpers import until

        await until(lambda: serving.servers.get(PROFILE) is not None and gui.model.served(PROFILE))

    run(loop, served())
    menu.aboutToShow.emit()
    assert serving.menu_action.text() == "Stop serving"
    run(loop, serving.stop(PROFILE))


def test_imds_mode_needs_a_token_and_copies_its_endpoint(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    from stsdesk.core.servers import ServerMode

    serving = _serving(gui)
    assert gui.controller.select(PROFILE)
    served = run(loop, serving.serve(PROFILE, ServerMode.IMDS))
    assert served is not None and served.token is None
    base = served.endpoint.rstrip("/")
    assert "IMDSv2" in serving.panel.label.text()

    def imds() -> tuple[int, str]:
        try:  # IMDSv1 (no token) is refused
            urllib.request.urlopen(base + "/latest/meta-data/iam/security-credentials/", timeout=5).close()
            v1 = 200
        except urllib.error.HTTPError as exc:
            v1 = exc.code
        put = urllib.request.Request(base + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
        with urllib.request.urlopen(put, timeout=5) as response:
            token = response.read().decode()
        headers = {"X-aws-ec2-metadata-token": token}
        listing = urllib.request.Request(base + "/latest/meta-data/iam/security-credentials/", headers=headers)
        with urllib.request.urlopen(listing, timeout=5) as response:
            role = response.read().decode().strip()
        creds = urllib.request.Request(base + f"/latest/meta-data/iam/security-credentials/{role}", headers=headers)
        with urllib.request.urlopen(creds, timeout=5) as response:
            return v1, json.loads(response.read())["AccessKeyId"]

    v1, key = run(loop, _in_thread(imds))
    assert v1 == 401 and key.startswith("ASIA")
    gui.window.shell_combo.setCurrentText("bash")
    lines = serving.copy_environment(PROFILE)
    assert lines is not None and "AWS_EC2_METADATA_SERVICE_ENDPOINT" in lines and base in lines
    run(loop, serving.stop(PROFILE))
