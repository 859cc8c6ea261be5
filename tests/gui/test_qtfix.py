"""stsdesk.gui.qtfix on this PySide6: the probe finds no leak, so nothing is patched; and the patch itself,
applied as it would be on a leaking release (the probe's answer replaced), takes exactly the reference that
release drops on every emit and nothing else."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal, SignalInstance

from stsdesk.gui import qtfix


class Emitter(QObject):
    fired = Signal(int)


def test_this_pyside6_does_not_leak_so_nothing_is_patched() -> None:
    leaked = qtfix._leaked_per_emit()
    assert leaked == {True: 0, False: 0}
    if not getattr(SignalInstance.emit, "_stsdesk_refcount_fix", False):
        assert qtfix.install() is False
        assert not getattr(SignalInstance.emit, "_stsdesk_refcount_fix", False)


def test_on_a_leaking_release_emit_takes_the_missing_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    original = SignalInstance.emit
    if getattr(original, "_stsdesk_refcount_fix", False):
        pytest.fail("SignalInstance.emit is already patched: this PySide6 leaks, see qtfix")
    monkeypatch.setattr(SignalInstance, "emit", original)  # restored after the test
    monkeypatch.setattr(qtfix, "_leaked_per_emit", lambda: {True: 1, False: 0})
    assert qtfix.install() is True
    assert getattr(SignalInstance.emit, "_stsdesk_refcount_fix", False)
    assert qtfix.install() is True  # a second install sees the marker and does not wrap twice
    emitter = Emitter()
    received: list[int] = []
    emitter.fired.connect(received.append)
    emits = 50
    before_true, before_false = sys.getrefcount(True), sys.getrefcount(False)
    for n in range(emits):
        emitter.fired.emit(n)
    gained_true = sys.getrefcount(True) - before_true
    gained_false = sys.getrefcount(False) - before_false
    assert received == list(range(emits))  # the wrapper still delivers
    # One reference of True per emit (what the leaking release drops), none of False; a few either way from
    # unrelated threads at most.
    assert abs(gained_true - emits) <= 5
    assert abs(gained_false) <= 5


def test_the_import_hook_answers_known_modules_without_their_source(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import inspect
    import types

    feature = sys.modules.get("shibokensupport.feature")
    if feature is None:
        pytest.skip("this PySide6 has no __feature__ import hook")
    assert qtfix.skip_source_scans()  # installed by stsdesk.gui already; idempotent
    assert qtfix.skip_source_scans()
    uses_pyside = feature._mod_uses_pyside

    def no_source(module: object) -> str:
        raise AssertionError(f"read the source of {module}")

    monkeypatch.setattr(inspect, "getsource", no_source)
    for name in ("typing", "argparse", "collections.abc", "json.decoder", "stsdesk", "stsdesk.core.profiles"):
        assert uses_pyside(importlib.import_module(name)) is False, name
    for name in ("stsdesk.gui", "stsdesk.gui.main_window", "stsdesk.gui.tree_model"):
        assert uses_pyside(importlib.import_module(name)) is True, name
    monkeypatch.undo()
    # Anything else is still read, as PySide6 does.
    outside = types.ModuleType("not_stdlib_mod")
    outside.__file__ = __file__  # this test's source names PySide6
    assert uses_pyside(outside) is True
    # Every stsdesk module outside the gui package really is free of PySide6 (the rule the answer relies on).
    import pathlib

    package = pathlib.Path(qtfix.__file__).resolve().parent.parent
    for path in package.rglob("*.py"):
        if "gui" not in path.relative_to(package).parts:
            assert "PySide6" not in path.read_text(encoding="utf-8"), path
