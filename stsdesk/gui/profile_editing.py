"""Adding, editing and removing profiles in the AWS config file, and the Settings dialog."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QDialog

from stsdesk.core.errors import StsdeskError
from stsdesk.gui.async_slot import async_slot
from stsdesk.gui.controller_core import ControllerCore, run_dialog
from stsdesk.gui.errors import user_message
from stsdesk.gui.settings import save_preferences

if TYPE_CHECKING:
    from stsdesk.gui.profile_dialog import ProfileDialog


class ProfileEditing(ControllerCore):
    """Profile dialog, config file writes (ConfigFile: comment-preserving, atomic) and preferences."""

    @async_slot()
    async def on_add_profile(self) -> None:
        await self.edit_profile(None)

    @async_slot()
    async def on_edit_profile(self) -> None:
        name = self.current_profile()
        if name:
            await self.edit_profile(name)

    async def edit_profile(self, name: str | None, dialog: ProfileDialog | None = None) -> bool:
        """Open the profile dialog (``dialog`` may be passed in by tests), write the config file, reload.
        False when cancelled or the write failed (said in the status bar)."""
        from stsdesk.gui.profile_dialog import ProfileDialog

        existing = self.model.profile(name) if name else None
        dialog = dialog or ProfileDialog(self.model.profile_names(), existing, self.window)
        if await run_dialog(dialog) != QDialog.DialogCode.Accepted:
            return False
        return self.save_profile(dialog.profile_name(), dialog.values(), dialog.secret_access_key())

    def save_profile(self, name: str, values: dict[str, str | None], secret: str | None) -> bool:
        """Store ``secret`` (an IAM user's key) in the keyring and ``values`` in the config; reload and select.
        A keyring that refuses keeps the secret in memory and says so; False when the file cannot be written."""
        from stsdesk.core.configfile import ConfigFile
        from stsdesk.core.secrets import user_key

        if self.broker is None:
            return False
        try:
            if secret and values.get("stsdesk_access_key_id") and self.secrets is not None:
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

    @async_slot()
    async def on_remove_profile(self) -> None:
        name = self.current_profile()
        if not name or self.broker is None:
            return
        from PySide6.QtWidgets import QMessageBox  # here: its type costs ~2-5 ms before the first paint

        box = QMessageBox(QMessageBox.Icon.Question, "Remove profile",
                          f"Remove profile '{name}' from {self.broker.tree.config_file}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        if await run_dialog(box) != QMessageBox.StandardButton.Yes:
            return
        self.remove_profile(name)

    def remove_profile(self, name: str) -> bool:
        """Forget ``name``'s sessions and remove it from the config file; False when that failed (shown)."""
        from stsdesk.core.configfile import ConfigFile

        if self.broker is None:
            return False
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

    def on_try_demo(self) -> bool:
        """Start ``stsdesk --demo`` (this stsdesk, absolute path) as its own window; False when it could not."""
        from PySide6.QtCore import QProcess

        from stsdesk.core.self_command import stsdesk_command

        command = stsdesk_command()
        result: object = QProcess.startDetached(command[0], [*command[1:], "--demo"])
        started = bool(result[0] if isinstance(result, tuple) else result)
        self.window.show_message(self.tr("Starting the demo in a window of its own…") if started
                                 else self.tr("Could not start the demo ({command} --demo)").format(
                                     command=" ".join(command)), 15000)
        return started

    def sso_help_text(self) -> str:
        """How to sign in to IAM Identity Center from here (the sign-ins in the config are rows of the tree)."""
        where = str(self.broker.tree.config_file) if self.broker is not None else "~/.aws/config"
        return self.tr(
            "Add your organisation's Identity Center sign-in to {where} (your administrator gives the start "
            "URL and region), for example:\n\n[sso-session my-org]\nsso_start_url = "
            "https://my-org.awsapps.com/start\nsso_region = eu-west-1\n\nIt appears in the list at once: "
            "select it and choose Sign in… in the Profile menu. `aws configure sso` writes the same section."
        ).format(where=where)

    @async_slot()
    async def on_sso_help(self) -> None:
        from PySide6.QtCore import Qt  # here: no Qt namespace before the first paint (qtfix.set_property)
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Information, self.tr("Sign in to IAM Identity Center"),
                          self.sso_help_text(), QMessageBox.StandardButton.Ok, self.window)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        await run_dialog(box)

    @async_slot()
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
