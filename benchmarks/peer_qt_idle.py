"""The idle-CPU peer: a bare Qt app with one 1 Hz timer (it sets a label's text, as a clock would).

An offscreen QApplication, a shown window of stsdesk's size holding the label. Prints ``ready`` once the window
is shown; the parent measures this process's CPU time over the same seconds as stsdesk's, then terminates it.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    label = QLabel()
    window.setCentralWidget(label)
    window.resize(1100, 640)
    timer = QTimer()
    timer.setInterval(1000)
    timer.timeout.connect(lambda: label.setText(time.strftime("%H:%M:%S")))
    timer.start()
    window.show()
    QTimer.singleShot(0, lambda: print("ready", flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
