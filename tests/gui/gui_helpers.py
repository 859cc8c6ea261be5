"""Helpers for the GUI tests: run coroutines on the qasync loop, wait for conditions, build the real app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel

from stsdesk.gui.app import GuiApp, build_window, load_engine
from stsdesk.gui.demo_session import DemoSession, start_demo
from stsdesk.gui.power_features import PowerFeatures
from stsdesk.gui.tree_model import NAME, PROFILE_NAME_ROLE


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on the qasync loop from plain (non-async) test code."""
    return loop.run_until_complete(asyncio.wait_for(coro, 30))


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait (yielding to the loop) until ``predicate()`` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def make_gui(tmp_path: Path, latency_ms: int = 0) -> tuple[GuiApp, DemoSession]:
    from stsdesk.demo import DEMO_ACCOUNT_ALIASES

    scenario = None
    if latency_ms:
        from stsdesk.demo import demo_scenario_path

        text = demo_scenario_path().read_text()
        scenario = tmp_path / "slow.toml"
        scenario.write_text(text + f"\n[faults]\nlatency_ms = {latency_ms}\n")
    demo = start_demo(tmp_path / "demo", scenario)
    gui = build_window(tmp_path / "demo", demo.mfa_hint, dict(DEMO_ACCOUNT_ALIASES))
    gui.demo = demo
    load_engine(gui, demo.secrets)
    return gui, demo


def dispose(gui: GuiApp, demo: DemoSession) -> None:
    """Tear the app down on the GUI thread: Qt objects with timers must not be freed later by a garbage
    collection that happens to run on an executor thread."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    gui.countdown.stop()
    gui.controller.prompter.cancel_all()
    for close in gui.closers:
        close()
    demo.stop()
    gui.window.close()
    gui.window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def account_groups_shown(power: PowerFeatures) -> dict[str, list[str]]:
    """The "By account" view's shown account rows -> their shown profile names (through its filter proxy, as
    the view sees them)."""
    return groups_shown(power.account_proxy)


def groups_shown(proxy: QAbstractItemModel) -> dict[str, list[str]]:
    """An account model's (or its proxy's) top-level rows -> the profile names of their children."""
    shown: dict[str, list[str]] = {}
    for g in range(proxy.rowCount()):
        group = proxy.index(g, NAME)
        shown[str(group.data())] = [str(proxy.index(r, NAME, group).data(PROFILE_NAME_ROLE))
                                    for r in range(proxy.rowCount(group))]
    return shown
