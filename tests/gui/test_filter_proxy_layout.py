"""The tree's filter proxy (issue 17: filtering without a Python call per hidden row): each keystroke shows
exactly what a fresh filter on the same text shows, announces one layout change (none when the same rows stay
shown), keeps the expansion and selection of rows that stay, forwards state changes of shown rows only; and in
the window, a selection filtered out goes where it went when rows were removed, and is announced."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtWidgets import QTreeView

from stsdesk.core.profiles import build_tree
from stsdesk.gui.app import GuiApp
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.tree_model import NAME, STATE, TIME_LEFT, ProfileTreeModel

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

RAW = {
    "alice": {"stsdesk_access_key_id": "AKIADEMOALICE0000001", "mfa_serial": "arn:aws:iam::111111111111:mfa/alice"},
    "dev": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/Developer"},
    "deployer": {"source_profile": "dev", "role_arn": "arn:aws:iam::333333333333:role/Deployer"},
    "dev-ro": {"source_profile": "dev", "role_arn": "arn:aws:iam::222222222222:role/ReadOnly"},
    "ro": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/ReadOnly"},
    "bob": {"stsdesk_access_key_id": "AKIADEMOBOB000000001"},
    "bob-admin": {"source_profile": "bob", "role_arn": "arn:aws:iam::444444444444:role/Admin"},
}


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _model(clock: Clock | None = None) -> ProfileTreeModel:
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model = ProfileTreeModel(clock=clock or Clock())
    model.set_profiles(tree.roots(), tree.children)
    return model


def _proxy(model: ProfileTreeModel, text: str = "") -> ProfileFilterProxy:
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text(text)
    return proxy


def _shown(proxy: ProfileFilterProxy, parent: QModelIndex | None = None) -> list[object]:
    """The shown tree as nested (name, matches itself, children) tuples."""
    parent = parent if parent is not None else QModelIndex()
    rows: list[object] = []
    for row in range(proxy.rowCount(parent)):
        index = proxy.index(row, NAME, parent)
        assert proxy.parent(index) == parent
        assert proxy.mapFromSource(proxy.mapToSource(index)) == index
        rows.append((index.data(), proxy.is_match(index), _shown(proxy, index)))
    return rows


def test_each_keystroke_shows_what_a_fresh_filter_shows(qapp: object) -> None:
    model = _model()
    typed = _proxy(model)
    texts = ["d", "de", "dev", "dev-", "dev-r", "dev-ro", "dev", "", "r", "ro", "ro d", "ro de", "ro dev",
             "ro", "admin", "444", "nothing", "no", "", "DEV  RO", "dev ro x", "iam", "ia", "i", "", "i",
             "ia", "iam", "iam a"]
    assert _shown(_proxy(model, "iam")) == _shown(_proxy(model))  # "iam" is in every row's text
    for text in texts:
        typed.set_filter_text(text)
        assert _shown(typed) == _shown(_proxy(model, text)), text
    assert _shown(_proxy(model, "ro dev")) == [
        ("alice", False, [("dev", True, [("dev-ro", True, [])])])  # dev's text has "role" in it
    ]


def test_one_layout_change_and_none_when_the_same_rows_stay(qapp: object) -> None:
    model = _model()
    proxy = _proxy(model)
    changes: list[str] = []
    proxy.layoutChanged.connect(lambda *_: changes.append("layout"))
    proxy.modelReset.connect(lambda: changes.append("reset"))
    proxy.set_filter_text("de")  # deployer, dev, dev-ro (and alice above them)
    assert changes == ["layout"]
    proxy.set_filter_text("dep")  # deployer only: dev and alice still shown for context, dev-ro hidden
    assert changes == ["layout", "layout"]
    proxy.set_filter_text("depl")  # the same rows
    assert changes == ["layout", "layout"]
    alice = proxy.index(0, NAME)
    dev = proxy.index(0, NAME, alice)
    assert not proxy.is_match(dev) and proxy.is_match(proxy.index(0, NAME, dev))
    proxy.set_filter_text("333")  # deployer's account: the same rows again
    assert changes == ["layout", "layout"] and _shown(proxy) == _shown(_proxy(model, "333"))


def test_rows_that_stay_keep_expansion_and_selection(qapp: object) -> None:
    model = _model()
    proxy = _proxy(model)
    view = QTreeView()
    view.setModel(proxy)
    view.expandAll()
    deployer = proxy.mapFromSource(model.index_of("deployer"))
    view.setCurrentIndex(deployer)
    kept = QPersistentModelIndex(proxy.mapFromSource(model.index_of("dev-ro")))
    proxy.set_filter_text("dep")
    assert view.currentIndex().data() == "deployer"  # a different row number now, the same row
    assert view.isExpanded(proxy.mapFromSource(model.index_of("dev")))
    assert not kept.isValid()  # dev-ro is hidden: its persistent index is gone, as a removed row's
    proxy.set_filter_text("")
    assert view.currentIndex().data() == "deployer"
    assert view.isExpanded(proxy.mapFromSource(model.index_of("alice")))  # shown throughout
    assert view.isExpanded(proxy.mapFromSource(model.index_of("dev")))
    assert not view.isExpanded(proxy.mapFromSource(model.index_of("bob")))  # hidden meanwhile: collapsed
    proxy.set_filter_text("bob")
    assert not view.currentIndex().isValid()
    assert [proxy.index(r, NAME).data() for r in range(proxy.rowCount())] == ["bob"]


def test_state_changes_reach_the_shown_rows_only(qapp: object) -> None:
    clock = Clock()
    model = _model(clock)
    proxy = _proxy(model, "readonly")  # alice > dev > dev-ro, alice > ro (deployer, first under dev, hidden)
    changed: list[tuple[object, int, int, int]] = []
    proxy.dataChanged.connect(lambda top, bottom, *_: changed.append(
        (top.siblingAtColumn(NAME).data(), top.row(), bottom.row(), top.column())))
    expiry = datetime.fromtimestamp(clock.now + 3600, UTC)
    model.set_session("deployer", expiry)  # hidden
    model.flush_changes()  # the model announces state changes once per turn of the loop; now
    assert changed == []
    model.set_session("ro", expiry)
    model.flush_changes()
    assert sorted(changed) == [("ro", 1, 1, STATE), ("ro", 1, 1, TIME_LEFT)]  # the cells a session shows in
    model.set_session("dev-ro", expiry)
    model.flush_changes()
    changed.clear()
    clock.now += 61
    assert model.tick() >= 2
    # Only the shown rows' time-left cells, in the proxy's rows: ro is alice's second shown child, dev-ro is
    # dev's first (deployer, before it in the source, is hidden).
    assert sorted(changed, key=str) == [("dev-ro", 0, 0, TIME_LEFT), ("ro", 1, 1, TIME_LEFT)]


def test_every_role_of_a_shown_cell_is_the_source_cells(qapp: object) -> None:
    """The proxy answers the roles the source ignores itself (issue 17: fewer calls per painted cell); every
    role still reads what the source model says of the same cell."""
    clock = Clock()
    model = _model(clock)
    model.set_session("ro", datetime.fromtimestamp(clock.now + 3600, UTC))
    model.set_error("dev", "AccessDenied")
    proxy = _proxy(model, "")
    seen: set[object] = set()

    def walk(parent: QModelIndex) -> None:
        for row in range(proxy.rowCount(parent)):
            for column in range(proxy.columnCount(parent)):
                cell = proxy.index(row, column, parent)
                source = proxy.mapToSource(cell)
                for role in [*range(0, 14), *range(256, 262)]:
                    ours, theirs = proxy.data(cell, role), model.data(source, role)
                    assert ours == theirs, (cell.siblingAtColumn(NAME).data(), column, role)
                    seen.add(type(ours))
            walk(proxy.index(row, 0, parent))

    walk(QModelIndex())
    assert {str, type(None), bool}.issubset(seen)  # texts, colours, flags: the roles the source answers
    assert len(seen) >= 4


def test_a_reload_filters_the_new_rows(qapp: object) -> None:
    model = _model()
    proxy = _proxy(model, "admin")
    resets: list[int] = []
    proxy.modelReset.connect(lambda: resets.append(proxy.rowCount()))
    smaller = {name: values for name, values in RAW.items() if name != "bob-admin"}
    smaller["carol-admin"] = {"source_profile": "alice", "role_arn": "arn:aws:iam::555555555555:role/Admin"}
    tree = build_tree(smaller, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model.set_profiles(tree.roots(), tree.children)
    assert resets == [1]
    assert _shown(proxy) == [("alice", False, [("carol-admin", True, [])])]


def test_selection_filtered_out_with_no_match_is_announced(gui: GuiApp) -> None:
    """currentChanged tells its listeners (details, actions, the region picker, serving) that nothing is
    current: a layout change that hides the current row does not, on its own."""
    assert gui.controller.select("prod-admin")
    assert gui.window.assume_action.isEnabled()
    told: list[bool] = []
    gui.window.tree.selectionModel().currentChanged.connect(lambda current, _previous: told.append(current.isValid()))
    gui.window.filter_edit.setText("prod admin")  # still a match: kept, nothing to announce
    assert gui.controller.current_profile() == "prod-admin" and told == []
    gui.window.filter_edit.setText("no such profile anywhere")
    assert told == [False]
    assert gui.controller.current_profile() is None
    assert not gui.window.assume_action.isEnabled()
    assert "Select a profile" in gui.window.details.toPlainText()
    gui.window.filter_edit.setText("prod-ad")
    assert gui.controller.current_profile() == "prod-admin"  # the first match again
    assert "prod-admin" in gui.window.details.toPlainText()


def test_a_selection_filtered_out_moves_to_the_row_beside_it(gui: GuiApp) -> None:
    """As Qt's selection model moves the current row off removed rows: the nearest shown sibling above (kept
    when it matches), else below; the first match when its parent went too."""
    assert gui.controller.select("prod-admin")  # alice > dev-readonly, dev, prod-admin, alice-federated
    gui.window.filter_edit.setText("r")
    assert gui.controller.current_profile() == "prod-admin"
    gui.window.filter_edit.setText("re")  # prod-admin goes; dev-readonly, above it, matches
    assert gui.controller.current_profile() == "dev-readonly"
    assert gui.window.tree.selectionModel().isSelected(gui.window.tree.currentIndex())
    assert "dev-readonly" in gui.window.details.toPlainText()
    gui.window.filter_edit.clear()
    assert gui.controller.select("dev-readonly")
    gui.window.filter_edit.setText("prod-a")  # dev-readonly goes; prod-admin, below it, matches
    assert gui.controller.current_profile() == "prod-admin"
    gui.window.filter_edit.setText("saml")  # prod-admin and its parent go: the first match
    assert gui.controller.current_profile() == "dev-saml"


def test_indexes_handed_out_again_follow_the_layout(qapp: object) -> None:
    """index() and parent() keep their answers per layout: after a filter moves a row, both answer its new row."""
    model = _model()
    proxy = _proxy(model)
    alice = proxy.index(0, NAME)
    dev = proxy.index(0, NAME, alice)
    dev_ro = proxy.index(1, TIME_LEFT, dev)  # deployer is row 0 under dev
    assert dev_ro.siblingAtColumn(NAME).data() == "dev-ro" and proxy.parent(dev_ro) == dev
    assert proxy.index(1, TIME_LEFT, dev) is dev_ro  # the same answer again, not a new index
    proxy.set_filter_text("readonly")  # deployer hidden: dev-ro is row 0 under dev
    dev = proxy.index(0, NAME, proxy.index(0, NAME))
    moved = proxy.index(0, TIME_LEFT, dev)
    assert moved.row() == 0 and moved.siblingAtColumn(NAME).data() == "dev-ro"
    assert proxy.parent(moved) == dev and proxy.parent(moved).row() == dev.row()
    assert proxy.mapFromSource(proxy.mapToSource(moved)) == moved
    assert not proxy.index(1, TIME_LEFT, dev).isValid()
