"""Issue 13 item 6: the window follows changes made outside it (a terminal's forget or new session, an edit
of ~/.aws/config, atomic replaces included) without Reload config; a resolved config error leaves the status
bar."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gui_helpers import run, until

from stsdesk.core.cache import SessionCache
from stsdesk.gui.app import GuiApp
from stsdesk.gui.tree_presentation import STATE

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")


@pytest.fixture(autouse=True)
def collect_qt_garbage_here() -> Iterator[None]:
    yield
    gc.collect()


def _replace(path: Path, text: str) -> None:
    """What careful editors and stsdesk do: write a temp file beside it and rename it over the original."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text)
    os.replace(temp, path)


def test_forget_in_another_process_clears_the_row(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    assert run(loop, gui.controller.assume("dev-readonly")) is not None
    gui.controller.broker.cache.flush()
    run(loop, until(lambda: gui.model.index_of("dev-readonly", STATE).data() == "active"))
    other = SessionCache(gui.config_dir, gui.demo.secrets)  # a terminal's `stsdesk forget dev-readonly`
    assert other.forget_profile("dev-readonly")
    assert other.flush()
    run(loop, until(lambda: gui.model.index_of("dev-readonly", STATE).data() == "", 5))


def test_config_edits_elsewhere_show_up(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    config = Path(gui.controller.broker.tree.config_file)
    text = config.read_text()
    endpoint = gui.demo.world.endpoint
    _replace(config, text + f"\n[profile added-elsewhere]\nregion = us-east-1\nendpoint_url = {endpoint}\n"
             "source_profile = alice\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n")
    run(loop, until(lambda: "added-elsewhere" in gui.model.profile_names(), 5))
    # A second atomic replace is seen too (the watch on the first file's inode ended with the rename).
    _replace(config, text)
    run(loop, until(lambda: "added-elsewhere" not in gui.model.profile_names(), 5))


def test_broken_config_error_leaves_once_fixed(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    config = Path(gui.controller.broker.tree.config_file)
    text = config.read_text()
    _replace(config, text + "\n[profile broken\nregion = x\n")
    bar = gui.window.statusBar()
    run(loop, until(lambda: "Cannot read the AWS config" in bar.currentMessage(), 5))
    _replace(config, text)
    run(loop, until(lambda: "Cannot read the AWS config" not in bar.currentMessage(), 5))


def test_error_resolved_by_a_session_from_elsewhere_leaves(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    controller = gui.controller
    assert run(loop, controller.assume("dev-readonly")) is not None
    controller.broker.cache.flush()
    found = controller.broker.cache.lookup("profile:dev-readonly", 0)
    assert found is not None
    meta, creds = found
    controller.broker._errors["dev-readonly"] = RuntimeError("AccessDenied")  # a later failed request
    controller._sync_profile("dev-readonly")
    assert gui.model.index_of("dev-readonly", STATE).data() == "error"  # newer than the live session
    # A terminal gets a new session for it (another process, the same cache): the error is stale now.
    other = SessionCache(gui.config_dir, gui.demo.secrets)
    other.store(dataclasses.replace(meta, created=datetime.now(UTC) + timedelta(seconds=1)), creds)
    assert other.flush()
    run(loop, until(lambda: gui.model.index_of("dev-readonly", STATE).data() == "active", 5))


def test_own_cache_writes_do_not_resync_every_row(gui: GuiApp, loop: asyncio.AbstractEventLoop,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's own index writes (the writer thread, after each assume) change the watched file, but its
    rows already show those sessions: no pass over every profile; another process's write still gets one."""
    controller = gui.controller
    assert run(loop, controller.assume("dev-readonly")) is not None
    assert controller.broker.cache.flush()
    run(loop, asyncio.sleep(0.5))  # the watcher's debounce after the write has passed
    passes: list[int] = []
    real = type(controller)._profiles_with_state
    monkeypatch.setattr(type(controller), "_profiles_with_state",
                        lambda self: passes.append(1) or real(self))
    assert run(loop, controller.assume("dev-readonly", force=True)) is not None  # a new session, written here
    assert controller.broker.cache.flush()
    run(loop, asyncio.sleep(0.5))
    assert passes == []
    meta, creds = controller.broker.cache.lookup("profile:dev-readonly", 0) or (None, None)
    assert meta is not None and creds is not None
    other = SessionCache(gui.config_dir, gui.demo.secrets)  # a terminal forgets it
    assert other.forget_profile("dev-readonly")
    assert other.flush()
    run(loop, until(lambda: gui.model.index_of("dev-readonly", STATE).data() == "", 5))
    assert passes  # the foreign write was looked at
