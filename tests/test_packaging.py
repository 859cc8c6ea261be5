"""Packaging: the desktop entry, the icons, the PyInstaller spec and its trim rules (cheap checks).

The frozen build itself (packaging/build.sh + packaging/smoke_test.sh) takes minutes; it runs only with
STSDESK_PACKAGE_TEST=1 (marked slow).
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"
PACKAGING = REPO / "packaging"
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TRAY_SIZES = (16, 22, 32, 48, 64)
TRAY_STATES = ("idle", "active", "expiring", "expired")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rules() -> ModuleType:
    return _load("stsdesk_bundle_rules_under_test", PACKAGING / "bundle_rules.py")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- desktop entry -------------------------------------------------------------------------------------


def test_desktop_file_validates() -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (apt-get install desktop-file-utils)")
    desktop = str(RESOURCES / "stsdesk.desktop")
    out = subprocess.run([tool, desktop], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "error:" not in out.stdout + out.stderr


def test_desktop_file_names_the_app_the_icon_and_the_qt_window_class() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # desktop keys are case-sensitive
    parser.read(RESOURCES / "stsdesk.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "stsdesk"
    assert entry["Exec"] == "stsdesk"  # no %U: the CLI would read a passed file name as a command
    assert entry["Icon"] == "stsdesk"
    # The GUI sets applicationName/desktopFileName "stsdesk": the WM class must match to group its windows.
    assert entry["StartupWMClass"] == "stsdesk"
    assert {"Utility", "Security"} <= set(entry["Categories"].rstrip(";").split(";"))
    assert "AWS" in entry["Keywords"].split(";")


# --- icons ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", APP_SIZES)
def test_app_icon_png_at_each_size(size: int) -> None:
    assert _png_size(RESOURCES / "app" / f"stsdesk-{size}.png") == (size, size)


@pytest.mark.parametrize("state", TRAY_STATES)
def test_tray_icon_png_at_each_size_for_each_state(state: int) -> None:
    for size in TRAY_SIZES:
        assert _png_size(RESOURCES / "tray" / f"{state}-{size}.png") == (size, size), (state, size)


def test_icon_svgs_are_square_svg_documents() -> None:
    svgs = [RESOURCES / "app" / "stsdesk.svg"] + [RESOURCES / "tray" / f"{s}.svg" for s in TRAY_STATES]
    for svg in svgs:
        root = ET.parse(svg).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", svg.name
        _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
        assert width == height, svg.name


def test_render_script_targets_exactly_the_committed_pngs() -> None:
    render = _load("stsdesk_render_icons_under_test", PACKAGING / "render_icons.py")
    produced = {png.relative_to(RESOURCES) for _, png, _ in render.icon_targets()}
    committed = {p.relative_to(RESOURCES) for d in ("app", "tray") for p in (RESOURCES / d).glob("*.png")}
    assert produced == committed


# --- bundle rules --------------------------------------------------------------------------------------


def test_version_comes_from_the_package(rules: ModuleType, tmp_path: Path) -> None:
    import stsdesk

    assert rules.version_from_init(REPO / "stsdesk" / "__init__.py") == stsdesk.__version__
    bad = tmp_path / "init.py"
    bad.write_text("VERSION = '1'\n")
    with pytest.raises(ValueError, match="no __version__"):
        rules.version_from_init(bad)


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", True),
        ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", True),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/plugins/imageformats/libqpdf.so", False),
        ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
        ("PySide6/Qt/lib/libQt6Core.so.6", True),
        ("PySide6/Qt/lib/libQt6DBus.so.6", True),
        ("PySide6/Qt/lib/libQt6Network.so.6", True),
        ("PySide6/Qt/lib/libQt6Quick.so.6", False),
        ("PySide6/Qt/lib/libQt6Qml.so.6", False),
        ("PySide6/Qt/lib/libQt6Pdf.so.6", False),
        ("libgtk-3.so.0", False),
        ("libdbus-1.so.3", True),
        ("libpython3.11.so.1.0", True),
    ],
)
def test_keep_binary(rules: ModuleType, dest: str, kept: bool) -> None:
    assert rules.keep_binary(dest) is kept


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("botocore/data/endpoints.json", True),
        ("botocore/data/partitions.json", True),
        ("botocore/data/sts/2011-06-15/service-2.json.gz", True),
        ("botocore/data/ec2/2016-11-15/service-2.json.gz", True),
        ("botocore/data/s3/2006-03-01/service-2.json.gz", False),
        ("signxml/schemas/xmldsig-core-schema.xsd", True),
        ("resources/demo.toml", True),
    ],
)
def test_keep_data(rules: ModuleType, dest: str, kept: bool) -> None:
    assert rules.keep_data(dest) is kept


def test_kept_qt_plugins_exist_in_the_installed_pyside6(rules: ModuleType) -> None:
    """A Qt upgrade that renames a plugin would otherwise silently drop it from the bundle."""
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.origin is not None
    plugins = Path(spec.origin).parent / "Qt" / "plugins"
    missing = [p for p in rules.QT_PLUGINS_KEPT if not list(plugins.glob(p + ".*"))]
    assert missing == []


def test_kept_botocore_services_exist(rules: ModuleType) -> None:
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.origin is not None
    data = Path(spec.origin).parent / "data"
    assert all((data / service).is_dir() for service in rules.BOTOCORE_SERVICES)


def test_hidden_imports_resolve(rules: ModuleType) -> None:
    gui_app_pending = not (REPO / "stsdesk" / "gui" / "app.py").exists()
    unresolved = [
        name for name in rules.HIDDEN_IMPORTS
        if not (name == "stsdesk.gui.app" and gui_app_pending) and importlib.util.find_spec(name) is None
    ]
    assert unresolved == []


def test_excluded_modules_are_not_imported_by_stsdesk(rules: ModuleType) -> None:
    """Excluding a module the app imports would break the frozen app only at run time."""
    excluded = set(rules.EXCLUDES)
    offenders = []
    for path in (REPO / "stsdesk").rglob("*.py"):
        if ".".join(path.relative_to(REPO).with_suffix("").parts) in excluded:
            continue  # left out of the bundle itself (the pytest plugin), so its imports do not matter
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                if any(".".join(parts[: i + 1]) in excluded for i in range(len(parts))):
                    offenders.append(f"{path.relative_to(REPO)}: {name}")
    assert offenders == []
    assert not excluded & set(rules.HIDDEN_IMPORTS)


# --- the spec ------------------------------------------------------------------------------------------


class _Recorder:
    """Stands in for PyInstaller's Analysis/PYZ/EXE/COLLECT: records how the spec calls them."""

    calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]]

    def __init__(self, kind: str, calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
        self.kind, self.calls = kind, calls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls[self.kind] = (args, kwargs)
        result = type(self.kind, (), {})()
        result.pure, result.scripts, result.binaries, result.datas = [], [], [], list(kwargs.get("datas", []))
        return result


def test_spec_builds_a_onedir_stsdesk_with_resources_and_keyring_backends() -> None:
    pytest.importorskip("PyInstaller")
    source = (PACKAGING / "stsdesk.spec").read_text(encoding="utf-8")
    code = compile(source, "stsdesk.spec", "exec")
    calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
    namespace: dict[str, Any] = {"SPECPATH": str(PACKAGING), "__name__": "__main__"}
    namespace.update({kind: _Recorder(kind, calls) for kind in ("Analysis", "PYZ", "EXE", "COLLECT")})
    exec(code, namespace)

    assert namespace["VERSION"] == __import__("stsdesk").__version__
    (scripts,), analysis = calls["Analysis"]
    assert [Path(s) for s in scripts] == [REPO / "stsdesk" / "__main__.py"]
    assert (REPO / "stsdesk" / "__main__.py").exists()
    bundled = {dest for _, dest in analysis["datas"]}
    assert (str(RESOURCES), "resources") in analysis["datas"]  # sys._MEIPASS/resources: demo.toml, icons...
    assert any(dest.startswith("signxml") for dest in bundled)
    needed = {"keyring.backends.SecretService", "keyring.backends.fail", "secretstorage", "stsdesk.gui.app"}
    assert needed <= set(analysis["hiddenimports"])
    _, exe = calls["EXE"]
    assert exe["exclude_binaries"] is True and exe["name"] == "stsdesk"  # onedir: binaries go to COLLECT
    assert exe["console"] is True  # the same executable is the CLI
    _, collect = calls["COLLECT"]
    assert collect["name"] == "stsdesk"


# --- the frozen build (minutes) ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(os.environ.get("STSDESK_PACKAGE_TEST") != "1", reason="STSDESK_PACKAGE_TEST=1 builds it")
def test_frozen_bundle_builds_and_passes_the_smoke_test() -> None:
    build = subprocess.run(["bash", str(PACKAGING / "build.sh")], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert (REPO / "dist" / "stsdesk" / "stsdesk").exists()
    smoke_sh = str(PACKAGING / "smoke_test.sh")
    smoke = subprocess.run(["bash", smoke_sh], capture_output=True, text=True, check=False)
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "smoke test passed" in smoke.stdout
