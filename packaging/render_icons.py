"""Render the PNG sizes of stsdesk's icons from their SVG sources (run by hand when an SVG changes).

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/render_icons.py

Uses Qt's own SVG renderer (PySide6 is already a dependency), so no librsvg/ImageMagick is needed, and the
PNGs are committed: neither CI nor `make package` renders anything. Writes
``resources/app/stsdesk-<N>.png`` and ``resources/tray/<state>-<N>.png``. Fails (exit 1) if an SVG does not
parse or a PNG cannot be written.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 32, 48, 64)
TRAY_STATES = ("idle", "active", "expiring", "expired")


def icon_targets() -> list[tuple[Path, Path, int]]:
    """Every (svg source, png destination, pixel size) this script produces."""
    app_svg = RESOURCES / "app" / "stsdesk.svg"
    targets = [(app_svg, RESOURCES / "app" / f"stsdesk-{n}.png", n) for n in APP_SIZES]
    for state in TRAY_STATES:
        svg = RESOURCES / "tray" / f"{state}.svg"
        targets += [(svg, RESOURCES / "tray" / f"{state}-{n}.png", n) for n in TRAY_SIZES]
    return targets


def render(svg: Path, png: Path, size: int) -> None:
    """Render ``svg`` into a transparent ``size``x``size`` PNG; raises ValueError if either side fails."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise ValueError(f"{png}: could not be written")


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication(sys.argv[:1])  # QPainter on a QImage wants a Gui application (raster, fonts)
    try:
        for svg, png, size in icon_targets():
            render(svg, png, size)
            print(f"{png.relative_to(RESOURCES.parent)}  {size}x{size}")
    except ValueError as exc:
        print(f"render_icons: {exc}", file=sys.stderr)
        return 1
    finally:
        del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
