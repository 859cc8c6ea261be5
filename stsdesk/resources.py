"""Where stsdesk's resources/ folder is (icons, the demo scenario), from a source checkout or a PyInstaller bundle.

Its own small module: the GUI needs it before its first paint (the app icon), without stsdesk.demo's demo world.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The resources/ folder, from a source checkout or inside a PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
