"""The main window's geometry, column widths, splitter, filter and selection, kept in QSettings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

if TYPE_CHECKING:
    from stsdesk.gui.main_window import MainWindow


def _bytes(settings: QSettings, key: str) -> QByteArray | None:
    value = settings.value(key)
    return value if isinstance(value, QByteArray | bytes) else None  # type: ignore[return-value]


def restore_window_state(settings: QSettings, window: MainWindow) -> None:
    """Put back what :func:`save_window_state` kept (nothing for a first start)."""
    geometry = _bytes(settings, "window/geometry")
    if geometry is not None:
        window.restoreGeometry(geometry)
    header = _bytes(settings, "window/header")
    if header is not None:
        window.tree.header().restoreState(header)
        window.tree.header().setStretchLastSection(False)  # an older saved state stretched Time left
        window.tree.adapt_columns()
    splitter = _bytes(settings, "window/splitter")
    if splitter is not None:
        window.splitter.restoreState(splitter)
    window.filter_edit.setText(str(settings.value("window/filter", "")))


def save_window_state(settings: QSettings, window: MainWindow, selected: str | None) -> None:
    """Keep the window's geometry, columns, splitter, filter text and ``selected`` profile (written now)."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/header", window.tree.header().saveState())
    settings.setValue("window/splitter", window.splitter.saveState())
    settings.setValue("window/filter", window.filter_edit.text())
    settings.setValue("window/selected", selected or "")
    settings.sync()


def set_default_column_widths(settings: QSettings, window: MainWindow) -> None:
    """Column widths and splitter sizes for a first start (kept ones win)."""
    header = window.tree.header()
    if settings.value("window/header") is None:
        for column, width in window.tree.COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        window.tree.adapt_columns()
    if settings.value("window/splitter") is None:
        window.splitter.setSizes([680, 400])
