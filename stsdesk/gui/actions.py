"""What the user does with a profile from the window or the tray: assume, refresh, forget, copy exports or a
credential_process line, open or copy a console sign-in, Who am I, decode an error. Each runs a broker call
with the row marked busy; a failure goes to the row, the details pane and the status bar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

from stsdesk.core.errors import StsdeskError
from stsdesk.gui import gc_guard
from stsdesk.gui.async_slot import async_slot
from stsdesk.gui.controller_filter import FilterNavigation
from stsdesk.gui.errors import user_message
from stsdesk.gui.profile_store import is_group_name

if TYPE_CHECKING:
    from stsdesk.core.model import Credentials
    from stsdesk.gui.decode_dialog import DecodeDialog

T = TypeVar("T")
REQUEST_HOLD_S = 2.0  # a request started: no full garbage collection for this long, then only at a quiet moment
ANSWER_HOLD_S = 0.5  # an answer came: the same, for this long


_STOPS: tuple[type[BaseException], type[Exception]] | None = None  # set by _stops


def _stops() -> tuple[type[BaseException], type[Exception]]:
    """asyncio.CancelledError and MfaCancelled, imported at the first request (not at module level: the first
    rows paint before asyncio is imported) and kept: an import statement in _run costs each request ~1.6 us
    through PySide's import hook."""
    global _STOPS
    import asyncio

    from stsdesk.core.errors import MfaCancelled

    _STOPS = (asyncio.CancelledError, MfaCancelled)
    return _STOPS


