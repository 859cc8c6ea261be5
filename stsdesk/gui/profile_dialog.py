"""Add / edit a profile: fields validated as the user types (core.configfile validators).

The dialog returns config keys; the controller writes them with ``ConfigFile`` (comments and order kept).
An IAM user's secret access key never goes into the config file: the controller puts it into the keyring.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from stsdesk.core.configfile import (
    validate_duration,
    validate_mfa_serial,
    validate_profile_name,
    validate_role_arn,
)
from stsdesk.core.model import Profile, ProfileKind
from stsdesk.gui.tree_model import ALIAS_KEY

ROLE, USER = "Role (assumed from a source profile)", "IAM user (long-term access key)"


class ProfileDialog(QDialog):
    """Fields for a role or an IAM user. ``existing`` switches to edit mode (the name is then fixed)."""

    def __init__(self, names: list[str], existing: Profile | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("profile-dialog")
        self.setWindowTitle("Edit profile" if existing else "Add profile")
        self._names = set(names)
        self._existing = existing
        form = QFormLayout(self)
        self.kind = QComboBox()
        self.kind.addItems([ROLE, USER])
        self.name = QLineEdit(existing.name if existing else "")
        self.name.setObjectName("profile-name")
        if existing is not None:  # looks read-only, not like a field that ignores typing
            self.name.setReadOnly(True)
            self.name.setFrame(False)
            self.name.setStyleSheet("QLineEdit { background: transparent; }")
            self.name.setToolTip(self.tr("A profile's name cannot be changed here: other profiles and scripts "
                                         "refer to it. Add a new profile to use another name."))
            self.name.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.source = QComboBox()
        self.source.setObjectName("profile-source")
        self.source.addItems(sorted(n for n in names if existing is None or n != existing.name))
        self.role_arn = QLineEdit(existing.role_arn or "" if existing else "")
        self.role_arn.setObjectName("profile-role-arn")
        self.role_arn.setPlaceholderText("arn:aws:iam::123456789012:role/Name")
        self.mfa_serial = QLineEdit(existing.mfa_serial or "" if existing else "")
        self.mfa_serial.setPlaceholderText("optional: arn:aws:iam::123456789012:mfa/NAME")
        self.duration = QLineEdit(str(existing.duration_seconds or "") if existing else "")
        self.duration.setPlaceholderText("optional: 900–43200 seconds")
        self.region = QLineEdit(existing.region or "" if existing else "")
        self.region.setPlaceholderText("optional: e.g. eu-west-1")
        self.external_id = QLineEdit(existing.external_id or "" if existing else "")
        self.external_id.setPlaceholderText("optional")
        self.alias = QLineEdit(existing.extra.get(ALIAS_KEY, "") if existing else "")
        self.alias.setPlaceholderText("optional: a readable name for the account")
        self.access_key_id = QLineEdit(existing.access_key_id or "" if existing else "")
        self.access_key_id.setPlaceholderText("AKIA…")
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("stored in the OS keyring, never in a file" if not existing
                                       else "leave empty to keep the stored secret")
        form.addRow("Kind", self.kind)
        form.addRow("Name", self.name)
        form.addRow("Source profile", self.source)
        form.addRow("Role ARN", self.role_arn)
        form.addRow("Access key ID", self.access_key_id)
        form.addRow("Secret access key", self.secret)
        form.addRow("MFA device", self.mfa_serial)
        form.addRow("Duration (s)", self.duration)
        form.addRow("Region", self.region)
        form.addRow("External ID", self.external_id)
        form.addRow("Account alias", self.alias)
        self.problem = QLabel()
        self.problem.setObjectName("profile-problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c62828")
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._form = form
        # Wide enough for the longest placeholder and label (they were cut off).
        metrics = self.fontMetrics()
        longest = max(metrics.horizontalAdvance(edit.placeholderText()) for edit in self.findChildren(QLineEdit))
        widest_label = max(metrics.horizontalAdvance(text) for text in ("Secret access key", "Source profile"))
        self.setMinimumWidth(longest + widest_label + 80)
        for field in (*self.findChildren(QLineEdit), self.kind, self.source):
            label = form.labelForField(field)
            if isinstance(label, QLabel):
                field.setAccessibleName(label.text())
        if existing is None and not names:
            # Nothing to assume a role from yet: an IAM user is the kind that can work on its own.
            self.kind.setCurrentText(USER)
        if existing is not None:
            self.kind.setCurrentText(USER if existing.kind is ProfileKind.IAM_USER else ROLE)
            self.kind.setEnabled(False)
            if existing.source:
                self.source.setCurrentText(existing.source)
        for edit in (self.name, self.role_arn, self.mfa_serial, self.duration, self.access_key_id, self.secret):
            edit.textChanged.connect(self.validate)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def is_role(self) -> bool:
        return self.kind.currentText() == ROLE

    def _kind_changed(self) -> None:
        role = self.is_role()
        for widget, visible in ((self.source, role), (self.role_arn, role), (self.external_id, role),
                                (self.access_key_id, not role), (self.secret, not role)):
            self._form.setRowVisible(widget, visible)
        self.validate()

    def problem_text(self) -> str | None:
        """The first problem with the input, phrased for the user, or None when it can be saved."""
        name = self.name.text()
        if self._existing is None:
            problem = validate_profile_name(name)
            if problem:
                return f"Name: {problem}"
            if name in self._names:
                return f"Name: a profile '{name}' already exists"
        if self.is_role():
            if not self.source.currentText():
                return "Source profile: add an IAM user profile first"
            problem = validate_role_arn(self.role_arn.text())
            if problem:
                return f"Role ARN: {problem}"
        else:
            key = self.access_key_id.text().strip()
            if not (16 <= len(key) <= 128 and key.isalnum()):
                return "Access key ID: 16–128 letters and digits (AKIA…)"
            if self._existing is None and not self.secret.text().strip():
                return "Secret access key: enter it (it goes into the OS keyring)"
        if self.mfa_serial.text().strip():
            problem = validate_mfa_serial(self.mfa_serial.text())
            if problem:
                return f"MFA device: {problem}"
        if self.duration.text().strip():
            problem = validate_duration(self.duration.text())
            if problem:
                return f"Duration: {problem}"
        return None

    def validate(self) -> bool:
        problem = self.problem_text()
        self.problem.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)
        return problem is None

    def _accept_if_valid(self) -> None:
        if self.validate():
            self.accept()

    def profile_name(self) -> str:
        return self.name.text().strip()

    def values(self) -> dict[str, str | None]:
        """Config keys to set (str) or remove (None); no secret is ever among them."""
        def opt(edit: QLineEdit) -> str | None:
            return edit.text().strip() or None

        values: dict[str, str | None] = {
            "mfa_serial": opt(self.mfa_serial),
            "duration_seconds": opt(self.duration),
            "region": opt(self.region),
            ALIAS_KEY: opt(self.alias),
        }
        if self.is_role():
            values.update(source_profile=self.source.currentText(), role_arn=self.role_arn.text().strip(),
                          external_id=opt(self.external_id))
        else:
            values["stsdesk_access_key_id"] = self.access_key_id.text().strip()
        return values

    def secret_access_key(self) -> str | None:
        return self.secret.text().strip() or None
