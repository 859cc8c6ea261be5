"""SecretClipboard (offscreen): the KDE password-manager hint, clearing after the delay, and leaving the
user's own later copy alone."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QClipboard, QGuiApplication
from pytestqt.qtbot import QtBot

from stsdesk.gui.clipboard import DEFAULT_CLEAR_SECONDS, KDE_PASSWORD_HINT, SecretClipboard

SECRET = "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def board(qapp: QGuiApplication) -> QClipboard:
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    return clipboard


def test_copy_marks_the_text_as_a_secret(qtbot: QtBot, board: QClipboard) -> None:
    secret = SecretClipboard(clear_after=0)
    secret.copy(SECRET)
    mime = board.mimeData()
    assert mime.text() == SECRET
    assert bytes(mime.data(KDE_PASSWORD_HINT).data()) == b"secret"
    assert not secret.pending  # 0 = never clear
    assert DEFAULT_CLEAR_SECONDS == 45


def test_cleared_after_the_delay(qtbot: QtBot, board: QClipboard) -> None:
    secret = SecretClipboard(clear_after=0.05)
    with qtbot.waitSignal(secret.cleared, timeout=5000):
        secret.copy(SECRET)
        assert secret.pending
    assert board.text() == ""
    assert not secret.pending


def test_user_copy_is_left_alone(qtbot: QtBot, board: QClipboard) -> None:
    secret = SecretClipboard(clear_after=0.05)
    secret.copy(SECRET)
    board.setText("something the user copied")
    with qtbot.waitSignal(secret.kept, timeout=5000), qtbot.assertNotEmitted(secret.cleared, wait=100):
        pass
    assert board.text() == "something the user copied"


def test_a_second_copy_restarts_the_countdown_and_only_it_is_cleared(qtbot: QtBot, board: QClipboard) -> None:
    secret = SecretClipboard(clear_after=3600)
    secret.copy("first")
    secret.copy("second")
    assert board.text() == "second"
    assert secret.clear_if_ours()
    assert board.text() == ""
    assert not secret.clear_if_ours()  # nothing of ours left to clear


def test_explicit_clipboard_is_used(qtbot: QtBot, board: QClipboard) -> None:
    secret = SecretClipboard(board, clear_after=0)
    assert secret.clipboard() is board
    secret.copy("x")
    assert board.text() == "x"


def test_process_exits_cleanly_with_our_secret_on_the_clipboard() -> None:
    # Qt freeing a Python-made QMimeData at interpreter exit segfaulted (status 139); the exit hook clears it.
    import subprocess
    import sys

    script = (
        "from PySide6.QtWidgets import QApplication\n"
        "from stsdesk.gui.clipboard import SecretClipboard\n"
        "app = QApplication([])\n"
        "SecretClipboard(clear_after=0).copy('canary-secret')\n"
        "print(app.clipboard().text())\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "canary-secret"
