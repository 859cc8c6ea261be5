"""The MFA prompt: one dialog per MFA device, shared by every request waiting on that device.

The broker awaits :meth:`MfaPrompter.prompt`. The dialog is opened with ``open()`` (never ``exec()``: no
nested event loop inside a coroutine) and a future per device is resolved by the user's answer. After a
code is handed out the dialog stays open ("Checking…") until the controller calls :meth:`MfaPrompter.settle`,
so a wrong code, which makes the broker prompt again with ``MfaRequest.error``, shows the error in the same
dialog. Cancel fails every waiting request with ``MfaCancelled``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from stsdesk.core.errors import MfaCancelled

if TYPE_CHECKING:
    from stsdesk.core.broker import MfaRequest

CODE_LENGTH = 6
# What a cancelled prompt raises: the person chose not to answer, which the window does not show as an error.
CANCELLED_MESSAGE = "MFA code entry cancelled"


class MfaCodeValidator(QValidator):
    """Six digits. Spaces and dashes (as in a pasted "123 456") are dropped rather than refused."""

    def validate(self, text: str, pos: int) -> Any:
        cleaned = "".join(ch for ch in text if ch not in " \t-")
        pos = max(0, pos - (len(text) - len(cleaned)))
        if not cleaned.isdigit() and cleaned:
            return QValidator.State.Invalid, cleaned, pos
        if len(cleaned) > CODE_LENGTH:
            return QValidator.State.Invalid, cleaned, pos
        if len(cleaned) == CODE_LENGTH:
            return QValidator.State.Acceptable, cleaned, pos
        return QValidator.State.Intermediate, cleaned, pos


def clean_code(text: str) -> str | None:
    """The 6-digit code in ``text`` (spaces and dashes ignored), or None."""
    cleaned = "".join(ch for ch in text if ch not in " \t-")
    return cleaned if len(cleaned) == CODE_LENGTH and cleaned.isdigit() else None


class MfaDialog(QDialog):
    """Says which profile, role and device want a code; takes six digits."""

    def __init__(self, mfa_serial: str, hint: Callable[[], str | None] | None = None,
                 parent: QWidget | None = None) -> None:
        from PySide6.QtCore import Qt  # here: the window makes its prompter before the first paint (qtfix.set_property)

        super().__init__(parent)
        self.mfa_serial = mfa_serial
        self.setWindowTitle(self.tr("MFA code needed"))
        self.setObjectName("mfa-dialog")
        self.setMinimumWidth(500)  # room for a full role ARN and the hint line without crowding the edges
        layout = QVBoxLayout(self)
        # The dialog never gets smaller than its contents need: a wrapped error line or hint must push the
        # dialog taller, not squeeze the Code field (it shrank to a few pixels after a wrong code).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.heading = QLabel("<b>" + self.tr("Enter the code from your MFA device") + "</b>")
        layout.addWidget(self.heading)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.profiles_label = QLabel()
        self.profiles_label.setWordWrap(True)
        self.role_label = QLabel()
        self.role_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.role_label.setTextFormat(Qt.TextFormat.PlainText)
        self.device_label = QLabel(mfa_serial)
        self.device_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.device_label.setTextFormat(Qt.TextFormat.PlainText)
        form.addRow(self.tr("Profile:"), self.profiles_label)
        form.addRow(self.tr("Role:"), self.role_label)
        form.addRow(self.tr("MFA device:"), self.device_label)
        self.profiles_label.setAccessibleName(self.tr("Profiles waiting for the code"))
        self.role_label.setAccessibleName(self.tr("Roles"))
        self.device_label.setAccessibleName(self.tr("MFA device"))
        self.code = QLineEdit()
        self.code.setObjectName("mfa-code")
        self.code.setValidator(MfaCodeValidator(self))
        self.code.setPlaceholderText(self.tr("6 digits"))
        self.code.setAccessibleName(self.tr("MFA code"))
        self.code.setMaxLength(16)  # room for a pasted "123 456"; the validator strips it to six digits
        font = self.code.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setLetterSpacing(font.SpacingType.AbsoluteSpacing, 4)
        self.code.setFont(font)
        self.code.setMinimumHeight(self.code.sizeHint().height())  # its height at every state
        self.code.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        form.addRow(self.tr("Code:"), self.code)
        layout.addLayout(form)
        self.error_label = QLabel()
        self.error_label.setObjectName("mfa-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.hint_label = QLabel()
        self.hint_label.setObjectName("mfa-hint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setStyleSheet("color: #4e3b00; background: #fff8e1; padding: 4px; border-radius: 3px")
        self.hint_label.hide()
        layout.addWidget(self.hint_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Continue"))
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.code.textChanged.connect(self._update_ok)
        self.on_code: Callable[[str], None] | None = None
        self._hint = hint
        self._hint_timer: QTimer | None = None
        if hint is not None:
            self._hint_timer = QTimer(self)
            self._hint_timer.setInterval(1000)
            self._hint_timer.timeout.connect(self._refresh_hint)
            self._hint_timer.start()
            self._refresh_hint()
        self._update_ok()

    def set_requests(self, profiles: list[str], roles: list[str]) -> None:
        self.profiles_label.setText(", ".join(profiles))
        # One role per line: an ARN has no space to wrap at.
        self.role_label.setText("\n".join(roles) if roles else self.tr("(none: an MFA session for the user)"))
        self._fit()

    def show_error(self, error: str | None) -> None:
        """Show ``error`` (None: hide it) under the code; the dialog grows to fit it."""
        self.error_label.setText(error or "")
        self.error_label.setVisible(bool(error))
        self._fit()

    def _fit(self) -> None:
        """Grow (never shrink below what the person resized to) so that every line fits its wrapped text."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = max(self.width(), layout.minimumSize().width())
        needed = layout.heightForWidth(width) if layout.hasHeightForWidth() else layout.sizeHint().height()
        if needed > self.height() or width > self.width():
            self.resize(width, max(needed, self.height()))

    def set_checking(self, checking: bool) -> None:
        """While a code is being checked the input is locked and the button says so."""
        self.code.setEnabled(not checking)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("Checking…") if checking else self.tr("Continue"))
        if not checking:
            self.code.clear()
            self.code.setFocus()
        self._update_ok()

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.code.isEnabled() and clean_code(self.code.text()) is not None)

    def _refresh_hint(self) -> None:
        text = self._hint() if self._hint is not None else None
        visible = self.hint_label.isVisible()
        self.hint_label.setText(text or "")
        self.hint_label.setVisible(bool(text))
        if bool(text) != visible:
            self._fit()

    def _submit(self) -> None:
        code = clean_code(self.code.text())
        if code is None or not self.code.isEnabled():
            return
        self.set_checking(True)
        if self.on_code is not None:
            self.on_code(code)


