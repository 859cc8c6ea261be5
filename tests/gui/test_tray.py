"""Tray controller. Offscreen: icon states, icons (packaged and drawn), tooltip, menu entries and their
actions, reminders and auto-refresh with a fake clock. Under Xvfb with a real tray host (trayer): the icon is
embedded and visible, the menu pops up with its entries, a reminder balloon appears at the threshold, an
auto-refresh renews a session without a prompt, closing the window keeps the app in the tray; screenshots.

The Xvfb part runs this same file in a child pytest (DISPLAY set, QT_QPA_PLATFORM=xcb), because the suite's
QApplication is offscreen and a process gets one platform plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.gates import require_display, unavailable
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from stsdesk.core.reminders import NoticeKind, WatchedSession
from stsdesk.gui.tray import ICON_DIR, TrayController, TrayState, load_icon, tray_state

CHILD = os.environ.get("STSDESK_TRAY_CHILD") == "1"
T0 = 1_800_000_000.0
REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.mono = 50.0

    def wall(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


class FakeApp:
    """The app as the tray sees it; refresh() renews like a broker would when no prompt is needed."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.live: dict[str, WatchedSession] = {}
        self.quick = ["dev", "prod", "sandbox"]
        self.calls: list[tuple[str, str]] = []
        self.renew_seconds: float | None = None

    def at(self, offset: float) -> datetime:
        return datetime.fromtimestamp(self.clock.now + offset, UTC)

    def add(self, profile: str, seconds: float, **kwargs: object) -> None:
        self.live[profile] = WatchedSession(profile, self.at(seconds), **kwargs)  # type: ignore[arg-type]

    def sessions(self) -> list[WatchedSession]:
        return list(self.live.values())

    def quick_profiles(self) -> list[str]:
        return self.quick

    def assume(self, profile: str) -> None:
        self.calls.append(("assume", profile))

    def refresh(self, profile: str) -> None:
        self.calls.append(("refresh", profile))
        if self.renew_seconds is not None:
            self.add(profile, self.renew_seconds)

    def copy_exports(self, profile: str) -> None:
        self.calls.append(("copy_exports", profile))

    def open_console(self, profile: str) -> None:
        self.calls.append(("open_console", profile))

    def show_window(self) -> None:
        self.calls.append(("show_window", ""))

    def quit(self) -> None:
        self.calls.append(("quit", ""))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> FakeApp:
    return FakeApp(clock)


@pytest.fixture
def tray(qapp: QApplication, fake: FakeApp, clock: Clock) -> Iterator[TrayController]:
    controller = TrayController(fake, wall=clock.wall, monotonic=clock.monotonic)
    yield controller
    controller.stop()
    controller.menu.deleteLater()


def menu_texts(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if a.text()]  # sections are separators with a text


def action(menu: QMenu, text: str) -> QMenu | None:
    for a in menu.actions():
        if a.text() == text or a.text().startswith(text + " ("):
            if a.menu() is None:
                a.trigger()
                return None
            return a.menu()
    raise AssertionError(f"no {text!r} in {menu_texts(menu)}")


# -- offscreen ---------------------------------------------------------------------------------------------


def test_tray_state() -> None:
    now = datetime.fromtimestamp(T0, UTC)

    def s(offset: float) -> WatchedSession:
        return WatchedSession("p", now + timedelta(seconds=offset))

    assert tray_state([], now, 600) is TrayState.IDLE
    assert tray_state([s(3600)], now, 600) is TrayState.ACTIVE
    assert tray_state([s(3600), s(300)], now, 600) is TrayState.EXPIRING
    assert tray_state([s(-10)], now, 600) is TrayState.EXPIRED
    assert tray_state([s(-10), s(3600)], now, 600) is TrayState.ACTIVE


def test_packaged_and_drawn_icons(qapp: QApplication, tmp_path: Path) -> None:
    for state in TrayState:
        packaged = load_icon(state)
        assert not packaged.isNull(), state
    drawn = {state: load_icon(state, tmp_path) for state in TrayState}  # empty dir: fall back to drawing
    colours = set()
    for state, icon in drawn.items():
        assert not icon.isNull() and icon.availableSizes(), state
        image = icon.pixmap(32, 32).toImage()
        colours.add(QColor(image.pixel(11, 6)).name())  # the key's ring
    assert len(colours) == 4  # one colour per state
    assert ICON_DIR.is_dir()


