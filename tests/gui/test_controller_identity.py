"""The controller against the demo emulator: an IAM user's account (and alias) learned from Who am I, the
missing-key advice in the window's words, and the permanent keyring label."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from gui_helpers import run

from stsdesk.demo import ALICE_KEY_ID, DEMO_REGION
from stsdesk.gui.app import GuiApp
from stsdesk.gui.tree_model import ACCOUNT

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    # As in test_actions: reload() drops Qt objects with timers; collect them here, on the GUI thread, before a
    # later collection on an executor thread would ("Timers cannot be stopped from another thread").
    gc.collect()
    yield
    gc.collect()


def test_remedies_are_said_in_the_window_and_on_the_command_line() -> None:
    from stsdesk.cli.remedies import CLI_WORDS, cli_message
    from stsdesk.core.errors import REMEDY_ACTIONS, STORE_SECRET, ConfigError, Remedy
    from stsdesk.gui.errors import GUI_WORDS, user_message

    assert set(GUI_WORDS) == set(CLI_WORDS) == REMEDY_ACTIONS  # every remedy has words in both front ends
    error = ConfigError("no secret access key for profile 'bob' (AKIAX) in the keyring or the credentials file",
                        remedy=Remedy(STORE_SECRET, "bob", "AKIAX"))
    assert user_message(error) == ("no secret access key for profile 'bob' (AKIAX) in the keyring or the "
                                   "credentials file; use Edit profile to store the secret key")
    assert cli_message(error) == ("no secret access key for profile 'bob' (AKIAX) in the keyring or the "
                                  "credentials file; run: stsdesk add-user bob --access-key-id AKIAX")
    assert user_message(ConfigError("AccessDenied: not allowed")) == "AccessDenied: not allowed"


def test_iam_user_without_mfa_shows_its_alias_after_who_am_i(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    controller = gui.controller
    endpoint = controller.broker.tree.profiles["alice"].endpoint_url
    values: dict[str, str | None] = {"region": DEMO_REGION, "endpoint_url": endpoint,
                                     "stsdesk_access_key_id": ALICE_KEY_ID}
    assert controller.save_profile("bob", values, None)  # no secret stored yet
    assert gui.model.account_text("bob") == ""  # no MFA device, no role: the config names no account

    assert run(loop, controller.whoami("bob")) is None
    error = gui.model.error("bob") or ""
    assert "use Edit profile to store the secret key" in error and "stsdesk add-user" not in error
    assert "stsdesk add-user" not in gui.window.statusBar().currentMessage()

    assert controller.save_profile("bob", values, gui.demo.world.alice_secret)
    arn = run(loop, controller.whoami("bob"))
    assert arn == "arn:aws:iam::111111111111:user/alice"
    assert gui.model.index_of("bob", ACCOUNT).data() == "identity (111111111111)"
    assert controller.select("bob")
    assert "identity (111111111111)" in gui.window.details.toPlainText()


def test_details_expiry_has_no_frozen_time_left(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("dev-readonly")
    assert run(loop, gui.controller.assume("dev-readonly")) is not None
    details = gui.window.details.toPlainText()
    expires = next(line for line in details.splitlines() if line.startswith("Expires"))
    assert "(" not in expires and ":5" not in expires.split()[-1]  # a date, time and zone; no "(00:59:..)"
    assert gui.window.session_countdown.text().startswith("Session of dev-readonly: 00:5")


def test_keyring_label_hidden_while_the_keyring_works(gui: GuiApp) -> None:
    label = gui.window.keyring_label
    assert label.isHidden() and label.text() == ""
    gui.window.show_keyring_warning("No usable keyring: secrets are kept in memory only")
    assert label.isVisible() and label.text() == "keyring: memory only"
    assert "No usable keyring" in label.toolTip()
    gui.window.show_keyring_warning(None)
    assert label.isHidden() and label.toolTip() == ""
