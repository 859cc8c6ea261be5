"""Issue 16: the "By account" view groups the same rows by AWS account and shares selection, filter and
countdowns with the source tree; account colours and labels are kept in the settings and shown."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest
from gui_helpers import account_groups_shown as _groups
from gui_helpers import run, until
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QStyleOptionViewItem

from stsdesk.gui.account_groups import UNKNOWN_LABEL, group_by_account
from stsdesk.gui.account_labels import AccountLabels
from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.power_features import PowerFeatures
from stsdesk.gui.profile_store import is_group_name
from stsdesk.gui.tree_model import ACCOUNT, NAME, PROFILE_NAME_ROLE, STATE, TIME_LEFT

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _power(gui: GuiApp) -> PowerFeatures:
    assert gui.power is not None
    return gui.power


def test_rows_of_every_kind_grouped_by_account(gui: GuiApp) -> None:
    shown = _groups(_power(gui))
    assert shown["identity (111111111111)"] == ["alice", "alice-federated"]  # user, federated user of it
    assert shown["dev (222222222222)"] == ["ci-deployer", "dev", "dev-readonly", "dev-saml", "ic-dev-developer"]
    assert shown["prod (333333333333)"] == ["ic-prod-readonly", "prod-admin", "prod-deployer"]
    assert UNKNOWN_LABEL not in shown
    every = sorted(n for names in shown.values() for n in names)
    profiles = [n for n in gui.model.profile_names() if not is_group_name(n)]  # not the sign-in/account rows
    assert every == sorted(profiles)  # every profile once, nothing invented
    # Identity Center assignments and roles of the same account sit together whatever their source.
    assert gui.model.index_of("ic-prod-readonly").parent() != gui.model.index_of("prod-admin").parent()


def test_toggle_shares_selection_and_filter(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    power = _power(gui)
    window = gui.window
    assert gui.controller.select("prod-admin")
    power.by_account_action.trigger()
    assert power.by_account() and power.account_view.isVisible() and not window.tree.isVisible()
    assert power.account_view.currentIndex().data(PROFILE_NAME_ROLE) == "prod-admin"  # selection carried over
    # Choosing a row in the account view is the window's selection: details and actions follow.
    target = power.account_proxy.mapFromSource(power.account_model.index_of("dev-saml"))
    power.account_view.setCurrentIndex(target)
    assert gui.controller.current_profile() == "dev-saml"
    run(loop, until(lambda: "dev-saml" in window.details.toPlainText()))
    # An account row is no profile: nothing current, the profile actions are off.
    power.account_view.setCurrentIndex(power.account_proxy.index(0, NAME))
    assert gui.controller.current_profile() is None
    assert not window.assume_action.isEnabled()
    # The one filter box filters both views.
    window.filter_edit.setText("Deployer")
    assert _groups(power) == {"dev (222222222222)": ["ci-deployer"], "prod (333333333333)": ["prod-deployer"]}
    window.filter_edit.setText("prod (")  # an account's label matches: all its profiles show
    assert _groups(power) == {"prod (333333333333)": ["ic-prod-readonly", "prod-admin", "prod-deployer"]}
    window.filter_edit.clear()
    power.by_account_action.trigger()
    assert window.tree.isVisible() and not power.account_view.isVisible()
    assert gui.controller.settings.value("view/by_account") == "false"


def test_countdown_and_state_reach_the_account_view(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    power = _power(gui)
    power.set_by_account(True)
    changed: list[str] = []
    power.account_model.dataChanged.connect(
        lambda top, _bottom, _roles: changed.append(str(top.siblingAtColumn(NAME).data(PROFILE_NAME_ROLE))))
    creds = run(loop, gui.controller.assume("dev-saml"))  # SAML: no MFA
    assert creds is not None
    assert "dev-saml" in changed  # the session was announced to the account view
    row = power.account_model.index_of("dev-saml")
    assert row.siblingAtColumn(STATE).data() == "active"
    assert row.siblingAtColumn(TIME_LEFT).data() == gui.model.index_of("dev-saml", TIME_LEFT).data() != ""
    group = power.account_model.group_index("222222222222")
    assert group.siblingAtColumn(STATE).data() == "5 profiles, 1 active"
    # The shared 1 Hz countdown drives both views (no second timer): a time-left change reaches this one.
    changed.clear()
    node = gui.model.store.node("dev-saml")
    assert node is not None
    node.shown_left = ""  # as if the second changed since the last tick
    gui.countdown.tick()
    assert "dev-saml" in changed


def test_account_colour_and_label_stored_and_shown(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    power = _power(gui)
    power.labels.set("333333333333", "#c62828", "PROD")
    # Stored in stsdesk's settings file, read back by a fresh reader (a restart).
    gui.controller.settings.sync()
    again = AccountLabels(gui.controller.settings)
    assert (again.colour("333333333333"), again.label("333333333333")) == ("#c62828", "PROD")
    # The account view: label on the account row, its colour as the swatch and a tint of the rows.
    group = power.account_model.group_index("333333333333")
    assert group.data() == "PROD · prod (333333333333)"
    assert not group.data(Qt.ItemDataRole.DecorationRole).isNull()
    tint = power.account_model.index_of("prod-admin").data(Qt.ItemDataRole.BackgroundRole)
    assert isinstance(tint, QColor) and tint.name() == "#c62828"
    assert power.account_model.index_of("dev").data(Qt.ItemDataRole.BackgroundRole) is None
    # The source tree: its Account column's delegate puts the label first and knows the colour.
    source = gui.window.tree.model().mapFromSource(gui.model.index_of("prod-deployer", ACCOUNT))
    option = QStyleOptionViewItem()
    power.delegate.initStyleOption(option, source)
    assert option.text == "PROD · prod (333333333333)"
    assert power.delegate._account_at(source) == "333333333333"  # the colour bar it paints is this account's
    with pytest.raises(ValueError, match="12-digit"):
        power.labels.set("prod", "#c62828")
    with pytest.raises(ValueError, match="colour"):
        power.labels.set("333333333333", "red")
    power.labels.set("333333333333", None, None)
    assert power.account_model.group_index("333333333333").data() == "prod (333333333333)"


def test_view_choice_survives_a_restart(gui: GuiApp) -> None:
    _power(gui).set_by_account(True)
    gui.controller.settings.sync()
    second = build_window(gui.config_dir)
    try:
        load_engine(second, gui.demo.secrets if gui.demo else None)
        assert second.power is not None and second.power.by_account()
    finally:
        second.countdown.stop()
        second.window.close()
        second.window.deleteLater()


def test_grouping_without_qt_unknown_accounts_last() -> None:
    from stsdesk.core.model import Profile, ProfileKind
    from stsdesk.gui.profile_store import ProfileStore

    store = ProfileStore()
    roots = [Profile("proc", ProfileKind.CREDENTIAL_PROCESS),
             Profile("r", ProfileKind.ROLE, role_arn="arn:aws:iam::444444444444:role/X")]
    store.load(roots, lambda _name: [], {"444444444444": "sandbox"})
    groups = group_by_account(store)
    assert [(g.label, [store.nodes[i].profile.name for i in g.members]) for g in groups] == [
        ("sandbox (444444444444)", ["r"]), (UNKNOWN_LABEL, ["proc"])]
    store.learn_identity("proc", "arn:aws:sts::444444444444:assumed-role/X/s")
    assert [g.label for g in group_by_account(store)] == ["sandbox (444444444444)"]
    assert QModelIndex().isValid() is False


def test_account_menu_sets_colour_and_enter_assumes(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    from PySide6.QtWidgets import QMenu

    power = _power(gui)
    menu = QMenu()
    power.add_account_entries(menu, "222222222222")
    colours = next(a.menu() for a in menu.actions() if a.text() == "Account colour")
    assert colours is not None
    next(a for a in colours.actions() if a.text() == "Red").trigger()
    assert power.labels.colour("222222222222") == "#c62828"
    next(a for a in colours.actions() if a.text() == "None").trigger()
    assert power.labels.colour("222222222222") is None
    menu.deleteLater()
    # Enter on a profile row of the account view assumes that profile, as in the source tree.
    power.set_by_account(True)
    power.account_view.setCurrentIndex(power.account_proxy.mapFromSource(power.account_model.index_of("dev-saml")))
    from PySide6.QtTest import QTest

    QTest.keyClick(power.account_view, Qt.Key.Key_Return)
    run(loop, until(lambda: gui.model.index_of("dev-saml", STATE).data() == "active"))


def test_filter_moves_the_selection_in_the_account_view_too(gui: GuiApp, qtbot: object) -> None:
    from PySide6.QtTest import QTest

    power = _power(gui)
    power.set_by_account(True)
    assert gui.controller.select("alice")
    gui.window.filter_edit.setFocus()
    gui.window.filter_edit.setText("saml")
    assert gui.controller.current_profile() == "dev-saml"  # the controller's rule: the first match
    assert power.account_view.currentIndex().data(PROFILE_NAME_ROLE) == "dev-saml"
    QTest.keyClick(gui.window.filter_edit, Qt.Key.Key_Down)
    assert power.account_view.hasFocus() or gui.window.focusWidget() is power.account_view
