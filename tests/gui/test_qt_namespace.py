"""Before the rows are painted nothing of stsdesk's touches PySide6's ``Qt`` namespace (its first use builds all of
its ~93 enums, ~22 ms of CPU, issue 17): the plain-int roles and keys equal Qt's enums, qtfix.set_property sets
what the typed setters set, and the tree's header paints the column titles from a Qt model of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QModelIndex, QObject, Qt, QTimer, QTranslator
from PySide6.QtGui import QAction, QKeySequence, QStandardItemModel
from PySide6.QtWidgets import QApplication, QLabel, QToolBar

from stsdesk.gui import tree_presentation, tree_view
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.main_window import MainWindow
from stsdesk.gui.qtfix import set_property
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.gui.tree_presentation import COLUMNS, column_titles, item_flags
from stsdesk.gui.tree_view import ProfileTreeView
from stsdesk.gui.welcome import Welcome

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints")


@pytest.fixture
def app() -> Iterator[QApplication]:
    instance = QApplication.instance() or QApplication([])
    assert isinstance(instance, QApplication)
    yield instance


def test_the_plain_roles_are_qts() -> None:
    role = Qt.ItemDataRole
    assert role.DisplayRole.value == tree_presentation.DISPLAY_ROLE
    assert role.DecorationRole.value == tree_presentation.DECORATION_ROLE
    assert role.ToolTipRole.value == tree_presentation.TOOLTIP_ROLE
    assert role.ForegroundRole.value == tree_presentation.FOREGROUND_ROLE
    assert role.UserRole.value + 1 == tree_presentation.PROFILE_NAME_ROLE
    assert role.UserRole.value + 4 == tree_presentation.BUSY_ROLE
    assert [role.DisplayRole.value, role.ForegroundRole.value] == tree_presentation.TICK_ROLES


def test_the_item_flags() -> None:
    flag = Qt.ItemFlag
    none, parent, leaf = item_flags()
    assert none == flag.NoItemFlags
    assert parent == flag.ItemIsEnabled | flag.ItemIsSelectable
    assert leaf == parent | flag.ItemNeverHasChildren


def test_the_plain_keys_are_qts() -> None:
    assert Qt.Key.Key_Return.value == tree_view._KEY_RETURN
    assert Qt.Key.Key_Enter.value == tree_view._KEY_ENTER
    assert Qt.Key.Key_Down.value == tree_view._KEY_DOWN


def test_set_property_sets_what_the_typed_setter_sets(app: QApplication) -> None:
    label, toolbar, action, timer = QLabel(), QToolBar(), QAction("x"), QTimer()
    set_property(label, "textFormat", "PlainText")
    set_property(label, "textInteractionFlags", "TextSelectableByMouse|TextSelectableByKeyboard")
    set_property(toolbar, "toolButtonStyle", "ToolButtonTextOnly")
    set_property(action, "shortcutContext", "WidgetWithChildrenShortcut")
    set_property(action, "shortcut", "Ctrl+Shift+C")
    set_property(timer, "timerType", "VeryCoarseTimer")
    assert label.textFormat() is Qt.TextFormat.PlainText
    assert label.textInteractionFlags() == (
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard)  # fmt: skip
    assert toolbar.toolButtonStyle() is Qt.ToolButtonStyle.ToolButtonTextOnly
    assert action.shortcutContext() is Qt.ShortcutContext.WidgetWithChildrenShortcut
    assert action.shortcut() == QKeySequence("Ctrl+Shift+C")
    assert timer.timerType() is Qt.TimerType.VeryCoarseTimer
    with pytest.raises(ValueError, match="toolButtonStyle"):
        set_property(toolbar, "toolButtonStyle", "ToolButtonNoSuchStyle")
    with pytest.raises(ValueError, match="noSuchProperty"):
        set_property(QObject(), "noSuchProperty", "x")


def test_the_window_is_set_up_as_before(app: QApplication) -> None:
    window = MainWindow()
    try:
        assert window.session_countdown.textFormat() is Qt.TextFormat.PlainText
        assert window.splitter.orientation() is Qt.Orientation.Horizontal
        assert window.toolbar.toolButtonStyle() is Qt.ToolButtonStyle.ToolButtonTextOnly
        assert window.tree.contextMenuPolicy() is Qt.ContextMenuPolicy.CustomContextMenu
        for act in (window.assume_action, window.refresh_action, window.forget_action):
            assert act.shortcutContext() is Qt.ShortcutContext.WidgetWithChildrenShortcut
        assert window.copy_exports_action.shortcutContext() is Qt.ShortcutContext.WindowShortcut
        assert window.refresh_action.shortcut() == QKeySequence("F5")
        assert window.forget_action.shortcut() == QKeySequence(Qt.Key.Key_Delete)
        assert window.settings_action.shortcut() == QKeySequence("Ctrl+,")
        assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
        assert window.assume_action.shortcut().isEmpty()
        assert window.welcome.hint.textFormat() is Qt.TextFormat.RichText
    finally:
        window.deleteLater()


def test_the_header_paints_the_titles_from_its_own_model(app: QApplication) -> None:
    view = ProfileTreeView()
    model = ProfileTreeModel()
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    view.setModel(proxy)
    header = view.header()
    titles = header.model()
    assert isinstance(titles, QStandardItemModel)
    assert titles is not proxy
    assert view.model() is proxy
    shown = [titles.headerData(c, Qt.Orientation.Horizontal) for c in range(header.count())]
    assert shown == list(COLUMNS) == column_titles()
    # The view's model still answers for itself (accessibility reads the view's model).
    assert [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))] == list(COLUMNS)
    assert header.selectionModel() is not None and header.selectionModel().model() is titles
    view.setModel(proxy)  # again: the same titles model
    assert header.model() is titles


class _Brackets(QTranslator):
    def translate(self, context: str, source: str, disambiguation: str | None = None, n: int = -1) -> str:
        return f"⟦{source}⟧" if source else source

    def isEmpty(self) -> bool:
        return False


def test_the_header_titles_follow_a_language_change(app: QApplication) -> None:
    view = ProfileTreeView()
    view.setModel(ProfileTreeModel())
    translator = _Brackets()
    QCoreApplication.installTranslator(translator)
    try:
        QApplication.processEvents()  # the LanguageChange event
        titles = view.header().model()
        assert titles.headerData(0, Qt.Orientation.Horizontal) == "⟦Name⟧"
    finally:
        QCoreApplication.removeTranslator(translator)
        QApplication.processEvents()
    assert view.header().model().headerData(0, Qt.Orientation.Horizontal) == "Name"


def test_a_model_of_other_columns_keeps_its_own_header(app: QApplication) -> None:
    view = ProfileTreeView()
    other = QStandardItemModel(0, 2)
    other.setHorizontalHeaderLabels(["A", "B"])
    view.setModel(other)
    assert view.header().model() is other
    assert QModelIndex() == view.rootIndex()


def test_welcome_is_still_built(app: QApplication) -> None:
    welcome = Welcome()
    assert welcome.hint.textFormat() is Qt.TextFormat.RichText


def test_enter_on_the_tree_and_down_in_the_filter_still_act(app: QApplication) -> None:
    from PySide6.QtTest import QTest

    from stsdesk.gui.tree_view import FilterEdit

    view = ProfileTreeView()
    model = QStandardItemModel(1, len(COLUMNS))
    view.setModel(model)
    view.setCurrentIndex(model.index(0, 0))
    assumed: list[bool] = []
    view.assume_requested.connect(lambda: assumed.append(True))
    QTest.keyClick(view, Qt.Key.Key_Return)
    QTest.keyClick(view, Qt.Key.Key_Enter)
    assert assumed == [True, True]
    field = FilterEdit()
    down: list[bool] = []
    field.down_pressed.connect(lambda: down.append(True))
    QTest.keyClick(field, Qt.Key.Key_Down)
    QTest.keyClick(field, Qt.Key.Key_Up)
    assert down == [True]
