"""IAM Identity Center in the window: sign-in sessions as top-level rows, sign-in, discovery, sign-out.

:class:`SsoController` sits next to the controller (it adds to the tree through ``controller.tree_rows`` and to
the context menu through ``controller.menu_extenders``, touching no widget there). One sign-in per session at
a time, whoever asks (the window, the tray, a terminal through the bridge): a second request joins the first.
Discovered roles that the config lacks are in-memory profiles in the broker's tree (sso_tree.py), assumed
through the broker like configured ones; "Add to config" writes them with core.sso.sync.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu
from shiboken6 import isValid

from stsdesk.core.errors import StsdeskError
from stsdesk.core.model import Profile
from stsdesk.core.profiles import ProfileTree
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.discovery import SsoAccount
from stsdesk.core.sso.errors import SignInCancelled
from stsdesk.core.sso.signin import EventKind, SignIn, SignInEvent
from stsdesk.gui.errors import user_message
from stsdesk.gui.profile_store import GENERATED_KEY, GROUP_KEY
from stsdesk.gui.sso_dialog import SignInDialog, demo_approve
from stsdesk.gui.sso_requests import SignInRequests
from stsdesk.gui.sso_tree import SsoRows, build_rows, with_generated

if TYPE_CHECKING:
    from stsdesk.core.sso.service import SsoService
    from stsdesk.gui.app import GuiApp
    from stsdesk.gui.controller import Controller

log = logging.getLogger(__name__)
STATE_INTERVAL_MS = 30_000  # how often the sessions' sign-in state is read again (a file read each)
REMIND_BEFORE = 15 * 60.0  # the tray says a sign-in ends this long before it does


class SsoController(SignInRequests, QObject):
    """See the module docstring. Signals: ``signed_in(row)``, ``discovered(row, accounts)``,
    ``sign_in_failed(row, message)``, ``reminder(title, body)`` (the tray shows it)."""

    signed_in = Signal(str)
    discovered = Signal(str, int)
    sign_in_failed = Signal(str, str)
    reminder = Signal(str, str)

    def __init__(self, controller: Controller, service: SsoService, demo_endpoint: str | None = None) -> None:
        super().__init__(controller)
        # Weak: the controller holds this object (menu extenders, tree rows); a strong link back would make a
        # cycle that keeps the window's Python wrapper alive after the window is deleted.
        self._controller = weakref.ref(controller)
        self.service = service
        self.demo_endpoint = demo_endpoint
        self.open_url: Callable[[str], bool] = lambda url: bool(QDesktopServices.openUrl(QUrl(url)))
        self.rows: SsoRows | None = None
        self.accounts: dict[str, list[SsoAccount]] = {}  # session cache name -> discovered accounts
        self.dialogs: dict[str, SignInDialog] = {}
        self._flights: dict[str, asyncio.Task[bool]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._signing: set[str] = set()  # session rows whose sign-in runs now
        self._declined: dict[str, float] = {}  # session row -> monotonic time before which no sign-in starts alone
        self._retrying: set[str] = set()
        self._reminded: dict[str, datetime] = {}
        controller.tree_rows = self.tree_rows
        controller.group_details = self.details
        controller.menu_extenders.append(self.extend_menu)
        controller.sessions_changed.connect(self.refresh_states)
        controller.window.tree.activated.connect(self._activate_current)
        controller.window.tree.assume_requested.connect(self._activate_current)
        self._timer = QTimer(self)
        self._timer.setInterval(STATE_INTERVAL_MS)
        self._timer.timeout.connect(self.refresh_states)
        self._timer.start()

    @property
    def controller(self) -> Controller:
        """The window's controller (alive as long as this object, its child, is)."""
        controller = self._controller()
        assert controller is not None
        return controller

    # -- the tree ------------------------------------------------------------------------------------------

    def tree_rows(self, tree: ProfileTree) -> tuple[list[Profile], Callable[[str], list[Profile]]]:
        """The rows the window shows for ``tree`` (controller_core.show_tree calls this); makes the broker's
        tree include the in-memory profiles of discovered roles."""
        sessions = self.service.sessions(tree)
        broker = self.controller.broker
        users: dict[str, str | None] = {}
        if broker is not None:
            cached = broker.cache.sessions()
            users = {s.cache_name: self.service.signed_in_user(tree, s, cached) for s in sessions}
        rows = build_rows(tree, sessions, self.accounts, users)
        if broker is not None and broker.tree is tree:
            broker.reload(with_generated(tree, rows.generated))
            rows.tree = broker.tree
        self.rows = rows
        return rows.roots, rows.children

    def session_of(self, row: str) -> SsoSession | None:
        """The sign-in session of a session row (by its internal name)."""
        return self.rows.sessions.get(row) if self.rows is not None else None

    def details(self, name: str) -> str | None:
        """The details pane of a session or account row (None for any other row)."""
        from stsdesk.gui.sso_details import row_details

        if self.rows is None:
            return None
        return row_details(name, self.rows, self.service, self.accounts, self.controller.model.profile(name))

    def refresh_states(self) -> None:
        """Show each session's sign-in state and countdown (the sign-in's end) in its row; remind via the tray
        when a sign-in ends within REMIND_BEFORE."""
        if self.rows is None:
            return
        model = self.controller.model
        now = datetime.now(UTC)
        for row, session in self.rows.sessions.items():
            state = self.service.status(session)
            ends = state.sign_in_ends() if state.signed_in else None
            if state.problem:
                note = "sign-in damaged"
            elif ends is not None and ends > now:
                note = "signed in"
            elif state.signed_in:
                note = "sign-in ended"
            else:
                note = "not signed in"
            if row in self._signing:
                note = "signing in…"
            model.set_note(row, note)
            model.set_session(row, ends)
            soon = ends is not None and 0 < (ends - now).total_seconds() <= REMIND_BEFORE
            if ends is not None and soon and self._reminded.get(row) != ends:
                self._reminded[row] = ends
                minutes = max(1, int((ends - now).total_seconds() // 60))
                self.reminder.emit(
                    f"{session.label}: sign-in ends in {minutes} min",
                    "Sign in again from stsdesk to keep using its accounts and roles.",
                )

    # -- sign-in ---------------------------------------------------------------------------------------

    def sign_in(self, row: str, device_code: bool = False) -> asyncio.Task[bool]:
        """Start (or join) the sign-in of session row ``row``; the task's result says whether it worked."""
        running = self._flights.get(row)
        if running is not None and not running.done():
            dialog = self.dialogs.get(row)
            if dialog is not None:
                dialog.show()
                dialog.raise_()
            return running
        task = asyncio.ensure_future(self._sign_in(row, device_code))
        self._flights[row] = task
        task.add_done_callback(lambda _t: self._flights.pop(row, None) if self._flights.get(row) is _t else None)
        return task

    async def _sign_in(self, row: str, device_code: bool) -> bool:
        session = self.session_of(row)
        if session is None:
            return False
        flow = self.service.sign_in(session, device_code=device_code)
        dialog = SignInDialog(session.label, self.demo_endpoint is not None, self.controller.window)
        self.dialogs[row] = dialog
        self._wire_dialog(dialog, flow)
        flow.on_event(lambda event: self._event(dialog, event))
        dialog.show()  # non-modal: the window stays usable while the browser is away
        self._signing.add(row)
        self.controller.model.set_note(row, "signing in…")
        try:
            await flow.run()
        except asyncio.CancelledError:
            _finish(dialog, False, "Cancelled.")
            raise
        except SignInCancelled:
            _finish(dialog, False, "Cancelled.")
            self.controller.window.show_message(f"Sign-in to {session.label} cancelled", 5000)
            return False
        except StsdeskError as exc:
            message = user_message(exc)
            _finish(dialog, False, message)
            self.controller.window.show_message(f"Sign-in to {session.label} failed: {message}", 15000)
            self.sign_in_failed.emit(row, message)
            return False
        finally:
            self._signing.discard(row)
            self.dialogs.pop(row, None)
            self.refresh_states()
        self.controller.window.show_message(f"Signed in to {session.label}", 5000)
        self.signed_in.emit(row)
        if isValid(dialog):
            dialog.close()
        await self.discover(row)
        return True

    def _wire_dialog(self, dialog: SignInDialog, flow: SignIn) -> None:
        dialog.cancel_requested.connect(flow.cancel)
        dialog.reopen_requested.connect(lambda: self.open_url(dialog.url) if dialog.url else None)
        dialog.demo_approve_requested.connect(lambda user: self._spawn(self._demo_approve(dialog, user)))
        dialog.finished.connect(dialog.deleteLater)

    def _event(self, dialog: SignInDialog, event: SignInEvent) -> None:
        if event.kind is EventKind.OPEN_URL and event.url and not self.open_url(event.url):
            self.controller.window.show_message("No web browser could be opened; open the page shown", 15000)
        if isValid(dialog):  # not closed and deleted meanwhile
            dialog.show_event(event)

    async def _demo_approve(self, dialog: SignInDialog, user: str) -> None:
        if self.demo_endpoint is None:
            return
        loop = asyncio.get_running_loop()
        try:
            text = await loop.run_in_executor(
                None, demo_approve, self.demo_endpoint, user, dialog.user_code, dialog.url
            )
        except OSError as exc:
            self.controller.window.show_message(f"Demo approval failed: {exc}", 15000)
            return
        self.controller.window.show_message(f"Demo aid: {text}", 5000)

    # -- discovery, sign-out, add to config ----------------------------------------------------------------

    async def discover(self, row: str) -> list[SsoAccount] | None:
        """List the accounts and roles of session row ``row`` and show them; None on failure (shown)."""
        session = self.session_of(row)
        if session is None:
            return None
        model = self.controller.model
        model.set_busy(row, True)
        try:
            accounts = await asyncio.get_running_loop().run_in_executor(None, self.service.discover, session)
        except StsdeskError as exc:
            model.set_error(row, user_message(exc))
            self.controller.window.show_message(f"Listing the accounts of {session.label} failed: "
                                                f"{user_message(exc)}", 15000)
            return None
        finally:
            model.set_busy(row, False)
        model.set_error(row, None)
        self.accounts[session.cache_name] = accounts
        self.controller.show_tree()
        self.discovered.emit(row, len(accounts))
        return accounts

    def discover_signed_in(self) -> None:
        """Discover, in the background, every session that is signed in already (at startup)."""
        if self.rows is None:
            return
        for row, session in self.rows.sessions.items():
            if self.service.status(session).signed_in and session.cache_name not in self.accounts:
                self._spawn(self.discover(row))

    async def sign_out(self, row: str) -> None:
        """Sign out of session row ``row``: server-side Logout, the token and its roles' cached sessions."""
        session = self.session_of(row)
        broker = self.controller.broker
        if session is None or broker is None:
            return
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                None, self.service.sign_out, session, broker.tree, broker.forget
            )
        except StsdeskError as exc:
            self.controller.window.show_message(f"Sign-out of {session.label} failed: {user_message(exc)}", 15000)
            return
        self.accounts.pop(session.cache_name, None)
        self.controller.show_tree()
        self.controller.window.show_message(
            f"Signed out of {session.label}" + ("" if result.had_sign_in else " (was not signed in)"), 5000
        )

    def add_to_config(self, name: str) -> list[str]:
        """Write the in-memory profile ``name`` (a discovered role) to ~/.aws/config and reload; the names
        written ([] when nothing was written; the reason goes to the status bar)."""
        from stsdesk.core.sso.sync import PlannedProfile, SyncPlan, write

        broker = self.controller.broker
        profile = broker.tree.profiles.get(name) if broker is not None else None
        if broker is None or profile is None or GENERATED_KEY not in profile.extra:
            return []
        session = profile.sso_session or ""
        entry = PlannedProfile(name, str(profile.sso_account_id), "", str(profile.sso_role_name))
        plan = SyncPlan(session, profile.region or "", (entry,), ())
        try:
            written = write(broker.tree.config_file, plan)
        except StsdeskError as exc:
            self.controller.window.show_message(f"Add to config failed: {user_message(exc)}", 15000)
            return []
        self.controller.reload()
        self.controller.window.show_message(f"Added {', '.join(written) or 'nothing'} to the AWS config", 8000)
        return written

    # -- menus and activation ---------------------------------------------------------------------------

    def extend_menu(self, menu: QMenu, name: str) -> None:
        """Session rows: Sign in, Sign in with a device code, List accounts, Sign out. In-memory roles: Add to
        config."""
        profile = self.controller.model.profile(name)
        if profile is None:
            return
        if profile.extra.get(GROUP_KEY) == "sso-session":
            menu.addSeparator()
            menu.addAction("Sign in…", lambda: self.sign_in(name))
            menu.addAction("Sign in with a device code…", lambda: self.sign_in(name, device_code=True))
            menu.addAction("List accounts and roles", lambda: self._spawn(self.discover(name)))
            menu.addAction("Sign out", lambda: self._spawn(self.sign_out(name)))
        elif GENERATED_KEY in profile.extra:
            menu.addSeparator()
            menu.addAction("Add to config", lambda: self.add_to_config(name))

    def _activate_current(self, *_: object) -> None:
        self.activated(self.controller.current_profile())

    def activated(self, name: str | None) -> bool:
        """Enter or double-click on ``name``: a session row signs in (True); anything else is not ours."""
        if name is None or self.session_of(name) is None:
            return False
        self.sign_in(name)
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop the state timer and cancel running sign-ins and discoveries (on quit)."""
        self._timer.stop()
        for task in [*self._flights.values(), *self._tasks]:
            task.cancel()


def _finish(dialog: SignInDialog, ok: bool, text: str) -> None:
    if isValid(dialog):  # the user may have closed it already
        dialog.finish(ok, text)


def install(gui: GuiApp) -> SsoController | None:
    """Give the app's broker an Identity Center service and add the sign-in sessions to the tree (call after
    load_engine). In the demo the tokens live in the demo directory, never in ~/.aws/sso/cache."""
    from stsdesk.core.sso.service import SsoService

    controller = gui.controller
    broker, secrets = controller.broker, controller.secrets
    if broker is None or secrets is None:
        return None
    demo_endpoint = gui.demo.world.endpoint if gui.demo is not None else None
    token_dir: Path | None = gui.config_dir / "sso-cache" if gui.demo is not None else None
    try:
        service = SsoService(gui.config_dir, secrets, token_dir=token_dir)
    except StsdeskError as exc:  # a bad sso_token_storage setting: the rest of the window still works
        gui.window.show_message(f"IAM Identity Center is off: {user_message(exc)}", 0)
        return None
    broker.sso = service
    sso = SsoController(controller, service, demo_endpoint)
    gui.sso = sso
    unsubscribe = broker.subscribe(sso._broker_event)
    gui.closers.extend([sso.close, unsubscribe])
    controller.show_tree()
    sso.refresh_states()
    sso.discover_signed_in()
    return sso
