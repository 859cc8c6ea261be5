"""The tray's view of the app: :class:`ControllerTrayApp` implements ``gui.tray.TrayApp`` over the controller
and its broker, keeps the favourite / recent / auto-refresh profile lists (persisted in QSettings), and adds
their toggles to the tree's context menu.

The tray calls plain methods; anything that awaits (STS calls, MFA prompts) is started here as a task on the
running (qasync) loop, and failures end up where the user looks: the row, the status bar, a tray message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMenu

from stsdesk.core.reminders import WatchedSession
from stsdesk.gui.controller import Controller
from stsdesk.gui.errors import in_gui_words
from stsdesk.gui.settings import load_names, save_names, save_preferences
from stsdesk.gui.tray import TrayController

if TYPE_CHECKING:
    from stsdesk.core.profiles import ProfileTree

log = logging.getLogger(__name__)

RECENT_LIMIT = 5
FAVOURITES_KEY = "tray/favourites"
RECENT_KEY = "tray/recent"
RECENT_SAVE_MS = 1000  # the recent list is written at most this often
RECENT_MAX_DEFER_S = 30.0  # and held back while requests are answered at most this long


class ControllerTrayApp(QObject):
    """``TrayApp`` over ``controller``. ``quit_requested`` is called when the user quits from the tray (the
    app's coroutine then shuts down cleanly). Attach the TrayController with :meth:`attach_tray`."""

    def __init__(self, controller: Controller, settings: QSettings, quit_requested: Callable[[], None]) -> None:
        super().__init__(controller)
        self.controller = controller
        self.settings = settings
        self._quit_requested = quit_requested
        self.tray: TrayController | None = None
        self.favourites: list[str] = load_names(settings, FAVOURITES_KEY)
        self.recent: list[str] = load_names(settings, RECENT_KEY)[:RECENT_LIMIT]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._rules_tree: ProfileTree | None = None  # the broker tree the MFA rules below were worked out for
        self._rules: dict[str, tuple[bool, str | None]] = {}
        self._watched_state: list[tuple[str, float, bool, datetime | None]] = []
        self._watched: list[WatchedSession] = []
        self._pairs: list[tuple[str, float]] = []  # the model's sessions _watched was last built from
        self._any_mfa = False  # one of them has an MFA session whose validity is read from the cache each tick
        self._recent_saved_at = float("-inf")
        self._recent_waiting_since = 0.0  # when the pending write of the recent list was first put off
        self._recent_timer = QTimer(self)
        self._recent_timer.setSingleShot(True)
        self._recent_timer.setInterval(RECENT_SAVE_MS)
        self._recent_timer.timeout.connect(self._recent_due)
        controller.assumed.connect(self._remember)
        controller.preferences_changed.connect(self.apply_preferences)
        controller.menu_extenders.append(self.extend_menu)
        controller.model.set_favourites(self.favourites)  # starred in the tree as in the tray menu

    def attach_tray(self, tray: TrayController) -> None:
        """Report background failures through ``tray`` and give it the auto-refresh profiles."""
        self.tray = tray
        tray.set_auto_refresh(self.controller.prefs.auto_refresh_profiles)
        from stsdesk.gui.sso_controller import SsoController

        sso = self.controller.findChild(SsoController)
        if sso is not None:  # Identity Center sign-ins that run out are reminded through the tray as well
            sso.reminder.connect(tray.notify_text)

    # -- TrayApp -----------------------------------------------------------------------------------------

    def sessions(self) -> Sequence[WatchedSession]:
        """The sessions (live and expired) the tree shows, from the model: no stat per profile, no keyring.

        Called every second by the tray: with 5,000 profiles, asking the broker for each profile's state would
        stat the cache index 5,000 times a tick. The model holds what the controller synced from the broker."""
        broker = self.controller.broker
        if broker is None:
            return []
        pairs = self.controller.model.sessions()
        if pairs == self._pairs and broker.tree is self._rules_tree and not self._any_mfa:
            return list(self._watched)  # nothing changed, and no MFA session to look up again
        self._pairs, self._any_mfa = pairs, False
        mfa_until: dict[str, datetime | None] = {}  # one cache read per MFA session this tick, however shared
        state: list[tuple[str, float, bool, datetime | None]] = []
        for name, expiry in pairs:
            needs_mfa, key = self._mfa_rule(name)
            self._any_mfa = self._any_mfa or key is not None
            if key is not None and key not in mfa_until:
                mfa = broker.cache.peek(key)
                mfa_until[key] = mfa.expiration if mfa is not None else None
            state.append((name, expiry, needs_mfa, mfa_until[key] if key is not None else None))
        # Most ticks nothing changed: hand out the same objects instead of building 500 of them again.
        if state != self._watched_state:
            self._watched_state = state
            self._watched = [WatchedSession(name, datetime.fromtimestamp(expiry, UTC), needs_mfa, until)
                             for name, expiry, needs_mfa, until in state]
        return list(self._watched)

    def _mfa_state(self, name: str) -> tuple[bool, datetime | None]:
        """Whether a fresh session of ``name`` needs an MFA code, and until when the cached MFA session that
        would vouch for it is valid (None: none that the broker would use)."""
        needs_mfa, key = self._mfa_rule(name)
        broker = self.controller.broker
        if key is None or broker is None:
            return needs_mfa, None
        mfa = broker.cache.peek(key)
        return True, mfa.expiration if mfa is not None else None

    def _mfa_rule(self, name: str) -> tuple[bool, str | None]:
        """Whether a fresh session of ``name`` needs an MFA code, and the cache key of the MFA session that
        would vouch for it (None: a fresh code every time, or no MFA). Depends only on the profile tree, so
        it is remembered until the broker's tree is replaced (a reload).

        The rule is the broker's own: :func:`stsdesk.core.mfa_rule.mfa_requirement`."""
        broker = self.controller.broker
        if broker is None:
            return False, None
        if broker.tree is not self._rules_tree:
            self._rules_tree, self._rules = broker.tree, {}
        rule = self._rules.get(name)
        if rule is None:
            rule = self._rules[name] = self._compute_mfa_rule(name)
        return rule

    def _compute_mfa_rule(self, name: str) -> tuple[bool, str | None]:
        from stsdesk.core.errors import StsdeskError
        from stsdesk.core.mfa_rule import mfa_requirement

        broker = self.controller.broker
        try:
            if broker is None:
                return False, None
            chain = broker.tree.chain(name)
        except StsdeskError:  # a broken profile: nothing to refresh anyway
            return False, None
        rule = mfa_requirement(chain)
        return rule.needed, rule.session_key

    def quick_profiles(self) -> Sequence[str]:
        """Favourites first, then the recently assumed, each once; only profiles that exist."""
        broker = self.controller.broker
        known = broker.tree.profiles if broker is not None else {}
        return [name for name in dict.fromkeys([*self.favourites, *self.recent]) if name in known]

    def assume(self, profile: str) -> None:
        self._start(self.controller.assume(profile))

    def refresh(self, profile: str) -> None:
        """Renew ``profile``'s session in the background; a failure becomes a tray message too."""
        self._start(self._refresh(profile))

    async def _refresh(self, profile: str) -> None:
        creds = await self.controller.assume(profile, force=True)
        if creds is None and self.tray is not None:
            broker = self.controller.broker
            error = broker.last_error(profile) if broker is not None else None
            remedy = broker.last_remedy(profile) if broker is not None else None
            message = in_gui_words(error or "no credentials", remedy)
            self.tray.notify_error(profile, message)

    def copy_exports(self, profile: str) -> None:
        self._start(self.controller.copy_exports(profile))

    def open_console(self, profile: str) -> None:
        self._start(self._open_console(profile))

    async def _open_console(self, profile: str) -> None:
        await self.controller.open_console(profile)  # says "done" only when a browser opened

    def show_window(self) -> None:
        window = self.controller.window
        window.showNormal()
        window.raise_()
        window.activateWindow()

    def quit(self) -> None:
        self._quit_requested()

    def _start(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:  # the controller reports expected failures itself; whatever reaches here is a bug
            self.controller.reporter.report(exc, "tray action")

    def cancel_pending(self) -> None:
        """Cancel tray-started actions still running and write what is still unsaved (on exit)."""
        self.flush()
        for task in list(self._tasks):
            task.cancel()

    # -- profile lists -----------------------------------------------------------------------------------

    def _remember(self, profile: str) -> None:
        self.recent = [profile, *(p for p in self.recent if p != profile)][:RECENT_LIMIT]
        # Each QSettings write is a file replace (with fsync, ~17 ms) on the event loop: write at once, but at
        # most once per RECENT_SAVE_MS, and not while other requests are still being answered (200 finishing
        # together share one write after the last).
        if self._recent_timer.isActive():
            return
        if time.monotonic() - self._recent_saved_at >= RECENT_SAVE_MS / 1000 and not self._busy():
            self._save_recent()
        else:
            self._recent_waiting_since = time.monotonic()
            self._recent_timer.start()

    def _busy(self) -> bool:
        return self.controller.requests_in_flight > 0

    def _recent_due(self) -> None:
        if self._busy() and time.monotonic() - self._recent_waiting_since < RECENT_MAX_DEFER_S:
            self._recent_timer.start()  # still answering: after them
            return
        self._save_recent()

    def _save_recent(self) -> None:
        self._recent_timer.stop()
        self._recent_saved_at = time.monotonic()
        save_names(self.settings, RECENT_KEY, self.recent)

    def flush(self) -> None:
        """Write a pending change of the recent list now (on exit)."""
        if self._recent_timer.isActive():
            self._save_recent()

    def set_favourite(self, profile: str, on: bool) -> None:
        self.favourites = [p for p in self.favourites if p != profile] + ([profile] if on else [])
        save_names(self.settings, FAVOURITES_KEY, self.favourites)
        self.controller.model.set_favourites(self.favourites)

    def is_favourite(self, profile: str) -> bool:
        """Whether ``profile`` is a favourite (starred in the tray menu and the tree)."""
        return profile in self.favourites

    def auto_refresh(self, profile: str) -> bool:
        return profile in self.controller.prefs.auto_refresh_profiles

    def set_auto_refresh(self, profile: str, on: bool) -> None:
        """Switch background refresh of ``profile`` on or off (persisted)."""
        prefs = self.controller.prefs
        others = tuple(p for p in prefs.auto_refresh_profiles if p != profile)
        prefs.auto_refresh_profiles = (*others, profile) if on else others
        save_preferences(self.settings, prefs)
        if self.tray is not None:
            self.tray.set_auto_refresh(prefs.auto_refresh_profiles)
        state = "on" if on else "off"
        self.controller.window.show_message(f"Auto-refresh {state} for {profile}")

    def extend_menu(self, menu: QMenu, profile: str) -> None:
        """Add the per-profile toggles (favourite, auto-refresh) to the tree's context menu (not for a sign-in
        session or account row: those are no profiles)."""
        from stsdesk.gui.profile_store import is_group_name

        if is_group_name(profile):
            return
        menu.addSeparator()
        favourite = menu.addAction("Favourite (in the tray menu)")
        favourite.setCheckable(True)
        favourite.setChecked(profile in self.favourites)
        favourite.toggled.connect(partial(self.set_favourite, profile))
        auto = menu.addAction("Auto-refresh before expiry")
        auto.setCheckable(True)
        auto.setChecked(self.auto_refresh(profile))
        auto.setToolTip("Renew the session in the background when no MFA code is needed; remind otherwise")
        auto.toggled.connect(partial(self.set_auto_refresh, profile))

    # -- preferences -------------------------------------------------------------------------------------

    def apply_preferences(self) -> None:
        """Follow new Settings: reminder thresholds, keep-in-tray and auto-refresh."""
        prefs = self.controller.prefs
        if self.tray is None:
            return
        self.tray.scheduler.thresholds = [m * 60 for m in prefs.reminder_minutes]
        self.tray.keep_in_tray = prefs.keep_in_tray
        self.tray.set_auto_refresh(prefs.auto_refresh_profiles)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setQuitOnLastWindowClosed(not (self.tray.icon.isVisible() and prefs.keep_in_tray))
