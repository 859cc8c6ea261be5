"""The small non-modal dialog of an Identity Center sign-in: the user code, "waiting for approval", Cancel.

It only presents :class:`stsdesk.core.sso.signin.SignInEvent`\\ s; the controller (sso_controller.py) runs the
flow. In the demo it also offers "Approve as ana" (the emulator's test/demo approval, like the MFA dialog's
demo aid).
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from stsdesk.core.sso.signin import EventKind, SignInEvent

DEMO_USER = "ana"


class SignInDialog(QDialog):
    """Shows one sign-in's progress. Signals: ``cancel_requested``, ``reopen_requested`` (open the page
    again), ``demo_approve_requested(user)``. Closing the window cancels the sign-in while it runs."""

    cancel_requested = Signal()
    reopen_requested = Signal()
    demo_approve_requested = Signal(str)

    def __init__(self, label: str, demo: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sso-sign-in")
        self.setWindowTitle(f"Sign in — {label}")
        self.setModal(False)
        self.setMinimumWidth(460)
        self.url: str | None = None
        self.user_code: str | None = None
        self.finished_ok: bool | None = None  # None while running
        layout = QVBoxLayout(self)
        self.intro = QLabel(f"Sign in to IAM Identity Center <b>{_esc(label)}</b> in your browser.")
        self.intro.setWordWrap(True)
        self.code_label = QLabel()
        self.code_label.setObjectName("user-code")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QFont(self.code_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.code_label.setFont(font)
        self.code_label.hide()
        self.status = QLabel("Starting…")
        self.status.setObjectName("sign-in-status")
        self.status.setWordWrap(True)
        self.reopen_button = QPushButton("Open the page again")
        self.reopen_button.setEnabled(False)
        self.reopen_button.clicked.connect(self.reopen_requested)
        self.demo_button = QPushButton(f"Demo aid: approve as {DEMO_USER}")
        self.demo_button.setObjectName("demo-approve")
        self.demo_button.setVisible(demo)
        self.demo_button.setEnabled(False)
        self.demo_button.clicked.connect(lambda: self.demo_approve_requested.emit(DEMO_USER))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reopen_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        for widget in (self.intro, self.code_label, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)

    def show_event(self, event: SignInEvent) -> None:
        """Present one sign-in event."""
        if event.kind is EventKind.OPEN_URL:
            self.url = event.url
            self.reopen_button.setEnabled(True)
            self.demo_button.setEnabled(True)
            self.status.setText("Opening the browser…")
        elif event.kind is EventKind.USER_CODE and event.user_code:
            self.user_code = event.user_code
            self.code_label.setText(f"Code: {event.user_code}")
            self.code_label.show()
            self.intro.setText(self.intro.text() + " Check that the page shows this code:")
            self.adjustSize()  # the code and the longer text must not be clipped
        elif event.kind is EventKind.WAITING:
            until = f" (until {event.until.astimezone().strftime('%H:%M')})" if event.until else ""
            self.status.setText(f"Waiting for approval in the browser{until}…")
        elif event.kind is EventKind.DONE:
            self.finish(True, "Signed in.")
        elif event.kind is EventKind.FAILED:
            self.finish(False, event.message or "The sign-in failed.")

    def finish(self, ok: bool, text: str) -> None:
        """The sign-in ended: say how; Cancel becomes Close."""
        self.finished_ok = ok
        self.status.setText(text)
        self.status.setStyleSheet("" if ok else "color: #c62828")
        self.cancel_button.setText("Close")
        self.adjustSize()
        self.reopen_button.setEnabled(False)
        self.demo_button.setEnabled(False)

    def approval_state(self) -> str | None:
        """The ``state`` of the authorize URL (PKCE flow), which the demo approval names."""
        if not self.url:
            return None
        values = urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query).get("state")
        return values[0] if values else None

    def _cancel_clicked(self) -> None:
        if self.finished_ok is None:
            self.cancel_requested.emit()
        self.close()

    def reject(self) -> None:  # Escape or the window's close button
        if self.finished_ok is None:
            self.cancel_requested.emit()
        super().reject()


def _esc(text: str) -> str:
    import html

    return html.escape(text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def demo_approve(endpoint: str, user: str, user_code: str | None, url: str | None) -> str:
    """Approve a waiting sign-in on the demo emulator at ``endpoint`` (loopback only) as ``user``: by user code
    (device flow), else by playing the browser of the authorize page ``url`` (PKCE: open it, approve its state,
    follow the redirect back to the sign-in's loopback listener). Blocking. Returns a one-line result; raises
    OSError when the emulator cannot be reached or refuses."""
    if not _loopback(endpoint) or (url is not None and not _loopback(url)):
        raise OSError("the demo approval only talks to the local emulator")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        if user_code:
            form = {"user": user, "user_code": user_code}
        else:
            state = urllib.parse.parse_qs(urllib.parse.urlsplit(url or "").query).get("state", [""])[0]
            with contextlib.suppress(urllib.error.HTTPError):  # the page answers with a redirect: not followed
                opener.open(url or "", timeout=10).close()
            form = {"user": user, "state": state}
        data = urllib.parse.urlencode(form).encode()
        try:
            with opener.open(endpoint.rstrip("/") + "/_stsdesk/sso-approve", data=data, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code != 303:
                raise OSError(f"the emulator refused the approval (HTTP {exc.code})") from None
            location = exc.headers.get("Location") or ""
            if not _loopback(location):
                raise OSError("the approval redirected away from this computer") from None
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(location, timeout=10).close()  # the browser coming back
    except urllib.error.URLError as exc:
        raise OSError(f"the demo emulator cannot be reached ({exc.reason})") from None
    return f"approved as {user}"
