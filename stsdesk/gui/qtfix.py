"""Work around a PySide6 6.12.0 reference-count bug: ``SignalInstance.emit`` returns a borrowed ``True``.

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
