"""Preferences and window state in ``<config_dir>/stsdesk-gui.ini`` (QSettings, INI format), and the
Settings dialog. Never a secret in here: keys and sessions live in the OS keyring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from stsdesk.gui.main_window import SHELLS  # core.exports.SHELLS without importing core.exports

SETTINGS_FILE = "stsdesk-gui.ini"


@dataclass
class Preferences:
    default_shell: str = "bash"
    reminder_minutes: tuple[int, ...] = (10, 2)
    keep_in_tray: bool = True  # closing the window hides it into the tray (when there is one)
    auto_refresh_profiles: tuple[str, ...] = ()  # per profile, off by default
    clipboard_clear_seconds: int = 45  # 0 = never
    default_region: str = "us-east-1"
    # Where Open console signs in (core.browsers: chromium, chrome, firefox, default, a name on PATH or a path);
    # stored as [General] console_browser, which `stsdesk console` reads too.
    console_browser: str = "default"


def open_settings(config_dir: Path) -> QSettings:
    """The app's QSettings file in ``config_dir``, created empty and 0600 when missing (QSettings keeps an
    existing file's mode when it rewrites it; a new one would get the umask's)."""
    import contextlib
    import os

    from stsdesk.core.paths import open_private_file

    with contextlib.suppress(OSError):  # unwritable: QSettings reports its own status, as before
        os.close(open_private_file(config_dir / SETTINGS_FILE, os.O_RDONLY))
    return QSettings(str(config_dir / SETTINGS_FILE), QSettings.Format.IniFormat)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).lower() in ("true", "1", "yes")


def load_names(settings: QSettings, key: str) -> list[str]:
    """A list of profile names stored under ``key`` (order kept, duplicates and blanks dropped).

    QSettings' INI format gives back a plain string for a one-element list, so both shapes are accepted."""
    raw = settings.value(key)
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else []
    return list(dict.fromkeys(str(v) for v in values if str(v).strip()))


def save_names(settings: QSettings, key: str, names: list[str] | tuple[str, ...]) -> None:
    """Store ``names`` under ``key`` (an empty list removes the key)."""
    if names:
        settings.setValue(key, list(names))
    else:
        settings.remove(key)
    settings.sync()


def load_preferences(settings: QSettings) -> Preferences:
    """Preferences from ``settings``; a missing or garbled value falls back to its default."""
    d = Preferences()
    shell = str(settings.value("prefs/default_shell", d.default_shell))
    raw_reminders = settings.value("prefs/reminder_minutes", ",".join(map(str, d.reminder_minutes)))
    if isinstance(raw_reminders, (list, tuple)):  # an unquoted "10, 2" in a hand-edited INI is a list
        raw_reminders = ",".join(map(str, raw_reminders))
    raw_reminders = str(raw_reminders)
    reminders = tuple(int(p) for p in raw_reminders.replace(" ", "").split(",") if p.isdigit())
    return Preferences(
        default_shell=shell if shell in SHELLS else d.default_shell,
        reminder_minutes=reminders or d.reminder_minutes,
        keep_in_tray=_bool(settings.value("prefs/keep_in_tray"), d.keep_in_tray),
        auto_refresh_profiles=tuple(load_names(settings, "prefs/auto_refresh_profiles")),
        clipboard_clear_seconds=max(0, _int(settings.value("prefs/clipboard_clear_seconds"),
                                            d.clipboard_clear_seconds)),
        default_region=str(settings.value("prefs/default_region", d.default_region)) or d.default_region,
        console_browser=str(settings.value("console_browser", d.console_browser) or d.console_browser),
    )


def save_preferences(settings: QSettings, prefs: Preferences) -> None:
    settings.setValue("prefs/default_shell", prefs.default_shell)
    settings.setValue("prefs/reminder_minutes", ",".join(map(str, prefs.reminder_minutes)))
    settings.setValue("prefs/keep_in_tray", "true" if prefs.keep_in_tray else "false")
    save_names(settings, "prefs/auto_refresh_profiles", prefs.auto_refresh_profiles)
    settings.setValue("prefs/clipboard_clear_seconds", prefs.clipboard_clear_seconds)
    settings.setValue("prefs/default_region", prefs.default_region)
    settings.setValue("console_browser", prefs.console_browser)
    # Once settings, now decided per profile for the CLI and the GUI alike (stsdesk_federation_endpoint in the
    # AWS config; the partition from the role ARN or the region): not kept here any more.
    settings.remove("prefs/federation_endpoint")
    settings.remove("prefs/partition")
    settings.sync()


