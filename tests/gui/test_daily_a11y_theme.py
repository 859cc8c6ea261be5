"""Issue 13 item 20: light/dark follows the desktop or is forced from View > Appearance (kept); every control
has a name a screen reader can say; user-visible text goes through Qt's translation."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_helpers import dispose, make_gui, run, until
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QAccessible, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QTextEdit,
    QWidget,
)

from stsdesk.gui.app import GuiApp
from stsdesk.gui.decode_dialog import DecodeDialog
from stsdesk.gui.mfa_dialog import MfaDialog
from stsdesk.gui.profile_dialog import ProfileDialog
from stsdesk.gui.settings import SettingsDialog
from stsdesk.gui.theme import apply_theme, is_dark, load_theme

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

CONTROLS = (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit, QTextEdit)


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    apply_theme("system")  # the palette is the application's: leave it as found
    gc.collect()


def _unnamed(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisibleTo(root):
            continue
        if widget.objectName().startswith("qt_"):  # Qt's own parts (scroll bar arrows, toolbar extension)
            continue
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QComboBox):
            continue  # an editable combo's line: the combo itself is named
        interface = QAccessible.queryAccessibleInterface(widget)
        name = interface.text(QAccessible.Text.Name) if interface is not None else ""
        if not name.strip():
            missing.append(f"{type(widget).__name__}({widget.objectName() or '?'})")
    return missing


def test_every_control_has_an_accessible_name(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert gui.controller.select("dev-readonly")
    assert _unnamed(gui.window) == [], _unnamed(gui.window)
    for dialog in (ProfileDialog(gui.model.profile_names(), None, gui.window),
                   ProfileDialog(gui.model.profile_names(), gui.model.profile("dev"), gui.window),
                   SettingsDialog(gui.controller.prefs, gui.window),
                   DecodeDialog(gui.model.profile_names(), "dev", gui.window)):
        dialog.show()
        assert _unnamed(dialog) == [], type(dialog).__name__
        dialog.reject()
        dialog.deleteLater()
    task = asyncio.ensure_future(gui.controller.assume("dev"), loop=loop)
    mfa = run(loop, until(lambda: gui.window.findChild(MfaDialog)))
    assert _unnamed(mfa) == []
    mfa.reject()
    run(loop, task)


def test_appearance_forced_and_kept(gui: GuiApp) -> None:
    app = QApplication.instance()
    window = gui.window
    window.theme_actions["dark"].trigger()
    assert is_dark(app.palette()) and window.theme_actions["dark"].isChecked()
    assert load_theme(gui.controller.settings) == "dark"
    text = app.palette().color(QPalette.ColorRole.Text)
    base = app.palette().color(QPalette.ColorRole.Base)
    assert abs(text.lightness() - base.lightness()) > 120  # readable
    window.theme_actions["light"].trigger()
    assert not is_dark(app.palette())
    window.theme_actions["system"].trigger()
    assert load_theme(gui.controller.settings) == "system"
    assert window.theme_actions["system"].isChecked()


class _Brackets(QTranslator):
    """A pseudo-translation: every text that goes through Qt's translation comes back as ⟦text⟧."""

    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return f"⟦{source}⟧" if source else source

    def isEmpty(self) -> bool:
        return False


def test_visible_texts_go_through_translation(tmp_path: Path,
                                              loop: asyncio.AbstractEventLoop) -> None:
    translator = _Brackets()
    QCoreApplication.installTranslator(translator)
    gui, demo = make_gui(tmp_path)
    try:
        gui.window.show()
        window = gui.window
        assert gui.controller.select("dev-readonly")
        untranslated = []
        for menu in window.menus.values():
            if not menu.title().startswith("⟦"):
                untranslated.append(menu.title())
        for act in window.all_actions() + window.toolbar.actions():
            if act.text() and not act.isSeparator() and not act.text().startswith("⟦") \
                    and act not in gui.controller._profile_menu_extra:
                untranslated.append(act.text())
        header = window.tree.model()
        for column in range(header.columnCount()):
            text = header.headerData(column, Qt.Orientation.Horizontal)
            if not str(text).startswith("⟦"):
                untranslated.append(str(text))
        assert window.filter_edit.placeholderText().startswith("⟦")
        for label in ("Kind", "Region", "Current session"):
            assert f"⟦{label}⟧" in window.details.toPlainText()
        assert untranslated == []
        welcome = window.welcome
        for button in (welcome.add_button, welcome.sso_button, welcome.demo_button):
            assert button.text().startswith("⟦")
    finally:
        QCoreApplication.removeTranslator(translator)
        dispose(gui, demo)
