"""The filter at 5,000 rows: a hidden "By account" view is not filtered at each keystroke (it was most of a
keystroke's cost), yet shows exactly the filtered rows when it is shown, and follows the filter while shown."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from gui_helpers import account_groups_shown as _shown

from stsdesk.gui.app import GuiApp
from stsdesk.gui.tree_model import PROFILE_NAME_ROLE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def test_hidden_account_view_is_filtered_when_shown(gui: GuiApp) -> None:
    power = gui.power
    assert power is not None and not power.by_account()
    gui.window.filter_edit.setText("Deployer")
    assert power.account_proxy.filter_text() == ""  # hidden: not filtered on the keystroke
    power.by_account_action.trigger()
    assert power.account_proxy.filter_text() == "Deployer"
    assert _shown(power) == {"dev (222222222222)": ["ci-deployer"], "prod (333333333333)": ["prod-deployer"]}
    # The selection went to the first match in the tree, and the account view shows that same row.
    assert power.account_view.currentIndex().data(PROFILE_NAME_ROLE) == gui.controller.current_profile()
    # While shown it follows each keystroke.
    gui.window.filter_edit.setText("prod-deployer")
    assert _shown(power) == {"prod (333333333333)": ["prod-deployer"]}
    # Hidden again, cleared, shown again: everything is back.
    power.by_account_action.trigger()
    gui.window.filter_edit.clear()
    power.by_account_action.trigger()
    shown = _shown(power)
    assert "dev (222222222222)" in shown and len(shown["dev (222222222222)"]) == 5
