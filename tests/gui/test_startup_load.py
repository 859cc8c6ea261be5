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


def _rows(gui: GuiApp) -> list[tuple[str, list[str]]]:
    """Top-level rows and their children's names, as the model holds them."""
    model = gui.model
    out = []
    for r in range(model.rowCount()):
        top = model.index(r, 0)
        out.append((str(top.data()), [str(model.index(c, 0, top).data()) for c in range(model.rowCount(top))]))
    return out


def test_config_profiles_shown_before_the_engine_as_the_engine_shows_them(
    built: tuple[GuiApp, DemoSession, list[str]]
) -> None:
    from stsdesk.gui.startup import show_config_profiles

    gui, demo, _ = built
    assert gui.model.rowCount() == 0
    snapshot = show_config_profiles(gui)
    assert snapshot is not None and gui.controller.broker is None
    early = _rows(gui)
    assert "alice" in dict(early) and "dev" in dict(early)["alice"]
    assert gui.window.tree.isExpanded(gui.controller.proxy.mapFromSource(gui.model.index_of("alice")))
    load_engine(gui, demo.secrets, snapshot)
    assert gui.controller.broker is not None
    assert gui.controller.broker.tree.profiles.keys() >= snapshot.tree.profiles.keys()
    assert _rows(gui) == early  # the same rows, grouped alike (the demo's sign-in session row included)


def test_load_engine_reuses_the_early_tree_only_while_the_files_are_unchanged(
    built: tuple[GuiApp, DemoSession, list[str]]
) -> None:
    from stsdesk.gui.startup import show_config_profiles

    gui, demo, _ = built
    snapshot = show_config_profiles(gui)
    assert snapshot is not None and snapshot.current() is snapshot.tree
    config = snapshot.tree.config_file
    config.write_text(config.read_text() + "\n[profile added-later]\nregion = us-east-1\n")
    assert snapshot.current() is None
    load_engine(gui, demo.secrets, snapshot)
    assert "added-later" in gui.model.profile_names()  # read again, not the stale early tree


def test_sign_in_sessions_are_the_services(built: tuple[GuiApp, DemoSession, list[str]], tmp_path: Path) -> None:
    from stsdesk.core.profiles import load_profiles
    from stsdesk.core.sso.config import config_sessions
    from stsdesk.core.sso.service import SsoService

    _gui, demo, _ = built
    config = tmp_path / "legacy-config"
    config.write_text(demo.world.config_file.read_text() + (
        "\n[profile legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = eu-west-1\n"
        "sso_account_id = 222222222222\nsso_role_name = Dev\n"
        "[sso-session broken]\nsso_region = us-east-1\n"))
    tree = load_profiles(config, tmp_path / "none")
    service = SsoService(tmp_path / "cfg", demo.secrets, token_dir=tmp_path / "tokens")
    ours = [(s.name, s.start_url, s.region, s.cache_name) for s in config_sessions(tree)]
    theirs = [(s.name, s.start_url, s.region, s.cache_name) for s in service.sessions(tree)]
    assert ours == theirs and len(ours) == 2
    names = [name for name, *_ in ours]
    assert "broken" not in names and names[0] is not None  # the demo's [sso-session], then the legacy profile's
    assert ours[1][:3] == (None, "https://legacy.awsapps.com/start", "eu-west-1")


@pytest.mark.parametrize("width", [1100, 700, 420])
def test_columns_fill_the_viewport_with_and_without_a_scroll_bar(
    built: tuple[GuiApp, DemoSession, list[str]], tmp_path: Path, width: int
) -> None:
    # adapt_columns works the viewport's width out without the viewport widget; the columns must still fill it.
    from PySide6.QtWidgets import QApplication

    from stsdesk.core.profiles import load_profiles

    gui, _, _ = built
    view = gui.window.tree
    gui.window.resize(width, 640)
    QApplication.processEvents()
    for rows in (3, 300):  # no vertical scroll bar, then one
        config = tmp_path / f"config-{rows}"
        config.write_text("".join(f"[profile p{i}]\nregion = us-east-1\n" for i in range(rows)))
        tree = load_profiles(config, tmp_path / "none")
        gui.model.set_profiles(tree.roots(), tree.children)
        view.executeDelayedItemsLayout()  # the rows' layout (and so the scroll bar's range) now
        QApplication.processEvents()
        view.adapt_columns()
        header = view.header()
        shown = sum(header.sectionSize(c) for c in range(header.count()) if not header.isSectionHidden(c))
        assert view.verticalScrollBar().isVisible() is (rows == 300)
        room = view.viewport().width()
        assert shown == max(room, view.NAME_MIN + sum(
            header.sectionSize(c) for c in range(1, header.count()) if not header.isSectionHidden(c)))


def test_demo_rows_are_painted_before_the_emulator_engine_and_power_features(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from PySide6.QtCore import QEvent, QObject

    from stsdesk.gui import app as app_module
    from stsdesk.gui import demo_session

    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SSO",
                "AWS_ENDPOINT_URL_SSO_OIDC"):
        monkeypatch.setenv(var, "")  # run() points them at the demo's files: put back after the test
    made: list[GuiApp] = []
    painted_rows: list[int] = []
    seen: dict[str, Any] = {}

    class Paints(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted_rows.append(made[0].model.rowCount())
            return False

    watch = Paints()

    def factory(*args: Any) -> GuiApp:
        gui = build_window(*args)
        made.append(gui)
        qtbot.addWidget(gui.window)
        gui.window.tree.viewport().installEventFilter(watch)
        return gui

    real_start = demo_session.start_demo

    def start_demo(directory: Path, scenario: Path | None = None, port: int = 0) -> DemoSession:
        gui = made[0]
        seen.update(rows=gui.model.rowCount(), painted=max(painted_rows, default=0),
                    broker=gui.controller.broker, power=gui.power is not None, port=port)
        return real_start(directory, scenario, port)

    monkeypatch.setattr(demo_session, "start_demo", start_demo)
    args = argparse.Namespace(demo=True, exit_after_first_paint=False, self_test=True,
                              config_dir=str(tmp_path / "cfg"))
    # app.run runs its own event loops (plain Qt until the rows are painted, then qasync): --self-test assumes
    # through the emulator.
    assert app_module.run(args, gui_factory=factory) == 0
    gc.collect()  # the closed qasync loop's Qt objects (timers): freed here, on the GUI thread
    gui = made[0]
    assert seen["rows"] > 0 and seen["painted"] > 0  # the demo's profiles were on screen before the emulator
    assert seen["broker"] is None and seen["power"]  # and before the engine; the power features right after them
    assert gui.demo is not None and gui.demo.world.endpoint.endswith(f":{seen['port']}")  # the reserved port
    gui.window.tree.viewport().removeEventFilter(watch)
    gui.window.close()
