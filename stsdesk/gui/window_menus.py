"""The main window's menu bar (File, Profile, Session, View, Help), the keyboard shortcut list and About.

Every action of the window is in a menu, with its shortcut shown; other parts add entries through
``MainWindow.menus`` (the controller puts the context menu extenders' entries in Profile).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox  # made at first use: its type costs ~2-5 ms before the first paint

    from stsdesk.gui.main_window import MainWindow


def _tr(text: str) -> str:
    return QCoreApplication.translate("MainWindow", text)


def build_menus(window: MainWindow) -> dict[str, QMenu]:
    """Fill ``window``'s menu bar; returns its menus by key (file, profile, session, view, help)."""
    w = window
    bar = w.menuBar()
    bar.setObjectName("menu-bar")
    menus: dict[str, QMenu] = {}
    layout: list[tuple[str, str, list[QAction | None]]] = [
        ("file", _tr("&File"), [w.add_action, w.reload_action, None, w.settings_action, None, w.quit_action]),
        ("profile", _tr("&Profile"), [w.edit_action, w.remove_action, None, w.whoami_action,
                                      w.copy_process_action]),
        ("session", _tr("&Session"), [w.assume_action, w.refresh_action, w.forget_action, None,
                                      w.copy_exports_action, w.copy_long_term_action, None, w.console_action,
                                      w.copy_console_action, None, w.decode_action]),
        ("view", _tr("&View"), [w.focus_filter_action, None, w.expand_action, w.collapse_action, None]),
        ("help", _tr("&Help"), [w.shortcuts_action, w.about_action]),
    ]
    for key, title, actions in layout:
        menu = bar.addMenu(title)
        menu.setObjectName(f"menu-{key}")
        for act in actions:
            if act is None:
                menu.addSeparator()
            else:
                menu.addAction(act)
        menus[key] = menu
    _appearance_menu(window, menus["view"])
    return menus


def _appearance_menu(window: MainWindow, view: QMenu) -> None:
    """View > Appearance: follow the desktop, or force light or dark (``window.theme_chosen``)."""
    from PySide6.QtGui import QActionGroup

    from stsdesk.gui.theme import THEMES, theme_label

    menu = view.addMenu(_tr("Appearance"))
    menu.setObjectName("menu-appearance")
    group = QActionGroup(menu)
    group.setExclusive(True)
    for theme in THEMES:
        act = menu.addAction(theme_label(theme))
        act.setObjectName(f"theme-{theme}")
        act.setCheckable(True)
        act.setData(theme)
        group.addAction(act)
        act.triggered.connect(lambda _checked=False, chosen=theme: window.theme_chosen.emit(chosen))
    window.theme_actions = {str(act.data()): act for act in group.actions()}


def menu_actions(menus: Iterable[QMenu]) -> list[QAction]:
    """Every action in ``menus`` and their submenus (no separators)."""
    found: list[QAction] = []

    def walk(menu: QMenu) -> None:
        for act in menu.actions():
            sub = act.menu()
            if isinstance(sub, QMenu):
                walk(sub)
            elif not act.isSeparator():
                found.append(act)

    for menu in menus:
        walk(menu)
    return found


def show_shortcuts(window: MainWindow) -> QMessageBox:
    """A non-modal list of the keyboard shortcuts of the menu bar's actions (and Enter)."""
    import html

    from PySide6.QtWidgets import QMessageBox

    native = QKeySequence.SequenceFormat.NativeText
    rows = [f"<tr><td>{html.escape(act.text().replace('&', ''))}</td><td><b>"
            f"{html.escape(act.shortcut().toString(native))}</b></td></tr>"
            for act in window.all_actions() if not act.shortcut().isEmpty()]
    rows.append("<tr><td>" + html.escape(_tr("Assume the selected profile (or the first match from the filter)"))
                + "</td><td><b>Enter</b></td></tr>")
    box = QMessageBox(QMessageBox.Icon.NoIcon, _tr("Keyboard shortcuts"),
                      "<table cellspacing='4'>" + "".join(rows) + "</table>", QMessageBox.StandardButton.Ok,
                      window)
    box.setObjectName("shortcuts-box")
    box.finished.connect(box.deleteLater)
    box.open()
    return box


def show_about(window: MainWindow) -> QMessageBox:
    """A non-modal About box."""
    from PySide6.QtWidgets import QMessageBox

    from stsdesk import __version__

    box = QMessageBox(QMessageBox.Icon.Information, _tr("About stsdesk"),
                      _tr("stsdesk {version}: AWS STS credentials on the desktop: assume roles, MFA once for "
                          "many terminals, countdowns and console sign-in.").format(version=__version__),
                      QMessageBox.StandardButton.Ok, window)
    box.finished.connect(box.deleteLater)
    box.open()
    return box
