"""The tree model without a window: rows, parents, data per column, countdown ticks and filtering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt

from stsdesk.core.profiles import build_tree
from stsdesk.gui.countdown import Countdown, Urgency, format_time_left, urgency
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.tree_model import (
    ACCOUNT,
    FILTER_ROLE,
    KIND,
    NAME,
    PROFILE_NAME_ROLE,
    STATE,
    TIME_LEFT,
    ProfileTreeModel,
)

RAW = {
    "alice": {"stsdesk_access_key_id": "AKIADEMOALICE0000001", "mfa_serial": "arn:aws:iam::111111111111:mfa/alice"},
    "dev": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/Developer"},
    "deployer": {"source_profile": "dev", "role_arn": "arn:aws:iam::333333333333:role/Deployer",
                 "stsdesk_account_alias": "production"},
    "ro": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/ReadOnly"},
    "broken": {"source_profile": "missing", "role_arn": "arn:aws:iam::222222222222:role/X"},
}
ALIASES = {"222222222222": "dev-account"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make_model(clock: FakeClock | None = None) -> ProfileTreeModel:
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model = ProfileTreeModel(clock=clock or FakeClock())
    model.set_profiles(tree.roots(), tree.children, ALIASES)
    return model


def test_rows_parents_and_chains(qapp: object) -> None:
    model = make_model()
    tops = [model.index(r, NAME).data() for r in range(model.rowCount())]
    assert tops == ["alice", "broken"]
    alice = model.index(0, NAME)
    assert [model.index(r, NAME, alice).data() for r in range(model.rowCount(alice))] == ["dev", "ro"]
    dev = model.index(0, NAME, alice)
    deployer = model.index(0, NAME, dev)
    assert deployer.data() == "deployer"
    assert model.parent(deployer) == dev
    assert model.parent(dev) == alice
    assert not model.parent(alice).isValid()
    assert model.rowCount(deployer) == 0
    assert model.index_of("deployer") == deployer


def test_data_per_column(qapp: object) -> None:
    model = make_model()
    dev = model.index_of("dev")
    row = [model.index(dev.row(), c, dev.parent()).data() for c in range(model.columnCount())]
    assert row == ["dev", "role", "dev-account (222222222222)", "", ""]
    deployer = model.index_of("deployer")
    assert model.index(deployer.row(), KIND, deployer.parent()).data() == "chained role"
    assert model.index(deployer.row(), ACCOUNT, deployer.parent()).data() == "production (333333333333)"
    alice = model.index_of("alice")
    assert model.index(0, ACCOUNT, QModelIndex()).data() == "111111111111"
    assert alice.data(PROFILE_NAME_ROLE) == "alice"
    broken = model.index_of("broken", STATE)
    assert broken.data() == "error"
    assert "does not exist" in broken.data(Qt.ItemDataRole.ToolTipRole)
    assert "arn:aws:iam::222222222222:role/developer" in dev.data(FILTER_ROLE)
    assert model.headerData(TIME_LEFT, Qt.Orientation.Horizontal) == "Time left"


def test_session_state_busy_and_countdown_tick(qtbot: object, qapp: object) -> None:
    clock = FakeClock()
    model = make_model(clock)
    expiry = datetime.fromtimestamp(clock.now, UTC) + timedelta(seconds=700)
    model.set_session("ro", expiry)
    cell = model.index_of("ro", TIME_LEFT)
    assert cell.data() == "00:11:40"
    assert model.index_of("ro", STATE).data() == "active"
    assert cell.data(Qt.ItemDataRole.ForegroundRole) is None  # more than 10 minutes left
    model.set_busy("ro", True)
    assert model.index_of("ro", STATE).data() == "working…"
    model.set_busy("ro", False)
    clock.now += 150
    seen: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles=(): seen.append((a.column(), b.column())))
    assert model.tick() == 1
    assert seen == [(TIME_LEFT, TIME_LEFT)]  # only the time-left cell of the one row with a session
    assert cell.data() == "00:09:10"
    assert cell.data(Qt.ItemDataRole.ForegroundRole) is not None  # amber under 10 minutes
    assert model.tick() == 0  # same second: nothing to repaint
    clock.now += 600
    model.tick()
    assert cell.data() == "expired"
    assert model.index_of("ro", STATE).data() == "expired"
    assert model.sessions() == [("ro", expiry.timestamp())]


def test_countdown_status_text_and_resume(qtbot: object, qapp: object) -> None:
    clock = FakeClock()
    model = make_model(clock)
    model.set_session("dev", datetime.fromtimestamp(clock.now + 100, UTC))
    model.set_session("ro", datetime.fromtimestamp(clock.now + 3700, UTC))
    countdown = Countdown(model.tick, model.sessions, clock)
    with qtbot.waitSignal(countdown.soonest_changed) as blocker:  # type: ignore[attr-defined]
        countdown.tick()
    assert blocker.args == ["Next expiry: dev in 00:01:40 (+1 more active)"]
    clock.now += 3600  # the machine slept for an hour
    with qtbot.waitSignal(countdown.resumed):  # type: ignore[attr-defined]
        countdown.tick()
    assert countdown.status_text(clock.now) == "Next expiry: ro in 00:01:40"


@pytest.mark.parametrize(("seconds", "text", "level"), [
    (3725.9, "01:02:05", Urgency.OK), (599, "00:09:59", Urgency.WARN), (119, "00:01:59", Urgency.CRITICAL),
    (0, "expired", Urgency.EXPIRED), (-5, "expired", Urgency.EXPIRED),
])  # fmt: skip
def test_format_and_urgency(seconds: float, text: str, level: Urgency) -> None:
    assert format_time_left(seconds) == text
    assert urgency(seconds) is level


def test_filter_keeps_ancestors_of_matches(qapp: object) -> None:
    model = make_model()
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("Deployer")
    assert proxy.rowCount() == 1
    alice = proxy.index(0, NAME)
    assert alice.data() == "alice"
    assert proxy.rowCount(alice) == 1  # "ro" is hidden
    dev = proxy.index(0, NAME, alice)
    assert proxy.index(0, NAME, dev).data() == "deployer"
    proxy.set_filter_text("222222222222")  # account id matches dev, ro and broken
    names = {proxy.index(r, NAME).data() for r in range(proxy.rowCount())}
    assert names == {"alice", "broken"}
    proxy.set_filter_text("dev-account")  # alias
    assert proxy.rowCount() == 2
    proxy.set_filter_text("nothing-like-this")
    assert proxy.rowCount() == 0
    proxy.set_filter_text("")
    assert proxy.rowCount() == 2


def test_reload_keeps_runtime_state(qapp: object) -> None:
    clock = FakeClock()
    model = make_model(clock)
    model.set_session("ro", datetime.fromtimestamp(clock.now + 60, UTC))
    model.set_error("dev", "AccessDenied: nope")
    tree = build_tree(RAW, Path("/x"), Path("/y"))
    model.set_profiles(tree.roots(), tree.children)
    assert model.expiry("ro") == clock.now + 60
    assert model.error("dev") == "AccessDenied: nope"


def test_five_thousand_profiles_filter(qapp: object) -> None:
    raw: dict[str, dict[str, str]] = {}
    for i in range(1000):
        raw[f"user{i}"] = {"aws_access_key_id": f"AKIA{i:016d}"}
        for j in range(4):
            raw[f"role{i}-{j}"] = {"source_profile": f"user{i}",
                                   "role_arn": f"arn:aws:iam::{100000000000 + j:012d}:role/R{j}"}
    tree = build_tree(raw, Path("/x"), Path("/y"))
    model = ProfileTreeModel()
    model.set_profiles(tree.roots(), tree.children)
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    assert proxy.rowCount() == 1000
    proxy.set_filter_text("role12-3")
    assert proxy.rowCount() == 1
    user = proxy.index(0, NAME)
    assert user.data() == "user12"
    assert proxy.index(0, NAME, user).data() == "role12-3"
