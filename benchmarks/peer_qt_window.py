"""The startup peer: a bare PySide6 QMainWindow with a QTreeView that exits right after its first paint.

First paint is detected as stsdesk's MainWindow detects it (its own paintEvent, or the first UpdateRequest /
Expose when children cover it), so both processes stop at the same moment. With ``--stamp`` it prints the paint
stamp (benchmarks.paint_stamp) when its event loop has returned after that paint and leaves at once, as
``benchmarks.gui_launch_worker --first-paint`` does for stsdesk when its coroutine has returned.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent
from PySide6.QtGui import QPaintEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QMainWindow, QTreeView


class Window(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self._painted = False
        model = QStandardItemModel(0, 5, self)
        model.setHorizontalHeaderLabels(["Name", "Kind", "Account", "State", "Time left"])
        model.appendRow(
            [QStandardItem("profile"), QStandardItem("role"), QStandardItem(""), QStandardItem(""), QStandardItem("")]
        )
        view = QTreeView(self)
        view.setModel(model)
        self.setCentralWidget(view)
        self.resize(1100, 640)  # the size of stsdesk's main window

    def _first_paint(self) -> None:
        if not self._painted:
            self._painted = True
            QApplication.quit()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        self._first_paint()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.UpdateRequest, QEvent.Type.Expose):
            self._first_paint()
        return handled


STAMP: Callable[[int], None] | None = None


def main() -> int:
    global STAMP
    if "--stamp" in sys.argv:
        from benchmarks.paint_stamp import print_and_exit  # before the clock's end, as the stsdesk worker does

        STAMP = print_and_exit
    app = QApplication(sys.argv[:1])
    window = Window()
    window.show()
    status = app.exec()
    if STAMP is not None:
        STAMP(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
