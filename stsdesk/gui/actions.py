"""What the user does with a profile from the window or the tray: assume, refresh, forget, copy exports or a
credential_process line, open or copy a console sign-in, Who am I, decode an error. Each runs a broker call
with the row marked busy; a failure goes to the row, the details pane and the status bar."""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from stsdesk.core.errors import StsdeskError
from stsdesk.gui.async_slot import async_slot
from stsdesk.gui.controller_core import ControllerCore
from stsdesk.gui.errors import user_message

if TYPE_CHECKING:
    from stsdesk.core.model import Credentials
    from stsdesk.gui.decode_dialog import DecodeDialog

T = TypeVar("T")


class ProfileActions(ControllerCore):
    """The actions on profiles (see the module docstring)."""

    async def _run(self, name: str, what: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``call`` with the row marked busy; failures go to the row, details and status bar."""
        self.model.set_busy(name, True)
        self.window.show_message(f"{what}: {name}…", 0)
        try:
            result = await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = self.reporter.report(exc, f"{what} {name}") if not isinstance(exc, StsdeskError) \
                else user_message(exc)
            self.model.set_error(name, message)
            self.window.show_message(f"{what} {name} failed: {message}", 15000)
            return None
        finally:
            self.model.set_busy(name, False)
            self.prompter.settle()
            if name == self.current_profile():
                self.update_details()
        self.window.show_message(f"{what}: {name} done", 5000)
        return result

    async def assume(self, name: str, force: bool = False) -> Credentials | None:
        """Credentials for ``name`` (from cache unless ``force``); None on failure (shown to the user)."""
        broker = self.broker
        if broker is None:
            return None
        result = await self._run(name, "Refresh" if force else "Assume",
                                 lambda: broker.credentials_for(name, force_refresh=force))
        if result is not None:
            self._sync_profile(name)
            self.assumed.emit(name)
        return result

    @async_slot()
    async def on_assume(self) -> None:
        name = self.current_profile()
        if name:
            await self.assume(name)

    @async_slot()
    async def on_refresh(self) -> None:
        name = self.current_profile()
        if name:
            await self.assume(name, force=True)

    def forget(self) -> None:
        """Drop the selected profile's cached sessions."""
        name = self.current_profile()
        if name and self.broker is not None:
            dropped = self.broker.forget(name)
            self.identities.pop(name, None)
            self._sync_profile(name)
            self.window.show_message(f"Forgot {len(dropped)} cached session(s) of {name}")

    async def copy_exports(self, name: str, shell: str | None = None) -> str | None:
        """Assume ``name`` and put its exports for ``shell`` (default: the window's choice) on the clipboard;
        the text, or None when the assume failed or the shell cannot carry a value."""
        from stsdesk.core.exports import render_exports

        creds = await self.assume(name)
        if creds is None:
            return None
        region = self._export_region(name, creds.region)
        chosen = shell or self.window.shell_combo.currentText()
        try:
            text = render_exports(creds, chosen, region, name)
        except ValueError as exc:
            self.window.show_message(str(exc), 15000)
            return None
        self.copy_secret(text, f"{chosen} exports for {name}")
        return text

    def _export_region(self, name: str, session_region: str | None) -> str:
        """The region exported with ``name``'s credentials: the same rule as the CLI's and the bridge's."""
        from stsdesk.core.region import export_region

        if self.broker is None:
            return session_region or self.prefs.default_region
        try:
            return export_region(self.broker.tree, name, self.broker.default_region, session_region)
        except StsdeskError:  # a profile broken since it was assumed: the session's own region will do
            return session_region or self.broker.default_region

    @async_slot()
    async def on_copy_exports(self) -> None:
        name = self.current_profile()
        if name:
            await self.copy_exports(name)

    def copy_credential_process(self) -> str | None:
        """Copy a ``credential_process = stsdesk ... credential-process NAME`` line for the selected profile."""
        name = self.current_profile()
        if not name:
            return None
        command = ["stsdesk"]
        if self.config_dir:
            command += ["--config-dir", str(self.config_dir)]
        line = f"credential_process = {shlex.join([*command, 'credential-process', name])}"
        self.copy_secret(line, "a credential_process line for ~/.aws/config")
        return line

    async def console_url(self, name: str) -> str | None:
        """A console sign-in URL for ``name`` (a secret, valid 15 minutes); None on failure (shown)."""
        broker = self.broker
        if broker is None:
            return None
        return await self._run(name, "Console sign-in", lambda: broker.console_url(name))

    @async_slot()
    async def on_open_console(self) -> None:
        name = self.current_profile()
        url = await self.console_url(name) if name else None
        if url:
            self.open_signin_in_browser(url)

    def open_signin_in_browser(self, url: str) -> None:
        """Open a console sign-in URL through a private forwarding page, so the token in it never appears on
        the browser's command line (core ``open_signin_url``); failures go to the status bar."""
        from stsdesk.core.console_fetch import open_signin_url

        try:
            opened = open_signin_url(url, lambda page: bool(QDesktopServices.openUrl(QUrl(page))))
        except StsdeskError as exc:
            self.window.show_message(f"Open console failed: {user_message(exc)}", 15000)
            return
        if not opened:
            self.window.show_message("No web browser could be opened; use Copy console URL instead", 15000)

    @async_slot()
    async def on_copy_console_url(self) -> None:
        name = self.current_profile()
        url = await self.console_url(name) if name else None
        if url:
            self.copy_secret(url, f"a console sign-in URL for {name} (valid 15 minutes)")

    async def whoami(self, name: str) -> str | None:
        """GetCallerIdentity for ``name``: its ARN (also shown), or None on failure."""
        broker = self.broker
        if broker is None:
            return None
        identity = await self._run(name, "Who am I", lambda: broker.whoami(name))
        if identity is None:
            return None
        self.identities[name] = identity.arn
        self.model.set_identity(name, identity.arn)
        self.window.show_message(f"{name} is {identity.arn} (account {identity.account})", 15000)
        if name == self.current_profile():
            self.update_details()
        return str(identity.arn)

    @async_slot()
    async def on_whoami(self) -> None:
        name = self.current_profile()
        if name:
            await self.whoami(name)

    def open_decode_dialog(self) -> DecodeDialog:
        """Open the decode dialog (non-modal); it decodes with the profile chosen in it."""
        from stsdesk.gui.decode_dialog import DecodeDialog

        dialog = DecodeDialog(self.model.profile_names(), self.current_profile(), self.window)

        @async_slot(str, str)
        async def decode(text: str, profile: str) -> None:
            try:
                if self.broker is None:
                    raise StsdeskError("the profiles are not loaded yet")
                verdict = await self.broker.decode(text, profile)
            except Exception as exc:
                message = user_message(exc) if isinstance(exc, StsdeskError) else self.reporter.report(exc)
                dialog.show_error(message)
            else:
                dialog.show_verdict(verdict)
            finally:
                self.prompter.settle()

        dialog.decode_requested.connect(decode)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def on_decode(self) -> None:
        self.open_decode_dialog()
