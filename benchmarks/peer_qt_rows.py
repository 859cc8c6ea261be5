"""The "launch to profiles visible" peer: a bare PySide6 window whose tree paints rows from a static list.

``python benchmarks/peer_qt_rows.py ROWS.json``: the rows stsdesk --demo showed (written by
benchmarks.gui_launch_worker: nested {"cols": [...], "expanded": bool, "children": [...]}), put in a
QStandardItemModel with the same nesting and expansion, in a QTreeView of stsdesk's window size. Exits right
after the tree's first paint with rows (benchmarks.paint_stamp).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QMainWindow, QTreeView

from benchmarks.paint_stamp import RowsPainted

HEADERS = ["Name", "Kind", "Account", "State", "Time left"]


def _add(parent: Any, rows: list[dict[str, Any]], expand: list[QStandardItem]) -> None:
    for row in rows:
        items = [QStandardItem(text) for text in row["cols"]]
        parent.appendRow(items)
        _add(items[0], row["children"], expand)
        if row["expanded"]:
            expand.append(items[0])


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = json.load(f)
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    model = QStandardItemModel(0, len(HEADERS), window)
    model.setHorizontalHeaderLabels(HEADERS)
    expand: list[QStandardItem] = []
    _add(model, rows, expand)
    view = QTreeView(window)
    view.setUniformRowHeights(True)
    view.setModel(model)
    for item in expand:
        view.expand(item.index())
    window.setCentralWidget(view)
    window.resize(1100, 640)  # the size of stsdesk's main window
    watch = RowsPainted(view)
    window.show()
    status = app.exec()
    del watch
    return status


if __name__ == "__main__":
    sys.exit(main())
