"""Decode an encoded authorization failure message: paste the whole error text, pick a profile, read the verdict.

The dialog only presents; the controller runs ``Broker.decode`` when ``decode_requested`` fires and hands the
result back with :meth:`DecodeDialog.show_verdict` or :meth:`DecodeDialog.show_error`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from stsdesk.core.decode import render_verdict

if TYPE_CHECKING:
    from stsdesk.core.decode import Verdict


class DecodeDialog(QDialog):
    decode_requested = Signal(str, str)  # (pasted text, profile)

    def __init__(self, profiles: list[str], current: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decode-dialog")
        self.setWindowTitle("Decode authorization message")
        self.resize(760, 600)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Paste the whole error text (the encoded message is found in it):"))
        self.input = QPlainTextEdit()
        self.input.setObjectName("decode-input")
        self.input.setPlaceholderText(
            "An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not "
            "authorized to perform this operation. Encoded authorization failure message: …"
        )
        layout.addWidget(self.input, 1)  # the pasted text needs less room than the verdict
        form = QFormLayout()
        self.profile = QComboBox()
        self.profile.setObjectName("decode-profile")
        self.profile.addItems(profiles)
        if current in profiles:
            self.profile.setCurrentText(current)
        self.profile.setToolTip("Decoding needs sts:DecodeAuthorizationMessage in the account of the error")
        form.addRow("Decode as profile:", self.profile)
        layout.addLayout(form)
        self.decode_button = QPushButton("Decode")
        self.decode_button.setObjectName("decode-button")
        self.decode_button.setDefault(True)
        self.decode_button.clicked.connect(self._request)
        layout.addWidget(self.decode_button)
        self.status = QLabel()
        self.status.setObjectName("decode-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.tabs = QTabWidget()
        self.verdict = QPlainTextEdit()
        self.verdict.setObjectName("decode-verdict")
        self.verdict.setReadOnly(True)
        self.raw = QPlainTextEdit()
        self.raw.setObjectName("decode-raw")
        self.raw.setReadOnly(True)
        self.raw.setFont(mono)
        self.tabs.addTab(self.verdict, "Verdict")
        self.tabs.addTab(self.raw, "Raw JSON")
        layout.addWidget(self.tabs, 3)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.input.textChanged.connect(self._update_button)
        self._update_button()

    def _update_button(self) -> None:
        self.decode_button.setEnabled(bool(self.input.toPlainText().strip()) and self.profile.count() > 0)

    def _request(self) -> None:
        self.set_busy(True)
        self.decode_requested.emit(self.input.toPlainText(), self.profile.currentText())

    def set_busy(self, busy: bool) -> None:
        self.decode_button.setEnabled(not busy)
        if busy:
            self.status.setStyleSheet("")
            self.status.setText("Decoding…")

    def show_verdict(self, verdict: Verdict) -> None:
        """Show a core.decode.Verdict: the readable explanation and the raw decoded JSON."""
        self.set_busy(False)
        self._update_button()
        allowed = verdict.allowed
        self.status.setStyleSheet(f"color: {'#2e7d32' if allowed else '#c62828'}; font-weight: bold")
        self.status.setText("Allowed" if allowed else ("Denied explicitly" if verdict.explicit_deny
                                                      else "Denied implicitly (no statement allows it)"))
        self.verdict.setPlainText(render_verdict(verdict))
        self.raw.setPlainText(json.dumps(verdict.raw, indent=2, sort_keys=True))

    def show_error(self, message: str) -> None:
        self.set_busy(False)
        self._update_button()
        self.status.setStyleSheet("color: #c62828")
        self.status.setText(message)
