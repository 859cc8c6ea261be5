"""The first-run welcome, shown in the details pane while there are no profiles: what stsdesk is for and the
three ways to start (add a profile, sign in to IAM Identity Center, try the demo)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from stsdesk.gui.qtfix import set_property


class Welcome(QWidget):
    """Buttons emit ``add_requested``, ``sso_requested`` and ``demo_requested``; the controller acts."""

    add_requested = Signal()
    sso_requested = Signal()
    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        self.heading = QLabel("<h2>" + self.tr("Welcome to stsdesk") + "</h2>")
        self.text = QLabel(self.tr(
            "No AWS profiles were found. stsdesk gets temporary credentials for your profiles (roles, MFA "
            "once for many terminals, countdowns, console sign-in) and keeps long-term keys in the OS "
            "keyring. Start with one of these:"))
        self.text.setWordWrap(True)
        self.add_button = QPushButton(self.tr("Add profile…"))
        self.add_button.setToolTip(self.tr("An IAM user's access key (kept in the keyring), or a role"))
        self.sso_button = QPushButton(self.tr("Sign in to IAM Identity Center…"))
        self.sso_button.setToolTip(self.tr("How to add your organisation's Identity Center sign-in"))
        self.demo_button = QPushButton(self.tr("Try the demo"))
        self.demo_button.setToolTip(self.tr("Another window on a built-in emulator: nothing goes to AWS"))
        self.hint = QLabel(self.tr(
            "Keys already in ~/.aws/credentials? In a terminal, <code>stsdesk import-credentials</code> moves "
            "them into the keyring; they then appear here."))
        self.hint.setWordWrap(True)
        set_property(self.hint, "textFormat", "RichText")
        for widget, name in ((self.add_button, "welcome-add"), (self.sso_button, "welcome-sso"),
                             (self.demo_button, "welcome-demo")):
            widget.setObjectName(name)
            widget.setAccessibleName(widget.text().rstrip("…"))
        layout.addWidget(self.heading)
        layout.addWidget(self.text)
        for button in (self.add_button, self.sso_button, self.demo_button):
            layout.addWidget(button)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self.add_button.clicked.connect(self.add_requested)
        self.sso_button.clicked.connect(self.sso_requested)
        self.demo_button.clicked.connect(self.demo_requested)
