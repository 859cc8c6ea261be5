"""The Time left column's delegate: QStyledItemDelegate's look, with each cell's style option filled in one call
into Python instead of seven (the countdown repaints that column every second)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.gui.tree_presentation import TIME_LEFT, display, foreground

# Class enums, not PySide6's Qt namespace (whose first use builds all of its enums: issue 17; tests/gui check it).
_Feature = QStyleOptionViewItem.ViewItemFeature
_HAS_DISPLAY = _Feature.HasDisplay
# The features the view gives a cell -> with HasDisplay (a Python enum's | costs ~4x this lookup: ~0.6 us).
_WITH_DISPLAY: dict[_Feature, _Feature] = {}
_NO_BRUSH = QBrush()  # what Qt sets from the Background role's invalid QVariant


class TimeLeftDelegate(QStyledItemDelegate):
    """Paints the Time left column of a :class:`ProfileTreeModel` (or of a filter proxy over it, whose indexes
    carry the same node ids) as QStyledItemDelegate does, from the same answers the model's data() gives.

    Qt's initStyleOption asks seven roles, each a call from C++ into Python (~6K instructions of binding each;
    with the answers, 28% of repainting the column's strip every second); this initStyleOption is one such call,
    and sets the fields Qt's sets from the model's answers: the text (Display), the Text colour (Foreground: the
    urgency's brush, or none), the index, an empty background brush (no Background), no style object. The model
    answers nothing for this column's font, alignment, check state or decoration (tests/gui compare the options
    and the pixels with QStyledItemDelegate's). ``model``: the view's model.
    """

    def __init__(self, model: ProfileFilterProxy | ProfileTreeModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The proxy's source when a cell is painted (a source set later is followed).
        self._source: Callable[[], ProfileTreeModel | None] = (
            model.sourceModel if isinstance(model, ProfileFilterProxy) else lambda: model)

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        model = self._source()
        node_id = index.internalId()
        if model is None or not node_id:  # not a row of the model (Qt's own answers for whatever it is)
            super().initStyleOption(option, index)
            return
        store = model.store
        node = store.nodes[node_id]
        now = model.clock()
        option.index = index  # type: ignore[assignment]  # Qt hands a QModelIndex
        brush = foreground(node, TIME_LEFT, now)
        if brush is not None:  # QPalette's type only then: it costs ~0.6 ms to set up, before the first paint
            palette = option.palette
            palette.setBrush(palette.ColorRole.Text, brush)
        features = option.features
        with_display = _WITH_DISPLAY.get(features)
        if with_display is None:
            with_display = _WITH_DISPLAY[features] = features | _HAS_DISPLAY
        option.features = with_display  # even for "" (no session): Qt 6 counts an empty string as display data
        text = display(store, node, TIME_LEFT, now)
        option.text = text.replace("\n", "\u2028") if "\n" in text else text  # as Qt's displayText
        option.backgroundBrush = _NO_BRUSH
        option.styleObject = None  # type: ignore[assignment]  # as Qt: no style animations in item views (QTBUG-30146)
