"""The details pane's region picker: the region of the selected profile's sessions in this window.

The choice is per profile and kept in the GUI's settings file (``RegionChoices``); the controller passes it
to ``Broker.credentials_for(region=...)`` (STS is called in that region: its regional endpoint and SigV4
scope), to ``export_region(chosen=...)`` (AWS_REGION of Copy exports) and to the console sign-in. "As
configured" means the profile's region, else the default one (core.region.session_region).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from stsdesk.core.errors import StsdeskError
from stsdesk.core.region import COMMON_REGIONS, validate_region

SETTINGS_KEY = "power/region_choices"  # a list of "profile<TAB>region" in stsdesk-gui.ini


class RegionChoices(QObject):
    """Profile -> region chosen in the picker, kept in ``settings`` (when given) across restarts; a stored
    value that is not a region (a hand-edited file) is ignored. ``changed(profile)`` fires after a change."""

    changed = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._chosen: dict[str, str] = {}
        raw = settings.value(SETTINGS_KEY) if settings is not None else None
        for item in [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, (list, tuple)) else []:
            profile, _, region = str(item).partition("\t")
            try:
                if profile and region:
                    self._chosen[profile] = validate_region(region)
            except StsdeskError:
                continue

    def get(self, profile: str) -> str | None:
        """The region chosen for ``profile``, or None (as configured)."""
        return self._chosen.get(profile)

    def set(self, profile: str, region: str | None) -> None:
        """Choose ``region`` for ``profile`` (None or "": as configured). Raises ConfigError (one line) for a
        name that is not a region."""
        region = validate_region(region.strip()) if region and region.strip() else None
        if self._chosen.get(profile) == region:
            return
        if region is None:
            self._chosen.pop(profile, None)
        else:
            self._chosen[profile] = region
        if self._settings is not None:
            if self._chosen:
                self._settings.setValue(SETTINGS_KEY, [f"{p}\t{r}" for p, r in sorted(self._chosen.items())])
            else:
                self._settings.remove(SETTINGS_KEY)
            self._settings.sync()
        self.changed.emit(profile)


class RegionPicker(QWidget):
    """"Region: [as configured (eu-west-1) ▾]", editable (any region name; checked when chosen).

    ``show_profile(name, configured)`` follows the selection; a choice goes to ``choices``; a bad name is
    said in ``error_label`` and the previous choice stays."""

    def __init__(self, choices: RegionChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("region-picker")
        self.choices = choices
        self._profile: str | None = None
        self._updating = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(QLabel(self.tr("Region for sessions:")))
        self.combo = QComboBox()
        self.combo.setObjectName("region-combo")
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setToolTip(self.tr("The region STS is called in for this profile, and what Copy exports "
                                      "and the console get in this window"))
        self.combo.addItem("")  # "as configured", text set per profile
        self.combo.addItems(COMMON_REGIONS)
        self.combo.setMinimumContentsLength(22)
        layout.addWidget(self.combo, 1)
        self.error_label = QLabel()
        self.error_label.setObjectName("region-error")
        self.error_label.setStyleSheet("color: #c62828")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.combo.activated.connect(lambda _index: self._chosen())
        line = self.combo.lineEdit()
        if line is not None:
            line.editingFinished.connect(self._chosen)
        self.setEnabled(False)

    def show_profile(self, profile: str | None, configured: str) -> None:
        """Show ``profile``'s choice; ``configured`` is its region without a choice (e.g. "eu-west-1")."""
        self._updating = True
        try:
            self._profile = profile
            self.combo.setItemText(
                0,
                self.tr("as configured ({region})").format(region=configured) if configured
                else self.tr("as configured"),  # no profile shown: nothing to put in the brackets
            )
            chosen = self.choices.get(profile) if profile else None
            if chosen is None:
                self.combo.setCurrentIndex(0)
            else:
                found = self.combo.findText(chosen)
                if found >= 0:
                    self.combo.setCurrentIndex(found)
                else:
                    self.combo.setEditText(chosen)
            self.error_label.hide()
            self.setEnabled(profile is not None)
        finally:
            self._updating = False

    def choose(self, region: str | None) -> bool:
        """Choose ``region`` (None: as configured) for the shown profile, as the user would; False (and the
        error shown) when it is not a region name."""
        if region is None:
            self.combo.setCurrentIndex(0)
        else:
            self.combo.setEditText(region)
        return self._chosen()

    def _chosen(self) -> bool:
        if self._updating or self._profile is None:
            return True
        text = self.combo.currentText().strip()
        region = None if self.combo.currentIndex() == 0 and text == self.combo.itemText(0) else text
        try:
            self.choices.set(self._profile, region or None)
        except StsdeskError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setToolTip(str(exc))
            self.error_label.show()
            return False
        self.error_label.hide()
        return True
