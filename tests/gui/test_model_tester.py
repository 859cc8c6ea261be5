"""Qt's own model checker (QAbstractItemModelTester) on the profile tree model and its filter proxy, through
loading, runtime state, ticks, reloads and filtering; and the Qt-free store underneath, without a QApplication."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stsdesk.core.profiles import build_tree
from stsdesk.gui.countdown import format_time_left
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.profile_store import ProfileStore
from stsdesk.gui.tree_model import ProfileTreeModel

RAW: dict[str, dict[str, Any]] = {
    "alice": {"stsdesk_access_key_id": "AKIADEMOALICE0000001", "mfa_serial": "arn:aws:iam::111111111111:mfa/alice"},
    "dev": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/Developer"},
    "deployer": {"source_profile": "dev", "role_arn": "arn:aws:iam::333333333333:role/Deployer"},
    "ro": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/ReadOnly"},
    "bob": {"aws_access_key_id": "AKIABOB0000000000001"},
    "broken": {"source_profile": "missing", "role_arn": "arn:aws:iam::222222222222:role/X"},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _tree(raw: dict[str, dict[str, Any]]) -> Any:
    return build_tree(raw, Path("/nonexistent/config"), Path("/nonexistent/credentials"))


def _exercise(model: ProfileTreeModel, proxy: ProfileFilterProxy, clock: Clock) -> None:
    tree = _tree(RAW)
    model.set_profiles(tree.roots(), tree.children, {"222222222222": "dev-account"})
    expiry = datetime.fromtimestamp(clock.now + 3600, UTC)
    for name in ("dev", "deployer", "ro"):
        model.set_session(name, expiry)
    model.set_busy("dev", True)
    model.set_error("ro", "AccessDenied: not allowed")
    model.set_identity("bob", "arn:aws:iam::444444444444:user/bob")
    clock.now += 61
    assert model.tick() == 3
    for text in ("dev", "DEPLOY", "444444444444", "nothing matches", ""):
        proxy.set_filter_text(text)
    proxy.set_filter_text("readonly")
    smaller = {name: values for name, values in RAW.items() if name != "dev"}
    smaller["new"] = {"source_profile": "bob", "role_arn": "arn:aws:iam::555555555555:role/New"}
    tree = _tree(smaller)
    model.set_profiles(tree.roots(), tree.children)  # a reload: rows gone and added, filter re-applied
    model.set_busy("ro", False)
    model.set_session("ro", None)
    model.set_busy("nobody", True)  # unknown names are ignored


def test_models_pass_qts_model_tester(qapp: object, qtmodeltester: Any) -> None:
    """pytest-qt's qtmodeltester runs QAbstractItemModelTester, which checks the model at once and then on
    every signal it emits while the test goes on; a complaint fails the test."""
    clock = Clock()
    model = ProfileTreeModel(clock=clock)
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(model, force_py=False)
    qtmodeltester.check(proxy, force_py=False)
    _exercise(model, proxy, clock)
    # After the reload the filter still holds: only "ro" (role/ReadOnly) and its source alice are shown.
    alice = proxy.index(0, 0)
    assert (proxy.rowCount(), alice.data(), proxy.rowCount(alice), proxy.index(0, 0, alice).data()) == (
        1, "alice", 1, "ro"
    )


BROKEN = r"""
import sys
from pathlib import Path
from PySide6.QtCore import QModelIndex
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QApplication
from stsdesk.core.profiles import build_tree
from stsdesk.gui.tree_model import ProfileTreeModel

class Broken(ProfileTreeModel):
    def parent(self, index=QModelIndex()):
        return QModelIndex() if index.internalId() == 2 else super().parent(index)  # dev is under alice

app = QApplication([])
tree = build_tree({"alice": {"aws_access_key_id": "AKIAX"}, "dev": {"source_profile": "alice", "role_arn": "x"}},
                  Path("/nonexistent/c"), Path("/nonexistent/k"))
model = Broken()
model.set_profiles(tree.roots(), tree.children)
tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
"""


def test_the_tester_does_catch_a_broken_model() -> None:
    """The check above could not pass vacuously: the same tester on a model with a wrong parent() complains.
    (In a child interpreter: pytest-qt would fail this test for the complaint it is about.)"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", BROKEN], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FAIL!" in done.stderr and "model->parent(childIndex)" in done.stderr


def test_store_without_qt() -> None:
    store = ProfileStore()
    tree = _tree(RAW)
    store.load(tree.roots(), tree.children)
    assert [store.nodes[i].profile.name for i in store.nodes[0].children] == ["alice", "bob", "broken"]
    assert store.parent_names() == ["alice", "dev"]
    assert store.set_expiry("dev", 100.0) is not None and store.set_expiry("dev", 100.0) is None
    assert store.sessions() == [("dev", 100.0)]
    dev = store.by_name["dev"]
    assert store.tick(40.0, format_time_left) == {store.nodes[dev].parent: [store.nodes[dev].row]}
    assert store.tick(40.0, format_time_left) == {}  # same text: nothing to repaint
    assert store.matching("deployer") == {store.by_name[n] for n in ("alice", "dev", "deployer")}
    assert store.learn_identity("bob", "arn:aws:iam::444444444444:user/bob") is not None
    assert store.account(store.nodes[store.by_name["bob"]]) == "444444444444"
    assert store.learn_identity("dev", "arn:aws:sts::999999999999:assumed-role/X/s") is None  # config wins
    store.load(tree.roots(), tree.children)  # runtime state survives a reload
    assert store.sessions() == [("dev", 100.0)] and store.names_with_state() == ["dev"]


def test_store_tick_follows_the_sessions_as_they_come_and_go() -> None:
    """The tick keeps its session rows between ticks: rows ascend per parent, and a session ended or started
    since the last tick is left out or ticked."""
    store = ProfileStore()
    tree = _tree(RAW)
    store.load(tree.roots(), tree.children)
    names = list(store.by_name)
    for name in reversed(names):
        store.set_expiry(name, 1000.0)
    every: dict[int, list[int]] = {}
    for name in names:
        node = store.nodes[store.by_name[name]]
        every.setdefault(node.parent, []).append(node.row)
    assert store.tick(0.5, format_time_left) == {parent: sorted(rows) for parent, rows in every.items()}
    assert store.tick(1.5, format_time_left) == {parent: sorted(rows) for parent, rows in every.items()}
    dev = store.nodes[store.by_name["dev"]]
    store.set_expiry("dev", None)
    changed = store.tick(2.5, format_time_left)
    assert dev.row not in changed.get(dev.parent, []) and sum(map(len, changed.values())) == len(names) - 1
    store.set_expiry("dev", 2000.0)
    assert store.tick(2.5, format_time_left) == {dev.parent: [dev.row]}  # the others show the same second
