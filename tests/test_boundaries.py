"""Architecture boundaries (DESIGN.md): core, emulator and the CLI's non-GUI commands never import Qt."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = (
    "import sys, importlib\n"
    "importlib.import_module({mod!r})\n"
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'shiboken6'))\n"
    "print(','.join(bad))\n"
)


@pytest.mark.parametrize(
    "module",
    [
        "stsdesk.core.model",
        "stsdesk.core.errors",
        "stsdesk.emulator.scenario",
        "stsdesk.emulator.errors",
    ],
)
def test_module_imports_no_qt(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(mod=module)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"{module} pulled in Qt: {out.stdout.strip()}"


def test_no_qt_import_statements_below_core_and_emulator() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "stsdesk"
    offenders = []
    for sub in ("core", "emulator"):
        for path in (root / sub).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                if stripped.startswith(("import PySide6", "from PySide6", "import qasync", "from qasync")):
                    offenders.append(f"{path.relative_to(root)}: {stripped}")
    assert offenders == []
