"""How a profile row looks: columns, item data roles, the cell texts, colours, icons and tool tips.

Used by the Qt model (tree_model.py) for every painted cell, so the lookups are plain ints and dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from stsdesk.gui.countdown import WARN_SECONDS, Urgency, format_time_left, urgency
from stsdesk.gui.profile_store import ProfileNode, ProfileStore, kind_label, row_label, state_text, time_left_text

if TYPE_CHECKING:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QBrush, QIcon

COLUMNS = ("Name", "Kind", "Account", "State", "Time left")
NAME, KIND, ACCOUNT, STATE, TIME_LEFT = range(len(COLUMNS))
COLUMN_COUNT = len(COLUMNS)


def column_titles() -> list[str]:
    """The columns' header titles, translated (context ProfileTreeModel)."""
    from PySide6.QtCore import QCoreApplication

    return [QCoreApplication.translate("ProfileTreeModel", title) for title in COLUMNS]


# Qt.ItemDataRole values as the plain ints Qt hands data() (tests/gui check them against the enum): PySide6 builds
# all ~93 enums of its Qt namespace at its first use (~22 ms of CPU in the app, measured), which nothing before the
# first paint with rows needs to pay for (issue 17).
DISPLAY_ROLE, DECORATION_ROLE, TOOLTIP_ROLE, FOREGROUND_ROLE, USER_ROLE = 0, 1, 3, 9, 256
PROFILE_NAME_ROLE = USER_ROLE + 1
FILTER_ROLE = USER_ROLE + 2
SECONDS_LEFT_ROLE = USER_ROLE + 3
BUSY_ROLE = USER_ROLE + 4

_BRUSHES: dict[object, QBrush] = {}  # made at the first coloured cell (QBrush and QColor: not before the rows)
_ERROR = "error"
# Whole seconds left -> the Time left text (format_time_left): the countdown cells are painted every second.
_LEFT_TEXTS: dict[int, str] = {}


def _brush(key: object) -> QBrush | None:
    """The text colour of an urgency (Urgency.WARN, CRITICAL, EXPIRED) or of an error (``_ERROR``)."""
    if not _BRUSHES:
        from PySide6.QtGui import QBrush, QColor

        _BRUSHES.update({
            Urgency.WARN: QBrush(QColor("#b26a00")),  # amber, readable on light and dark backgrounds
            Urgency.CRITICAL: QBrush(QColor("#c62828")),
            Urgency.EXPIRED: QBrush(QColor("#888888")),
            _ERROR: QBrush(QColor("#c62828")),
        })  # fmt: skip
    return _BRUSHES.get(key)


@cache
def item_flags() -> tuple[Qt.ItemFlag, Qt.ItemFlag, Qt.ItemFlag]:
    """The flags of (no item, a row with children, a leaf row), made once: enum | costs a Python call each time,
    and flags() runs twice per row while Qt lays out a view of the model itself (the By-account view reads them;
    ItemNeverHasChildren on leaves lets a view skip hasChildren()). The main tree's filter proxy answers Qt's
    default flags instead (see filter_proxy.py), so the Qt namespace is first needed after the rows are painted."""
    from PySide6.QtCore import Qt

    parent = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
    return Qt.ItemFlag.NoItemFlags, parent, parent | Qt.ItemFlag.ItemNeverHasChildren


# The roles data() answers; anything else (size hints, fonts, alignment...) is most of the calls a paint makes.
ROLES = frozenset((
    DISPLAY_ROLE, FOREGROUND_ROLE, DECORATION_ROLE, TOOLTIP_ROLE, FILTER_ROLE, PROFILE_NAME_ROLE, SECONDS_LEFT_ROLE,
    BUSY_ROLE,
))  # fmt: skip
TICK_ROLES = [DISPLAY_ROLE, FOREGROUND_ROLE]


def display(store: ProfileStore, node: ProfileNode, column: int, now: float) -> str:
    """The text of ``node``'s cell in ``column`` at Unix time ``now`` (remembers the time left shown)."""
    if column == NAME:
        if node.group is not None:
            return row_label(node.profile)
        name = node.profile.name
        return f"{name}  ★" if name in store.favourites else name  # a favourite (in the tray menu too)
    if column == TIME_LEFT:
        if node.expiry is None:
            return ""
        left = node.expiry - now
        if left > 0 and node.group is None:  # hh:mm:ss, the same for every cell showing this second
            text = _LEFT_TEXTS.get(whole := int(left))
            if text is None:
                if len(_LEFT_TEXTS) >= 4096:
                    _LEFT_TEXTS.clear()
                text = _LEFT_TEXTS[whole] = format_time_left(left)
        else:
            text = time_left_text(node, left, format_time_left)
        node.shown_left = text
        return text
    if column == KIND:
        return kind_label(node.profile)
    if column == ACCOUNT:
        return store.account(node)
    return state_text(node, now)


def foreground(node: ProfileNode, column: int, now: float) -> QBrush | None:
    """The text colour: the time left by urgency, the state red on an error; None: the palette's."""
    if column == TIME_LEFT and node.expiry is not None:
        left = node.expiry - now
        return None if left >= WARN_SECONDS else _brush(urgency(left))  # most cells: no Urgency to hash
    if column == STATE and (node.error or node.profile.error):
        return _brush(_ERROR)
    return None


def icon(icons: Callable[[str], QIcon] | None, node: ProfileNode, column: int, now: float) -> QIcon | None:
    """The kind icon on the name, the state icon on the state; ``icons`` maps a kind value or state name."""
    if icons is None:
        return None
    if column == NAME:
        return icons(node.profile.kind.value) if node.group != "sso-account" else None
    if column == STATE:
        if node.note is not None and not node.busy and not node.error:
            return None  # a group row's note is no state icon's name
        state = state_text(node, now)
        return icons({"working…": "busy", "served": "active"}.get(state, state)) if state else None
    return None


def tooltip(node: ProfileNode, column: int) -> str | None:
    """The error on the state cell, the role ARN (else the name) on the name cell."""
    if column == STATE:
        return node.error or node.profile.error
    if column == NAME:
        if node.served is not None:
            return f"{node.profile.name}: credentials served at {node.served}"
        if node.group is not None:
            return node.profile.extra.get("stsdesk_tooltip") or row_label(node.profile)
        return node.profile.role_arn or node.profile.name
    return None
