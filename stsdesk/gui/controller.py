"""Wires the broker, the tree model and the views. Logic lives here; widgets only present.

The broker's plain ``subscribe`` callback is re-emitted as the Qt signal ``profile_changed``; the tray
(gui/tray_adapter.py) observes ``assumed`` / ``preferences_changed`` and adds its entries to the tree's
context menu through ``menu_extenders``, without touching widgets here.
"""

from __future__ import annotations

import asyncio
import html
import logging
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSettings, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QMenu, QMessageBox
from qasync import asyncSlot

from stsdesk.core.errors import StsdeskError
from stsdesk.core.model import Credentials
from stsdesk.gui.clipboard import SecretClipboard
from stsdesk.gui.errors import ErrorReporter, in_gui_words, user_message
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.main_window import MainWindow
from stsdesk.gui.mfa_dialog import MfaPrompter
from stsdesk.gui.settings import Preferences, save_preferences
from stsdesk.gui.tree_model import NAME, PROFILE_NAME_ROLE, ProfileTreeModel, kind_label

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_dialog(dialog: QDialog) -> int:
    """Open ``dialog`` with ``open()`` and wait for ``finished`` (no nested event loop)."""
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    return await future


class Controller(QObject):
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
        self.proxy = proxy
        self.settings = settings
        self.prefs = prefs
        self.prompter = prompter
        self.reporter = reporter
        self.config_dir = config_dir
        self.aliases = aliases or {}
        self.broker: Any = None  # core.broker.Broker once loaded
        self.secrets: Any = None
        self.identities: dict[str, str] = {}  # profile -> caller ARN from Who am I
        self._unsubscribe: Callable[[], None] | None = None
        # Secrets put on the clipboard are hinted for password managers and cleared after a while.
        self.clipboard = SecretClipboard(clear_after=prefs.clipboard_clear_seconds, parent=self)
        # Called with (menu, profile) before the tree's context menu pops up (the tray adds its toggles).
        self.menu_extenders: list[Callable[[QMenu, str], None]] = []
        self._parents: list[str] = []  # profiles with children in the tree (the only rows that expand)
        # Profiles whose session or error changed; announced together on the next turn of the loop.
        self._changed: set[str] = set()
        self._announce_timer = QTimer(self)
        self._announce_timer.setSingleShot(True)
        self._announce_timer.setInterval(0)
        self._announce_timer.timeout.connect(self._announce)
        self._wire()

    # -- wiring --------------------------------------------------------------------------------------

    def _wire(self) -> None:
        w = self.window
        w.tree.setModel(self.proxy)
        w.tree.selectionModel().currentChanged.connect(lambda *_: self.update_details())
        w.tree.activated.connect(lambda *_: self.on_assume())
        w.tree.assume_requested.connect(self.on_assume)
        w.tree.customContextMenuRequested.connect(self._context_menu)
        w.filter_edit.textChanged.connect(self.set_filter)
        w.shell_combo.setCurrentText(self.prefs.default_shell)
        w.shell_combo.currentTextChanged.connect(self._shell_chosen)
        w.assume_action.triggered.connect(self.on_assume)
        w.refresh_action.triggered.connect(self.on_refresh)
        w.forget_action.triggered.connect(self.forget)
        w.copy_exports_action.triggered.connect(self.on_copy_exports)
        w.copy_process_action.triggered.connect(self.copy_credential_process)
        w.console_action.triggered.connect(self.on_open_console)
        w.copy_console_action.triggered.connect(self.on_copy_console_url)
        w.whoami_action.triggered.connect(self.on_whoami)
        w.decode_action.triggered.connect(self.on_decode)
        w.add_action.triggered.connect(self.on_add_profile)
        w.edit_action.triggered.connect(self.on_edit_profile)
        w.remove_action.triggered.connect(self.on_remove_profile)
        w.settings_action.triggered.connect(self.on_settings)
        w.reload_action.triggered.connect(self.reload)
        self.profile_changed.connect(self._sync_profile)
        self.model.dataChanged.connect(self._model_changed)

    def attach(self, broker: Any, secrets: Any) -> None:
        """Use ``broker`` (core.broker.Broker): show its profiles and follow its changes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.broker = broker
        self.secrets = secrets
        broker.mfa_prompt = self.prompter.prompt
        self._unsubscribe = broker.subscribe(self.profile_changed.emit)
        self.show_tree()

    def show_tree(self) -> None:
        tree = self.broker.tree
        selected = self.current_profile() or str(self.settings.value("window/selected", ""))
        self.model.set_profiles(tree.roots(), tree.children, self.aliases)
        self._parents = self.model.parent_names()
        for name in self._profiles_with_state():
            self._sync_profile(name, announce=False)
        # Only rows with children can expand; expandAll would walk (and call back into Python for) all of them.
        self._expand_parents()
        self.select(selected)
        self.sessions_changed.emit()
        if tree.errors:
            self.window.show_message(f"{len(tree.errors)} profile(s) have problems; see their details.")
        warning = getattr(self.secrets, "warning", None)
        if warning:
            self.window.show_message(warning, 0)
        # Status messages are replaced by the next one ("Ready", any action): the label stays.
        self.window.show_keyring_warning(warning)

    def _profiles_with_state(self) -> list[str]:
        """The profiles whose row may need a session or an error: those with a cached session of their own
        (one read of the cache index, not a stat per profile), IAM users (whose state is their MFA session),
        and rows that show a session or an error now. Every other row has nothing to show."""
        from stsdesk.core.mfa_session import cache_key_for
        from stsdesk.core.model import ProfileKind

        cached = {meta.cache_key for meta in self.broker.cache.sessions()}
        model, last_error = self.model, self.broker.last_error
        found = set(model.names_with_state())
        found.update(name for name in model.profile_names() if cache_key_for(name) in cached or last_error(name))
        found.update(name for name in model.profile_names() if self._kind(name) is ProfileKind.IAM_USER)
        return sorted(found)

    def _kind(self, name: str) -> Any:
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
        self.model.set_session(name, meta.expiration if meta is not None else None)
        # An IAM user's account (and so its alias) is only known from its session's ARN.
        self.model.set_identity(name, meta.identity_arn if meta is not None else None)
        error = self.broker.last_error(name)
        self.model.set_error(name, in_gui_words(error, self.broker.last_remedy(name)) if error else None)
        if announce:
            self._changed.add(name)
            if not self._announce_timer.isActive():
                self._announce_timer.start()

    def _announce(self) -> None:
        """One ``sessions_changed`` and at most one details rebuild for all profiles changed since the last
        turn of the loop: 200 assumes finishing together must not rebuild the details pane 200 times."""
        changed, self._changed = self._changed, set()
        if not changed:
            return
        self.sessions_changed.emit()
        if self.current_profile() in changed:
            self.update_details()

    def _model_changed(self, top_left: QModelIndex, *_: Any) -> None:
        pass  # details follow profile_changed; ticks must stay cheap

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
        index = self.window.tree.currentIndex()
        name = index.data(PROFILE_NAME_ROLE) if index.isValid() else None
        return str(name) if name else None

    def select(self, name: str | None) -> bool:
        if not name:
            return False
        source = self.model.index_of(name)
        index = self.proxy.mapFromSource(source) if source.isValid() else QModelIndex()
        if not index.isValid():
            return False
        self.window.tree.setCurrentIndex(index)
        self.window.tree.scrollTo(index)
        return True

    def set_filter(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        if text.strip():
            # Parents hidden by an earlier keystroke come back collapsed: expand those, not all 5,000 rows.
            self._expand_parents()

    def update_details(self) -> None:
        name = self.current_profile()
        profile = self.model.profile(name) if name else None
        if profile is None:
            self.window.show_details("<p>Select a profile.</p>")
            return
        esc = html.escape
        rows: list[tuple[str, str]] = [("Kind", kind_label(profile))]
        account = self.model.account_text(profile.name)
        if account:
            rows.append(("Account", account))
        if profile.role_arn:
            rows.append(("Role ARN", profile.role_arn))
        if len(profile.chain) > 1:
            rows.append(("Source chain", " → ".join(profile.chain)))
        rows.append(("Region", profile.region or f"{self.prefs.default_region} (default)"))
        if profile.mfa_serial:
            rows.append(("MFA device", profile.mfa_serial))
        if profile.access_key_id:
            rows.append(("Access key ID", profile.access_key_id))
        for label, value in (("External ID", profile.external_id), ("Session name", profile.role_session_name),
                             ("Duration", profile.duration_seconds), ("Endpoint", profile.endpoint_url)):
            if value:
                rows.append((label, str(value)))
        meta = self.broker.session_state(name) if self.broker is not None else None
        session: list[tuple[str, str]] = []
        if meta is not None:
            # No time left here: it would be frozen at the last rebuild; the countdown line above counts down.
            local = meta.expiration.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
            session.append(("Expires", local))
            if meta.identity_arn:
                session.append(("Session ARN", meta.identity_arn))
            session.append(("Session kind", meta.kind.value))
        if name in self.identities:
            session.append(("Caller ARN", self.identities[name]))
        error = self.model.error(name) or profile.error
        parts = [f"<h3>{esc(profile.name)}</h3><table cellspacing='4'>"]
        parts += [f"<tr><td><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in rows]
        parts.append("</table><h4>Current session</h4>")
        if session:
            parts.append("<table cellspacing='4'>")
            parts += [f"<tr><td><b>{esc(k)}</b></td><td>{esc(v)}</td></tr>" for k, v in session]
            parts.append("</table>")
        else:
            parts.append("<p>No session. Press Enter or double-click to assume.</p>")
        if error:
            parts.append(f"<h4>Last error</h4><p style='color:#c62828'>{esc(error)}</p>")
        self.window.show_details("".join(parts))

    # -- running broker calls -------------------------------------------------------------------------

    async def _run(self, name: str, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``call`` with the row marked busy; failures go to the row, details and status bar."""
        self.model.set_busy(name, True)
        self.window.show_message(f"{what}: {name}…", 0)
        try:
            result = await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = self.reporter.report(exc, f"{what} {name}") if not isinstance(exc, StsdeskError) \
                else user_message(exc)
            self.model.set_error(name, message)
            self.window.show_message(f"{what} {name} failed: {message}", 15000)
            return None
        finally:
            self.model.set_busy(name, False)
            self.prompter.settle()
            if name == self.current_profile():
                self.update_details()
        self.window.show_message(f"{what}: {name} done", 5000)
        return result

    async def assume(self, name: str, force: bool = False) -> Credentials | None:
        """Credentials for ``name`` (from cache unless ``force``); None on failure (shown to the user)."""
        if self.broker is None:
            return None
        result = await self._run(name, "Refresh" if force else "Assume",
                                 lambda: self.broker.credentials_for(name, force_refresh=force))
        if result is not None:
            self._sync_profile(name)
            self.assumed.emit(name)
        return result

    @asyncSlot()
    async def on_assume(self) -> None:
        name = self.current_profile()
        if name:
            await self.assume(name)

    @asyncSlot()
    async def on_refresh(self) -> None:
        name = self.current_profile()
        if name:
            await self.assume(name, force=True)

    def forget(self) -> None:
        name = self.current_profile()
        if name and self.broker is not None:
            dropped = self.broker.forget(name)
            self.identities.pop(name, None)
            self._sync_profile(name)
            self.window.show_message(f"Forgot {len(dropped)} cached session(s) of {name}")

    async def copy_exports(self, name: str, shell: str | None = None) -> str | None:
        from stsdesk.core.exports import render_exports

        creds = await self.assume(name)
        if creds is None:
            return None
        region = self._export_region(name, creds.region)
        try:
            text = render_exports(creds, shell or self.window.shell_combo.currentText(), region, name)
        except ValueError as exc:
            self.window.show_message(str(exc), 15000)
            return None
        self.copy_secret(text, f"{shell or self.window.shell_combo.currentText()} exports for {name}")
        return text

    def _export_region(self, name: str, session_region: str | None) -> str:
        """The region exported with ``name``'s credentials: the same rule as the CLI's and the bridge's."""
        from stsdesk.core.errors import StsdeskError
        from stsdesk.core.region import export_region

        if self.broker is None:
            return session_region or self.prefs.default_region
        try:
            return export_region(self.broker.tree, name, self.broker.default_region, session_region)
        except StsdeskError:  # a profile broken since it was assumed: the session's own region will do
            return session_region or self.broker.default_region

    @asyncSlot()
    async def on_copy_exports(self) -> None:
        name = self.current_profile()
        if name:
            await self.copy_exports(name)

    def copy_credential_process(self) -> str | None:
        name = self.current_profile()
        if not name:
            return None
        command = ["stsdesk"]
        if self.config_dir:
            command += ["--config-dir", str(self.config_dir)]
        line = f"credential_process = {shlex.join([*command, 'credential-process', name])}"
        self.copy_secret(line, "a credential_process line for ~/.aws/config")
        return line

    async def console_url(self, name: str) -> str | None:
        return await self._run(name, "Console sign-in", lambda: self.broker.console_url(name))

    @asyncSlot()
    async def on_open_console(self) -> None:
        name = self.current_profile()
        url = await self.console_url(name) if name else None
        if url:
            self.open_signin_in_browser(url)

    def open_signin_in_browser(self, url: str) -> None:
        """Open a console sign-in URL through a private forwarding page, so the token in it never appears on
        the browser's command line (core ``open_signin_url``); failures go to the status bar."""
        from stsdesk.core.console_fetch import open_signin_url

        try:
            opened = open_signin_url(url, lambda page: bool(QDesktopServices.openUrl(QUrl(page))))
        except StsdeskError as exc:
            self.window.show_message(f"Open console failed: {user_message(exc)}", 15000)
            return
        if not opened:
            self.window.show_message("No web browser could be opened; use Copy console URL instead", 15000)

    @asyncSlot()
    async def on_copy_console_url(self) -> None:
        name = self.current_profile()
        url = await self.console_url(name) if name else None
        if url:
            self.copy_secret(url, f"a console sign-in URL for {name} (valid 15 minutes)")

    async def whoami(self, name: str) -> str | None:
        identity = await self._run(name, "Who am I", lambda: self.broker.whoami(name))
        if identity is None:
            return None
        self.identities[name] = identity.arn
        self.model.set_identity(name, identity.arn)
        self.window.show_message(f"{name} is {identity.arn} (account {identity.account})", 15000)
        if name == self.current_profile():
            self.update_details()
        return str(identity.arn)

    @asyncSlot()
    async def on_whoami(self) -> None:
        name = self.current_profile()
        if name:
            await self.whoami(name)

    # -- dialogs ---------------------------------------------------------------------------------------

    def open_decode_dialog(self) -> Any:
        from stsdesk.gui.decode_dialog import DecodeDialog

        dialog = DecodeDialog(self.model.profile_names(), self.current_profile(), self.window)

        @asyncSlot(str, str)
        async def decode(text: str, profile: str) -> None:
            try:
                verdict = await self.broker.decode(text, profile)
            except Exception as exc:
                message = user_message(exc) if isinstance(exc, StsdeskError) else self.reporter.report(exc)
                dialog.show_error(message)
            else:
                dialog.show_verdict(verdict)
            finally:
                self.prompter.settle()

        dialog.decode_requested.connect(decode)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def on_decode(self) -> None:
        self.open_decode_dialog()

    @asyncSlot()
    async def on_add_profile(self) -> None:
        await self.edit_profile(None)

    @asyncSlot()
    async def on_edit_profile(self) -> None:
        name = self.current_profile()
        if name:
            await self.edit_profile(name)

    async def edit_profile(self, name: str | None, dialog: Any = None) -> bool:
        """Open the profile dialog (``dialog`` may be passed in by tests), write the config file, reload."""
        from stsdesk.gui.profile_dialog import ProfileDialog

        existing = self.model.profile(name) if name else None
        dialog = dialog or ProfileDialog(self.model.profile_names(), existing, self.window)
        if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
            return False
        return self.save_profile(dialog.profile_name(), dialog.values(), dialog.secret_access_key())

    def save_profile(self, name: str, values: dict[str, str | None], secret: str | None) -> bool:
        from stsdesk.core.configfile import ConfigFile
        from stsdesk.core.secrets import user_key

        try:
            if secret and values.get("stsdesk_access_key_id"):
                try:
                    self.secrets.set(user_key(name, str(values["stsdesk_access_key_id"])), secret)
                except StsdeskError as exc:  # kept in memory: usable now, but say so
                    self.window.show_message(str(exc), 0)
            config = ConfigFile.open(self.broker.tree.config_file)
            config.set_profile(name, values)
            config.save()
        except (StsdeskError, OSError) as exc:
            self.window.show_message(f"Could not save profile {name}: {user_message(exc)}", 15000)
            return False
        self.reload()
        self.select(name)
        self.window.show_message(f"Saved profile {name} to {self.broker.tree.config_file}")
        return True

    @asyncSlot()
    async def on_remove_profile(self) -> None:
        name = self.current_profile()
        if not name:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove profile",
                          f"Remove profile '{name}' from {self.broker.tree.config_file}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        if await run_dialog(box) != QMessageBox.StandardButton.Yes:
            return
        self.remove_profile(name)

    def remove_profile(self, name: str) -> bool:
        from stsdesk.core.configfile import ConfigFile

        try:
            self.broker.forget(name)
            config = ConfigFile.open(self.broker.tree.config_file)
            config.remove_profile(name)
            config.save()
        except (StsdeskError, OSError) as exc:
            self.window.show_message(f"Could not remove {name}: {user_message(exc)}", 15000)
            return False
        self.reload()
        return True

    def reload(self) -> None:
        """Read the AWS config files again (after an edit here or elsewhere)."""
        from stsdesk.core.profiles import load_profiles

        try:
            tree = load_profiles(self.broker.tree.config_file, self.broker.tree.credentials_file)
        except StsdeskError as exc:
            self.window.show_message(f"Cannot read the AWS config: {exc}", 0)
            return
        self.broker.reload(tree)
        self.show_tree()

    @asyncSlot()
    async def on_settings(self) -> None:
        from stsdesk.gui.settings import SettingsDialog

        dialog = SettingsDialog(self.prefs, self.window)
        if await run_dialog(dialog) == QDialog.DialogCode.Accepted:
            self.prefs = dialog.preferences()
            save_preferences(self.settings, self.prefs)
            self.window.shell_combo.setCurrentText(self.prefs.default_shell)
            if self.broker is not None:
                self.broker.default_region = self.prefs.default_region
            self.clipboard.clear_after = self.prefs.clipboard_clear_seconds
            self.preferences_changed.emit()
            self.window.show_message("Settings saved")

    # -- window state ------------------------------------------------------------------------------------

    def restore_state(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        header = s.value("window/header")
        if header is not None:
            self.window.tree.header().restoreState(header)
        splitter = s.value("window/splitter")
        if splitter is not None:
            self.window.splitter.restoreState(splitter)
        self.window.filter_edit.setText(str(s.value("window/filter", "")))

    def save_state(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.window.saveGeometry())
        s.setValue("window/header", self.window.tree.header().saveState())
        s.setValue("window/splitter", self.window.splitter.saveState())
        s.setValue("window/filter", self.window.filter_edit.text())
        s.setValue("window/selected", self.current_profile() or "")
        s.sync()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def set_column_widths(self) -> None:
        header = self.window.tree.header()
        if self.settings.value("window/header") is None:
            for column, width in ((NAME, 190), (1, 100), (2, 175), (3, 95)):
                header.resizeSection(column, width)
        if self.settings.value("window/splitter") is None:
            self.window.splitter.setSizes([680, 400])
