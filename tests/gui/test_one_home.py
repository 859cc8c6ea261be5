"""One home per decision, seen from the window: Copy exports says the region the CLI and the bridge say, and
the tray's MFA rule is core's."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
from collections.abc import Iterator

import pytest
from gui_helpers import run

from stsdesk.core.mfa_rule import mfa_requirement
from stsdesk.core.region import export_region
from stsdesk.demo import DEMO_REGION
from stsdesk.gui.app import GuiApp

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")
OTHER_DEFAULT = "ap-southeast-2"


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    # reload() drops Qt objects with timers; collect them here, on the GUI thread.
    gc.collect()
    yield
    gc.collect()


def test_copy_exports_region_of_a_role_without_one_is_its_sources(
    gui: GuiApp, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    controller = gui.controller
    config = controller.broker.tree.config_file
    # A role with no region of its own, assumed from alice, who has one: the STS call goes to alice's region.
    config.write_text(config.read_text() + "\n[profile inherits]\nsource_profile = alice\n"
                      "role_arn = arn:aws:iam::222222222222:role/ReadOnly\n")
    controller.reload()
    controller.prefs = dataclasses.replace(controller.prefs, default_region=OTHER_DEFAULT)
    controller.broker.default_region = OTHER_DEFAULT
    assert controller.broker.tree.profiles["inherits"].region is None

    text = run(loop, controller.copy_exports("inherits", "bash"))
    assert text is not None
    exported = re.search(r"^export AWS_REGION=(\S+)$", text, re.MULTILINE)
    assert exported is not None and exported.group(1).strip("'\"") == DEMO_REGION
    # ... which is what the CLI and the terminal bridge export (core.region.export_region).
    assert export_region(controller.broker.tree, "inherits", OTHER_DEFAULT) == DEMO_REGION
    # ... and what the details pane says (it said the default region before).
    assert controller.select("inherits")
    details = gui.window.details.toPlainText()
    assert f"Region\n{DEMO_REGION}\n" in details  # a table row: label, value
    assert "(default)" not in details


def test_tray_mfa_rule_is_cores(gui: GuiApp) -> None:
    from stsdesk.core.mfa_rule import mfa_cache_key
    from stsdesk.demo import ALICE_KEY_ID, ALICE_MFA
    from stsdesk.gui.tray_adapter import ControllerTrayApp

    adapter = gui.tray_app or ControllerTrayApp(gui.controller, gui.controller.settings, lambda: None)
    alice_session = mfa_cache_key(ALICE_KEY_ID, ALICE_MFA)
    expected = {
        "alice": (True, alice_session),  # the IAM user's own MFA session
        "dev": (True, alice_session),  # a role with MFA from alice's keys: her MFA session vouches
        "prod-deployer": (True, alice_session),  # chained from dev: the same session vouches
        "prod-admin": (True, None),  # 4 hours: from the long-term keys with a fresh code every time
        "dev-readonly": (False, None),  # no mfa_serial on the role: alice's own device does not apply
        "dev-saml": (False, None),
    }
    tree = gui.controller.broker.tree
    for name, rule in expected.items():
        core = mfa_requirement(tree.chain(name))
        assert (core.needed, core.session_key) == rule, name
        assert adapter._mfa_rule(name) == rule, name