class _Pending:
    """One device's dialog and the future every waiting request awaits."""

    def __init__(self, dialog: MfaDialog) -> None:
        import asyncio  # not at module level: the first rows paint before asyncio is imported

        self.dialog = dialog
        self.future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.profiles: list[str] = []
        self.roles: list[str] = []


class MfaPrompter:
    """The broker's ``MfaPrompt``: ``await prompter.prompt(request)`` -> code, or raises MfaCancelled.

    ``parent`` is the main window (raised when a prompt appears); ``hint`` maps an MFA serial to an optional
    helper line (the demo shows its device's current code, labelled "Demo aid").
    """

    def __init__(self, parent: QWidget | None = None,
                 hint: Callable[[str], str | None] | None = None) -> None:
        self._parent = parent
        self._hint = hint
        self._pending: dict[str, _Pending] = {}
        # Called with each new dialog before it opens (gui/power_features.py adds the waiting requests and the
        # YubiKey button).
        self.dialog_extenders: list[Callable[[MfaDialog], None]] = []

    def dialog_for(self, mfa_serial: str) -> MfaDialog | None:
        pending = self._pending.get(mfa_serial)
        return pending.dialog if pending is not None else None

    def open_dialogs(self) -> list[MfaDialog]:
        return [p.dialog for p in self._pending.values()]

    async def prompt(self, request: MfaRequest) -> str:
        """Ask for a code for ``request`` (a core.broker.MfaRequest); shared per device."""
        import asyncio  # not at module level: the first rows paint before asyncio is imported

        pending = self._pending.get(request.mfa_serial)
        if pending is None:
            pending = self._open(request.mfa_serial)
        elif pending.future.done():
            # The previous code was handed out; the broker asks again (wrong code): same dialog, new future.
            pending.future = asyncio.get_running_loop().create_future()
            pending.dialog.set_checking(False)
        if request.profile not in pending.profiles:
            pending.profiles.append(request.profile)
        if request.role_arn and request.role_arn not in pending.roles:
            pending.roles.append(request.role_arn)
        pending.dialog.set_requests(pending.profiles, pending.roles)
        if request.error:
            pending.dialog.show_error(request.error)
        self._raise(pending.dialog)
        # shield: one waiter being cancelled (its task dropped) must not cancel the code for the others.
        return await asyncio.shield(pending.future)

    def _open(self, serial: str) -> _Pending:
        hint = (lambda: self._hint(serial)) if self._hint is not None else None  # type: ignore[misc]
        dialog = MfaDialog(serial, hint, self._parent)
        for extend in self.dialog_extenders:
            extend(dialog)
        pending = _Pending(dialog)
        self._pending[serial] = pending

        def on_code(code: str) -> None:
            if not pending.future.done():
                pending.future.set_result(code)

        def on_finished(result: int) -> None:
            if result != QDialog.DialogCode.Accepted and not pending.future.done():
                pending.future.set_exception(MfaCancelled(CANCELLED_MESSAGE))
                pending.future.exception()  # waiters still get it; no "never retrieved" noise without any
            if self._pending.get(serial) is pending:
                del self._pending[serial]
            dialog.deleteLater()

        dialog.on_code = on_code
        dialog.finished.connect(on_finished)
        dialog.open()
        return pending

    def _raise(self, dialog: MfaDialog) -> None:
        window = self._parent.window() if self._parent is not None else None
        if window is not None:
            window.showNormal() if window.isMinimized() else None
            window.raise_()
            window.activateWindow()
        dialog.raise_()
        dialog.activateWindow()
        dialog.code.setFocus()

    def settle(self) -> None:
        """Close every dialog whose code was handed out and not asked for again (the request finished)."""
        for pending in list(self._pending.values()):
            if pending.future.done():
                pending.dialog.accept()

    def cancel_all(self) -> None:
        for pending in list(self._pending.values()):
            pending.dialog.reject()
