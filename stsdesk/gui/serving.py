"""Serving a profile's credentials from the window: a loopback endpoint for the SDKs' container credential
provider (core/servers), renewed in the background for as long as the window serves it.

"Serve credentials" / "Stop serving" are in the tree's context menu; a served profile's row says "served"
(its tool tip gives the endpoint); below the details pane, a strip shows the endpoint of the selected served
profile with "Copy environment" (the lines for the shell chosen in the toolbar; they hold the token, so they go
through the secret clipboard) and "Stop serving", which invalidates the token at once.
"""

from __future__ import annotations

import asyncio
import html
import logging
import weakref
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QWidget

from stsdesk.core.servers import CredentialServers, ServedProfile, ServerEvent, ServerMode
from stsdesk.gui.profile_store import is_group_name

if TYPE_CHECKING:
    from stsdesk.gui.app import GuiApp
    from stsdesk.gui.controller import Controller

log = logging.getLogger(__name__)


class ServingPanel(QWidget):
    """The strip under the details pane: the endpoint of the selected served profile and its buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serving-panel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        self.label = QLabel()
        self.label.setObjectName("serving-endpoint")
        self.label.setWordWrap(True)
        self.copy_button = QPushButton("Copy environment")
        self.copy_button.setToolTip("Copy the lines that point a shell's SDKs at this endpoint (holds the token)")
        self.stop_button = QPushButton("Stop serving")
        self.stop_button.setToolTip("Stop the server; its token stops working at once")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.copy_button)
        layout.addWidget(self.stop_button)
        self.hide()


class ServingController(QObject):
    """The window's credential servers (see the module docstring)."""

    def __init__(self, controller: Controller, servers: CredentialServers) -> None:
        super().__init__(controller)
        # Weak: the controller holds this object (menu extenders, tree rows); a strong link back would make a
        # cycle that keeps the window's Python wrapper alive after the window is deleted.
        self._controller = weakref.ref(controller)
        self.servers = servers
        self._tasks: set[asyncio.Task[Any]] = set()
        self.panel = ServingPanel()
        holder = controller.window.details.parentWidget()
        layout = holder.layout() if holder is not None else None
        if layout is not None:
            layout.addWidget(self.panel)
        self.panel.copy_button.clicked.connect(self._copy_current)
        self.panel.stop_button.clicked.connect(self._stop_current)
        me = weakref.ref(self)  # the registry must not keep this object (and through the broker, the window) alive

        def on_event(event: ServerEvent) -> None:
            serving = me()
            if serving is not None:
                serving._on_event(event)

        self._unsubscribe = servers.subscribe(on_event)
        controller.menu_extenders.append(self.extend_menu)
        controller.window.tree.selectionModel().currentChanged.connect(self._selection_changed)
        # After a rebuild of the tree only (not on every sessions_changed: a burst of 200 answers announced
        # ~100 times, each a pass over 5,000 rows).
        controller.model.modelReset.connect(self._mark_all)
        # The menu bar's Session menu (when the window has one): Serve credentials / Stop serving for the current
        # profile, next to the session actions.
        self.menu_action = QAction(self.tr("Serve credentials"), self)
        self.menu_action.setObjectName("serve-credentials")
        self.menu_action.triggered.connect(self._toggle_current)
        menus = getattr(controller.window, "menus", {})
        session_menu = menus.get("session") if isinstance(menus, dict) else None
        if session_menu is not None:
            session_menu.addSeparator()
            session_menu.addAction(self.menu_action)
            session_menu.aboutToShow.connect(self._update_menu_action)

    @property
    def controller(self) -> Controller:
        """The window's controller (alive as long as this object, its child, is)."""
        controller = self._controller()
        assert controller is not None
        return controller

    # -- actions -----------------------------------------------------------------------------------------

    async def serve(self, name: str, mode: ServerMode = ServerMode.CONTAINER) -> ServedProfile | None:
        """Serve ``name``'s credentials (its first session is obtained now, asking for an MFA code if
        needed); None on failure (shown on the row and in the status bar)."""
        served = self.servers.get(name)
        if served is not None:
            return served
        result: ServedProfile | None = await self.controller._run(name, "Serve credentials",
                                                                   lambda: self.servers.serve(name, mode))
        if result is not None:
            self.controller.assumed.emit(name)
            self.controller.window.show_message(f"Serving {name} at {result.endpoint}", 8000)
        return result

    async def stop(self, name: str) -> bool:
        """Stop serving ``name``: its token is refused from now on. False when it was not served."""
        stopped = await self.servers.stop(name)
        self.controller.model.set_served(name, None)
        self.update_panel()
        if stopped:
            self.controller.window.show_message(f"Stopped serving {name}; its token no longer works", 8000)
        return stopped

    def copy_environment(self, name: str | None) -> str | None:
        """Put the lines for the toolbar's shell that point SDKs at ``name``'s server on the (secret)
        clipboard; the text, or None when ``name`` is not served or the shell cannot carry them."""
        served = self.servers.get(name) if name else None
        if served is None or name is None:
            return None
        shell = self.controller.window.shell_combo.currentText() or self.controller.prefs.default_shell
        try:
            text = served.lines(shell)
        except ValueError as exc:
            self.controller.window.show_message(f"Copy environment: {exc}", 15000)
            return None
        self.controller.copy_secret(text, f"{shell} lines for the credential server of {name}")
        return text

    def _update_menu_action(self) -> None:
        name = self.controller.current_profile()
        self.menu_action.setEnabled(bool(name) and not is_group_name(name))
        served = self.servers.get(name) if name else None
        self.menu_action.setText(self.tr("Stop serving") if served is not None else self.tr("Serve credentials"))

    def _toggle_current(self) -> None:
        name = self.controller.current_profile()
        if not name or is_group_name(name):
            return
        self._spawn(self.stop(name) if self.servers.get(name) is not None else self.serve(name))

    def _copy_current(self) -> None:
        self.copy_environment(self.controller.current_profile())

    def _selection_changed(self, *_: object) -> None:
        self.update_panel()

    def _stop_current(self) -> None:
        name = self.controller.current_profile()
        if name:
            self._spawn(self.stop(name))

    # -- state -------------------------------------------------------------------------------------------

    def _on_event(self, event: ServerEvent) -> None:
        serving = self.servers.get(event.profile) is not None and event.endpoint is not None
        self.controller.model.set_served(event.profile, event.endpoint if serving else None)
        if event.error and serving:
            self.controller.window.show_message(f"Serving {event.profile}: {event.error}", 15000)
        if event.profile == self.controller.current_profile():
            self.update_panel()

    def _mark_all(self) -> None:
        """After the tree was rebuilt: mark the served rows again (and only those)."""
        model = self.controller.model
        for name in list(model.store.served()):
            if self.servers.get(name) is None:
                model.set_served(name, None)
        for served in self.servers.served():
            model.set_served(served.profile, served.endpoint)

    def update_panel(self) -> None:
        """Show the strip for the selected profile when it is served, else hide it."""
        name = self.controller.current_profile()
        served = self.servers.get(name) if name else None
        if served is None:
            self.panel.hide()
            return
        what = "IMDSv2 credentials" if served.mode is ServerMode.IMDS else "credentials"
        self.panel.label.setText(f"Serving {what} at <b>{html.escape(served.endpoint)}</b>")
        self.panel.show()

    def extend_menu(self, menu: QMenu, name: str) -> None:
        """"Serve credentials" or "Stop serving" for a profile row."""
        if is_group_name(name):
            return
        menu.addSeparator()
        if self.servers.get(name) is None:
            menu.addAction("Serve credentials", lambda: self._spawn(self.serve(name)))
            menu.addAction("Serve credentials (IMDSv2)", lambda: self._spawn(self.serve(name, ServerMode.IMDS)))
        else:
            menu.addAction("Copy environment (credential server)", lambda: self.copy_environment(name))
            menu.addAction("Stop serving", lambda: self._spawn(self.stop(name)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop every server (on quit): their tokens stop working."""
        self._unsubscribe()
        await self.servers.stop_all()


def install(gui: GuiApp) -> ServingController | None:
    """Add credential serving to the window (call after load_engine)."""
    broker = gui.controller.broker
    if broker is None:
        return None
    serving = ServingController(gui.controller, CredentialServers(broker))
    gui.serving = serving
    return serving
