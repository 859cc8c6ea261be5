"""Copying secrets to the clipboard: marked for password managers, and cleared again after a while.

KDE's Klipper (and clipboard managers that follow it) do not keep history entries that carry the
``x-kde-passwordManagerHint: secret`` MIME part, as KeePassXC does for passwords. The clipboard is cleared
after a delay only if it still holds what we put there: if the user copied something else meanwhile, that is
theirs and stays.
"""

from __future__ import annotations

import atexit

from PySide6.QtCore import QByteArray, QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QClipboard, QGuiApplication

KDE_PASSWORD_HINT = "x-kde-passwordManagerHint"
DEFAULT_CLEAR_SECONDS = 45.0


def _clear_secret_at_exit() -> None:
    """Take our secret off the clipboard when the process ends.

    Hygiene (a clipboard manager must not inherit it), and a crash guard: Qt destroying a clipboard that still
    owns a QMimeData made from Python segfaults at interpreter exit (PySide6 6.11/6.12, offscreen and xcb).
    """
    if _last_copied is None or QGuiApplication.instance() is None:
        return
    board = QGuiApplication.clipboard()
    # Only what we put there: a password another program copied since is not ours to clear.
    if _digest(board.text(QClipboard.Mode.Clipboard)) == _last_copied:
        board.clear(QClipboard.Mode.Clipboard)


_last_copied: bytes | None = None  # digest of the last secret any SecretClipboard copied, for the exit hook
atexit.register(_clear_secret_at_exit)


def _digest(text: str) -> bytes:
    # Remember a hash, not the secret: nothing to leak from this object's memory after the copy.
    import hashlib  # here: ~1.5 ms before the window's first paint otherwise

    return hashlib.sha256(text.encode()).digest()


class SecretClipboard(QObject):
    """Puts secret text on the system clipboard and takes it off again after ``clear_after`` seconds
    (0 or less: never). ``cleared`` is emitted when we cleared it; ``kept`` when the user had replaced it."""

    cleared = Signal()
    kept = Signal()

    def __init__(
        self,
        clipboard: QClipboard | None = None,
        clear_after: float = DEFAULT_CLEAR_SECONDS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._clipboard = clipboard
        self.clear_after = clear_after
        self._digest: bytes | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_if_ours)

    def clipboard(self) -> QClipboard:
        """The clipboard in use (the application's unless one was given). Needs a QGuiApplication."""
        return self._clipboard if self._clipboard is not None else QGuiApplication.clipboard()

    @property
    def pending(self) -> bool:
        """Whether a clear is scheduled."""
        return self._timer.isActive()

    def copy(self, text: str) -> None:
        """Copy ``text`` with the password-manager hint and (re)start the clear countdown."""
        mime = QMimeData()
        mime.setText(text)
        mime.setData(KDE_PASSWORD_HINT, QByteArray(b"secret"))
        self.clipboard().setMimeData(mime, QClipboard.Mode.Clipboard)
        self._digest = _digest(text)
        global _last_copied
        _last_copied = self._digest
        if self.clear_after > 0:
            self._timer.start(max(1, round(self.clear_after * 1000)))
        else:
            self._timer.stop()

    def clear_if_ours(self) -> bool:
        """Clear the clipboard now if it still holds the text we copied; True if it was cleared."""
        self._timer.stop()
        expected, self._digest = self._digest, None
        if expected is None:
            return False
        board = self.clipboard()
        if _digest(board.text(QClipboard.Mode.Clipboard)) != expected:
            self.kept.emit()
            return False
        board.clear(QClipboard.Mode.Clipboard)
        self.cleared.emit()
        return True
