"""The idle-CPU floor: the least any Qt app can spend showing stsdesk's countdowns, with Qt's own C++ model.

A bare PySide6 window of stsdesk's size (a filter field, a QTreeView and a status-bar label) over a
QStandardItemModel holding the same rows as gui_worker's idle part: one ``base`` row whose 5,000 profiles are
its children, the first 500 with a live session. One 1 Hz timer sets the time-left text (``hh:mm:ss``) of the
session rows that are visible, with signals blocked, then announces them in one dataChanged (cheaper than one
per cell, measured), and sets the status-bar label: nothing else, no session bookkeeping, no tray, no urgency
colours, no Python item model. Qt's own delegate paints the cells.

``--rows N`` sizes the window so that N countdown rows are visible (gui_worker passes stsdesk's own count, so
both paint as many cells). Same protocol as peer_qt_idle: prints ``ready`` once shown (then the number of
countdown rows visible); for each line on stdin prints its CPU seconds so far.

``--all`` keeps every session's countdown current, not only the visible ones: each second it sets the text of
all 500 time-left cells (signals blocked, as above) and still announces only the visible ones, so it paints
exactly what the default does. A C++ model holds values, so this is what it costs for the model to answer the
current time left for every row, as stsdesk's model does (which works a cell's text out only when asked): for
whatever reads rows that are not painted (screen readers, the details pane, the By-account view).
"""

from __future__ import annotations

import argparse
import sys
import time

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QMainWindow, QTreeView, QVBoxLayout, QWidget

from benchmarks.peer_qt_idle import run_answering_cpu

PROFILES, SESSIONS, COLUMNS = 5000, 500, ("Name", "Kind", "Account", "State", "Time left")
TIME_LEFT = COLUMNS.index("Time left")


def visible_rows(tree: QTreeView, parent: QModelIndex) -> range:
    """The session rows (children of ``parent``) the viewport shows."""
    top = tree.indexAt(tree.viewport().rect().topLeft())
    bottom = tree.indexAt(tree.viewport().rect().bottomLeft())
    first = top.row() if top.parent() == parent else 0
    last = bottom.row() if bottom.isValid() and bottom.parent() == parent else PROFILES - 1
    return range(first, min(last, SESSIONS - 1) + 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="size the window to show this many countdown rows")
    parser.add_argument("--all", action="store_true", help="keep every session's countdown current, not only "
                        "the visible ones (still announcing only those)")
    args = parser.parse_args()
    wanted, every = args.rows, args.all
    app = QApplication(sys.argv[:1])
    app.styleHints().setCursorFlashTime(0)  # the filter's caret does not blink, as stsdesk's stops after 10 s idle
    window = QMainWindow()
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.addWidget(QLineEdit())
    tree = QTreeView()
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    tree.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
    tree.setAllColumnsShowFocus(True)
    layout.addWidget(tree)
    window.setCentralWidget(central)
    label = QLabel("soonest expiry in 00:00:00")
    label.setFixedSize(label.sizeHint())  # a text change repaints the label alone, no status-bar relayout
    window.statusBar().addPermanentWidget(label)
    model = QStandardItemModel(0, len(COLUMNS))
    model.setHorizontalHeaderLabels(list(COLUMNS))
    base = [QStandardItem("base"), QStandardItem("IAM user"), QStandardItem("111111111111"), QStandardItem(""),
            QStandardItem("")]
    model.appendRow(base)
    start = time.time()
    expiries: list[float] = []
    for n in range(PROFILES):
        a, r = divmod(n, 10)
        live = n < SESSIONS
        expiries.append(start + 3600 - n if live else 0.0)
        base[0].appendRow([QStandardItem(f"acct{a:04d}-role{r}"), QStandardItem("role"),
                           QStandardItem(f"{200000000000 + a}"), QStandardItem("active" if live else ""),
                           QStandardItem("")])
    tree.setModel(model)
    tree.expandAll()
    window.resize(1100, 640)
    parent = model.index(0, 0)

    def tick() -> None:
        now = time.time()
        rows = visible_rows(tree, parent)
        model.blockSignals(True)  # the cheapest announcement: one dataChanged for the visible cells, not one each
        for row in range(SESSIONS) if every else rows:
            whole = int(expiries[row] - now)
            hours, rest = divmod(whole, 3600)
            minutes, seconds = divmod(rest, 60)
            model.itemFromIndex(model.index(row, TIME_LEFT, parent)).setText(f"{hours:02d}:{minutes:02d}:{seconds:02d}")
        model.blockSignals(False)
        if rows:
            model.dataChanged.emit(model.index(rows[0], TIME_LEFT, parent), model.index(rows[-1], TIME_LEFT, parent))
        soonest = time.gmtime(max(0.0, expiries[SESSIONS - 1] - now))
        label.setText(f"soonest expiry in {time.strftime('%H:%M:%S', soonest)}")

    timer = QTimer()
    timer.setInterval(1000)
    timer.setTimerType(Qt.TimerType.VeryCoarseTimer)
    timer.timeout.connect(tick)
    timer.start()
    window.show()
    app.processEvents()
    if wanted:  # the viewport's height changes by as much as the window's
        step = tree.rowHeight(model.index(0, 0, parent))
        window.resize(window.width(), window.height() + (wanted + 1) * step - tree.viewport().height())
        app.processEvents()
    tick()
    return run_answering_cpu(app, lambda: f"ready\n{len(visible_rows(tree, parent))}")


if __name__ == "__main__":
    sys.exit(main())
