"""Issue 16: the details pane's region picker chooses the region of a profile's sessions in this window: STS
is called there (the SigV4 scope the emulator saw), Copy exports' AWS_REGION and the Region row follow it."""

from __future__ import annotations

import asyncio
import gc
import json
import urllib.request
from collections.abc import Iterator

import pytest
from gui_helpers import run, until

from stsdesk.gui.app import GuiApp
from stsdesk.gui.power_features import PowerFeatures

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _power(gui: GuiApp) -> PowerFeatures:
    assert gui.power is not None
    return gui.power


def _scopes(gui: GuiApp) -> list[dict[str, str]]:
    assert gui.demo is not None
    url = f"{gui.demo.world.endpoint}/_stsdesk/requests"
    with urllib.request.urlopen(url, timeout=10) as answer:
        found: list[dict[str, str]] = json.loads(answer.read())["requests"]
    return found


def test_picked_region_is_where_sts_is_called_and_what_is_exported(gui: GuiApp,
                                                                   loop: asyncio.AbstractEventLoop) -> None:
    power = _power(gui)
    picker = power.region_picker
    assert gui.controller.select("dev-readonly")
    assert picker.isEnabled()
    assert picker.combo.currentText() == "as configured (us-east-1)"
    text = run(loop, gui.controller.copy_exports("dev-readonly", "bash"))
    assert "export AWS_REGION='us-east-1'" in text

    assert picker.choose("eu-west-2")
    assert power.regions.get("dev-readonly") == "eu-west-2"
    run(loop, until(lambda: "eu-west-2 (chosen here)" in gui.window.details.toPlainText()))
    before = len(_scopes(gui))
    assert run(loop, gui.controller.assume("dev-readonly", force=True)) is not None
    added = _scopes(gui)[before:]
    assert {"action": "AssumeRole", "region": "eu-west-2", "service": "sts"}.items() <= added[-1].items()
    text = run(loop, gui.controller.copy_exports("dev-readonly", "bash"))
    assert "export AWS_REGION='eu-west-2'" in text and "us-east-1" not in text
    # Only that profile: another keeps its configured region.
    other = run(loop, gui.controller.copy_exports("dev-saml", "bash"))
    assert "export AWS_REGION='us-east-1'" in other

    # The picker follows the selection and shows each profile's own choice.
    assert gui.controller.select("dev-saml")
    assert picker.combo.currentText() == "as configured (us-east-1)"
    assert gui.controller.select("dev-readonly")
    assert picker.combo.currentText() == "eu-west-2"
    # Back to the configured region.
    assert picker.choose(None)
    assert power.regions.get("dev-readonly") is None
    text = run(loop, gui.controller.copy_exports("dev-readonly", "bash"))
    assert "export AWS_REGION='us-east-1'" in text


def test_a_bad_region_name_is_said_and_changes_nothing(gui: GuiApp) -> None:
    power = _power(gui)
    assert gui.controller.select("dev-readonly")
    assert power.region_picker.choose("eu-west-2")
    assert not power.region_picker.choose("mars-north-1")
    assert power.region_picker.error_label.isVisibleTo(power.region_picker)
    assert "is not an AWS region name" in power.region_picker.error_label.text()
    assert power.regions.get("dev-readonly") == "eu-west-2"


def test_no_profile_no_picker(gui: GuiApp) -> None:
    gui.window.tree.setCurrentIndex(gui.window.tree.rootIndex())
    assert gui.controller.current_profile() is None
    assert not _power(gui).region_picker.isEnabled()
    assert _power(gui).region_picker.combo.currentText() == "as configured"  # not "as configured ()"


def test_choices_kept_across_restarts(gui: GuiApp, tmp_path: object) -> None:
    from PySide6.QtCore import QSettings

    from stsdesk.gui.region_picker import SETTINGS_KEY, RegionChoices

    power = _power(gui)
    assert gui.controller.select("dev-readonly")
    assert power.region_picker.choose("ap-southeast-2")
    again = RegionChoices(gui.controller.settings)
    assert again.get("dev-readonly") == "ap-southeast-2"
    # A hand-edited value that is not a region is ignored, the rest is read.
    settings: QSettings = gui.controller.settings
    settings.setValue(SETTINGS_KEY, ["dev-readonly\tap-southeast-2", "dev\tmars-1", "garbage"])
    again = RegionChoices(settings)
    assert (again.get("dev-readonly"), again.get("dev")) == ("ap-southeast-2", None)
    assert power.region_picker.choose(None)
    assert RegionChoices(settings).get("dev-readonly") is None
