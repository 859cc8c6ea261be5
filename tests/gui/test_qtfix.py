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
