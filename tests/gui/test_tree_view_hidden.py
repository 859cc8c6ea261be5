"""The profile tree view answers isIndexHidden itself (no model calls while no row was hidden with setRowHidden):
hidden columns, and rows hidden with setRowHidden, are still reported hidden, as QTreeView reports them."""

from __future__ import annotations

from PySide6.QtGui import QStandardItem, QStandardItemModel

from stsdesk.gui.tree_view import ProfileTreeView


def test_hidden_columns_and_rows_are_reported_hidden(qapp: object) -> None:
    model = QStandardItemModel()
    for name in ("a", "b", "c"):
        model.appendRow([QStandardItem(name), QStandardItem(name + "-kind")])
    view = ProfileTreeView()
    view.setModel(model)
    assert not view.isIndexHidden(model.index(1, 0)) and not view.isIndexHidden(model.index(1, 1))
    view.setColumnHidden(1, True)
    assert view.isIndexHidden(model.index(1, 1)) and not view.isIndexHidden(model.index(1, 0))
    view.setRowHidden(1, model.index(1, 0).parent(), True)
    assert view.isIndexHidden(model.index(1, 0)) and not view.isIndexHidden(model.index(2, 0))
    assert view.visualRect(model.index(1, 0)).isEmpty() and not view.visualRect(model.index(2, 0)).isEmpty()
    view.setRowHidden(1, model.index(1, 0).parent(), False)
    assert not view.isIndexHidden(model.index(1, 0))
