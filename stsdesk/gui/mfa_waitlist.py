"""What is waiting for an MFA device, for the MFA dialog: every request (profiles, terminals, served
credentials) listed by the broker's :class:`stsdesk.core.mfa_sources.MfaWaitlist` under the device, and what
each will get (the role, or an MFA session for the user; the session length).

The waitlist's notifications may come from a helper thread (a YubiKey's touch watcher): they are hopped to
the Qt thread by a queued signal before any widget is touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from stsdesk.core.mfa_sources import INTERACTIVE, SERVED, TERMINAL, MfaWaitlist, WaitingRequest

_REQUESTERS = {INTERACTIVE: "this window", TERMINAL: "a terminal", SERVED: "served credentials (renewal)"}
COLUMNS = ("Profile", "Will get", "For", "Asked by", "Waiting")


def role_name(arn: str | None) -> str:
    """``arn:aws:iam::333333333333:role/Admin`` -> "role Admin in 333333333333"; None -> the user's session."""
    if not arn:
        return "an MFA session for the user"
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("role/"):
        return f"role {parts[5].rsplit('/', 1)[-1]} in {parts[4]}"
    return arn


def duration_text(seconds: int | None) -> str:
    """3600 -> "1 h", 900 -> "15 min", None -> "default length"."""
    if not seconds:
        return "default length"
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def waited_text(since: float, now: float) -> str:
    """How long a request has waited ("12 s", "3 min")."""
    seconds = max(0, int(now - since))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def describe(request: WaitingRequest, now: float) -> tuple[str, str, str, str, str]:
    """The row of ``request``: profile, what it will get, session length, who asked, how long it waited."""
    asked = _REQUESTERS.get(request.requester, request.requester)
    return (request.profile, role_name(request.role_arn), duration_text(request.duration), asked,
            waited_text(request.since, now))


class MfaWaitlistWidget(QWidget):
    """"2 requests wait for this device" and one row per request, kept current."""

    _device_changed = Signal(str)  # queued: the waitlist may notify from any thread

    def __init__(self, waitlist: MfaWaitlist, mfa_serial: str, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("mfa-waitlist")
        self.waitlist = waitlist
        self.mfa_serial = mfa_serial
        self._clock = clock
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("mfa-waitlist-summary")
        layout.addWidget(self.summary)
        self.table = QTreeWidget()
        self.table.setObjectName("mfa-waitlist-table")
        self.table.setAccessibleName(self.table.tr("Requests waiting for the code"))
        self.table.header().setAccessibleName(self.table.tr("Waiting request columns"))
        self.table.setRootIsDecorated(False)
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.table)
        self.touch_label = QLabel(self.tr("Touch your YubiKey now"))
        self.touch_label.setObjectName("mfa-waitlist-touch")
        self.touch_label.setStyleSheet("font-weight: bold; color: #1565c0")
        self.touch_label.hide()
        layout.addWidget(self.touch_label)
        self._device_changed.connect(self._on_device, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = unsubscribe = waitlist.subscribe(self._device_changed.emit)
        self.destroyed.connect(lambda *_: unsubscribe())  # not self: its wrapper may be gone by then
        self._timer = QTimer(self)  # the Waiting column counts
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def _on_device(self, serial: str) -> None:
        if serial == self.mfa_serial:
            self.refresh()

    def rows(self) -> list[tuple[str, ...]]:
        """The table's rows as text (what a test or a screen reader reads)."""
        items = (self.table.topLevelItem(i) for i in range(self.table.topLevelItemCount()))
        return [tuple(item.text(c) for c in range(len(COLUMNS))) for item in items if item is not None]

    def refresh(self) -> None:
        """Read the waitlist again."""
        waiting = self.waitlist.waiting_for(self.mfa_serial)
        now = self._clock()
        count = len(waiting)
        if count == 0:
            self.summary.setText(self.tr("Nothing else is waiting for this device."))
        elif count == 1:
            self.summary.setText(self.tr("1 request is waiting for this device:"))
        else:
            self.summary.setText(self.tr("{n} requests are waiting for this device; one code answers them "
                                         "all:").format(n=count))
        wanted = [describe(request, now) for request in waiting]
        if wanted != self.rows():
            self.table.clear()
            for row in wanted:
                item = QTreeWidgetItem(list(row))
                item.setToolTip(1, next((r.role_arn or "" for r in waiting if r.profile == row[0]), ""))
                self.table.addTopLevelItem(item)
            for column in range(len(COLUMNS)):
                self.table.resizeColumnToContents(column)
            self._fit_rows(len(wanted))
        self.table.setVisible(count > 0)
        self.touch_label.setVisible(self.waitlist.touch_needed(self.mfa_serial))

    def _fit_rows(self, count: int) -> None:
        """As tall as its rows (up to six), no empty space below them."""
        row = self.table.sizeHintForRow(0) if count else 0
        header = self.table.header().sizeHint().height()
        # Room for the horizontal scroll bar too: long role ARNs make one, and it covered the only row.
        scroll = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(header + row * min(max(count, 1), 6) + 2 * self.table.frameWidth() + 2 + scroll)

    def close_watch(self) -> None:
        """Stop listening to the waitlist (the dialog closes)."""
        self._timer.stop()
        self._unsubscribe()
