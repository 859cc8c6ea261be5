"""Issue 17: the status bar's soonest-expiry label (SteadyLabel) has a fixed size fitted to its text, so the
time left changing each second repaints the label alone: no layout request to the status bar. Its text still
shows whole (the size follows the text's shape: another profile, a shorter or empty text, a bigger font)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from stsdesk.gui.main_window import SteadyLabel

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")

LONG = "Next expiry: acct0000-role0 in 00:59:59 (+499 more active)"


class LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _window(qtbot: Any, label: QLabel) -> QMainWindow:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.statusBar().addPermanentWidget(label)
    window.resize(1100, 640)
    window.show()
    qtbot.waitExposed(window)
    return window


def _natural(text: str, font: Any = None) -> int:
    plain = QLabel(text)
    if font is not None:
        plain.setFont(font)
    return plain.sizeHint().width()


@pytest.mark.parametrize("kind", [SteadyLabel, QLabel])
def test_a_new_time_left_asks_no_layout_of_the_status_bar(qtbot: Any, kind: type[QLabel]) -> None:
    label = kind()
    window = _window(qtbot, label)
    label.setText(LONG)
    QApplication.processEvents()
    requests = LayoutRequests()
    window.statusBar().installEventFilter(requests)
    for second in range(58, 48, -1):
        label.setText(LONG.replace(":59 (", f":{second} ("))
        QApplication.processEvents()
    window.statusBar().removeEventFilter(requests)
    assert label.text().endswith("00:59:49 (+499 more active)")
    if kind is SteadyLabel:
        assert requests.count == 0
    else:  # what the fixed size saves: a plain label asks its parent to lay out again
        assert requests.count > 0


def test_the_text_always_fits(qtbot: Any) -> None:
    label = SteadyLabel()
    window = _window(qtbot, label)
    for text in (LONG, "Next expiry: x in 00:00:01", "", "Next expiry: a-much-longer-profile-name in 11:11:11"):
        label.setText(text)
        QApplication.processEvents()
        assert label.text() == text
        assert label.width() >= (_natural(text) if text else 0)
        assert label.minimumSize() == label.maximumSize() == label.size()
    label.setText("")
    QApplication.processEvents()
    assert label.width() == 0
    label.setText(LONG)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)  # a theme or zoom change measures again
    QApplication.processEvents()
    assert label.width() >= _natural(LONG, font) > _natural(LONG)
    assert label.height() >= QLabel(LONG).sizeHint().height() * 3 // 2
    assert label.parent() is window.statusBar()
