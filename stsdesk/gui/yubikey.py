""""Get code from YubiKey" for the MFA dialog: asks ``ykman oath accounts code`` (core.mfa_sources) in a
worker thread (it blocks until the key is touched), says "touch your key" while ykman waits for a touch,
and fills the dialog's code field.

Wrong code (the STS answer), no YubiKey, no or several matching accounts and a touch timeout are said in one
line; the dialog stays usable (the code can still be typed). Offered only when ``ykman`` is on PATH.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from stsdesk.core.mfa_sources import TOUCH_TIMEOUT, MfaSourceError, ykman_path, yubikey_code


class YubiKeyRow(QWidget):
    """A "Get code from YubiKey" button and a status line.

    ``account()`` gives the OATH account to ask for (core.mfa_sources.yubikey_account); ``fill(code)`` puts
    the code in the dialog; ``show_error(text)`` says a failure in the dialog. ``timeout`` is how long a touch
    is waited for (seconds)."""

    touch_needed = Signal()  # queued from ykman's stderr watcher thread
    finished = Signal(str, str)  # (code, error): exactly one is non-empty

    def __init__(self, account: Callable[[], str], fill: Callable[[str], None],
                 show_error: Callable[[str | None], None], parent: QWidget | None = None,
                 timeout: float = TOUCH_TIMEOUT) -> None:
        super().__init__(parent)
        self.setObjectName("yubikey-row")
        self._account = account
        self._fill = fill
        self._show_error = show_error
        self.timeout = timeout
        self.worker: threading.Thread | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton(self.tr("Get code from YubiKey"))
        self.button.setObjectName("yubikey-button")
        self.button.setToolTip(self.tr("Ask ykman for the current code (ykman oath accounts code)"))
        self.button.setAutoDefault(False)
        self.button.clicked.connect(self.request_code)
        layout.addWidget(self.button)
        self.status = QLabel()
        self.status.setObjectName("yubikey-status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status, 1)
        self.touch_needed.connect(self._on_touch, Qt.ConnectionType.QueuedConnection)
        self.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def available() -> bool:
        """True when ykman is on PATH (the button is only offered then)."""
        return ykman_path() is not None

    def request_code(self) -> None:
        """Ask the YubiKey for a code in a worker thread (the window stays responsive)."""
        if self.worker is not None and self.worker.is_alive():
            return
        account = self._account()
        self.button.setEnabled(False)
        self.status.setText(self.tr("Asking the YubiKey…"))
        self._show_error(None)
        touch = self.touch_needed.emit
        done = self.finished.emit
        timeout = self.timeout

        def work() -> None:  # a plain thread: the answer comes back through the queued ``finished`` signal
            try:
                code = yubikey_code(account, on_touch=touch, timeout=timeout)
            except MfaSourceError as exc:
                done("", str(exc))
                return
            except Exception as exc:  # never leave the button disabled
                done("", f"ykman failed ({type(exc).__name__})")
                return
            done(code, "")

        self.worker = threading.Thread(target=work, name="stsdesk-yubikey", daemon=True)
        self.worker.start()

    def _on_touch(self) -> None:
        self.status.setText(self.tr("Touch your YubiKey now…"))
        self.status.setStyleSheet("font-weight: bold; color: #1565c0")

    def _on_finished(self, code: str, error: str) -> None:
        self.button.setEnabled(True)
        self.status.setStyleSheet("")
        if error:
            self.status.setText(self.tr("No code from the YubiKey"))
            self._show_error(self.tr("YubiKey: {error}").format(error=error))
            return
        self.status.setText(self.tr("Code from the YubiKey filled in"))
        self._fill(code)