def test_menu_lists_quick_profiles_sessions_and_app_actions(tray: TrayController, fake: FakeApp) -> None:
    fake.add("prod", 1800)
    fake.add("old", -30)
    tray.rebuild_menu()
    texts = menu_texts(tray.menu)
    assert texts == [
        "Assume", "dev", "sandbox",  # prod has a live session: not offered again
        "Sessions", "prod (00:30:00 left)", "old (expired)",
        "Show window", "Quit",
    ]
    prod = action(tray.menu, "prod")
    assert prod is not None and menu_texts(prod) == ["Refresh", "Copy exports", "Open console"]
    old = action(tray.menu, "old")
    assert old is not None and menu_texts(old) == ["Refresh"]
    for name in ("Refresh", "Copy exports", "Open console"):
        action(prod, name)
    action(tray.menu, "dev")
    action(tray.menu, "Show window")
    action(tray.menu, "Quit")
    assert fake.calls == [
        ("refresh", "prod"), ("copy_exports", "prod"), ("open_console", "prod"),
        ("assume", "dev"), ("show_window", ""), ("quit", ""),
    ]


def test_menu_is_rebuilt_when_shown(tray: TrayController, fake: FakeApp) -> None:
    assert "Sessions" not in menu_texts(tray.menu)
    fake.add("dev", 100)
    tray.menu.aboutToShow.emit()
    assert "dev (00:01:40 left)" in menu_texts(tray.menu)


def test_tick_sets_state_and_tooltip(tray: TrayController, fake: FakeApp, qtbot: QtBot) -> None:
    tray.tick()
    assert tray.state is TrayState.IDLE
    assert tray.icon.toolTip() == "stsdesk: no active session"
    fake.add("prod", 3600)
    fake.add("dev", 61)
    with qtbot.waitSignal(tray.state_changed) as changed:
        tray.tick()
    assert changed.args == [TrayState.EXPIRING]
    assert tray.icon.toolTip() == "stsdesk\ndev: 00:01:01 left\nprod: 01:00:00 left"


def test_reminder_fires_once_at_threshold(tray: TrayController, fake: FakeApp, clock: Clock) -> None:
    fake.add("dev", 605)
    tray.tick()
    shown = []
    tray.notified.connect(shown.append)
    for _ in range(10):
        clock.advance(1)
        tray.tick()
    assert [(n.kind, n.title) for n in shown] == [(NoticeKind.EXPIRING, "dev: expires in 10 min")]
    tray.icon.messageClicked.emit()  # clicking the message refreshes that profile
    assert fake.calls == [("refresh", "dev")]


def test_auto_refresh_renews_without_prompt(tray: TrayController, fake: FakeApp, clock: Clock) -> None:
    fake.renew_seconds = 3600
    tray.set_auto_refresh(["dev", "prod"])
    fake.add("dev", 301)
    fake.add("prod", 301, needs_mfa=True)  # would need a code: reminded instead
    shown = []
    tray.notified.connect(shown.append)
    tray.tick()
    for _ in range(3):
        clock.advance(1)
        tray.tick()
    assert fake.calls == [("refresh", "dev")]
    assert fake.live["dev"].seconds_left(fake.at(0)) > 3000
    assert [n.profile for n in shown] == ["prod"] and shown[0].needs_prompt
    tray.set_auto_refresh([])
    assert not tray.scheduler.auto_refresh("dev")


def test_summary_click_shows_window_and_no_tray_means_window_first(
    tray: TrayController, fake: FakeApp, clock: Clock, qapp: QApplication
) -> None:
    fake.add("a", 10)
    fake.add("b", 20)
    tray.tick()
    clock.now += 3600  # asleep
    shown = []
    tray.notified.connect(shown.append)
    tray.tick()
    assert [n.profiles for n in shown] == [("a", "b")]
    tray.icon.messageClicked.emit()
    assert fake.calls == [("show_window", "")]
    if not TrayController.available():  # offscreen: no tray
        assert tray.start() is True
        assert qapp.quitOnLastWindowClosed()


# -- under Xvfb with trayer (child process) ----------------------------------------------------------------

# Runs only inside test_under_xvfb_with_tray_host's child pytest (tests/conftest.py leaves it out elsewhere).
child = pytest.mark.child_only


