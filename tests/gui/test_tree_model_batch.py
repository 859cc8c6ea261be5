"""The tree model's runtime state: what a row shows changes at once; its dataChanged comes at the next turn of the
loop, per column (State, Time left; Name too for served) one per run of adjacent rows, none for rows a model reset
replaced, and no change is left unannounced."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from stsdesk.core.profiles import build_tree
from stsdesk.gui.tree_model import NAME, STATE, TIME_LEFT, ProfileTreeModel

RAW = {"base": {"stsdesk_access_key_id": "AKIADEMOALICE0000001"}} | {
    f"r{i}": {"source_profile": "base", "role_arn": f"arn:aws:iam::222222222222:role/R{i}"} for i in range(6)
}


def _model(raw: dict[str, dict[str, str]] = RAW) -> ProfileTreeModel:
    tree = build_tree(raw, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model = ProfileTreeModel()
    model.set_profiles(tree.roots(), tree.children, {})
    return model


def _record(model: ProfileTreeModel) -> list[tuple[str, str, int, int]]:
    seen: list[tuple[str, str, int, int]] = []

    def changed(top: QModelIndex, bottom: QModelIndex, roles: object = ()) -> None:
        seen.append((top.siblingAtColumn(NAME).data(), bottom.siblingAtColumn(NAME).data(), top.column(),
                     bottom.column()))

    model.dataChanged.connect(changed)
    return seen


def test_changes_show_at_once_and_are_announced_per_run_and_column(qtbot: QtBot) -> None:
    model = _model()
    seen = _record(model)
    for name in ("r0", "r1", "r2", "r4"):
        model.set_busy(name, True)
    model.set_error("r4", "boom")  # the same row again in the same turn: announced once
    model.set_busy("r5", False)  # no change: nothing to announce
    assert model.index_of("r1", STATE).data() == "working…"  # shown at once
    assert seen == []  # announced at the next turn
    qtbot.waitUntil(lambda: len(seen) == 4)
    qtbot.wait(20)
    assert sorted(seen) == [("r0", "r2", STATE, STATE), ("r0", "r2", TIME_LEFT, TIME_LEFT),
                            ("r4", "r4", STATE, STATE), ("r4", "r4", TIME_LEFT, TIME_LEFT)]
    seen.clear()
    model.set_session("r3", datetime.fromtimestamp(2_000_000_000, UTC))
    model.flush_changes()  # at once when asked
    assert sorted(seen) == [("r3", "r3", STATE, STATE), ("r3", "r3", TIME_LEFT, TIME_LEFT)]
    assert model.expiry("r3") == 2_000_000_000
    seen.clear()
    model.set_served("r3", "http://127.0.0.1:1")  # the Name cell's tool tip names the endpoint
    model.set_busy("r3", True)  # the same row: the union of the cells
    model.flush_changes()
    assert sorted(seen) == [("r3", "r3", NAME, NAME), ("r3", "r3", STATE, STATE), ("r3", "r3", TIME_LEFT, TIME_LEFT)]
    seen.clear()
    model.set_busy("r0", False)
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model.set_profiles(tree.roots(), tree.children, {})  # a reset: the views repaint every row
    qtbot.wait(50)
    assert seen == []
    assert model.pending_changes() == 0


def test_no_change_is_left_unannounced(qtbot: QtBot) -> None:
    """Random changes over many turns: every row changed in a turn is covered by that turn's signals, for both
    of its state cells, and nothing is announced that did not change."""
    raw = {"base": {"stsdesk_access_key_id": "AKIADEMOALICE0000001"}} | {
        f"r{i:02d}": {"source_profile": "base", "role_arn": f"arn:aws:iam::222222222222:role/R{i}"}
        for i in range(40)
    }
    model = _model(raw)
    covered: set[tuple[str, int]] = set()

    def changed(top: QModelIndex, bottom: QModelIndex, roles: object = ()) -> None:
        assert top.column() == bottom.column() and top.parent() == bottom.parent()
        for row in range(top.row(), bottom.row() + 1):
            covered.add((model.index(row, NAME, top.parent()).data(), top.column()))

    model.dataChanged.connect(changed)
    rng = random.Random(17)
    names = [f"r{i:02d}" for i in range(40)]
    def state(name: str) -> tuple[object, ...]:
        node = model.store.node(name)
        assert node is not None
        return node.busy, node.error, node.expiry

    for _turn in range(30):
        before = {name: state(name) for name in names}
        touched = rng.sample(names, rng.randint(1, 25))
        for name in touched:
            what = rng.randrange(3)
            if what == 0:
                model.set_busy(name, rng.random() < 0.5)
            elif what == 1:
                model.set_error(name, None if rng.random() < 0.5 else f"e{rng.randrange(3)}")
            else:
                model.set_session(name, datetime.fromtimestamp(2_000_000_000 + rng.randrange(3), UTC))
        changed_rows = {name for name in names if state(name) != before[name]}
        qtbot.waitUntil(lambda: model.pending_changes() == 0)
        assert covered >= {(name, column) for name in changed_rows for column in (STATE, TIME_LEFT)}
        # Nothing is announced for a row that was not touched this turn (a row set back to what it showed
        # before within the turn may still be announced: harmless).
        assert {name for name, _ in covered} <= set(touched)
        covered.clear()
