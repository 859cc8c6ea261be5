"""Startup work that issue 17 trimmed, checked for what the user sees: load_engine resets the tree once (with its
sign-in sessions), and the hidden "By account" view is expanded when it is shown rather than at every reset."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import dispose

from stsdesk.demo import DEMO_ACCOUNT_ALIASES
from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.demo_session import DemoSession, start_demo
from stsdesk.gui.profile_store import is_group_name

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture()
def built(tmp_path: Path, qtbot: Any) -> Iterator[tuple[GuiApp, DemoSession, list[str]]]:
    """A demo window before load_engine, with the tree model's resets recorded."""
    demo = start_demo(tmp_path / "demo")
    gui = build_window(tmp_path / "demo", demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
    gui.demo = demo
    qtbot.addWidget(gui.window)
    gui.window.show()
    resets: list[str] = []
    gui.model.modelReset.connect(lambda: resets.append("reset"))
    yield gui, demo, resets
    dispose(gui, demo)
    gc.collect()


def test_load_engine_shows_the_tree_once_with_sign_in_sessions(built: tuple[GuiApp, DemoSession, list[str]]) -> None:
    gui, demo, resets = built
    load_engine(gui, demo.secrets)
    assert resets == ["reset"]
    names = gui.model.profile_names()
    assert "dev" in names and "prod-deployer" in names
    assert any(is_group_name(name) for name in names)  # the demo's sign-in session row is in that one reset
    assert gui.sso is not None and gui.serving is not None
    assert gui.window.tree.isExpanded(gui.controller.proxy.mapFromSource(gui.model.index_of("alice")))


def test_hidden_account_view_is_expanded_when_shown(built: tuple[GuiApp, DemoSession, list[str]]) -> None:
    gui, demo, _ = built
    load_engine(gui, demo.secrets)
    power = gui.power
    assert power is not None and not power.by_account()
    proxy, view = power.account_proxy, power.account_view
    assert proxy.rowCount() > 0
    power.set_by_account(True)
    assert view.isVisible()
    assert all(view.isExpanded(proxy.index(g, 0)) for g in range(proxy.rowCount()))
    power.set_by_account(False)
    gui.controller.reload()  # a reset while hidden regroups; shown again, every account row is expanded
    power.set_by_account(True)
    assert all(view.isExpanded(proxy.index(g, 0)) for g in range(proxy.rowCount()))
