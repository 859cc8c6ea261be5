"""The filter field and the tree: the selection follows the filter (the first match, never an ancestor shown
only for context), Enter assumes the first match, Down moves into the results."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex

from stsdesk.gui.controller_core import ControllerCore


class FilterNavigation(ControllerCore):
    """The controller's filter behaviour (see the module docstring)."""

    def set_filter(self, text: str) -> None:
        """Filter the tree on ``text`` (see ProfileFilterProxy); the selection moves to the first match when
        what was selected is filtered out or is only an ancestor of a match."""
        tree = self.window.tree
        current = tree.currentIndex()
        self.proxy.set_filter_text(text)
        if current.isValid() and not tree.currentIndex().isValid():
            # Filtered out: to the row beside it, as Qt moves the current row off removed rows (kept below when
            # it is a match; the rule below applies when not).
            tree.setCurrentIndex(self.proxy.nearest_shown(current))
        if text.strip():
            # Parents hidden by an earlier keystroke come back collapsed: expand those, not all 5,000 rows.
            self._expand_parents()
            if not self.proxy.is_match(tree.currentIndex()):
                first = self.proxy.first_match()
                tree.setCurrentIndex(first)
                if first.isValid():
                    tree.scrollTo(first)
                elif current.isValid():
                    # The current row was filtered out in a layout change, which Qt's selection model does not
                    # announce (a removed row would be): tell currentChanged's listeners that nothing is current.
                    tree.selectionModel().currentChanged.emit(QModelIndex(), QModelIndex())
        # No update_details() here: a changed current row has updated the details through currentChanged, and
        # an unchanged one shows the same details (rebuilding them repainted the pane at every keystroke).

    def filter_enter(self) -> None:
        """Enter in the filter: assume the first match (the selection, when it is one)."""
        if self.select_first_match():
            self.window.assume_action.trigger()

    def filter_down(self) -> None:
        """Down in the filter: into the results, on the first match."""
        if self.select_first_match():
            self.window.tree.setFocus()

    def select_first_match(self) -> bool:
        """Make the current row a match of the filter (kept when it is one); False when nothing matches."""
        tree = self.window.tree
        if self.proxy.is_match(tree.currentIndex()):
            return True
        first = self.proxy.first_match()
        if not first.isValid():
            return False
        tree.setCurrentIndex(first)
        tree.scrollTo(first)
        return True
