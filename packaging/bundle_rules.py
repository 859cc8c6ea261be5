"""What goes into the frozen stsdesk bundle: hidden imports, excluded modules, the trim of Qt and botocore.

Loaded by ``stsdesk.spec`` (and by tests/test_packaging.py) from its path: this folder is not a package,
because a package named ``packaging`` would shadow the PyPI ``packaging`` library that PyInstaller imports.
Pure functions over PyInstaller's destination names ("PySide6/Qt/plugins/platforms/libqxcb.so"), so the
rules can be checked without building anything.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

# Imported by name at run time, where PyInstaller's import scan cannot see them.
HIDDEN_IMPORTS: tuple[str, ...] = (
    # stsdesk.cli opens the GUI with importlib.import_module("stsdesk.gui.app") so the CLI never loads Qt
    "stsdesk.gui.app",
    # keyring picks its backend through entry points; the frozen app must carry the Linux ones it may pick.
    "keyring.backends.SecretService",
    "keyring.backends.fail",
    "keyring.backends.null",
    "keyring.backends.chainer",
    "secretstorage",
    "jeepney",
    "jeepney.io.blocking",
    # imported lazily (inside functions) or by botocore's loader
    "boto3",
    "botocore.session",
    "botocore.configloader",
    "html.parser",
    "signxml",
    "lxml.etree",
    "cryptography.hazmat.primitives.ciphers.aead",
    "pyotp",
    "jwt",
    "jwt.algorithms",
    "configupdater",
    "platformdirs",
    "platformdirs.unix",
    # qasync finds its binding with importlib.import_module("PySide6.QtCore") and friends
    "qasync",
    "PySide6.QtCore",
    "PySide6.QtGui",
    "PySide6.QtWidgets",
    "PySide6.QtSvg",
    "PySide6.QtNetwork",
    "PySide6.QtDBus",
)


def cli_command_modules(parser_py: Path) -> tuple[str, ...]:
    """``stsdesk.cli.<name>`` for each name in COMMAND_MODULES of stsdesk/cli/parser.py, read without importing
    it: the parser imports its command modules by name, which PyInstaller's import scan cannot see.
    ValueError when the file has no literal COMMAND_MODULES."""
    tree = ast.parse(parser_py.read_text(encoding="utf-8"), filename=str(parser_py))
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "COMMAND_MODULES" for t in targets):
                return tuple(f"stsdesk.cli.{name}" for name in ast.literal_eval(node.value))
    raise ValueError(f"{parser_py}: no COMMAND_MODULES")


HIDDEN_IMPORTS += cli_command_modules(Path(__file__).resolve().parents[1] / "stsdesk" / "cli" / "parser.py")

# Distributions whose metadata is read at run time (importlib.metadata entry points / versions).
METADATA: tuple[str, ...] = ("keyring",)

# Python modules never needed by the app: other Qt bindings (qasync probes for them), Qt modules the GUI does
# not use, test and build tooling that happens to live in the development virtualenv.
_UNUSED_QT_MODULES = (
    "WebEngineCore", "WebEngineWidgets", "WebEngineQuick", "WebChannel", "WebSockets", "WebView",
    "HttpServer",
    "3DCore", "3DRender", "3DInput", "3DLogic", "3DAnimation", "3DExtras",
    "Qml", "Quick", "Quick3D", "QuickControls2", "QuickWidgets", "QuickTest",
    "Multimedia", "MultimediaWidgets", "SpatialAudio", "TextToSpeech",
    "Pdf", "PdfWidgets", "Charts", "DataVisualization", "Graphs", "GraphsWidgets",
    "Bluetooth", "Nfc", "Positioning", "Location", "Sensors", "SerialPort", "SerialBus",
    "RemoteObjects", "Scxml", "StateMachine", "Sql", "Test", "Designer", "UiTools", "Help",
    "OpenGL", "OpenGLWidgets", "PrintSupport", "Xml", "Concurrent", "NetworkAuth", "AxContainer",
    "CanvasPainter",
)
EXCLUDES: tuple[str, ...] = (
    "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib", "lib2to3", "test", "pydoc_data", "readline",
    "PyQt5", "PyQt6", "PySide2",
    *(f"PySide6.Qt{name}" for name in _UNUSED_QT_MODULES),
    # lxml: signxml uses lxml.etree only
    "lxml.objectify", "lxml.html", "lxml.isoschematron", "lxml.cssselect", "lxml.usedoctest",
    "lxml.doctestcompare",
    "setuptools", "pkg_resources", "pip", "wheel", "pytest", "_pytest", "pytestqt", "hypothesis", "moto",
    "awscli", "docutils", "numpy", "PIL", "IPython", "mypy", "ruff", "psutil",
    "stsdesk.testing",  # the pytest plugin (imports pytest): for people's test suites, never the desktop app
)

# Qt plugins the GUI uses, as "<plugin type>/<library stem>". Everything else under plugins/ is dropped.
QT_PLUGINS_KEPT: frozenset[str] = frozenset({
    "platforms/libqxcb",               # X11
    "platforms/libqoffscreen",         # headless: smoke test, CI, --exit-after-first-paint
    "platforms/libqwayland",           # native Wayland (optional; X11 via XWayland works without it)
    "xcbglintegrations/libqxcb-glx-integration",
    "xcbglintegrations/libqxcb-egl-integration",
    "wayland-shell-integration/libxdg-shell",
    "wayland-decoration-client/libbradient",
    "wayland-decoration-client/libadwaita",
    "wayland-graphics-integration-client/libqt-plugin-wayland-egl",
    "wayland-graphics-integration-client/libshm-emulation-server",
    "platformthemes/libqxdgdesktopportal",  # portal file dialogs and colour scheme over D-Bus
    "platforminputcontexts/libcomposeplatforminputcontextplugin",  # dead keys / compose sequences
    "platforminputcontexts/libibusplatforminputcontextplugin",      # input methods
    "imageformats/libqsvg",            # SVG icons and the tray
    "imageformats/libqico",
    "iconengines/libqsvgicon",
})

# Shared libraries never needed once the plugins above are the only ones: Qt modules of the excluded Python
# modules and the dependencies of dropped plugins (GTK of the gtk3 theme, Quick of the virtual keyboard...).
_DROPPED_LIBS = re.compile(
    r"lib(Qt6(Quick|Qml|Pdf|VirtualKeyboard|WaylandCompositor|WaylandEgl\w*Compositor|WlShellIntegration"
    r"|Designer|Help|Sql|Test|Labs|Lottie|Multimedia|WebEngine|3D|Charts|DataVisualization|Graphs|Bluetooth|Nfc"
    r"|Positioning|Location|Sensors|SerialPort|Scxml|StateMachine|RemoteObjects|ShaderTools|UiTools|Concurrent"
    r"|PrintSupport|Xml|OpenGLWidgets|EglFS|EglFsKms|Spatial|TextToSpeech)"
    r"|gtk-3|gdk-3|gdk_pixbuf|atk-|atk-bridge|atspi|pango|cairo|harfbuzz-gobject|epoxy"
    r"|pyside6qml)[^/]*$"
)

# botocore service models kept (the app only creates STS clients; the demo's decode flow calls EC2). All the
# other ~450 services are 26 MB of data the app never loads. Top-level files (endpoints.json, partitions.json,
# sdk-default-configuration.json, _retry.json) are always kept.
BOTOCORE_SERVICES: frozenset[str] = frozenset({"sts", "ec2"})

_BOTOCORE_SERVICE_DATA = re.compile(r"^botocore/data/([^/]+)/")


def version_from_init(init_py: Path) -> str:
    """``__version__`` from a module's source, without importing it; ValueError if absent or not a string."""
    tree = ast.parse(init_py.read_text(encoding="utf-8"), filename=str(init_py))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
            raise ValueError(f"{init_py}: __version__ is not a string literal")
    raise ValueError(f"{init_py}: no __version__")


def keep_binary(dest: str) -> bool:
    """True if the shared library at bundle path ``dest`` belongs in the bundle."""
    dest = dest.replace("\\", "/")
    plugin = re.search(r"PySide6/Qt/plugins/(.+?)(\.so[.\d]*|\.dll|\.dylib)$", dest)
    if plugin:
        return plugin.group(1) in QT_PLUGINS_KEPT
    return _DROPPED_LIBS.search(dest.rsplit("/", 1)[-1]) is None


def keep_data(dest: str) -> bool:
    """True if the data file at bundle path ``dest`` belongs in the bundle."""
    dest = dest.replace("\\", "/")
    if "PySide6/Qt/translations/" in dest or dest.startswith(("PySide6/Qt/qml/", "PySide6/Qt/metatypes/")):
        return False  # the UI is English-only; QML is unused; metatypes are for building, not running
    if dest.startswith("PySide6/") and "/plugins/" in dest:
        return keep_binary(dest)
    service = _BOTOCORE_SERVICE_DATA.match(dest)
    if service:
        return service.group(1) in BOTOCORE_SERVICES
    return True
