"""The window's profile tree view (Enter assumes; columns fit the width; cheap repaints of the 1 Hz countdown
cells) and the filter field (Down moves into the results)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, QTimer, Signal
from PySide6.QtGui import QFocusEvent, QGuiApplication, QInputMethodEvent, QKeyEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QTreeView, QWidget

from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.qtfix import set_property
from stsdesk.gui.time_left_delegate import TimeLeftDelegate
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.gui.tree_presentation import ACCOUNT, COLUMN_COUNT, KIND, NAME, STATE, TIME_LEFT, column_titles

if TYPE_CHECKING:
    from PySide6.QtGui import QStandardItemModel

# Qt.Key values (the ints QKeyEvent.key() returns): no Qt namespace before the first paint (qtfix.set_property)
_KEY_RETURN, _KEY_ENTER, _KEY_DOWN = 0x01000004, 0x01000005, 0x01000015


class ProfileTreeView(QTreeView):
    """The tree: Enter assumes the current profile (double-click is the view's own ``activated``)."""

    assume_requested = Signal()
    # The current row changed, or one of its cells did (the shared 1 Hz countdown announces time-left cells):
    # whatever shows the current profile's session follows this instead of running a timer of its own.
    current_row_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profile-tree")
        self.setUniformRowHeights(True)  # lets Qt skip per-row size queries: 5,000 rows stay fast
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        set_property(self, "contextMenuPolicy", "CustomContextMenu")
        self.setAllColumnsShowFocus(True)
        self.setExpandsOnDoubleClick(False)  # double-click assumes; the arrow expands
        self.setIconSize(QSize(16, 16))
        # The Name column takes the room the others leave (adapt_columns): it stretches at full width and
        # the others are dropped, least useful first, when the window is narrow (the details show them).
        self.header().setStretchLastSection(False)
        self.setAccessibleName(self.tr("Profiles"))
        self.header().setAccessibleName(self.tr("Profile columns"))
        self.header().setMinimumSectionSize(40)
        self._titles: QStandardItemModel | None = None  # the header's column titles (setModel)
        self._rows_hidden = False  # setRowHidden hid a row at some point (isIndexHidden)
        self._time_left: TimeLeftDelegate | None = None  # the Time left column's delegate (setModel)

    def setModel(self, model: QAbstractItemModel | None) -> None:
        """As QTreeView's, but the header paints the column titles (tree_presentation.column_titles) from a Qt
        model of its own: Qt calls a Python headerData() with a Qt.Orientation, whose first use builds all of
        PySide6's Qt namespace enums (~22 ms of CPU before the rows are painted, issue 17). The view's model keeps
        its headerData() for everything else that asks (accessibility, tests). Column sizes, hiding and moves are
        the header's own, as before; the titles follow a language change.

        The Time left column of a profile tree (or of its filter proxy) is painted by a TimeLeftDelegate: the same
        cells, with one call into Python per cell instead of seven."""
        super().setModel(model)
        self._follow_time_left(model)
        if model is not None and model.columnCount() == COLUMN_COUNT:
            if self._titles is None:
                from PySide6.QtGui import QStandardItemModel

                self._titles = QStandardItemModel(0, COLUMN_COUNT, self)
                self._titles.setHorizontalHeaderLabels(column_titles())
            self.header().setModel(self._titles)

    def _follow_time_left(self, model: QAbstractItemModel | None) -> None:
        previous = self._time_left
        if previous is not None and self.itemDelegateForColumn(TIME_LEFT) is previous:
            self.setItemDelegateForColumn(TIME_LEFT, None)  # type: ignore[arg-type]  # Qt's own again
        self._time_left = None
        if isinstance(model, ProfileFilterProxy | ProfileTreeModel):
            self._time_left = TimeLeftDelegate(model, self)
            self.setItemDelegateForColumn(TIME_LEFT, self._time_left)
        if previous is not None:
            previous.deleteLater()

    def setRowHidden(self, row: int, parent: QModelIndex | QPersistentModelIndex, hide: bool) -> None:
        self._rows_hidden = self._rows_hidden or hide
        super().setRowHidden(row, parent, hide)

    def isIndexHidden(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """As QTreeView's, without asking the model for the row's parent and first cell while no row was ever
        hidden with setRowHidden (the filter proxy hides rows instead): the view asks this of every row it
        paints, and each of those two questions is a call into Python (~7% of repainting the time-left
        strip every second)."""
        if self._rows_hidden:
            return super().isIndexHidden(index)
        return self.isColumnHidden(index.column())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange and self._titles is not None:
            self._titles.setHorizontalHeaderLabels(column_titles())

    # Widths the columns other than Name start from, and the order they are dropped in when narrow.
    COLUMN_WIDTHS = {KIND: 100, ACCOUNT: 170, STATE: 90, TIME_LEFT: 80}
    DROP_ORDER = (KIND, ACCOUNT)
    NAME_MIN = 150

    def adapt_columns(self) -> None:
        """Fit the columns to the view: Name gets what the others leave, at least NAME_MIN; Kind, then
        Account are hidden while even that does not fit, and shown again when it does."""
        header = self.header()
        # The viewport's width without asking for the viewport: PySide6's first wrapper of that widget loads
        # every QWidget class (~10 ms before the first paint); so does QStyle for the transient scroll bars some
        # styles draw over the rows (there the Name column is then a scroll bar's width short of the edge).
        room = self.maximumViewportSize().width()
        bar = self.verticalScrollBar()
        if bar.isVisibleTo(self):
            room -= bar.width()
        if room < 50 or header.count() <= TIME_LEFT:
            return
        width = {col: header.sectionSize(col) if not header.isSectionHidden(col) else self.COLUMN_WIDTHS[col]
                 for col in self.COLUMN_WIDTHS}
        width = {col: value if value > 0 else self.COLUMN_WIDTHS[col] for col, value in width.items()}
        shown = set(self.COLUMN_WIDTHS)
        for col in self.DROP_ORDER:
            if room - sum(width[c] for c in shown) >= self.NAME_MIN:
                break
            shown.discard(col)
        for col in self.COLUMN_WIDTHS:
            if (col in shown) == header.isSectionHidden(col):
                header.setSectionHidden(col, col not in shown)
                if col in shown:
                    header.resizeSection(col, width[col])
        header.resizeSection(NAME, max(self.NAME_MIN, room - sum(width[c] for c in shown)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.adapt_columns()

    def keyPressEvent(self, event: object) -> None:
        key = getattr(event, "key", lambda: None)()
        if key in (_KEY_RETURN, _KEY_ENTER) and self.currentIndex().isValid():
            self.assume_requested.emit()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def currentChanged(self, current: QModelIndex | QPersistentModelIndex,
                       previous: QModelIndex | QPersistentModelIndex) -> None:
        super().currentChanged(current, previous)
        self.current_row_changed.emit()

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        if not self._update_column_strip(top_left, bottom_right):
            super().dataChanged(top_left, bottom_right, list(roles))
        current = self.currentIndex()
        # Cheap on every tick: a row range check; only the current row's change is announced.
        if (current.isValid() and top_left.row() <= current.row() <= bottom_right.row()
                and top_left.parent() == current.parent()):
            self.current_row_changed.emit()


    def _update_column_strip(self, top_left: QModelIndex | QPersistentModelIndex,
                             bottom_right: QModelIndex | QPersistentModelIndex) -> bool:
        """Repaint just one column over a run of sibling rows (the countdown's time-left cells, every second);
        False when the change is not such a run (QTreeView handles it).

        QTreeView repaints the whole viewport for a change spanning several rows, even when none of them is on
        screen: with 500 sessions that was ~6-11 ms every second, the strip ~1 ms (benchmarks/FINDINGS.md). Only
        for a column other than the first (whose rows carry the expand arrow) and with no editor open; row
        heights are uniform, so nothing else in the view depends on the cells' text.
        """
        if (top_left.column() != bottom_right.column() or top_left.column() == 0
                or top_left.row() >= bottom_right.row() or top_left.parent() != bottom_right.parent()
                or self.state() == QAbstractItemView.State.EditingState):
            return False
        first, last = self.visualRect(top_left), self.visualRect(bottom_right)
        if first.isEmpty() != last.isEmpty():
            return False
        if not first.isEmpty():  # both empty: the rows are hidden (collapsed or filtered out)
            header = self.header()
            strip = QRect(header.sectionViewportPosition(top_left.column()), first.top(),
                          header.sectionSize(top_left.column()), last.bottom() - first.top() + 1)
            strip = strip.intersected(self.viewport().rect())
            if not strip.isEmpty():
                self.viewport().update(strip)
        return True


BLINK_TIMEOUT_MS = 10_000  # as GTK's gtk-cursor-blink-timeout: the caret stops blinking after 10 s without input


class FilterEdit(QLineEdit):
    """The filter field: Down moves into the results (``down_pressed``); Enter is ``returnPressed``.

    Its caret stops blinking (stays shown) after BLINK_TIMEOUT_MS without a key or a click, as GTK's does, and
    blinks again at the next one: the window starts with the focus here, and an idle window whose caret blinks
    forever repaints twice a second (about 1 ms of CPU each second, as much as the whole 1 Hz countdown).
    Qt has no per-widget switch, so the application's cursor flash time is set to 0 while this field has the
    focus and has been still, and put back on input or when the focus leaves (any other field blinks as usual).
    """

    down_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.blink_timeout_ms = BLINK_TIMEOUT_MS
        self._still = QTimer(self)
        self._still.setSingleShot(True)
        self._still.timeout.connect(self._stop_blinking)
        self._flash_time: int | None = None  # the application's flash time while this field holds it at 0

    def _stop_blinking(self) -> None:
        if self.hasFocus() and self._flash_time is None:
            hints = QGuiApplication.styleHints()
            self._flash_time = hints.cursorFlashTime()
            hints.setCursorFlashTime(0)

    def _blink_again(self) -> None:
        if self._flash_time is not None:
            QGuiApplication.styleHints().setCursorFlashTime(self._flash_time)
            self._flash_time = None

    def _input(self) -> None:
        self._blink_again()
        self._still.start(self.blink_timeout_ms)

    def focusInEvent(self, event: QFocusEvent) -> None:
        self._input()
        super().focusInEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._still.stop()
        self._blink_again()  # before the next widget takes the focus and reads the flash time
        super().focusOutEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._input()
        super().mousePressEvent(event)

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        self._input()
        super().inputMethodEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._input()
        if event.key() == _KEY_DOWN:
            self.down_pressed.emit()
            return
        super().keyPressEvent(event)
