"""Wires the power-user features into the window: the "By account" view (sharing selection, filter and
countdowns with the source tree), account colours and labels, the details pane's region picker, and the MFA
dialog's list of waiting requests and "Get code from YubiKey".

Built once by :func:`install` after the controller (app.build_window). The source tree stays the selection
of record: the account view mirrors it and moves it, so every action, the details pane and the countdown
line follow whichever view is shown.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPoint
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QBoxLayout, QColorDialog, QInputDialog, QMenu, QToolBar, QWidget

from stsdesk.gui.account_groups import node_account
from stsdesk.gui.account_labels import PRESET_COLOURS, AccountColourDelegate, AccountLabels
from stsdesk.gui.account_view import AccountFilterProxy, AccountTreeModel
from stsdesk.gui.region_picker import RegionChoices, RegionPicker
from stsdesk.gui.tree_model import ACCOUNT, PROFILE_NAME_ROLE, ProfileTreeModel

if TYPE_CHECKING:
    from stsdesk.gui.app import GuiApp
    from stsdesk.gui.mfa_dialog import MfaDialog
    from stsdesk.gui.tray import TrayController

BY_ACCOUNT_KEY = "view/by_account"
T = TypeVar("T")


class PowerFeatures(QObject):
    """The account view, labels, region picker and MFA dialog extras of one window (see module docstring)."""

    def __init__(self, gui: GuiApp) -> None:
        super().__init__(gui.window)
        # Not ``gui`` itself: gui.power -> self -> gui would be a cycle that keeps the window's wrapper alive
        # after the window is deleted, until a garbage collection.
        self.window, self.controller, self.model = gui.window, gui.controller, gui.model
        window, controller = gui.window, gui.controller
        self.labels = AccountLabels(controller.settings, self)
        self.account_model = AccountTreeModel(gui.model, self.labels, self)
        self.account_proxy = AccountFilterProxy(self)
        self.account_proxy.setSourceModel(self.account_model)
        self.account_view = type(window.tree)()  # the window's own tree view class: same keys, same columns
        self.account_view.setObjectName("account-tree")
        self.account_view.setModel(self.account_proxy)
        self.account_view.hide()
        self.account_model.shown = self.account_view.isVisible  # no countdown ticks forwarded while hidden
        layout = _box_layout(window.tree)
        layout.insertWidget(layout.indexOf(window.tree) + 1, self.account_view)
        self._syncing = False

        # Selection: the source tree is the record; each view follows the other.
        window.tree.selectionModel().currentChanged.connect(lambda *_: self._source_current_changed())
        self.account_view.selectionModel().currentChanged.connect(lambda *_: self._account_current_changed())
        self.account_model.modelReset.connect(self._after_regroup)
        self.account_view.activated.connect(lambda index: self._activated(index))
        self.account_view.assume_requested.connect(controller.on_assume)
        self.account_view.customContextMenuRequested.connect(self._account_menu)
        window.filter_edit.textChanged.connect(self._filter)
        down = getattr(window.filter_edit, "down_pressed", None)
        if down is not None:
            down.connect(self._filter_down)  # after the controller's own handler

        self.by_account_action = QAction(self.tr("By account"), window)
        self.by_account_action.setObjectName("by-account")
        self.by_account_action.setCheckable(True)
        self.by_account_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.by_account_action.setToolTip(self.tr("Group the profiles by AWS account (off: by source profile)"))
        self.by_account_action.toggled.connect(self.set_by_account)
        window.addAction(self.by_account_action)
        toolbar = window.findChild(QToolBar, "toolbar")
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.by_account_action)
        view_menu = getattr(window, "menus", {}).get("view")
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addAction(self.by_account_action)
        expand, collapse = getattr(window, "expand_action", None), getattr(window, "collapse_action", None)
        if expand is not None and collapse is not None:
            expand.triggered.connect(self.account_view.expandAll)
            collapse.triggered.connect(self.account_view.collapseAll)

        # Account colours in the source tree's Account column.
        # (a function of the model, not a method of self: the delegate must not hold self, see above)
        self.delegate = AccountColourDelegate(self.labels, functools.partial(account_at, gui.model), window.tree)
        window.tree.setItemDelegateForColumn(ACCOUNT, self.delegate)
        self.labels.changed.connect(lambda _account: window.tree.viewport().update())

        # Region picker above the details.
        self.regions = RegionChoices(controller.settings, self)
        self.region_picker = RegionPicker(self.regions)
        right = _box_layout(window.details)
        right.insertWidget(right.indexOf(window.details), self.region_picker)
        controller.region_choice = self.regions.get
        self.regions.changed.connect(self._region_changed)

        # Console windows: Chromium-family browsers get the account's label as the window title.
        controller.console_window_args = _weak(self.console_window_args, [])

        # MFA dialog: what waits for the device, and the YubiKey button.
        controller.prompter.dialog_extenders.append(_weak(self.extend_mfa_dialog, None))

        self.by_account_action.setChecked(str(controller.settings.value(BY_ACCOUNT_KEY, "false")) == "true")
        self._source_current_changed()

    # -- the account view ------------------------------------------------------------------------------

    def by_account(self) -> bool:
        """True while the account view is shown."""
        return self.by_account_action.isChecked()

    def set_by_account(self, on: bool) -> None:
        """Show the account view (True) or the source tree; the selection and filter carry over."""
        window = self.window
        self.by_account_action.setChecked(on)
        window.tree.setVisible(not on)
        self.account_view.setVisible(on)
        self.controller.settings.setValue(BY_ACCOUNT_KEY, "true" if on else "false")
        if on:
            source_header, header = window.tree.header(), self.account_view.header()
            for column in range(header.count()):  # the same columns at the same widths
                header.setSectionHidden(column, source_header.isSectionHidden(column))
                header.resizeSection(column, source_header.sectionSize(column))
            if self.account_proxy.filter_text() != window.filter_edit.text().strip():
                self.account_proxy.set_filter_text(window.filter_edit.text())  # typed while hidden (_filter)
            self.account_view.expandAll()
            self._source_current_changed()
            self.account_view.setFocus()
        else:
            window.tree.setFocus()

    def _filter(self, text: str) -> None:
        if not self.by_account():
            return  # hidden: filtered when shown (set_by_account); at 5,000 rows it was most of a keystroke
        self.account_proxy.set_filter_text(text)
        self.account_view.expandAll()
        self._source_current_changed()  # the controller moved the selection to a match before this refilter

    def _filter_down(self) -> None:
        if self.by_account() and self.controller.current_profile():
            self.account_view.setFocus()  # Down in the filter: into the results shown, not the hidden tree

    def _after_regroup(self) -> None:
        if self.by_account():  # hidden: set_by_account expands it when shown (90 ms at 5,000 profiles)
            self.account_view.expandAll()
        self._source_current_changed()

    def _source_current_changed(self) -> None:
        if self._syncing:
            return
        name = self.controller.current_profile()
        self._syncing = True
        try:
            source = self.account_model.index_of(name) if name else QModelIndex()
            index = self.account_proxy.mapFromSource(source) if source.isValid() else QModelIndex()
            if index.isValid():
                self.account_view.setCurrentIndex(index)
                self.account_view.scrollTo(index)
            elif name is None:
                self.account_view.setCurrentIndex(QModelIndex())
        finally:
            self._syncing = False
        self._show_region()

    def _account_current_changed(self) -> None:
        if self._syncing:
            return
        index = self.account_view.currentIndex()
        name = index.data(PROFILE_NAME_ROLE) if index.isValid() else None
        self._syncing = True
        try:
            if name:
                self.controller.select(str(name))
            else:  # an account row: no profile is current
                self.window.tree.setCurrentIndex(QModelIndex())
        finally:
            self._syncing = False
        self._show_region()

    def _activated(self, index: QModelIndex) -> None:
        if index.data(PROFILE_NAME_ROLE):
            self.controller.on_assume()

    def _account_menu(self, pos: QPoint) -> None:
        index = self.account_view.indexAt(pos)
        group = self.account_model.group_at(self.account_proxy.mapToSource(index)) if index.isValid() else None
        if index.isValid() and index.data(PROFILE_NAME_ROLE):
            menu = self.controller.profile_menu()
        else:
            menu = QMenu(self.window)
            menu.aboutToHide.connect(menu.deleteLater)
        if group is not None and group.account is not None:
            self.add_account_entries(menu, group.account)
        if not menu.isEmpty():
            menu.popup(self.account_view.viewport().mapToGlobal(pos))

    def add_account_entries(self, menu: QMenu, account: str) -> None:
        """Add the account's colour and label entries to ``menu``."""
        menu.addSeparator()
        colours = menu.addMenu(self.tr("Account colour"))
        for title, colour in PRESET_COLOURS:
            colours.addAction(title, functools.partial(self._set_colour, account, colour))
        colours.addAction(self.tr("Other…"), lambda: self._pick_colour(account))
        colours.addAction(self.tr("None"), functools.partial(self._set_colour, account, None))
        menu.addAction(self.tr("Account label…"), lambda: self._ask_label(account))

    def _set_colour(self, account: str, colour: str | None) -> None:
        self.labels.set(account, colour, self.labels.label(account))

    def _pick_colour(self, account: str) -> None:
        colour = QColorDialog.getColor(parent=self.window, title=self.tr("Colour of {a}").format(a=account))
        if colour.isValid():
            self.labels.set(account, colour.name(), self.labels.label(account))

    def _ask_label(self, account: str) -> None:
        text, ok = QInputDialog.getText(self.window, self.tr("Account label"),
                                        self.tr("Label for {a} (e.g. prod):").format(a=account),
                                        text=self.labels.label(account) or "")
        if ok:
            self.labels.set(account, self.labels.colour(account), text)

    # -- regions ---------------------------------------------------------------------------------------

    def _show_region(self) -> None:
        name = self.controller.current_profile()
        self.region_picker.show_profile(name, self._configured_region(name) if name else "")

    def _configured_region(self, name: str) -> str:
        from stsdesk.core.errors import StsdeskError
        from stsdesk.core.region import session_region

        controller = self.controller
        broker = controller.broker
        default = broker.default_region if broker is not None else controller.prefs.default_region
        try:
            return session_region(broker.tree.chain(name), default) if broker is not None else default
        except StsdeskError:
            return default

    def _region_changed(self, profile: str) -> None:
        if profile == self.controller.current_profile():
            self.controller.update_details()

    # -- the tray --------------------------------------------------------------------------------------

    def attach_tray(self, tray: TrayController) -> None:
        """Show account colours and labels in ``tray``'s menu (decorated each time it is rebuilt)."""
        tray.menu.aboutToShow.connect(lambda: self.decorate_menu(tray.menu))  # after the tray's own rebuild

    def decorate_menu(self, menu: QMenu) -> None:
        """Prefix the profile entries of ``menu`` ("prod-admin (42 min)", "dev") with their account's label
        and give them its colour as icon."""
        from stsdesk.gui.account_view import swatch

        store = self.model.store
        for action in menu.actions():
            text = action.text()
            name = text.rsplit(" (", 1)[0] if action.menu() is not None else text
            node_id = store.by_name.get(name)
            if node_id is None:
                continue
            account = node_account(store, node_id)[0]
            colour = self.labels.colour(account)
            if self.labels.label(account):
                action.setText(f"{self.labels.describe(account)}{text}")
            if colour:
                action.setIcon(swatch(colour))

    # -- console windows -------------------------------------------------------------------------------

    def console_window_args(self, profile: str, browser: Any) -> list[str]:
        """Arguments that name ``profile``'s console window "[PROD] prod-admin (333333333333)" in a
        Chromium-family browser (``--window-name``: the window's own title, which the window manager and the
        taskbar show instead of the page's). The console page itself is AWS's: its title and colours cannot
        be changed from outside. Nothing for Firefox (its container, named after the profile, is its mark)
        or the system browser."""
        from stsdesk.core.browsers import BrowserKind

        if getattr(browser, "kind", None) is not BrowserKind.CHROMIUM:
            return []
        store = self.model.store
        node_id = store.by_name.get(profile)
        account = node_account(store, node_id)[0] if node_id is not None else None
        title = f"{self.labels.describe(account)}{profile}" + (f" ({account})" if account else "")
        return [f"--window-name={title} - AWS console"]

    # -- the MFA dialog --------------------------------------------------------------------------------

    def extend_mfa_dialog(self, dialog: MfaDialog) -> None:
        """Add the waiting requests and (with ykman on PATH) the YubiKey button to a new MFA dialog."""
        from stsdesk.gui.mfa_waitlist import MfaWaitlistWidget
        from stsdesk.gui.yubikey import YubiKeyRow

        broker = self.controller.broker
        if broker is None:
            return
        layout = _box_layout(dialog.error_label)
        at = layout.indexOf(dialog.error_label)
        waitlist = MfaWaitlistWidget(broker.mfa_waitlist, dialog.mfa_serial, dialog)
        layout.insertWidget(at, waitlist)
        dialog.waitlist = waitlist  # type: ignore[attr-defined]
        dialog.finished.connect(lambda _result: waitlist.close_watch())
        if YubiKeyRow.available():
            row = YubiKeyRow(lambda: self._yubikey_account(dialog.mfa_serial), dialog.code.setText,
                             dialog.show_error, dialog)
            layout.insertWidget(at + 1, row)
            dialog.yubikey = row  # type: ignore[attr-defined]

    def _yubikey_account(self, serial: str) -> str:
        from stsdesk.core.errors import StsdeskError
        from stsdesk.core.mfa_sources import yubikey_account

        broker = self.controller.broker
        if broker is None:
            return serial
        for request in broker.mfa_waitlist.waiting_for(serial):
            try:
                return yubikey_account(broker.tree.chain(request.profile), serial)
            except StsdeskError:
                continue
        return serial


def account_at(model: ProfileTreeModel, index: QModelIndex | QPersistentModelIndex) -> str | None:
    """The 12-digit account of the profile row at ``index`` (of any view of ``model``), or None."""
    name = index.data(PROFILE_NAME_ROLE)
    node_id = model.store.by_name.get(str(name)) if name else None
    return node_account(model.store, node_id)[0] if node_id is not None else None


def _weak(method: Callable[..., T], default: T) -> Callable[..., T]:
    """``method`` called through a weak reference (``default`` once its object is gone): what the controller
    keeps of this object must not make a cycle that outlives the window (see PowerFeatures.__init__)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> T:
        target = ref()
        return target(*args) if target is not None else default

    return call


def _box_layout(widget: QWidget) -> QBoxLayout:
    """The box layout ``widget`` sits in (the window's left and right columns, the MFA dialog)."""
    parent = widget.parentWidget()
    layout = parent.layout() if parent is not None else None
    if not isinstance(layout, QBoxLayout):
        raise TypeError(f"{widget.objectName() or widget!r} is not in a box layout")
    return layout


def install(gui: GuiApp) -> PowerFeatures:
    """Add the power-user features to ``gui``'s window (once)."""
    return PowerFeatures(gui)


