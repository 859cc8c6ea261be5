"""The Identity Center in the window, against the demo emulator: sign in (approved with the dialog's demo aid,
denied, cancelled), the session row with its accounts and roles, assuming a role that is and one that is not in
the config, and "Add to config"."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import boto3
import pytest
from gui_helpers import run, until

from stsdesk.gui.app import GuiApp
from stsdesk.gui.profile_store import GENERATED_KEY, row_label
from stsdesk.gui.sso_controller import SsoController
from stsdesk.gui.sso_dialog import demo_approve
from stsdesk.gui.tree_presentation import NAME, PROFILE_NAME_ROLE, STATE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


def _sso(gui: GuiApp) -> tuple[SsoController, str, list[str]]:
    sso = gui.sso
    assert sso is not None and sso.rows is not None
    opened: list[str] = []
    sso.open_url = lambda url: opened.append(url) or True  # never a real browser in tests
    row = next(iter(sso.rows.sessions))
    return sso, row, opened


def _children(gui: GuiApp, name: str) -> list[str]:
    model = gui.model
    parent = model.index_of(name)
    return [str(model.index(i, NAME, parent).data()) for i in range(model.rowCount(parent))]


def _sign_in_approved(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> tuple[SsoController, str, list[str]]:
    sso, row, opened = _sso(gui)

    async def flow() -> bool:
        task = sso.sign_in(row)
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)
        assert dialog.isVisible() and not dialog.isModal()
        await until(lambda: "Waiting for approval" in dialog.status.text())
        dialog.demo_button.click()  # the demo aid: approve as ana on the emulator
        result = await task
        assert result, (dialog.status.text(), gui.window.statusBar().currentMessage())
        return result

    assert run(loop, flow()) is True
    return sso, row, opened


def test_session_is_a_top_level_row_before_sign_in(gui: GuiApp) -> None:
    _sso_ctl, row, _ = _sso(gui)
    model = gui.model
    top = [model.index(i, NAME).data(PROFILE_NAME_ROLE) for i in range(model.rowCount())]
    assert row in top
    assert model.index_of(row).siblingAtColumn(STATE).data() == "not signed in"
    # The demo's two configured Identity Center profiles sit beneath their accounts, not at the top.
    accounts = _children(gui, row)
    assert any("222222222222" in a for a in accounts) and any("333333333333" in a for a in accounts)
    assert "ic-dev-developer" not in top


def test_sign_in_approved_shows_accounts_roles_and_user(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                        qtmodeltester: Any) -> None:
    # Qt's own model checker watches every signal of the sign-in, the discovery and the tree rebuilds below.
    qtmodeltester.check(gui.model, force_py=False)
    qtmodeltester.check(gui.controller.proxy, force_py=False)
    sso, row, opened = _sign_in_approved(gui, loop)
    assert opened and opened[0].startswith(gui.demo.world.endpoint)  # type: ignore[union-attr]
    model = gui.model
    assert model.index_of(row).siblingAtColumn(STATE).data() == "signed in"
    assert model.expiry(row) is not None  # the sign-in's own countdown...
    assert row not in dict(model.sessions())  # ...which the tray does not list as a profile session
    accounts = _children(gui, row)
    assert len(accounts) == 3  # ana: 111111111111, 222222222222, 333333333333
    below = {str(p.sso_role_name) for name in sso.rows.below[row] for p in sso.rows.below[name.name]}
    assert below == {"ReadOnlyAccess", "DeveloperAccess", "AdministratorAccess"}
    generated = [p for p in sso.rows.generated.values()]
    assert generated and all(GENERATED_KEY in p.extra for p in generated)
    assert {"ic-dev-developer", "ic-prod-readonly"}.isdisjoint(sso.rows.generated)

    # Assume the configured role: the broker goes through GetRoleCredentials; the row shows the session and the
    # session row learns who signed in.
    creds = run(loop, gui.controller.assume("ic-dev-developer"))
    assert creds is not None and model.expiry("ic-dev-developer") is not None
    gui.controller.show_tree()
    assert row_label(model.profile(row)).endswith("— ana")  # type: ignore[arg-type]
    assert gui.controller.select(row)
    details = gui.window.details.toPlainText()
    assert "https://d-9067e0e0e0.awsapps.com/start" in details and "Signed in as\nana" in details
    assert "3 accounts, 5 roles (3 not in the config)" in details
    # Rebuilt again (a reload): the in-memory roles stay in-memory roles, still assumable through the broker.
    gui.controller.show_tree()
    assert set(sso.rows.generated) == {p.name for p in generated}
    assert all(name in gui.controller.broker.tree.profiles for name in sso.rows.generated)  # type: ignore[union-attr]
    arn = boto3.client(
        "sts", endpoint_url=gui.demo.world.endpoint, region_name="us-east-1",  # type: ignore[union-attr]
        aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    ).get_caller_identity()["Arn"]
    assert ":assumed-role/AWSReservedSSO_DeveloperAccess_" in arn and arn.endswith("/ana")


def test_assume_a_role_not_in_the_config_then_add_it(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, _row, _ = _sign_in_approved(gui, loop)
    admin = next(p for p in sso.rows.generated.values() if p.sso_role_name == "AdministratorAccess")
    assert gui.model.index_of(admin.name).isValid()
    creds = run(loop, gui.controller.assume(admin.name))
    assert creds is not None, gui.model.error(admin.name)
    arn = boto3.client(
        "sts", endpoint_url=gui.demo.world.endpoint, region_name="us-east-1",  # type: ignore[union-attr]
        aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
    ).get_caller_identity()["Arn"]
    assert "AWSReservedSSO_AdministratorAccess_" in arn and ":333333333333:" in arn

    written = sso.add_to_config(admin.name)
    assert written == [admin.name]
    text = gui.controller.broker.tree.config_file.read_text()  # type: ignore[union-attr]
    assert f"[profile {admin.name}]" in text and "sso_role_name = AdministratorAccess" in text
    profile = gui.model.profile(admin.name)
    assert profile is not None and GENERATED_KEY not in profile.extra  # now a configured profile
    assert admin.name not in sso.rows.generated


def test_sign_in_denied_says_so(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, row, opened = _sso(gui)
    endpoint = gui.demo.world.endpoint  # type: ignore[union-attr]

    async def flow() -> bool:
        task = sso.sign_in(row)
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)
        await until(lambda: "Waiting" in dialog.status.text())
        await asyncio.get_running_loop().run_in_executor(None, _deny, endpoint, dialog.url)
        result = await task
        assert dialog.finished_ok is False and "denied" in dialog.status.text().lower()
        return result

    assert run(loop, flow()) is False
    assert gui.model.index_of(row).siblingAtColumn(STATE).data() == "not signed in"
    assert "failed" in gui.window.statusBar().currentMessage()


def _deny(endpoint: str, url: str) -> None:
    """Play the browser: open the authorize page, deny, follow the redirect back to the loopback listener."""
    import urllib.error
    import urllib.parse
    import urllib.request

    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10).close()  # follows to the emulator's own page: registers the state
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    data = urllib.parse.urlencode({"state": state, "user": "ana", "deny": "1"}).encode()
    with urllib.request.urlopen(endpoint + "/_stsdesk/sso-approve", data=data, timeout=10) as response:
        response.read()  # the 303 to the loopback listener is followed: the sign-in hears "denied"


def test_cancel_stops_the_sign_in(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, row, opened = _sso(gui)

    async def flow() -> None:
        task = sso.sign_in(row)
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)
        await until(lambda: "Waiting" in dialog.status.text())
        assert sso.sign_in(row) is task  # a second request joins the running sign-in
        dialog.cancel_button.click()
        assert await task is False
        assert "cancelled" in gui.window.statusBar().currentMessage()

    run(loop, flow())
    assert gui.model.index_of(row).siblingAtColumn(STATE).data() == "not signed in"
    assert "state=" in opened[0]


def test_demo_approve_refuses_other_hosts() -> None:
    try:
        demo_approve("https://example.com", "ana", "ABCD-EFGH", None)
    except OSError as exc:
        assert "local emulator" in str(exc)
    else:
        raise AssertionError("a non-loopback endpoint was contacted")


def test_tray_reminds_before_the_sign_in_runs_out(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    from stsdesk.gui.app import start_tray

    sso, row, _ = _sign_in_approved(gui, loop)
    start_tray(gui, lambda: None)
    assert gui.tray is not None
    heard: list[tuple[str, str]] = []
    sso.reminder.connect(lambda title, body: heard.append((title, body)))
    sso.refresh_states()
    assert heard == [] and gui.tray.last_text_notice is None  # the sign-in lasts for days yet
    # The registration (and with it the sign-in) now ends in 10 minutes, as an older sign-in's would.
    [cache_file] = [p for p in (gui.config_dir / "sso-cache").glob("*.json") if "clientId" not in p.read_text()
                    or "accessToken" in p.read_text()]
    token = json.loads(cache_file.read_text())
    ends = datetime.now(UTC) + timedelta(minutes=10)
    token["registrationExpiresAt"] = ends.strftime("%Y-%m-%dT%H:%M:%SZ")
    cache_file.write_text(json.dumps(token))
    sso.refresh_states()
    sso.refresh_states()  # once per sign-in end, not at every refresh
    assert len(heard) == 1 and "sign-in ends in" in heard[0][0] and "demo" in heard[0][0]
    assert gui.tray.last_text_notice == heard[0]
    assert gui.model.expiry(row) == int(ends.timestamp())
    gui.tray.stop()


def test_device_code_sign_in_shows_the_code(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, row, opened = _sso(gui)

    async def flow() -> bool:
        task = sso.sign_in(row, device_code=True)
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)
        await until(lambda: dialog.user_code and "Waiting" in dialog.status.text())
        assert dialog.code_label.isVisible() and dialog.user_code in dialog.code_label.text()
        assert dialog.user_code in opened[0]  # the verification page is opened with the code filled in
        dialog.demo_button.click()  # approves by user code
        return await task

    assert run(loop, flow()) is True
    assert gui.model.index_of(row).siblingAtColumn(STATE).data() == "signed in"
    assert len(_children(gui, row)) == 3


def test_assume_before_signing_in_asks_for_the_sign_in(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, row, opened = _sso(gui)

    async def flow() -> None:
        assert await gui.controller.assume("ic-prod-readonly") is None  # not signed in: fails at once...
        assert "not signed in" in (gui.model.error("ic-prod-readonly") or "")
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)  # ...and asks
        await until(lambda: "Waiting" in dialog.status.text())
        dialog.demo_button.click()
        # Signed in: the profile is assumed again on its own and its row shows the session.
        await until(lambda: gui.model.expiry("ic-prod-readonly") is not None, timeout=20)

    run(loop, flow())
    assert gui.model.error("ic-prod-readonly") is None


def test_a_cancelled_sign_in_is_not_asked_again_at_once(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    sso, row, opened = _sso(gui)

    async def flow() -> None:
        await gui.controller.assume("ic-prod-readonly")
        dialog = await until(lambda: sso.dialogs.get(row) if sso.dialogs.get(row) and opened else None)
        await until(lambda: "Waiting" in dialog.status.text())
        dialog.cancel_button.click()
        await until(lambda: row not in sso._flights)
        await gui.controller.assume("ic-prod-readonly")  # fails again, quietly: no second dialog
        await asyncio.sleep(0.2)

    run(loop, flow())
    assert len(opened) == 1 and row not in sso.dialogs
    assert sso.activated(row)  # asked for explicitly, it signs in again
    assert row in sso._flights
    sso._flights[row].cancel()


def test_profile_actions_are_off_on_a_session_row(gui: GuiApp) -> None:
    _sso_ctl, row, _ = _sso(gui)
    assert gui.controller.select(row)
    assert not gui.window.assume_action.isEnabled() and not gui.window.console_action.isEnabled()
    assert "Start URL" in gui.window.details.toPlainText()
    texts = [a.text() for a in gui.controller.profile_menu().actions()]
    assert "Sign in…" in texts and "Sign in with a device code…" in texts
    assert not any("Favourite" in t or "Serve credentials" in t for t in texts)
    assert gui.controller.select("dev-readonly")
    assert gui.window.assume_action.isEnabled()