def _shot(name: str, widget_rect: tuple[int, int, int, int] | None = None) -> None:
    target = os.environ.get("STSDESK_SHOT_DIR")
    if not target:
        return
    screen = QGuiApplication.primaryScreen()
    pixmap = screen.grabWindow(0)
    if widget_rect is not None:
        pixmap = pixmap.copy(*widget_rect)
    assert pixmap.save(str(Path(target) / name))


@pytest.mark.display
@child
def test_child_real_tray(qtbot: QtBot, qapp: QApplication, fake: FakeApp, clock: Clock) -> None:
    qtbot.waitUntil(TrayController.available, timeout=10000)
    desktop = QWidget()  # a plain light desktop behind everything, so the screenshots are readable
    desktop.setStyleSheet("background: #dde3ea;")
    desktop.setGeometry(QGuiApplication.primaryScreen().geometry())
    desktop.show()
    desktop.lower()
    qtbot.addWidget(desktop)
    fake.add("prod", 3600)
    fake.add("dev", 605)
    fake.quick = ["dev", "prod", "sandbox", "billing"]
    tray = TrayController(fake, wall=clock.wall, monotonic=clock.monotonic)
    window = QWidget()
    window.setWindowTitle("stsdesk")
    tray.attach_window(window)
    assert tray.start() is False  # a tray exists: start hidden in it
    assert not qapp.quitOnLastWindowClosed()
    qtbot.waitUntil(lambda: tray.icon.isVisible() and tray.icon.geometry().width() > 0, timeout=10000)

    # closing the window keeps the app in the tray
    window.show()
    qtbot.waitExposed(window)
    window.close()
    assert window.isHidden()

    # the menu, popped up next to the icon
    screen = QGuiApplication.primaryScreen().geometry()
    tray.menu.aboutToShow.emit()  # what a click on the icon does first; gives the menu its real size
    tray.menu.popup(QPoint(screen.right() - tray.menu.sizeHint().width() - 4, 32))
    qtbot.waitUntil(tray.menu.isVisible, timeout=5000)
    assert menu_texts(tray.menu)[:4] == ["Assume", "sandbox", "billing", "Sessions"]
    assert {"Show window", "Quit"} <= set(menu_texts(tray.menu))
    qtbot.wait(300)
    menu_rect = tray.menu.geometry()
    _shot("tray-menu.png", (screen.right() - 360, 0, 361, menu_rect.bottom() + 16))
    tray.menu.hide()

    # a reminder at the 10-minute threshold, as a notification
    shown = []
    tray.notified.connect(shown.append)
    for _ in range(6):
        clock.advance(1)
        tray.tick()
    assert [n.title for n in shown] == ["dev: expires in 10 min"]
    assert tray.state is TrayState.EXPIRING
    qtbot.wait(800)
    _shot("reminder.png", (400, 0, 400, 220))

    # auto-refresh renews a session that needs no prompt
    fake.renew_seconds = 3600
    tray.set_auto_refresh(["dev"])
    clock.advance(320)
    tray.tick()
    assert ("refresh", "dev") in fake.calls
    tray.tick()
    assert tray.state is TrayState.ACTIVE
    tray.stop()
    tray.menu.deleteLater()


# -- the runner ----------------------------------------------------------------------------------------------


@pytest.fixture
def xvfb_with_tray() -> Iterator[str]:
    require_display("trayer")  # the one display gate: skipped with the reason, or failed under CI=true
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.kill()
        xvfb.wait()
        unavailable("display", "Xvfb did not start")
    display = f":{number}"
    env = dict(os.environ, DISPLAY=display)
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "28",
         "--transparent", "false", "--tint", "0x2e3440", "--SetDockType", "true"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let trayer claim the _NET_SYSTEM_TRAY selection; the child waits for it too
    try:
        yield display
    finally:
        for proc in (trayer, xvfb):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.display
@pytest.mark.skipif(CHILD, reason="this is the child")
def test_under_xvfb_with_tray_host(xvfb_with_tray: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("STSDESK_DOCS_SHOTS") or tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}  # XEmbed tray, Qt's own balloon
    env.update(DISPLAY=xvfb_with_tray, QT_QPA_PLATFORM="xcb", STSDESK_TRAY_CHILD="1")
    env["STSDESK_SHOT_DIR"] = str(shots)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "child", __file__],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=100,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
    assert (shots / "tray-menu.png").stat().st_size > 1000
    assert (shots / "reminder.png").stat().st_size > 1000
