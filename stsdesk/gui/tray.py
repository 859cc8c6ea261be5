"""The tray icon: state at a glance, sessions and time left in the tooltip, one-click actions in the menu,
expiry reminders as notifications, and background refresh where no MFA prompt is needed.

The controller talks to the rest of the app only through :class:`TrayApp`; the decisions (which reminder,
when to refresh) are made by :class:`stsdesk.core.reminders.ReminderScheduler`, which has no Qt in it.
"""

from __future__ import annotations

import bisect
import enum
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from stsdesk.core.reminders import DEFAULT_THRESHOLDS, Notice, NoticeKind, ReminderScheduler, WatchedSession
from stsdesk.gui.countdown import format_time_left

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "tray"
ICON_SIZES = (16, 22, 32, 48, 64)
MESSAGE_MSECS = 15000
TOOLTIP_SESSIONS = 10  # the soonest ones; a tray tooltip with 500 lines helps nobody and costs every second


class TrayState(enum.Enum):
    IDLE = "idle"  # no session
    ACTIVE = "active"
    EXPIRING = "expiring"  # a session is inside the largest reminder threshold
    EXPIRED = "expired"  # sessions exist and all of them have expired


class TrayApp(Protocol):
    """What the tray needs from the app. ``sessions`` lists active and expired sessions (any order);
    ``quick_profiles`` the favourite and recent profiles offered for one-click assume."""

    def sessions(self) -> Sequence[WatchedSession]: ...
    def quick_profiles(self) -> Sequence[str]: ...
    def assume(self, profile: str) -> None: ...
    def refresh(self, profile: str) -> None: ...
    def copy_exports(self, profile: str) -> None: ...
    def open_console(self, profile: str) -> None: ...
    def show_window(self) -> None: ...
    def quit(self) -> None: ...


def tray_state(sessions: Iterable[WatchedSession], now: datetime, warn_seconds: float) -> TrayState:
    """The icon state for ``sessions`` at ``now``."""
    return _state(sorted(s.expires_at for s in sessions), now.timestamp(), warn_seconds)


def _state(expiries: Sequence[float], wall: float, warn_seconds: float) -> TrayState:
    """The icon state for sessions expiring at ``expiries`` (Unix times, sorted) at ``wall``."""
    if not expiries:
        return TrayState.IDLE
    first_live = bisect.bisect_right(expiries, wall)
    if first_live == len(expiries):
        return TrayState.EXPIRED
    return TrayState.EXPIRING if expiries[first_live] - wall <= warn_seconds else TrayState.ACTIVE


_FALLBACK_COLOURS = {
    TrayState.IDLE: ("#9e9e9e", "#424242"),
    TrayState.ACTIVE: ("#40c057", "#1b5e20"),
    TrayState.EXPIRING: ("#fab005", "#8a5a00"),
    TrayState.EXPIRED: ("#fa5252", "#8b1a1a"),
}


