"""PySide6 workarounds: a 6.12.0 reference-count bug (``install``), the source scans of its import hook
(``skip_source_scans``) and setting enum properties without its ``Qt`` namespace (``set_property``).

A PySide6 6.12.0 reference-count bug: ``SignalInstance.emit`` returns a borrowed ``True``.

Every Python-side ``signal.emit(...)`` (ours, qasync's ``call_soon_threadsafe``, pytest-qt's) then drops one
reference of ``True`` that was never taken; on Python 3.11, where ``True`` is not immortal, the process dies
with "bool_dealloc: deallocating True or False" after a few hundred emits. The probe below measures the
leak on a private signal and, only if it is there, wraps ``emit`` to take the missing reference. On a fixed
PySide6 (or Python >= 3.12, immortal bools) the probe finds nothing and nothing is patched.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 20


class _Probe(QObject):
    fired = Signal(int)


def _leaked_per_emit() -> dict[bool, int]:
    probe = _Probe()
    before = {True: sys.getrefcount(True), False: sys.getrefcount(False)}
    for _ in range(_PROBES):
        probe.fired.emit(0)
    after = {True: sys.getrefcount(True), False: sys.getrefcount(False)}
    # Round to whole references per emit; unrelated threads could move the counts by a few.
    return {value: round((before[value] - after[value]) / _PROBES) for value in (True, False)}


def install() -> bool:
    """Patch ``SignalInstance.emit`` if (and only if) this PySide6 leaks bool references; True if patched."""
    if getattr(SignalInstance.emit, "_stsdesk_refcount_fix", False):
        return True
    leaked = _leaked_per_emit()
    if leaked[True] != 1 and leaked[False] != 1:
        return False
    import ctypes  # only when patching: a fixed PySide6 never pays for it at startup

    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        if isinstance(result, bool) and leaked[result] == 1:
            incref(result)
        return result

    emit._stsdesk_refcount_fix = True  # type: ignore[attr-defined]
    SignalInstance.emit = emit  # type: ignore[method-assign]
    return True


def skip_source_scans() -> bool:
    """Answer PySide6's import hook without reading sources where the answer is known; True if installed.

    Once PySide6 is loaded, every module an import statement names for the first time is checked for PySide6 use
    by reading its whole source (shibokensupport.feature._mod_uses_pyside: inspect.getsource, to find "PySide6"
    in it), for the opt-in ``from __feature__ import snake_case, true_property`` switching, which stsdesk never
    uses. Before the window's rows are painted that is ~80 modules (typing, argparse, socket..., and ours): ~8 ms
    of file reads and line splitting (issue 17). The answer is known without the source for the standard library
    (it never imports PySide6) and for stsdesk (only its gui package imports Qt; a module there that does not is
    counted as a PySide6 user, which only matters for __feature__ switching); anything else is still read. Does
    nothing on a PySide6 without that hook (an internal module: looked up, never imported)."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(original):
        return False
    if getattr(original, "_stsdesk_known", False):
        return True
    stdlib = sys.stdlib_module_names

    def uses_pyside(module: Any) -> bool:
        name = getattr(module, "__name__", "")
        top = name.partition(".")[0] if isinstance(name, str) else ""
        if top in stdlib:
            return False
        if top == "stsdesk":
            return name == "stsdesk.gui" or name.startswith("stsdesk.gui.")
        return bool(original(module))

    uses_pyside._stsdesk_known = True  # type: ignore[attr-defined]
    setattr(feature, "_mod_uses_pyside", uses_pyside)  # noqa: B010 - a module attribute mypy does not know
    return True


def set_property(obj: QObject, name: str, value: str) -> None:
    """Set ``obj``'s Qt property ``name`` from a string through Qt's meta-object: an enum or flags value by its key
    (``"PlainText"``, ``"TextSelectableByMouse|TextSelectableByKeyboard"``), a shortcut by its text (``"Ctrl+Q"``).
    The same C++ setter as ``obj.setName(Qt.X.key)`` or ``act.setShortcut(QKeySequence(text))``, without PySide6's
    ``Qt`` namespace: its first use (which those calls make, choosing among their overloads) builds all of its ~93
    Python enums at once (~22 ms of CPU in the app, measured), which nothing before the first paint with rows needs
    (issue 17). An unknown property or enum key raises ValueError (a shortcut text Qt cannot read gives no
    shortcut, as QKeySequence(text) does)."""
    if not obj.setProperty(name, value):
        raise ValueError(f"{type(obj).__name__} has no {name} property that takes {value!r}")
