"""Architecture boundaries (DESIGN.md): core, emulator, stsdesk.testing and the CLI's command modules never
import Qt (PySide6, shiboken6, qasync), the emulator never imports stsdesk.core, and importing the CLI's
modules loads no boto3/botocore.

Every module of those packages is found with pkgutil, so a module added later is checked without touching this
file. Each package is imported module by module in a fresh interpreter, which notes after each import whether
a forbidden module has appeared: the first module after which one appears is the one that pulled it in.
"""

from __future__ import annotations

import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import stsdesk.cli
import stsdesk.core
import stsdesk.emulator

REPO = Path(__file__).resolve().parent.parent
QT = ("PySide6", "shiboken6", "qasync")

# Imports ``argv[2:]`` one by one; prints, for each, the forbidden modules loaded so far (JSON).
CHECK = """
import importlib, json, sys
forbidden = tuple(sys.argv[1].split(","))
seen = {}
for name in sys.argv[2:]:
    importlib.import_module(name)
    seen[name] = sorted(m for m in sys.modules if m == forbidden or m.startswith(forbidden))
print(json.dumps(seen))
"""


def modules_of(package: object) -> list[str]:
    """The package and every module below it (pkgutil.walk_packages), sorted."""
    path = package.__path__  # type: ignore[attr-defined]
    name = package.__name__  # type: ignore[attr-defined]
    found = [info.name for info in pkgutil.walk_packages(path, prefix=f"{name}.")]
    return [name, *sorted(found)]


def qt_free_modules() -> dict[str, list[str]]:
    groups = {
        "core": modules_of(stsdesk.core),
        "emulator": modules_of(stsdesk.emulator),
        "cli": modules_of(stsdesk.cli),
    }
    if importlib.util.find_spec("stsdesk.testing") is not None:
        groups["testing"] = ["stsdesk.testing"]
    return groups


def first_offender(modules: list[str], forbidden: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """Import ``modules`` in order in a fresh interpreter; the first one after which a ``forbidden`` module
    (or a submodule of one) is loaded, with what was loaded, or None."""
    prefixes = ",".join([*forbidden, *(f"{name}." for name in forbidden)])
    done = subprocess.run(
        [sys.executable, "-c", CHECK, prefixes, *modules],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, f"importing {modules} failed:\n{done.stderr[-3000:]}"
    seen: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(seen) == modules  # every module was imported
    for name in modules:
        if seen[name]:
            return name, seen[name]
    return None


def test_the_walk_finds_the_modules_it_must_check() -> None:
    groups = qt_free_modules()
    # A walk that finds nothing would make the tests below pass vacuously.
    assert {"stsdesk.core.broker", "stsdesk.core.broker_sources", "stsdesk.core.exports"} <= set(groups["core"])
    assert {"stsdesk.emulator.app", "stsdesk.emulator.sts"} <= set(groups["emulator"])
    assert {"stsdesk.cli.parser", "stsdesk.cli.credentials"} <= set(groups["cli"])
    assert all(len(modules) >= 1 for modules in groups.values())


@pytest.mark.parametrize("group", sorted(qt_free_modules()))
def test_no_qt_module_is_loaded(group: str) -> None:
    modules = qt_free_modules()[group]
    offender = first_offender(modules, QT)
    assert offender is None, f"{offender[0]} pulled in Qt: {', '.join(offender[1][:5])}" if offender else ""


def test_the_check_sees_qt_when_it_is_imported() -> None:
    # The same check on a GUI module must see Qt, or it could not see it anywhere.
    assert first_offender(["stsdesk.core.model", "stsdesk.gui.tray"], QT) is not None
    assert first_offender(["stsdesk.core.model"], QT) is None


def test_the_cli_modules_import_no_aws_sdk() -> None:
    # boto3/botocore come with the commands that call AWS, never with importing the command line.
    offender = first_offender(qt_free_modules()["cli"], ("boto3", "botocore"))
    assert offender is None, f"{offender[0]} imports {offender[1][:5]} at module level" if offender else ""


def test_the_emulator_does_not_import_core() -> None:
    offender = first_offender(qt_free_modules()["emulator"], ("stsdesk.core",))
    assert offender is None, f"{offender[0]} imports {offender[1][:5]}" if offender else ""


def test_no_qt_import_statements_below_core_and_emulator() -> None:
    root = REPO / "stsdesk"
    offenders = []
    for sub in ("core", "emulator"):
        for path in (root / sub).rglob("*.py"):
            for line in path.read_text().splitlines():
                stripped = line.strip()
                if stripped.startswith(("import PySide6", "from PySide6", "import qasync", "from qasync")):
                    offenders.append(f"{path.relative_to(root)}: {stripped}")
    assert offenders == []
