"""Light or dark: follow the desktop (the default), or force either (View > Appearance, kept in QSettings).

Qt's own ``QStyleHints.setColorScheme`` only asks the platform theme, and many desktops (X11 without a
settings portal, the offscreen platform) ignore it; a forced choice therefore sets an explicit Fusion palette.
"Follow the desktop" puts back the platform's palette and follows its changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from stsdesk.gui.qtfix import set_property

if TYPE_CHECKING:
    from PySide6.QtCore import Qt

THEMES = ("system", "light", "dark")
THEME_KEY = "prefs/theme"
_platform: dict[str, QPalette] = {}  # the desktop's palette, kept before the first forced one
_style: dict[str, str] = {}


def theme_label(theme: str) -> str:
    """The menu text of ``theme``."""
    labels = {"system": "Follow the desktop", "light": "Light", "dark": "Dark"}
    return QCoreApplication.translate("Theme", labels[theme])


def load_theme(settings: QSettings) -> str:
    """The saved choice (``system`` when none or not one of THEMES)."""
    value = str(settings.value(THEME_KEY, "system"))
    return value if value in THEMES else "system"


def save_theme(settings: QSettings, theme: str) -> None:
    """Keep ``theme`` (one of THEMES; anything else raises ValueError)."""
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}")
    settings.setValue(THEME_KEY, theme)
    settings.sync()


def dark_palette() -> QPalette:
    """A dark palette for Fusion (readable text, visible disabled state, links and highlight)."""
    p = QPalette()
    window, base, text = QColor("#2b2b2b"), QColor("#1e1e1e"), QColor("#e6e6e6")
    for role, colour in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                         (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor("#262626")),
                         (QPalette.ColorRole.ToolTipBase, QColor("#3a3a3a")), (QPalette.ColorRole.ToolTipText, text),
                         (QPalette.ColorRole.PlaceholderText, QColor("#8c8c8c")), (QPalette.ColorRole.Text, text),
                         (QPalette.ColorRole.Button, QColor("#353535")), (QPalette.ColorRole.ButtonText, text),
                         (QPalette.ColorRole.BrightText, QColor("#ff6e6e")), (QPalette.ColorRole.Link,
                                                                               QColor("#6cb4ff")),
                         (QPalette.ColorRole.Highlight, QColor("#2f65ca")),
                         (QPalette.ColorRole.HighlightedText, QColor("#ffffff"))):
        p.setColor(role, colour)
    disabled = QColor("#7a7a7a")
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (default: the application's) has a dark window background."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(theme: str) -> None:
    """Use ``theme`` for the whole application now (see the module docstring)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    style = app.style()
    if not _platform:
        _platform["palette"] = QPalette(app.palette())
        _style["name"] = style.name() if style is not None else ""
        app.styleHints().colorSchemeChanged.connect(_desktop_changed)
    _style["current"] = theme
    hints = app.styleHints()
    # Where the platform honours it, its own light/dark (hints.setColorScheme, without the Qt namespace: a saved
    # light or dark theme is applied before the first paint, see qtfix.set_property).
    set_property(hints, "colorScheme", {"light": "Light", "dark": "Dark"}.get(theme, "Unknown"))
    if theme == "system":
        if _style["name"] and style is not None and style.name() != _style["name"]:
            app.setStyle(_style["name"])
        app.setPalette(_platform["palette"])
        return
    if style is None or style.name().lower() != "fusion":
        app.setStyle("Fusion")
    fusion = app.style()
    app.setPalette(dark_palette() if theme == "dark" else fusion.standardPalette() if fusion else QPalette())


def current_theme() -> str:
    """The theme last applied (``system`` before any)."""
    return _style.get("current", "system")


def _desktop_changed(_scheme: Qt.ColorScheme) -> None:
    app = QApplication.instance()
    if current_theme() == "system" and isinstance(app, QApplication):
        _platform["palette"] = QPalette(app.palette())  # the desktop's new palette, followed