class ProfileActions(FilterNavigation):
    """The actions on profiles (see the module docstring)."""

    requests_in_flight = 0  # broker calls started by _run and not finished yet

    async def _run(self, name: str, what: str, call: Callable[[], Awaitable[T]],
                   outcome: Callable[[T], str | None] | None = None) -> T | None:
        """Run ``call`` with the row marked busy; failures go to the row, details and status bar. A cancelled
        MFA prompt is said as such, not as an error. ``outcome`` words the result for the status bar (None: the
        plain "done")."""
        cancelled, mfa_cancelled = _STOPS or _stops()

        self.rows.set_busy(name, True)
        self.window.show_message(self.tr("{what}: {name}…").format(what=what, name=name), 0)
        gc_guard.hold(REQUEST_HOLD_S)  # a full collection due now would stall the answers: after them
        self.requests_in_flight += 1
        try:
            result = await call()
        except cancelled:
            raise
        except mfa_cancelled:
            self.window.show_message(self.tr("{what} {name}: cancelled").format(what=what, name=name), 5000)
            return None
        except Exception as exc:
            message = self.reporter.report(exc, f"{what} {name}") if not isinstance(exc, StsdeskError) \
                else user_message(exc)
            self.rows.set_error(name, message)
            self.window.show_message(self.tr("{what} {name} failed: {message}").format(
                what=what, name=name, message=message), 15000)
            return None
        finally:
            gc_guard.hold(ANSWER_HOLD_S)  # the loop paints the answers before a held collection runs
            self.requests_in_flight -= 1
            self.rows.set_busy(name, False)
            self.prompter.settle()
            if name == self.current_profile():
                self.update_details()
        said = outcome(result) if outcome is not None else None
        self.window.show_message(said or self.tr("{what}: {name} done").format(what=what, name=name), 5000
                                 if said is None else 15000)
        return result

    async def assume(self, name: str, force: bool = False) -> Credentials | None:
        """Credentials for ``name`` (from cache unless ``force``); None on failure (shown to the user)."""
        broker = self.broker
        if broker is None or is_group_name(name):  # a sign-in session or account row: no credentials of its own
            return None
        result = await self._run(name, "Refresh" if force else "Assume",
                                 lambda: broker.credentials_for(name, force_refresh=force,
                                                                    region=self.region_choice(name)))
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
            return export_region(self.broker.tree, name, self.broker.default_region, session_region,
                                 chosen=self.region_choice(name))
        except StsdeskError:  # a profile broken since it was assumed: the session's own region will do
            return session_region or self.broker.default_region

    @async_slot()
    async def on_copy_exports(self) -> None:
        name = self.current_profile()
        if name:
            await self.copy_exports(name)

    def copy_credential_process(self) -> str | None:
        """Copy a ``credential_process = <absolute stsdesk> ... credential-process NAME`` line for the selected
        profile (core.self_command: the stsdesk that runs now, so the AWS CLI and SDKs find it)."""
        from stsdesk.core.paths import default_config_dir
        from stsdesk.core.self_command import credential_process_line

        name = self.current_profile()
        if not name:
            return None
        custom = self.config_dir and Path(self.config_dir).absolute() != default_config_dir().absolute()
        line = credential_process_line(name, self.config_dir if custom else None)
        self.copy_secret(line, self.tr("a credential_process line for ~/.aws/config"))
        return line

    async def copy_long_term_exports(self, name: str, shell: str | None = None) -> str | None:
        """Put an IAM user's long-term access key (not a session) as exports on the clipboard: only on this
        explicit request (Copy exports hands out a session). None when it failed (said) or was refused."""
        from stsdesk.core.exports import render_exports
        from stsdesk.core.model import ProfileKind

        broker = self.broker
        if broker is None:
            return None
        if self._kind(name) is not ProfileKind.IAM_USER:
            self.window.show_message(self.tr("{name} is not an IAM user: it has no long-term key").format(
                name=name), 15000)
            return None
        creds = await self._run(name, self.tr("Long-term key"),
                                lambda: broker.credentials_for(name, long_term=True))
        if creds is None:
            return None
        chosen = shell or self.window.shell_combo.currentText()
        try:
            text = render_exports(creds, chosen, self._export_region(name, creds.region), name)
        except ValueError as exc:
            self.window.show_message(str(exc), 15000)
            return None
        self.copy_secret(text, self.tr("the LONG-TERM access key of {name} ({shell} exports)").format(
            name=name, shell=chosen))
        return text

    @async_slot()
    async def on_copy_long_term_exports(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        from stsdesk.gui.controller_core import run_dialog

        name = self.current_profile()
        if not name:
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, self.tr("Copy long-term key exports"),
            self.tr("Copy the long-term access key of {name} (AKIA…, and its secret), not a temporary "
                    "session?\n\nThe key does not expire: whoever gets it can use it until it is rotated. "
                    "Copy exports gives a session that expires.").format(name=name),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if await run_dialog(box) == QMessageBox.StandardButton.Yes:
            await self.copy_long_term_exports(name)

    async def console_url(self, name: str) -> str | None:
        """A console sign-in URL for ``name`` (a secret, valid 15 minutes); None on failure (shown)."""
        broker = self.broker
        if broker is None:
            return None
        return await self._run(name, self.tr("Console sign-in"), lambda: broker.console_url(
            name, region=self.region_choice(name)))

    async def open_console(self, name: str) -> bool:
        """Sign ``name`` in to the console in the browser (the console_browser setting, each profile in its
        own context); True when a browser was started. "Done" is said only then; a browser that could not be
        opened is said as such. The sign-in URL is never printed, logged or put on a command line."""
        broker = self.broker
        if broker is None:
            return False

        problem: list[str] = []  # the browser's failure: said, but not the profile's error

        async def sign_in() -> bool:
            url = await broker.console_url(name, region=self.region_choice(name))
            try:
                return self.open_signin_in_browser(url, name, report=False)
            except StsdeskError as exc:
                problem.append(user_message(exc))
                return False

        def outcome(opened: bool) -> str | None:
            if opened:
                return self.tr("Opened the console for {name} in the browser").format(name=name)
            if problem:
                return self.tr("Open console {name} failed: {problem}; Copy console URL still works").format(
                    name=name, problem=problem[0])
            return self.tr("Open console {name}: no web browser could be opened; use Copy console URL "
                           "instead").format(name=name)

        opened: bool | None = await self._run(name, self.tr("Open console"), sign_in, outcome)
        return bool(opened)

    @async_slot()
    async def on_open_console(self) -> None:
        name = self.current_profile()
        if name:
            await self.open_console(name)

    def open_signin_in_browser(self, url: str, profile: str | None = None, report: bool = True) -> bool:
        """Open a console sign-in URL through a private forwarding page (core ``launch_console``), so the
        token never appears on a command line, and Qt is only ever handed the page's ``file://`` URL (a failed
        open makes Qt print the URL it was given). True when a browser was started. With ``report`` a failure
        goes to the status bar; without it, a page that cannot be written raises StsdeskError."""
        from stsdesk.core.browsers import browser_setting, resolve_browser
        from stsdesk.core.console_fetch import launch_console

        def desktop_open(page: str) -> bool:
            if not page.startswith("file:"):  # never hand Qt the sign-in URL itself
                return False
            return bool(QDesktopServices.openUrl(QUrl(page)))

        try:
            browser = resolve_browser(browser_setting(self.config_dir))
            launched = launch_console(url, profile or "console", browser, self.config_dir, opener=desktop_open,
                                      extra_args=self.console_window_args(profile or "console", browser))
        except StsdeskError as exc:
            if not report:
                raise
            self.window.show_message(self.tr("Open console failed: {message}").format(
                message=user_message(exc)), 15000)
            return False
        if launched.process is not None:  # reap the browser when it exits (no zombie per console opened)
            import threading

            threading.Thread(target=launched.process.wait, name="stsdesk-browser", daemon=True).start()
        if not launched.opened and report:
            self.window.show_message(self.tr("No web browser could be opened; use Copy console URL instead"),
                                     15000)
        return launched.opened

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
