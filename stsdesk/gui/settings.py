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
    QSpinBox,
    QWidget,
)

from stsdesk.core.exports import SHELLS

SETTINGS_FILE = "stsdesk-gui.ini"
PARTITIONS = ("", "aws", "aws-cn", "aws-us-gov")


@dataclass
class Preferences:
    default_shell: str = "bash"
    reminder_minutes: tuple[int, ...] = (10, 2)
    auto_refresh: bool = False
    clipboard_clear_seconds: int = 60  # 0 = never
    default_region: str = "us-east-1"
    federation_endpoint: str = ""  # empty: derived from the profile's STS endpoint / partition
    partition: str = ""  # empty: from the role ARN


def open_settings(config_dir: Path) -> QSettings:
    return QSettings(str(config_dir / SETTINGS_FILE), QSettings.Format.IniFormat)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def load_preferences(settings: QSettings) -> Preferences:
    """Preferences from ``settings``; a missing or garbled value falls back to its default."""
    d = Preferences()
    shell = str(settings.value("prefs/default_shell", d.default_shell))
    raw_reminders = str(settings.value("prefs/reminder_minutes", ",".join(map(str, d.reminder_minutes))))
    reminders = tuple(int(p) for p in raw_reminders.replace(" ", "").split(",") if p.isdigit())
    auto = str(settings.value("prefs/auto_refresh", "false")).lower() in ("true", "1", "yes")
    return Preferences(
        default_shell=shell if shell in SHELLS else d.default_shell,
        reminder_minutes=reminders or d.reminder_minutes,
        auto_refresh=auto,
        clipboard_clear_seconds=max(0, _int(settings.value("prefs/clipboard_clear_seconds"),
                                            d.clipboard_clear_seconds)),
        default_region=str(settings.value("prefs/default_region", d.default_region)) or d.default_region,
        federation_endpoint=str(settings.value("prefs/federation_endpoint", "")),
        partition=str(settings.value("prefs/partition", "")),
    )


def save_preferences(settings: QSettings, prefs: Preferences) -> None:
    settings.setValue("prefs/default_shell", prefs.default_shell)
    settings.setValue("prefs/reminder_minutes", ",".join(map(str, prefs.reminder_minutes)))
    settings.setValue("prefs/auto_refresh", "true" if prefs.auto_refresh else "false")
    settings.setValue("prefs/clipboard_clear_seconds", prefs.clipboard_clear_seconds)
    settings.setValue("prefs/default_region", prefs.default_region)
    settings.setValue("prefs/federation_endpoint", prefs.federation_endpoint)
    settings.setValue("prefs/partition", prefs.partition)
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
        self.auto_refresh = QCheckBox("Refresh sessions before they expire when no MFA code is needed")
        self.auto_refresh.setChecked(prefs.auto_refresh)
        self.clipboard = QSpinBox()
        self.clipboard.setRange(0, 3600)
        self.clipboard.setSuffix(" s")
        self.clipboard.setSpecialValueText("never")
        self.clipboard.setValue(prefs.clipboard_clear_seconds)
        self.region = QLineEdit(prefs.default_region)
        self.federation = QLineEdit(prefs.federation_endpoint)
        self.federation.setPlaceholderText("automatic (from the STS endpoint and partition)")
        self.partition = QComboBox()
        self.partition.addItems([p or "automatic" for p in PARTITIONS])
        self.partition.setCurrentIndex(PARTITIONS.index(prefs.partition) if prefs.partition in PARTITIONS else 0)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #c62828")
        form.addRow("Default shell for exports", self.shell)
        form.addRow("Reminders (minutes before expiry)", self.reminders)
        form.addRow("", self.auto_refresh)
        form.addRow("Clear copied credentials after", self.clipboard)
        form.addRow("Default region", self.region)
        form.addRow("Console federation endpoint", self.federation)
        form.addRow("Partition", self.partition)
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.reminders, self.region, self.federation):
            edit.textChanged.connect(self._validate)
        self._validate()

    def _problem(self) -> str | None:
        if parse_reminders(self.reminders.text()) is None:
            return "Reminders: whole minutes between 1 and 720, separated by commas"
        region = self.region.text().strip()
        if not region or " " in region:
            return "Default region: e.g. us-east-1"
        endpoint = self.federation.text().strip()
        if endpoint and not endpoint.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            return "Federation endpoint: an https:// URL (http only for a local emulator)"
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
            auto_refresh=self.auto_refresh.isChecked(),
            clipboard_clear_seconds=self.clipboard.value(),
            default_region=self.region.text().strip(),
            federation_endpoint=self.federation.text().strip(),
            partition=PARTITIONS[self.partition.currentIndex()],
        )
