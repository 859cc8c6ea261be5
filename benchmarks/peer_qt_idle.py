"""The idle-CPU peer: a bare Qt app with one 1 Hz timer (it sets a label's text, as a clock would).

An offscreen QApplication, a shown window of stsdesk's size holding the label. Prints ``ready`` once the window
is shown; then, for each line the parent writes on its stdin, prints this process's CPU seconds so far
(getrusage: every thread, exited ones too, microsecond resolution), so the parent can measure it over the same
seconds as stsdesk. Ends when its stdin closes.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QSocketNotifier, QTimer
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
    return run_answering_cpu(app, lambda: "ready")


def run_answering_cpu(app: QApplication, ready: Callable[[], str]) -> int:
    """Run ``app``: print ``ready()`` once the loop runs; then, for each line the parent writes on stdin, this
    process's CPU seconds so far; quit when stdin closes. (peer_qt_countdowns speaks the same protocol.)"""

    def answer() -> None:
        if not sys.stdin.readline():
            app.quit()
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(usage.ru_utime + usage.ru_stime, flush=True)

    asked = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    asked.activated.connect(answer)
    QTimer.singleShot(0, lambda: print(ready(), flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
