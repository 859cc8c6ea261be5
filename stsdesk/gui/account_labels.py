"""Colours and labels per AWS account ("prod" in red), kept in stsdesk's GUI settings file.

Stored in ``stsdesk-gui.ini`` (QSettings) under ``accounts/<12-digit id>/colour`` (``#rrggbb``) and
``accounts/<id>/label``; never a secret. Shown by the account view's group rows, the source tree's Account
column (:class:`AccountColourDelegate`) and wherever a caller asks :meth:`AccountLabels.describe`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QSettings, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

_ACCOUNT = re.compile(r"^\d{12}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_LABEL = 40
# Offered first in the colour menu: readable on light and dark themes.
PRESET_COLOURS: tuple[tuple[str, str], ...] = (
    ("Red", "#c62828"), ("Orange", "#ef6c00"), ("Yellow", "#f9a825"), ("Green", "#2e7d32"),
    ("Blue", "#1565c0"), ("Purple", "#6a1b9a"), ("Grey", "#616161"),
)  # fmt: skip


class AccountLabels(QObject):
    """Per-account colour and label, read from and written to ``settings``. ``changed(account)`` fires
    after a change."""

    changed = Signal(str)

    def __init__(self, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def _get(self, account: str) -> tuple[str | None, str | None]:
        cached = self._cache.get(account)
        if cached is None:
            colour = str(self._settings.value(f"accounts/{account}/colour", "") or "")
            label = str(self._settings.value(f"accounts/{account}/label", "") or "").strip()
            cached = (colour if _COLOUR.match(colour) else None, label[:MAX_LABEL] or None)
            self._cache[account] = cached
        return cached

    def colour(self, account: str | None) -> str | None:
        """The account's colour as ``#rrggbb`` (None: none, or a garbled value in a hand-edited file)."""
        return self._get(account)[0] if account and _ACCOUNT.match(account) else None

    def label(self, account: str | None) -> str | None:
        """The account's label (e.g. "prod"), or None."""
        return self._get(account)[1] if account and _ACCOUNT.match(account) else None

    def set(self, account: str, colour: str | None = None, label: str | None = None) -> None:
        """Store ``account``'s colour and label (None or "" removes it). Raises ValueError (one line) for an
        account that is not 12 digits or a colour that is not ``#rrggbb``."""
        if not _ACCOUNT.match(account):
            raise ValueError(f"{account!r} is not a 12-digit AWS account id")
        if colour and not _COLOUR.match(colour):
            raise ValueError(f"{colour!r} is not a colour like #c62828")
        label = (label or "").strip()[:MAX_LABEL]
        for key, value in (("colour", colour), ("label", label)):
            if value:
                self._settings.setValue(f"accounts/{account}/{key}", value)
            else:
                self._settings.remove(f"accounts/{account}/{key}")
        self._settings.sync()
        self._cache.pop(account, None)
        self.changed.emit(account)

    def describe(self, account: str | None) -> str:
        """"[prod] " when the account has a label, else "" (a prefix for titles and menus)."""
        label = self.label(account)
        return f"[{label}] " if label else ""


class AccountColourDelegate(QStyledItemDelegate):
    """Paints a row's account colour as a bar at the left of its cell and puts the account's label before
    its text (the source tree's Account column). ``account_at(index)`` gives the row's account id."""

    BAR = 4

    def __init__(self, labels: AccountLabels, account_at: Callable[[QModelIndex | QPersistentModelIndex],
                 str | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._labels = labels
        self._account_at = account_at

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        label = self._labels.label(self._account_at(index))
        if label:
            option.text = f"{label} · {option.text}"

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        super().paint(painter, option, index)
        colour = self._labels.colour(self._account_at(index))
        if colour:
            rect: QRect = option.rect
            painter.fillRect(QRect(rect.left(), rect.top() + 1, self.BAR, rect.height() - 2), QColor(colour))


def tint(colour: str, alpha: int = 40) -> Any:
    """``colour`` made translucent, for a row background that keeps the text readable."""
    c = QColor(colour)
    c.setAlpha(alpha)
    return c