def parse_reminders(text: str) -> tuple[int, ...] | None:
    """"10, 2" -> (10, 2); None when a part is not a whole number of minutes (1..720)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and 1 <= int(p) <= 720 for p in parts):
        return None
    return tuple(sorted({int(p) for p in parts}, reverse=True))


class SettingsDialog(QDialog):
    """Edits Preferences; OK is enabled only while every field is valid."""

    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("stsdesk settings")
        form = QFormLayout(self)
        self.shell = QComboBox()
        self.shell.addItems(SHELLS)
        self.shell.setCurrentText(prefs.default_shell)
        self.reminders = QLineEdit(", ".join(map(str, prefs.reminder_minutes)))
        self.reminders.setToolTip("Minutes before expiry, comma-separated (used by the tray reminders)")
        self.keep_in_tray = QCheckBox("Keep running in the tray when the window is closed")
        self.keep_in_tray.setChecked(prefs.keep_in_tray)
        self._auto_refresh_profiles = prefs.auto_refresh_profiles
        auto = ", ".join(prefs.auto_refresh_profiles) or "none"
        self.auto_refresh = QLabel(f"{auto} (switch it in a profile's context menu)")
        self.auto_refresh.setWordWrap(True)
        self.auto_refresh.setToolTip("Sessions of these profiles are renewed before they expire when no MFA "
                                     "code is needed; otherwise you get a reminder")
        from PySide6.QtWidgets import QSpinBox  # its type (and enums) only with the dialog, not before the paint

        self.clipboard = QSpinBox()
        self.clipboard.setRange(0, 3600)
        self.clipboard.setSuffix(" s")
        self.clipboard.setSpecialValueText("never")
        self.clipboard.setValue(prefs.clipboard_clear_seconds)
        self.region = QLineEdit(prefs.default_region)
        from stsdesk.core.browsers import BROWSER_CHOICES

        self.browser = QComboBox()
        self.browser.setObjectName("console-browser")
        self.browser.setEditable(True)  # or another browser on PATH, or a path
        self.browser.addItems(BROWSER_CHOICES)
        self.browser.setCurrentText(prefs.console_browser)
        self.browser.setToolTip("Open console: chromium/chrome sign each profile in with its own browser profile "
                                "(several accounts at once), firefox in its own container; or a browser on "
                                "PATH, or its path")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828")
        form.addRow("Default shell for exports", self.shell)
        form.addRow("Reminders (minutes before expiry)", self.reminders)
        form.addRow("", self.keep_in_tray)
        form.addRow("Auto-refresh", self.auto_refresh)
        form.addRow("Clear copied credentials after", self.clipboard)
        form.addRow("Default region", self.region)
        form.addRow("Browser for Open console", self.browser)
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.reminders, self.region):
            edit.textChanged.connect(self._validate)
        self.browser.currentTextChanged.connect(self._validate)
        self._validate()

    def _problem(self) -> str | None:
        if parse_reminders(self.reminders.text()) is None:
            return "Reminders: whole minutes between 1 and 720, separated by commas"
        region = self.region.text().strip()
        if not region or " " in region:
            return "Default region: e.g. us-east-1"
        from stsdesk.core.browsers import resolve_browser
        from stsdesk.core.errors import StsdeskError

        try:
            resolve_browser(self.browser.currentText())
        except StsdeskError as exc:
            return f"Browser: {exc}"
        return None

    def _validate(self) -> None:
        problem = self._problem()
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def preferences(self) -> Preferences:
        """The edited preferences (call after ``accepted``)."""
        return Preferences(
            default_shell=self.shell.currentText(),
            reminder_minutes=parse_reminders(self.reminders.text()) or (10, 2),
            keep_in_tray=self.keep_in_tray.isChecked(),
            auto_refresh_profiles=self._auto_refresh_profiles,
            clipboard_clear_seconds=self.clipboard.value(),
            default_region=self.region.text().strip(),
            console_browser=self.browser.currentText().strip() or "default",
        )
