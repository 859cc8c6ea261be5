"""RowBatch: what a row shows changes at once; its dataChanged comes at the next turn of the loop, one per run of
adjacent rows, and none for rows a model reset replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from stsdesk.core.profiles import build_tree
from stsdesk.gui.row_batch import RowBatch
from stsdesk.gui.tree_model import NAME, STATE, TIME_LEFT, ProfileTreeModel

RAW = {"base": {"stsdesk_access_key_id": "AKIADEMOALICE0000001"}} | {
    f"r{i}": {"source_profile": "base", "role_arn": f"arn:aws:iam::222222222222:role/R{i}"} for i in range(6)
}


def _model() -> ProfileTreeModel:
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model = ProfileTreeModel()
    model.set_profiles(tree.roots(), tree.children, {})
    return model


def test_changes_show_at_once_and_are_announced_per_run(qtbot: QtBot) -> None:
    model = _model()
    rows = RowBatch(model)
    seen: list[tuple[str, str, int, int]] = []

    def changed(top: QModelIndex, bottom: QModelIndex, roles: object = ()) -> None:
        seen.append((top.siblingAtColumn(NAME).data(), bottom.siblingAtColumn(NAME).data(), top.column(),
                     bottom.column()))

    model.dataChanged.connect(changed)
    for name in ("r0", "r1", "r2", "r4"):
        rows.set_busy(name, True)
    rows.set_error("r4", "boom")  # the same row again in the same turn: announced once
    rows.set_busy("r5", False)  # no change: nothing to announce
    assert model.index_of("r1", STATE).data() == "working…"  # shown at once
    assert seen == []  # announced at the next turn
    qtbot.waitUntil(lambda: len(seen) == 2)
    assert sorted(seen) == [("r0", "r2", NAME, TIME_LEFT), ("r4", "r4", NAME, TIME_LEFT)]
    seen.clear()
    rows.set_session("r3", datetime.fromtimestamp(2_000_000_000, UTC))
    rows.flush()  # at once when asked
    assert seen == [("r3", "r3", NAME, TIME_LEFT)] and model.expiry("r3") == 2_000_000_000
    seen.clear()
    rows.set_busy("r0", False)
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model.set_profiles(tree.roots(), tree.children, {})  # a reset: the views repaint every row
    qtbot.wait(50)
    assert seen == []
