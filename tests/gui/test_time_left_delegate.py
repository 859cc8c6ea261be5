"""The Time left column's delegate (time_left_delegate.py) fills each cell's style option as QStyledItemDelegate
does from the model's answers, in one call: the same option fields and the same pixels, for every kind of cell
(no session, live, warn, critical, expired, a sign-in row, an error row, selected and alternate rows)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPalette, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from stsdesk.core.model import Profile, ProfileKind
from stsdesk.gui.countdown import CRITICAL_SECONDS, WARN_SECONDS
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.profile_store import GROUP_KEY
from stsdesk.gui.time_left_delegate import TimeLeftDelegate
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.gui.tree_presentation import DECORATION_ROLE, TIME_LEFT
from stsdesk.gui.tree_view import ProfileTreeView

NOW = 1_700_000_000.0
# Row name -> seconds its session has left (None: no session).
SESSIONS: dict[str, float | None] = {
    "no-session": None,
    "live": 3 * 3600 + 61.5,
    "warn": WARN_SECONDS - 30.25,
    "critical": CRITICAL_SECONDS - 5.5,
    "expired": -3.0,
    "failed": 1200.0,
    "failed-bare": None,
    "busy": 42.0,
}
SIGN_IN = "\x1fsso-session:work"
SIGN_IN_LEFT = 3 * 86400 + 5 * 3600 + 10  # past two days: "3 d 5 h"
ACCOUNT_ROW = "\x1fsso-account:work:111111111111"


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def view(qapp: QApplication) -> Iterator[ProfileTreeView]:
    model = ProfileTreeModel(clock=FakeClock())
    base = Profile("base", ProfileKind.IAM_USER)
    roles = [Profile(name, ProfileKind.ROLE, source="base", role_arn=f"arn:aws:iam::222222222222:role/R{i}")
             for i, name in enumerate(SESSIONS)]
    sign_in = Profile(SIGN_IN, ProfileKind.OTHER, extra={GROUP_KEY: "sso-session"})
    account = Profile(ACCOUNT_ROW, ProfileKind.OTHER, source=SIGN_IN, extra={GROUP_KEY: "sso-account"})
    children = {"base": roles, SIGN_IN: [account]}
    model.set_profiles([base, sign_in], lambda name: children.get(name, []))
    for name, left in [*SESSIONS.items(), (SIGN_IN, SIGN_IN_LEFT), (ACCOUNT_ROW, 30.0)]:
        if left is not None:
            model.set_session(name, datetime.fromtimestamp(NOW + left, UTC))
    model.set_error("failed", "AccessDenied")
    model.set_error("failed-bare", "AccessDenied")
    model.set_busy("busy", True)
    model.set_note(SIGN_IN, "signed in as ana")
    model.flush_changes()
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    tree = ProfileTreeView()
    tree.setModel(proxy)
    tree.resize(700, 420)
    tree.expandAll()
    tree.show()
    tree.setCurrentIndex(proxy.index(2, 0, proxy.index(0, 0)))  # "warn": a selected row
    qapp.processEvents()
    yield tree
    tree.close()
    tree.deleteLater()


def time_left_cells(tree: ProfileTreeView) -> list[QModelIndex]:
    model = tree.model()
    cells, stack = [], [QModelIndex()]
    while stack:
        parent = stack.pop()
        for row in range(model.rowCount(parent)):
            cells.append(model.index(row, TIME_LEFT, parent))
            stack.append(model.index(row, 0, parent))
    return cells


def view_option(tree: ProfileTreeView, index: QModelIndex, selected: bool, alternate: bool) -> QStyleOptionViewItem:
    """The option a view hands its delegate for ``index`` (before initStyleOption), as QTreeView::drawRow does."""
    option = QStyleOptionViewItem()
    tree.initViewItemOption(option)
    option.rect = tree.visualRect(index) if tree.visualRect(index).isValid() else QRect(0, 0, 80, 20)
    feature, state = QStyleOptionViewItem.ViewItemFeature, option.state
    if alternate:
        option.features |= feature.Alternate
    if selected:
        state |= QStyle.StateFlag.State_Selected
    option.state = state
    if alternate:  # what the delegate must replace (Qt sets it from the Background role, which is empty)
        option.backgroundBrush = QBrush(QColor("#123456"))
    return option


FIELDS = ("text", "features", "displayAlignment", "decorationAlignment", "decorationPosition", "decorationSize",
          "textElideMode", "font", "checkState", "showDecorationSelected", "viewItemPosition", "backgroundBrush",
          "palette", "state", "rect", "direction", "styleObject", "locale")  # fmt: skip


def both_options(tree: ProfileTreeView, index: QModelIndex, selected: bool,
                 alternate: bool) -> tuple[QStyleOptionViewItem, QStyleOptionViewItem]:
    ours, qts = view_option(tree, index, selected, alternate), view_option(tree, index, selected, alternate)
    delegate = tree.itemDelegateForColumn(TIME_LEFT)
    assert isinstance(delegate, TimeLeftDelegate)
    delegate.initStyleOption(ours, index)
    QStyledItemDelegate().initStyleOption(qts, index)
    return ours, qts


def test_the_view_paints_its_time_left_column_with_it(view: ProfileTreeView) -> None:
    assert isinstance(view.itemDelegateForColumn(TIME_LEFT), TimeLeftDelegate)
    assert all(not isinstance(view.itemDelegateForColumn(column), TimeLeftDelegate) for column in range(TIME_LEFT))
    proxy = view.model()
    assert isinstance(proxy, ProfileFilterProxy)
    source = proxy.sourceModel()
    view.setModel(QStandardItemModel(3, 5))
    assert view.itemDelegateForColumn(TIME_LEFT) is None  # Qt's own delegate for a model it does not know
    view.setModel(source)  # the tree model itself
    assert isinstance(view.itemDelegateForColumn(TIME_LEFT), TimeLeftDelegate)
    later = ProfileFilterProxy()
    view.setModel(later)
    later.setSourceModel(source)  # a source set after the view's model: followed
    roles: list[int] = []
    data = later.data
    later.data = lambda index, role=0: (roles.append(role), data(index, role))[1]  # type: ignore[method-assign]
    cell = later.index(1, TIME_LEFT, later.index(0, 0))  # "live"
    ours, qts = view_option(view, cell, False, False), view_option(view, cell, False, False)
    delegate = view.itemDelegateForColumn(TIME_LEFT)
    assert isinstance(delegate, TimeLeftDelegate)
    roles.clear()  # the view's layout asked for size hints
    delegate.initStyleOption(ours, cell)
    assert roles == []  # not one call from Qt into the model's Python data()
    QStyledItemDelegate().initStyleOption(qts, cell)
    assert len(roles) == 7  # Qt's: one per role it asks
    assert ours.text == qts.text == "03:01:01"


def test_the_option_is_qts_field_by_field(view: ProfileTreeView) -> None:
    cells = time_left_cells(view)
    texts = set()
    for index in cells:
        for selected, alternate in [(False, False), (False, True), (True, False), (True, True)]:
            ours, qts = both_options(view, index, selected, alternate)
            for field in FIELDS:
                assert getattr(ours, field) == getattr(qts, field), (index.row(), field, selected, alternate)
            assert ours.index == qts.index == index
            assert ours.icon.isNull() and qts.icon.isNull()
            assert ours.styleObject is None
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
                role = QPalette.ColorRole.Text
                assert ours.palette.brush(group, role) == qts.palette.brush(group, role)
            texts.add(qts.text)
    # Every kind of cell was there: no session (Qt 6 still counts "" as display data), coloured, a sign-in's days.
    assert {"", "03:01:01", "00:09:29", "00:01:54", "expired", "3 d 5 h"} <= texts
    no_session = next(i for i in cells if view.model().data(i) == "")
    assert both_options(view, no_session, False, False)[1].features & QStyleOptionViewItem.ViewItemFeature.HasDisplay
    # No decoration in this column for any row (the delegate sets none): the model gives none.
    assert all(view.model().data(index, DECORATION_ROLE) is None for index in cells)


def test_a_model_without_that_row_gets_qts_answers(view: ProfileTreeView) -> None:
    ours, qts = both_options(view, QModelIndex(), False, False)
    assert (ours.text, ours.features, ours.index) == (qts.text, qts.features, qts.index)


def render(delegate: QStyledItemDelegate, option: QStyleOptionViewItem, index: QModelIndex) -> QImage:
    image = QImage(option.rect.size(), QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.translate(-option.rect.topLeft())
    delegate.paint(painter, option, index)
    painter.end()
    return image


def test_each_cell_paints_the_same_pixels(view: ProfileTreeView) -> None:
    ours = view.itemDelegateForColumn(TIME_LEFT)
    assert isinstance(ours, TimeLeftDelegate)
    qts = QStyledItemDelegate(view)
    images = set()
    for index in time_left_cells(view):
        for selected, alternate in [(False, False), (True, True)]:
            option = view_option(view, index, selected, alternate)
            option.rect = QRect(0, 0, 90, 22)
            mine = render(ours, QStyleOptionViewItem(option), index)
            assert mine == render(qts, QStyleOptionViewItem(option), index), (index.row(), selected)
            images.add(bytes(mine.constBits()))  # type: ignore[call-overload]
    assert len(images) > 10  # the texts, colours and selection did paint


def grab(tree: ProfileTreeView) -> QImage:
    viewport: QWidget = tree.viewport()
    return viewport.grab().toImage()


def test_the_view_paints_the_same_pixels(view: ProfileTreeView, qapp: QApplication) -> None:
    ours = grab(view)
    view.setItemDelegateForColumn(TIME_LEFT, QStyledItemDelegate(view))
    qapp.processEvents()
    qts = grab(view)
    assert ours == qts
    view.model().sourceModel().clock.now += 600  # type: ignore[union-attr]  # the cells change: so do the pixels
    view.viewport().update()
    qapp.processEvents()
    assert grab(view) != qts
