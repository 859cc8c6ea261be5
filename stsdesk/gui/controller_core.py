"""What every part of the controller stands on: the broker attached, the tree shown and kept in sync with it,
the selection, the filter, the details pane and the clipboard. The actions (actions.py) and the profile
editing (profile_editing.py) build on this; controller.py wires them to the window.

The broker's plain ``subscribe`` callback is re-emitted as the Qt signal ``profile_changed``; the tray
(gui/tray_adapter.py) observes ``assumed`` / ``preferences_changed`` and adds its entries to the tree's
context menu through ``menu_extenders``, without touching widgets here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSettings, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QMenu

from stsdesk.core.errors import StsdeskError
from stsdesk.gui.clipboard import SecretClipboard
from stsdesk.gui.countdown import ExpiryWatch
from stsdesk.gui.details import details_html, region_text
from stsdesk.gui.errors import ErrorReporter, in_gui_words
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.gc_guard import freeze_when_quiet
from stsdesk.gui.main_window import MainWindow
from stsdesk.gui.mfa_dialog import CANCELLED_MESSAGE, MfaPrompter
from stsdesk.gui.settings import Preferences, save_preferences
from stsdesk.gui.tree_model import PROFILE_NAME_ROLE, ProfileTreeModel
from stsdesk.gui.window_state import restore_window_state, save_window_state, set_default_column_widths

if TYPE_CHECKING:
    from stsdesk.core.broker import Broker
    from stsdesk.core.cache_entry import CachedSession
    from stsdesk.core.model import Profile, ProfileKind
    from stsdesk.core.profiles import ProfileTree
    from stsdesk.core.secrets import SecretStore
    from stsdesk.gui.config_watch import FileWatch


async def run_dialog(dialog: QDialog) -> int:
    """Open ``dialog`` with ``open()`` and wait for ``finished`` (no nested event loop)."""
    import asyncio  # not at module level: the first rows paint before asyncio is imported

    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    return await future


class ControllerCore(QObject):
    """The controller's state and its view of the tree; see the module docstring."""

    profile_changed = Signal(str)
    sessions_changed = Signal()
    assumed = Signal(str)  # a profile's credentials were obtained here (the tray's "recent" list)
    preferences_changed = Signal()  # the Settings dialog saved new preferences

    def __init__(self, window: MainWindow, model: ProfileTreeModel, proxy: ProfileFilterProxy,
                 settings: QSettings, prefs: Preferences, prompter: MfaPrompter, reporter: ErrorReporter,
                 config_dir: Path, aliases: dict[str, str] | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.model = model
        self.rows = model  # busy marks, sessions and errors (the model announces them once per loop turn)
        self.proxy = proxy
        self.settings = settings
        self.prefs = prefs
        self.prompter = prompter
        self.reporter = reporter
        self.config_dir = config_dir
        self.aliases = aliases or {}
        # The region chosen for a profile's sessions in the details pane's picker (gui/power_features.py), or None.
        self.region_choice: Callable[[str], str | None] = lambda _name: None
        # Browser arguments for a profile's console window (its account label as the window title), by
        # gui/power_features.py: (profile, core.browsers.Browser) -> arguments.
        self.console_window_args: Callable[[str, Any], list[str]] = lambda _name, _browser: []
        self.broker: Broker | None = None  # once loaded (attach)
        self.secrets: SecretStore | None = None
        self.identities: dict[str, str] = {}  # profile -> caller ARN from Who am I
        self._unsubscribe: Callable[[], None] | None = None
        # Secrets put on the clipboard are hinted for password managers and cleared after a while.
        self.clipboard = SecretClipboard(clear_after=prefs.clipboard_clear_seconds, parent=self)
        # Called with (menu, profile) before the tree's context menu pops up (the tray adds its toggles).
        self.menu_extenders: list[Callable[[QMenu, str], None]] = []
        # The details of a row that is not a profile (an Identity Center session or account), else None.
        self.group_details: Callable[[str], str | None] = lambda name: None
        # What the tree shows for a profile tree: (roots, children); the Identity Center part regroups it.
        self.tree_rows: Callable[[ProfileTree], tuple[list[Profile], Callable[[str], list[Profile]]]] = (
            lambda tree: (tree.roots(), tree.children))
        self.file_watch: FileWatch | None = None  # the config files and the session cache (attach)
        self._sticky: str | None = None  # a status-bar message that stays until its cause is gone
        self._errors_at: dict[str, tuple[str, float]] = {}  # profile -> (its row's error, when first seen)
        self._expiries = ExpiryWatch()  # profiles whose session was live at the last tick (announce_expiries)
        self._parents: list[str] = []  # profiles with children in the tree (the only rows that expand)
        self._cache_seen = -1  # the cache's changes_elsewhere() when the rows last followed it (-1: never)
        # Profiles whose session or error changed; announced together on the next turn of the loop.
        self._changed: set[str] = set()
        self._announce_timer = QTimer(self)
        self._announce_timer.setSingleShot(True)
        self._announce_timer.setInterval(0)
        self._announce_timer.timeout.connect(self._announce)
        # The menu bar's Profile menu carries the extenders' entries too (Favourite, Auto-refresh, serving...):
        # nothing is only in the context menu.
        self._profile_menu_extra: list[QAction] = []
        window.menus["profile"].aboutToShow.connect(self._extend_profile_menu)
        self.update_action_states(False)  # nothing is selected before the profiles are loaded

    # -- the broker and the tree -----------------------------------------------------------------------

    def attach(self, broker: Broker, secrets: SecretStore, show: bool = True) -> None:
        """Use ``broker``: show its profiles (unless ``show`` is False: the caller calls show_tree) and follow
        its changes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.broker = broker
        self.secrets = secrets
        broker.mfa_prompt = self.prompter.prompt
        self._unsubscribe = broker.subscribe(self.profile_changed.emit)
        self._watch_files(broker)
        if show:
            self.show_tree()

    def _watch_files(self, broker: Broker) -> None:
        """Follow edits of the AWS config files and sessions other processes store or forget (see
        gui/config_watch.py): the tree updates without Reload config."""
        from stsdesk.gui.config_watch import watch_broker_files

        if self.file_watch is not None:
            self.file_watch.stop()
            self.file_watch.deleteLater()
        self.file_watch = watch_broker_files(broker, self)
        self.file_watch.changed.connect(self._files_changed)

    def _files_changed(self, group: str) -> None:
        if group == "config":
            self.reload()
            return
        # The cache index: sessions stored or forgotten by a terminal, the tray or another window. This process's
        # own writes (every assume's, a moment later on the cache's writer thread) change the file too, and their
        # rows are already shown: looking at every profile with state again was a 50-100 ms turn of the loop
        # after each burst (500 sessions).
        if self.broker is None:
            return
        elsewhere = self.broker.cache.changes_elsewhere()
        if elsewhere == self._cache_seen:
            return
        self._cache_seen = elsewhere
        for name in self._profiles_with_state():
            self._sync_profile(name)

    def show_tree(self) -> None:
        """Show the broker's profiles (a model reset), with their sessions and errors, keeping the selection."""
        if self.broker is None:
            return
        tree = self.broker.tree
        selected = self.current_profile() or str(self.settings.value("window/selected", ""))
        self.model.set_profiles(*self.tree_rows(tree), self.aliases)
        self._parents = self.model.parent_names()
        self._cache_seen = self.broker.cache.changes_elsewhere()  # the rows follow the cache as it is now
        for name in self._profiles_with_state():
            self._sync_profile(name, announce=False)
        # Only rows with children can expand; expandAll would walk (and call back into Python for) all of them.
        self._expand_parents()
        if not self.select(selected):
            # The profile shown before is gone (removed here or elsewhere): show nothing rather than let a
            # reset leave some other row current while the pane still names the old one.
            self.window.tree.setCurrentIndex(QModelIndex())
        self.update_details()
        self.sessions_changed.emit()
        if tree.errors:
            self.window.show_message(f"{len(tree.errors)} profile(s) have problems; see their details.")
        warning = self.secrets.warning if self.secrets is not None else None
        if warning:
            self.window.show_message(warning, 0)
        # Status messages are replaced by the next one ("Ready", any action): the label stays.
        self.window.show_keyring_warning(warning)

    def reload(self) -> None:
        """Read the AWS config files again (after an edit here or elsewhere)."""
        from stsdesk.core.profiles import load_profiles

        if self.broker is None:
            return
        if self.file_watch is not None:
            self.file_watch.settle("config")  # read now: the watcher need not read it again
        try:
            tree = load_profiles(self.broker.tree.config_file, self.broker.tree.credentials_file)
        except StsdeskError as exc:
            self._sticky = self.tr("Cannot read the AWS config: {problem}").format(problem=exc)
            self.window.show_message(self._sticky, 0)
            return
        if self._sticky is not None and self.window.statusBar().currentMessage() == self._sticky:
            self.window.statusBar().clearMessage()  # resolved: the stale error leaves the status bar
        self._sticky = None
        self.broker.reload(tree)
        self.show_tree()
        freeze_when_quiet()  # the new tree lives as long as the old did: no full collection should rescan it

    def _profiles_with_state(self) -> list[str]:
        """The profiles whose row may need a session or an error: those with a cached session of their own
        (one read of the cache index, not a stat per profile), IAM users (whose state is their MFA session),
        and rows that show a session or an error now. Every other row has nothing to show."""
        from stsdesk.core.mfa_session import cache_key_for
        from stsdesk.core.model import ProfileKind

        assert self.broker is not None
        cached = {meta.cache_key for meta in self.broker.cache.sessions()}
        model, last_error = self.model, self.broker.last_error
        found = set(model.names_with_state())
        found.update(name for name in model.profile_names() if cache_key_for(name) in cached or last_error(name))
        found.update(name for name in model.profile_names() if self._kind(name) is ProfileKind.IAM_USER)
        return sorted(found)

    def _kind(self, name: str) -> ProfileKind | None:
        profile = self.model.profile(name)
        return profile.kind if profile is not None else None

    def _expand_parents(self) -> None:
        """Expand every visible row that has children (cheap while a re-layout is pending: Qt just notes it)."""
        tree = self.window.tree
        for name in self._parents:
            source = self.model.index_of(name)
            index = self.proxy.mapFromSource(source) if source.isValid() else QModelIndex()
            if index.isValid() and not tree.isExpanded(index):
                tree.expand(index)

    def _sync_profile(self, name: str, announce: bool = True) -> None:
        if self.broker is None:
            return
        meta = self.broker.session_state(name)
        self.rows.set_session(name, meta.expiration if meta is not None else None)
        # An IAM user's account (and so its alias) is only known from its session's ARN.
        self.model.set_identity(name, meta.identity_arn if meta is not None else None)
        error = self.broker.last_error(name)
        if error == CANCELLED_MESSAGE:  # the person cancelled the MFA prompt: not an error
            error = None
        error = self._unless_resolved(name, error, meta)
        self.rows.set_error(name, in_gui_words(error, self.broker.last_remedy(name)) if error else None)
        if announce:
            self._changed.add(name)
            if not self._announce_timer.isActive():
                self._announce_timer.start()

    def _unless_resolved(self, name: str, error: str | None, meta: CachedSession | None) -> str | None:
        """``error``, unless a session made after it was first seen is live (a terminal, the tray or another
        window got credentials since): then the error is stale and no longer shown."""
        if error is None:
            self._errors_at.pop(name, None)
            return None
        seen = self._errors_at.get(name)
        if seen is None or seen[0] != error:
            seen = self._errors_at[name] = (error, time.time())
        if meta is not None and meta.created.timestamp() > seen[1] and meta.seconds_left() > 0:
            return None  # resolved since: a session made after the error is live
        return error

    def _announce(self) -> None:
        """One ``sessions_changed`` and at most one details rebuild for all profiles changed since the last
        turn of the loop: 200 assumes finishing together must not rebuild the details pane 200 times."""
        changed, self._changed = self._changed, set()
        if not changed:
            return
        self.sessions_changed.emit()
        if self.current_profile() in changed:
            self.update_details()

    def announce_expiries(self, now: float | None = None) -> list[str]:
        """Called on every countdown tick: rows whose session expired since the last tick get their State cell
        repainted (it said "active" until clicked), the details and the tray follow. Returns those profiles."""
        from stsdesk.gui.tree_presentation import STATE

        expired = self._expiries.expired_since(self.model.sessions(), now)
        for name in expired:
            index = self.model.index_of(name, STATE)
            if index.isValid():
                self.model.dataChanged.emit(index, index, [])  # every role: text, colour and icon
        if expired:
            self.sessions_changed.emit()
            if self.current_profile() in expired:
                self.update_details()
        return expired

    # -- menus, clipboard, preferences -----------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        self.profile_menu().popup(self.window.tree.viewport().mapToGlobal(pos))

    def profile_menu(self) -> QMenu:
        """The tree's context menu for the current profile, with the extenders' entries."""
        menu = self.window.context_menu()
        name = self.current_profile()
        if name:
            for extend in self.menu_extenders:
                extend(menu, name)
        menu.aboutToHide.connect(menu.deleteLater)  # a fresh menu per click: don't pile them up
        return menu

    def _extend_profile_menu(self) -> None:
        """Rebuild the extenders' part of the menu bar's Profile menu for the current profile."""
        menu = self.window.menus["profile"]
        for act in self._profile_menu_extra:
            menu.removeAction(act)
            act.deleteLater()
        before = set(menu.actions())
        name = self.current_profile()
        if name:
            menu.addSeparator()
            for extend in self.menu_extenders:
                extend(menu, name)
        self._profile_menu_extra = [act for act in menu.actions() if act not in before]

    def copy_secret(self, text: str, what: str) -> None:
        """Put ``text`` on the clipboard through SecretClipboard and say when it will be cleared."""
        self.clipboard.copy(text)
        delay = self.clipboard.clear_after
        self.window.show_message(f"Copied {what}" + (f"; cleared in {delay:g} s" if delay > 0 else ""))

    def _shell_chosen(self, shell: str) -> None:
        self.prefs.default_shell = shell
        save_preferences(self.settings, self.prefs)

    # -- selection, filter, details -----------------------------------------------------------------

    def current_profile(self) -> str | None:
        """The selected profile's name, or None."""
        index = self.window.tree.currentIndex()
        name = index.data(PROFILE_NAME_ROLE) if index.isValid() else None
        return str(name) if name else None

    def select(self, name: str | None) -> bool:
        """Select and show ``name``'s row; False when it is not in the tree or filtered out."""
        if not name:
            return False
        source = self.model.index_of(name)
        index = self.proxy.mapFromSource(source) if source.isValid() else QModelIndex()
        if not index.isValid():
            return False
        self.window.tree.setCurrentIndex(index)
        self.window.tree.scrollTo(index)
        return True

    def update_details(self) -> None:
        """Rebuild the details pane for the selected profile."""
        current = self.window.tree.currentIndex()
        if current.isValid() and not self.proxy.is_match(current):
            # An ancestor shown for context only is never the selection: its first matching descendant is.
            first = self.proxy.first_match(current.siblingAtColumn(0))
            if first.isValid():
                self.window.tree.setCurrentIndex(first)  # comes back here through currentChanged
                return
        name = self.current_profile()
        profile = self.model.profile(name) if name else None
        self.update_action_states(profile is not None)
        if name is None or profile is None:
            self.window.show_empty_details(self.broker is not None and self.model.rowCount() == 0)
            return
        group_html = self.group_details(name)
        if group_html is not None:  # a sign-in session or account row (gui/sso_controller.py)
            self.update_action_states(False)  # no profile: its own menu entries (Sign in…) act on it
            self.window.show_details(group_html)
            return
        session = self.broker.session_state(name) if self.broker is not None else None
        self.window.show_details(details_html(
            profile, self.model.account_text(name), self._region_text(name), session,
            self.identities.get(name), self.model.error(name) or profile.error,
        ))

    def update_action_states(self, has_profile: bool | None = None) -> None:
        """Enable the actions that need a profile only while one is selected (they act on that one)."""
        if has_profile is None:
            name = self.current_profile()
            has_profile = name is not None and self.model.profile(name) is not None
        for action in self.window.profile_actions:
            action.setEnabled(has_profile)
        if has_profile:  # only an IAM user has a long-term key to copy
            from stsdesk.core.model import ProfileKind

            name = self.current_profile()
            self.window.copy_long_term_action.setEnabled(
                name is not None and self._kind(name) is ProfileKind.IAM_USER)

    def _region_text(self, name: str) -> str:
        """The details' Region row, by the rule the STS call and the exports use (core.region)."""
        from stsdesk.core.region import configured_region

        default = self.broker.default_region if self.broker is not None else self.prefs.default_region
        try:
            configured = configured_region(self.broker.tree.chain(name)) if self.broker is not None else None
        except StsdeskError:  # a broken profile: its own setting is all there is to show
            profile = self.model.profile(name)
            configured = profile.region if profile is not None else None
        chosen = self.region_choice(name)
        return f"{chosen} (chosen here)" if chosen else region_text(configured, default)

    # -- window state ------------------------------------------------------------------------------------

    def restore_state(self) -> None:
        """Put back the window's geometry, columns, splitter and filter from the settings."""
        restore_window_state(self.settings, self.window)

    def save_state(self) -> None:
        """Keep the window's geometry, columns, splitter, filter and selection in the settings."""
        save_window_state(self.settings, self.window, self.current_profile())

    def set_column_widths(self) -> None:
        """Column widths and splitter sizes for a first start."""
        set_default_column_widths(self.settings, self.window)
