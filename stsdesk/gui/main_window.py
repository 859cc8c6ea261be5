"""The main window: layout only. Filter box and profile tree on the left, details on the right, actions in a
toolbar and in the tree's context menu, messages in the status bar. The controller does the wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, Signal
from PySide6.QtGui import QAction, QIcon, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from stsdesk.gui.countdown import Urgency, urgency
from stsdesk.gui.qtfix import set_property
from stsdesk.gui.tree_model import SECONDS_LEFT_ROLE, TIME_LEFT
from stsdesk.gui.tree_view import FilterEdit, ProfileTreeView

__all__ = ["SHELLS", "FilterEdit", "IconCache", "MainWindow", "ProfileTreeView"]

ICON_DIR = Path(__file__).resolve().parent.parent.parent / "resources" / "icons"
# core.exports.SHELLS, copied: importing core.exports (json, datetime, core.model) before the first paint costs
# ~12 ms of startup. tests/gui/test_startup_more.py checks that the two stay equal.
SHELLS = ("bash", "zsh", "fish", "powershell", "cmd", "dotenv", "json")
_FREE = 16777215  # QWIDGETSIZE_MAX
_COUNTDOWN_COLOURS = {Urgency.WARN: "#b26a00", Urgency.CRITICAL: "#c62828", Urgency.EXPIRED: "#888888"}


class SteadyLabel(QLabel):
    """A label whose text changes often without changing shape (the status bar's soonest expiry, each second).

    Its size is fixed to its text with every digit at the font's widest, so a new time left repaints the label
    alone: a label of free size asks its parent (the whole status bar) to lay out and repaint on every text.
    The size changes only when the text's shape does (another profile, another count, an empty text)."""

    _DIGITS = "0123456789"

    def __init__(self) -> None:
        super().__init__()
        self._widest: dict[int, int] | None = None  # str.translate table: each digit -> the widest one
        self._shape: str | None = None

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit(text)

    def _fit(self, text: str) -> None:
        widest = self._widest
        if widest is None:
            metrics = self.fontMetrics()
            digit = max(self._DIGITS, key=metrics.horizontalAdvance)
            widest = self._widest = {ord(d): ord(digit) for d in self._DIGITS}
        shape = text.translate(widest)
        if shape == self._shape:
            return
        self._shape = shape
        self.setMinimumSize(0, 0)  # a fixed QLabel hints its fixed size: free it to measure
        self.setMaximumSize(_FREE, _FREE)
        super().setText(shape)  # measured as QLabel itself would (margins, indent, frame)
        hint = self.sizeHint()
        super().setText(text)
        self.setFixedSize(hint)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # measure again
            self._widest = self._shape = None
            self._fit(self.text())


class IconCache:
    """SVG icons from resources/icons, loaded on first use (startup does not pay for SVG rendering)."""

    def __init__(self, directory: Path = ICON_DIR) -> None:
        self._directory = directory
        self._icons: dict[str, QIcon] = {}

    def __call__(self, name: str) -> QIcon:
        icon = self._icons.get(name)
        if icon is None:
            path = self._directory / f"{name}.svg"
            icon = QIcon(str(path)) if path.is_file() else QIcon()
            self._icons[name] = icon
        return icon


class MainWindow(QMainWindow):
    """Widgets and actions; ``first_painted`` fires once, right after the first paint."""

    first_painted = Signal()
    theme_chosen = Signal(str)  # View > Appearance: "system", "light" or "dark"

    def __init__(self, icons: Callable[[str], QIcon] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.setWindowTitle("stsdesk")
        self._painted = False
        self.resize(1100, 640)

        self.filter_edit = FilterEdit()
        self.filter_edit.setObjectName("filter")
        self.filter_edit.setPlaceholderText(self.tr("Filter by name, account or role ARN  (Ctrl+F)"))
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName(self.tr("Filter profiles"))
        self.tree = ProfileTreeView()
        self.details = QTextBrowser()
        self.details.setObjectName("details")
        self.details.setOpenExternalLinks(False)
        self.details.setMinimumWidth(280)
        self.details.setAccessibleName(self.tr("Profile details"))
        self.session_countdown = QLabel()
        self.session_countdown.setObjectName("details-countdown")
        set_property(self.session_countdown, "textFormat", "PlainText")
        self.session_countdown.setContentsMargins(6, 4, 6, 4)
        self.session_countdown.hide()  # its bold, larger font is set when it is first shown (QFont: after the paint)
        self._countdown_colour: str | None = None
        self._countdown_font_set = False
        self.tree.current_row_changed.connect(self._show_session_countdown)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.filter_edit)
        left_layout.addWidget(self.tree)
        self.splitter = QSplitter()  # horizontal
        self.splitter.setObjectName("splitter")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        right_layout.setSpacing(2)
        right_layout.addWidget(self.session_countdown)
        right_layout.addWidget(self.details)
        from stsdesk.gui.welcome import Welcome

        self.welcome = Welcome()
        self.right_stack = QStackedWidget()
        self.right_stack.setObjectName("details-pane")
        self._details_page = right
        self.right_stack.addWidget(right)
        self.right_stack.addWidget(self.welcome)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.right_stack)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.setCentralWidget(self.splitter)

        def action(text: str, shortcut: str | None = None, tip: str = "") -> QAction:
            act = QAction(self.tr(text), self)  # every text through Qt's translation (English only so far)
            if shortcut:
                set_property(act, "shortcut", shortcut)  # act.setShortcut(QKeySequence(shortcut)), see qtfix
            act.setToolTip(self.tr(tip or text))
            act.setStatusTip(self.tr(tip or text))
            return act

        self.assume_action = action("Assume", None, "Get credentials for the selected profile (Enter)")
        self.refresh_action = action("Refresh", "F5", "Get a fresh session even if the cached one is valid")
        self.forget_action = action("Forget", "Del", "Drop the cached session of the selected profile")
        self.copy_exports_action = action("Copy exports", "Ctrl+Shift+C",
                                          "Copy shell commands that set the credentials")
        self.copy_process_action = action("Copy credential_process line", None,
                                          "Copy a credential_process line for ~/.aws/config")
        self.copy_long_term_action = action(
            "Copy long-term key exports…", None,
            "Copy an IAM user's long-term access key (not a session) as exports, after a confirmation")
        self.console_action = action("Open console", "Ctrl+O", "Sign in to the AWS console in the browser")
        self.copy_console_action = action("Copy console URL", None, "Copy a console sign-in URL (valid 15 min)")
        self.whoami_action = action("Who am I", "Ctrl+I", "Call GetCallerIdentity with the profile")
        self.decode_action = action("Decode message…", "Ctrl+D", "Decode an encoded authorization failure")
        self.add_action = action("Add profile…", "Ctrl+N")
        self.edit_action = action("Edit profile…", "Ctrl+E")
        self.remove_action = action("Remove profile…", None)
        self.settings_action = action("Settings…", "Ctrl+,")
        self.reload_action = action("Reload config", "Ctrl+R", "Read the AWS config files again")
        self.quit_action = action("Quit", "Ctrl+Q", "Quit stsdesk (the tray, the terminal bridge and servers too)")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.about_action = action("About stsdesk", None)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.shortcuts_action = action("Keyboard shortcuts", "F1", "List the keyboard shortcuts")
        self.expand_action = action("Expand all", None, "Show every role under its source")
        self.collapse_action = action("Collapse all", None, "Show the sources only")
        self.focus_filter_action = action("Filter", "Ctrl+F")
        self.focus_filter_action.triggered.connect(self._focus_filter)
        self.addAction(self.focus_filter_action)
        for act in (self.assume_action, self.refresh_action, self.forget_action):
            set_property(act, "shortcutContext", "WidgetWithChildrenShortcut")
        self.profile_actions = [
            self.assume_action, self.refresh_action, self.forget_action, self.copy_exports_action,
            self.copy_process_action, self.console_action, self.copy_console_action, self.whoami_action,
            self.edit_action, self.remove_action, self.copy_long_term_action,
        ]  # fmt: skip

        self.shell_combo = QComboBox()
        self.shell_combo.setObjectName("shell")
        self.shell_combo.addItems(SHELLS)
        self.shell_combo.setToolTip(self.tr("Shell for Copy exports"))
        self.shell_combo.setAccessibleName(self.tr("Shell for Copy exports"))
        toolbar = QToolBar(self.tr("Actions"))
        toolbar.setObjectName("toolbar")
        toolbar.setMovable(False)
        set_property(toolbar, "toolButtonStyle", "ToolButtonTextOnly")
        self.toolbar = toolbar
        # The toolbar shows its own copies of the actions, so a narrow window can drop some from the toolbar
        # (they stay in the menus) without hiding them anywhere else.
        self._toolbar_copies: dict[QAction, QAction] = {}
        for group in ((self.assume_action, self.refresh_action, self.forget_action), (self.copy_exports_action,),
                      (self.console_action, self.whoami_action, self.decode_action),
                      (self.add_action, self.edit_action, self.settings_action)):
            if toolbar.actions():
                toolbar.addSeparator()
            for act in group:
                toolbar.addAction(self._toolbar_copy(act))
            if group == (self.copy_exports_action,):
                toolbar.addWidget(self.shell_combo)
        # Dropped from the toolbar first when the window is narrow (all of them are in the menu bar).
        self._toolbar_drop_order = [self.settings_action, self.edit_action, self.decode_action, self.add_action,
                                    self.whoami_action, self.forget_action]
        self.addToolBar(toolbar)
        for act in (*self.profile_actions, self.decode_action, self.add_action, self.settings_action,
                    self.reload_action):
            self.addAction(act)

        self._build_menus()
        self.expand_action.triggered.connect(self.tree.expandAll)
        self.collapse_action.triggered.connect(self.tree.collapseAll)
        self.shortcuts_action.triggered.connect(self._show_shortcuts)
        self.about_action.triggered.connect(self._show_about)

        self.expiry_label = SteadyLabel()
        self.expiry_label.setObjectName("soonest-expiry")
        self.statusBar().addPermanentWidget(self.expiry_label)
        self.keyring_label = QLabel()
        self.keyring_label.setObjectName("keyring-status")
        self.keyring_label.setStyleSheet("color: #b26a00")
        self.keyring_label.hide()
        self.statusBar().addPermanentWidget(self.keyring_label)

    def _toolbar_copy(self, act: QAction) -> QAction:
        """A toolbar entry that mirrors ``act`` (text, tooltip, enabled) and triggers it."""
        copy = QAction(act.text(), self)
        copy.setObjectName(f"toolbar-{act.text().rstrip('…').lower().replace(' ', '-')}")

        def follow() -> None:
            copy.setText(act.text())
            copy.setToolTip(act.toolTip())
            copy.setStatusTip(act.statusTip())
            copy.setEnabled(act.isEnabled())

        act.changed.connect(follow)
        follow()
        copy.triggered.connect(act.trigger)
        self._toolbar_copies[act] = copy
        return copy

    def toolbar_shows(self, act: QAction) -> bool:
        """Whether ``act`` is on the toolbar now (a narrow window drops some)."""
        copy = self._toolbar_copies.get(act)
        return copy is not None and copy.isVisible()

    def adapt_toolbar(self) -> None:
        """Drop the less used entries from the toolbar until it fits the window (no overflow arrow); bring
        them back when there is room."""
        for copy in self._toolbar_copies.values():
            copy.setVisible(True)
        room = self.width() - 8
        for act in self._toolbar_drop_order:
            layout = self.toolbar.layout()
            if layout is not None:
                layout.invalidate()
            if self.toolbar.sizeHint().width() <= room:
                break
            self._toolbar_copies[act].setVisible(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.adapt_toolbar()

    def show_theme(self, theme: str) -> None:
        """Tick ``theme`` in View > Appearance."""
        act = self.theme_actions.get(theme)
        if act is not None:
            act.setChecked(True)

    def _build_menus(self) -> None:
        """The menu bar (see gui/window_menus.py); ``menus`` maps File/Profile/Session/View/Help to their menu."""
        from stsdesk.gui.window_menus import build_menus

        self.theme_actions: dict[str, QAction] = {}
        self.menus = build_menus(self)

    def all_actions(self) -> list[QAction]:
        """Every action in the menu bar (submenus included)."""
        from stsdesk.gui.window_menus import menu_actions

        return menu_actions(self.menus.values())

    def _show_shortcuts(self) -> None:
        from stsdesk.gui.window_menus import show_shortcuts

        show_shortcuts(self)

    def _show_about(self) -> None:
        from stsdesk.gui.window_menus import show_about

        show_about(self)

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def context_menu(self) -> QMenu:
        """The tree's context menu: every action."""
        menu = QMenu(self)
        for act in (self.assume_action, self.refresh_action, self.forget_action):
            menu.addAction(act)
        menu.addSeparator()
        for act in (self.copy_exports_action, self.copy_process_action, self.copy_long_term_action,
                    self.console_action, self.copy_console_action, self.whoami_action):
            menu.addAction(act)
        menu.addSeparator()
        for act in (self.decode_action, self.add_action, self.edit_action, self.remove_action,
                    self.reload_action, self.settings_action):
            menu.addAction(act)
        return menu

    def _show_session_countdown(self) -> None:
        """Time left of the current profile's session above the details, read from the tree's time-left cell
        (so it moves with the shared countdown tick); hidden when the profile has no session."""
        index = self.tree.currentIndex()
        cell = index.siblingAtColumn(TIME_LEFT) if index.isValid() else QModelIndex()
        seconds = cell.data(SECONDS_LEFT_ROLE) if cell.isValid() else None
        if seconds is None:
            self.session_countdown.hide()
            return
        name = index.siblingAtColumn(0).data()  # what the Name cell shows (a sign-in session's label)
        level = urgency(float(seconds))
        if level is Urgency.EXPIRED:
            text = self.tr("The session of {name} has expired").format(name=name)
        else:
            text = self.tr("Session of {name}: {left} left").format(name=name, left=cell.data())
        if not self._countdown_font_set:
            self._countdown_font_set = True
            font = self.session_countdown.font()
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 1.15)
            self.session_countdown.setFont(font)
        self.session_countdown.setText(text)
        colour = _COUNTDOWN_COLOURS.get(level)
        if colour != self._countdown_colour:  # a style sheet change re-polishes the label: only when it changes
            self._countdown_colour = colour
            self.session_countdown.setStyleSheet(f"color: {colour}" if colour else "")
        self.session_countdown.show()

    def show_keyring_warning(self, warning: str | None) -> None:
        """Keep a "keyring: memory only" label in the status bar (the full ``warning`` as its tooltip) while
        secrets cannot be stored in a keyring; hide it when ``warning`` is None or empty."""
        self.keyring_label.setText(self.tr("keyring: memory only") if warning else "")
        self.keyring_label.setToolTip(warning or "")
        self.keyring_label.setVisible(bool(warning))

    def show_details(self, html: str) -> None:
        """Show ``html`` (a profile's details) in the pane."""
        self.right_stack.setCurrentIndex(0)
        self.details.setHtml(html)

    def show_empty_details(self, no_profiles: bool) -> None:
        """The pane with no profile selected: a hint, or the welcome when there are no profiles at all."""
        self.right_stack.setCurrentWidget(self.welcome if no_profiles else self._details_page)
        from html import escape  # here: html.entities costs ~1.5 ms before the first paint

        self.details.setHtml("<p>" + escape(self.tr("Select a profile.")) + "</p>")

    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        """A non-modal message in the status bar."""
        self.statusBar().showMessage(text, timeout_ms)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        # A window whose children cover it may never get a paint event of its own; the first completed
        # repaint (UpdateRequest / Expose) counts as the first paint too.
        if not getattr(self, "_painted", True) and event.type() in (QEvent.Type.UpdateRequest, QEvent.Type.Expose):
            self._painted = True
            self.first_painted.emit()
        return handled
