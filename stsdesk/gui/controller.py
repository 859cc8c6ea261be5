"""The controller: wires the broker, the tree model and the window. Logic lives here; widgets only present.

Built from :class:`stsdesk.gui.controller_core.ControllerCore` (the tree kept in sync with the broker,
selection, filter, details, window state), :class:`stsdesk.gui.actions.ProfileActions` (assume, exports,
console, Who am I, decode) and :class:`stsdesk.gui.profile_editing.ProfileEditing` (profile dialog, config
writes, settings); this module only connects the window's actions to them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from stsdesk.gui.actions import ProfileActions
from stsdesk.gui.controller_core import run_dialog
from stsdesk.gui.errors import ErrorReporter
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.main_window import MainWindow
from stsdesk.gui.mfa_dialog import MfaPrompter
from stsdesk.gui.profile_editing import ProfileEditing
from stsdesk.gui.settings import Preferences
from stsdesk.gui.tree_model import ProfileTreeModel

__all__ = ["Controller", "run_dialog"]


class Controller(ProfileActions, ProfileEditing):
    """The window's controller (see the module docstring). Signals: ``profile_changed(name)``,
    ``sessions_changed``, ``assumed(name)``, ``preferences_changed``."""

    def __init__(self, window: MainWindow, model: ProfileTreeModel, proxy: ProfileFilterProxy,
                 settings: QSettings, prefs: Preferences, prompter: MfaPrompter, reporter: ErrorReporter,
                 config_dir: Path, aliases: dict[str, str] | None = None) -> None:
        super().__init__(window, model, proxy, settings, prefs, prompter, reporter, config_dir, aliases)
        self._wire()

    def _wire(self) -> None:
        w = self.window
        w.tree.setModel(self.proxy)
        w.tree.selectionModel().currentChanged.connect(lambda *_: self.update_details())
        w.tree.activated.connect(lambda *_: self.on_assume())
        w.tree.assume_requested.connect(self.on_assume)
        w.tree.customContextMenuRequested.connect(self._context_menu)
        w.filter_edit.textChanged.connect(self.set_filter)
        w.filter_edit.returnPressed.connect(self.filter_enter)
        w.filter_edit.down_pressed.connect(self.filter_down)
        w.shell_combo.setCurrentText(self.prefs.default_shell)
        w.shell_combo.currentTextChanged.connect(self._shell_chosen)
        w.assume_action.triggered.connect(self.on_assume)
        w.refresh_action.triggered.connect(self.on_refresh)
        w.forget_action.triggered.connect(self.forget)
        w.copy_exports_action.triggered.connect(self.on_copy_exports)
        w.copy_process_action.triggered.connect(self.copy_credential_process)
        w.copy_long_term_action.triggered.connect(self.on_copy_long_term_exports)
        w.console_action.triggered.connect(self.on_open_console)
        w.copy_console_action.triggered.connect(self.on_copy_console_url)
        w.whoami_action.triggered.connect(self.on_whoami)
        w.decode_action.triggered.connect(self.on_decode)
        w.add_action.triggered.connect(self.on_add_profile)
        w.edit_action.triggered.connect(self.on_edit_profile)
        w.remove_action.triggered.connect(self.on_remove_profile)
        w.settings_action.triggered.connect(self.on_settings)
        w.reload_action.triggered.connect(self.reload)
        w.welcome.add_requested.connect(self.on_add_profile)
        w.welcome.sso_requested.connect(self.on_sso_help)
        w.welcome.demo_requested.connect(self.on_try_demo)
        self.profile_changed.connect(self._sync_profile)
        self._follow_theme()

    def _follow_theme(self) -> None:
        """Apply the saved Appearance (View menu) and keep the choices made there."""
        from stsdesk.gui.theme import apply_theme, load_theme, save_theme

        def chosen(theme: str) -> None:
            save_theme(self.settings, theme)
            apply_theme(theme)
            self.window.show_theme(theme)

        theme = load_theme(self.settings)
        if theme != "system":
            apply_theme(theme)
        self.window.show_theme(theme)
        self.window.theme_chosen.connect(chosen)
