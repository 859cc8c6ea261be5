"""The filter field's caret stops blinking after a while without input (as GTK's does) and blinks again on a key,
a click or a new focus; the application's flash time is put back whenever the field loses the focus."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from stsdesk.gui.tree_view import BLINK_TIMEOUT_MS, FilterEdit

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


def test_caret_stops_blinking_when_still_and_blinks_again_on_input(qtbot: QtBot) -> None:
    hints = QGuiApplication.styleHints()
    blinking = hints.cursorFlashTime()
    assert blinking > 0 and BLINK_TIMEOUT_MS >= 5000
    window = QWidget()
    layout = QVBoxLayout(window)
    edit, other = FilterEdit(), QLineEdit()
    layout.addWidget(edit)
    layout.addWidget(other)
    qtbot.addWidget(window)
    edit.blink_timeout_ms = 50  # the test's own patience; the app uses BLINK_TIMEOUT_MS
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    qtbot.waitUntil(lambda: hints.cursorFlashTime() == 0)  # still: the caret stays shown, no blink timer
    QTest.keyClick(edit, Qt.Key.Key_A)
    assert hints.cursorFlashTime() == blinking and edit.text() == "a"  # typing blinks again
    qtbot.waitUntil(lambda: hints.cursorFlashTime() == 0)
    other.setFocus()  # another field gets the application's own flash time
    qtbot.waitUntil(other.hasFocus)
    assert hints.cursorFlashTime() == blinking
    qtbot.wait(150)
    assert hints.cursorFlashTime() == blinking  # the field without the focus stops nothing
    edit.setFocus()
    qtbot.waitUntil(lambda: hints.cursorFlashTime() == 0)
    QTest.mouseClick(edit, Qt.MouseButton.LeftButton)
    assert hints.cursorFlashTime() == blinking
    window.close()
    qtbot.waitUntil(lambda: hints.cursorFlashTime() == blinking)