def _drawn_icon(state: TrayState) -> QIcon:
    """A key in the state's colour, for when the packaged icons are missing."""
    icon = QIcon()
    fill, line = _FALLBACK_COLOURS[state]
    for size in ICON_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 32, size / 32)
        painter.setPen(QPen(QColor(line), 6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(15.5, 15.5), QPointF(28, 28))
        painter.drawLine(QPointF(22, 22), QPointF(25.5, 18.5))
        painter.setPen(QPen(QColor(fill), 3.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(15.5, 15.5), QPointF(28, 28))
        painter.drawLine(QPointF(22, 22), QPointF(25.5, 18.5))
        painter.setPen(QPen(QColor(line), 1.2))
        painter.setBrush(QBrush(QColor(fill)))
        painter.drawEllipse(QPointF(11, 11), 7.5, 7.5)
        painter.setBrush(QBrush(QColor(line)))
        painter.drawEllipse(QPointF(11, 11), 2.6, 2.6)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def load_icon(state: TrayState, directory: Path = ICON_DIR) -> QIcon:
    """The packaged icon for ``state`` (PNG sizes, else the SVG), or a drawn one when none is there."""
    icon = QIcon()
    for size in ICON_SIZES:
        png = directory / f"{state.value}-{size}.png"
        if png.is_file():
            icon.addFile(str(png))
    svg = directory / f"{state.value}.svg"
    if icon.isNull() and svg.is_file():
        icon = QIcon(str(svg))
    return icon if not icon.isNull() and icon.availableSizes() else _drawn_icon(state)


def _ordered(sessions: Iterable[WatchedSession], now: datetime) -> list[WatchedSession]:
    """Live sessions soonest expiry first, then the expired ones."""
    wall = now.timestamp()
    return sorted(sessions, key=lambda s: (s.expires_at <= wall, s.expires_at))


class _Order:
    """The tray's sessions sorted by expiry, sorted again only when they change (not every second)."""

    def __init__(self) -> None:
        self._seen: list[WatchedSession] = []
        self.by_expiry: list[WatchedSession] = []
        self.expiries: list[float] = []

    def update(self, sessions: list[WatchedSession]) -> None:
        if sessions != self._seen:  # the same objects as last second: an identity check each
            self._seen = sessions
            self.by_expiry = sorted(sessions, key=lambda s: s.expires_at)
            self.expiries = [s.expires_at for s in self.by_expiry]

    def ordered(self, wall: float) -> list[WatchedSession]:
        """Live sessions soonest expiry first, then the expired ones (as ``_ordered``)."""
        first_live = bisect.bisect_right(self.expiries, wall)
        return self.by_expiry[first_live:] + self.by_expiry[:first_live]


def _left_text(seconds_left: float) -> str:
    return f"{format_time_left(seconds_left)} left" if seconds_left > 0 else "expired"


class TrayController(QObject):
    """Owns the QSystemTrayIcon and a 1 Hz reminder tick.

    ``keep_in_tray``: closing the window hides it instead of quitting (only when a tray exists). Clocks are
    injectable for tests (``wall``: Unix time; ``monotonic``: for gap detection).
    """

    notified = Signal(object)  # the Notice just shown (tests, logs)
    state_changed = Signal(object)  # TrayState

    def __init__(
        self,
        app: TrayApp,
        *,
        thresholds: Iterable[int] = DEFAULT_THRESHOLDS,
        keep_in_tray: bool = True,
        icon_dir: Path = ICON_DIR,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.app = app
        self.keep_in_tray = keep_in_tray
        self._wall = wall
        self.scheduler = ReminderScheduler(thresholds, wall=wall, monotonic=monotonic)
        self._icons = {state: load_icon(state, icon_dir) for state in TrayState}
        self.state = TrayState.IDLE
        self.icon = QSystemTrayIcon(self._icons[self.state], self)
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._message_clicked)
        self._last_notice: Notice | None = None
        self.last_text_notice: tuple[str, str] | None = None  # the last notify_text (title, body)
        self._window: QWidget | None = None
        self._auto: set[str] = set()
        self._submenus: list[QMenu] = []
        self._session_menus: list[tuple[str, QMenu]] = []  # their titles keep ticking while the menu is open
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self.tick)
        self._ticks: SignalInstance | None = None  # the app's shared 1 Hz tick, when it replaces self.timer
        self._tooltip = ""
        self._order = _Order()
        self.rebuild_menu()

    # -- lifecycle -----------------------------------------------------------------------------------------

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def start(self) -> bool:
        """Show the icon (if a tray exists), set quit-on-last-window accordingly and start ticking.

        Returns whether the main window must be shown at start: True when there is no tray to live in."""
        in_tray = self.available()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(not (in_tray and self.keep_in_tray))
        if in_tray:
            self.icon.show()
        self.tick()
        if self._ticks is None:
            self.timer.start()
        return not in_tray

    def stop(self) -> None:
        self.timer.stop()
        if self._ticks is not None:
            self._ticks.disconnect(self.tick)
            self._ticks = None
        self.icon.hide()

    def follow(self, ticks: SignalInstance) -> None:
        """Tick on ``ticks`` (the countdown's ``ticked``) instead of a timer of its own: one wake-up a
        second for the whole app, and the tray shows the same second as the tree. Call before ``start``."""
        self.timer.stop()
        self._ticks = ticks
        ticks.connect(self.tick)

    def attach_window(self, window: QWidget) -> None:
        """Closing ``window`` hides it into the tray (when there is a tray and ``keep_in_tray``)."""
        self._window = window
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self._window
            and event.type() == QEvent.Type.Close
            and self.keep_in_tray
            and self.icon.isVisible()
        ):
            event.ignore()
            self._window.hide()
            return True
        return super().eventFilter(watched, event)

    def set_auto_refresh(self, profiles: Iterable[str]) -> None:
        """Exactly these profiles refresh in the background (off for all others)."""
        wanted = set(profiles)
        for profile in self._auto - wanted:
            self.scheduler.set_auto_refresh(profile, False)
        for profile in wanted:
            self.scheduler.set_auto_refresh(profile, True)
        self._auto = wanted

    # -- ticking -------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def tick(self) -> None:
        """Update icon and tooltip, show due reminders, start due background refreshes.

        Every second with hundreds of sessions: the sessions are sorted only when they change, and the time
        left is worked out (float expiry times) only for what is shown: the tooltip's few lines, an open menu."""
        sessions = list(self.app.sessions())
        wall = self._wall()
        order = self._order
        order.update(sessions)
        state = _state(order.expiries, wall, max(self.scheduler.thresholds, default=0))
        if state is not self.state:
            self.state = state
            self.icon.setIcon(self._icons[state])
            self.state_changed.emit(state)
        tooltip = self._tooltip_text(order.ordered(wall) if sessions else [], wall)
        if tooltip != self._tooltip:
            self._tooltip = tooltip
            self.icon.setToolTip(tooltip)
        if self._session_menus and self.menu.isVisible():  # an open menu is not rebuilt: its times move on here
            lefts = {s.profile: s.expires_at - wall for s in sessions}
            for profile, sub in self._session_menus:
                if profile in lefts:
                    sub.setTitle(f"{self._label(profile)} ({_left_text(lefts[profile])})")
        decision = self.scheduler.tick(sessions)
        for profile in decision.refresh:
            self.app.refresh(profile)
        for notice in decision.notices:
            self.notify(notice)

    def tooltip(self, sessions: Sequence[WatchedSession], now: datetime) -> str:
        """The icon's tooltip: the soonest TOOLTIP_SESSIONS sessions and their time left at ``now``."""
        return self._tooltip_text(_ordered(sessions, now), now.timestamp())

    @staticmethod
    def _tooltip_text(ordered: Sequence[WatchedSession], wall: float) -> str:
        if not ordered:
            return "stsdesk: no active session"
        lines = ["stsdesk"]
        for session in ordered[:TOOLTIP_SESSIONS]:
            lines.append(f"{session.profile}: {_left_text(session.expires_at - wall)}")
        if len(ordered) > TOOLTIP_SESSIONS:
            lines.append(f"… and {len(ordered) - TOOLTIP_SESSIONS} more")
        return "\n".join(lines)

    def notify(self, notice: Notice) -> None:
        """Show ``notice`` as a tray message; clicking it refreshes its profile (or shows the window)."""
        self._last_notice = notice
        icon = (
            QSystemTrayIcon.MessageIcon.Critical
            if notice.kind is NoticeKind.EXPIRED
            else QSystemTrayIcon.MessageIcon.Warning
        )
        self.icon.showMessage(notice.title, notice.body, icon, MESSAGE_MSECS)
        self.notified.emit(notice)

    def notify_text(self, title: str, body: str) -> None:
        """Show a reminder that is not about one profile's session (an Identity Center sign-in running out);
        clicking it shows the window."""
        self._last_notice = None
        self.last_text_notice = (title, body)
        self.icon.showMessage(title, body, QSystemTrayIcon.MessageIcon.Warning, MESSAGE_MSECS)

    def notify_error(self, profile: str, message: str) -> None:
        """Tell the user a background action for ``profile`` failed (e.g. an auto-refresh)."""
        self._last_notice = None
        self.icon.showMessage(f"{profile}: refresh failed", message, QSystemTrayIcon.MessageIcon.Critical)

    def _message_clicked(self) -> None:
        notice, self._last_notice = self._last_notice, None
        if notice is not None and len(notice.profiles) == 1:
            self.app.refresh(notice.profile)
        else:
            self.app.show_window()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.app.show_window()

    # -- menu ----------------------------------------------------------------------------------------------

    def rebuild_menu(self) -> None:
        """Fill the menu from the app's current state (called on aboutToShow, so never stale)."""
        self.menu.clear()
        for old in self._submenus:  # clear() drops the actions, not the submenus parented to the menu
            old.deleteLater()
        self._submenus = []
        self._session_menus = []
        now = self._now()
        sessions = _ordered(self.app.sessions(), now)
        live = {s.profile for s in sessions if s.seconds_left(now) > 0}
        quick = [p for p in self.app.quick_profiles() if p not in live]
        if quick:
            self.menu.addSection("Assume")
            for profile in quick:
                self._add(self.menu, self._label(profile), partial(self.app.assume, profile))
        if sessions:
            self.menu.addSection("Sessions")
            for session in sessions:
                left = session.seconds_left(now)
                sub = self.menu.addMenu(f"{self._label(session.profile)} ({_left_text(left)})")
                self._submenus.append(sub)
                self._session_menus.append((session.profile, sub))
                self._add(sub, "Refresh", partial(self.app.refresh, session.profile))
                if left > 0:
                    self._add(sub, "Copy exports", partial(self.app.copy_exports, session.profile))
                    self._add(sub, "Open console", partial(self.app.open_console, session.profile))
        self.menu.addSeparator()
        self._add(self.menu, "Show window", self.app.show_window)
        self._add(self.menu, "Quit", self.app.quit)

    def _label(self, profile: str) -> str:
        """``profile`` as the menu shows it: favourites starred (as in the tree)."""
        is_favourite = getattr(self.app, "is_favourite", None)  # optional in TrayApp
        return f"★ {profile}" if is_favourite is not None and is_favourite(profile) else profile

    def _add(self, menu: QMenu, text: str, slot: Callable[[], None]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        return action
