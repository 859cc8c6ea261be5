"""Keyring faults seen by the GUI: keyring's ``fail`` backend (no keyring at all) and a backend whose every call
raises KeyringLocked (a locked Secret Service collection).

The real app is built on the real keyring-backed SecretStore (load_engine's own). It starts, says what is wrong
in one status-bar line, takes alice's key through the Edit profile dialog into memory only, assumes roles with
it (sessions marked memory-only), keeps running, and writes none of those secrets to a file under HOME.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from gui_helpers import run
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringLocked
from PySide6.QtWidgets import QWidget
from test_secret_hygiene_gui import (
    World,
    assume_with_mfa,
    build_world,
    canary_summary,
    close_world,
    dialog_accepted,
)

from stsdesk.demo import ALICE_KEY_ID
from stsdesk.gui.profile_dialog import ProfileDialog

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")
__all__ = ["canary_summary"]  # the autouse fixture that prints the canary count, shared with the hygiene tests


class LockedKeyring(KeyringBackend):
    """Every operation fails as a locked collection does."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


BACKENDS: dict[str, tuple[Any, str]] = {
    "fail": (fail.Keyring, "keyring.backends.fail.Keyring is active"),
    "locked": (LockedKeyring, "KeyringLocked: Failed to unlock the collection!"),
}


@pytest.fixture(params=sorted(BACKENDS))
def broken(request: pytest.FixtureRequest, tmp_path: Path, qtbot: Any, loop: asyncio.AbstractEventLoop,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, str]]:
    backend, reason = BACKENDS[request.param]
    previous = keyring.get_keyring()
    keyring.set_keyring(backend())
    world = None
    try:
        world = build_world(tmp_path, monkeypatch, secrets_store=None)  # load_engine's own SecretStore
        world.gui.controller.reporter.install(loop)
        qtbot.addWidget(world.gui.window)
        world.gui.window.show()
        yield world, reason
    finally:
        if world is not None:
            world.gui.controller.reporter.uninstall()
            close_world(world)
        keyring.set_keyring(previous)
        gc.collect()


def shown_messages(world: World) -> list[str]:
    """Every status-bar message shown from now on (a timeout-0 message is still replaced by the next message
    or by a toolbar status tip, so the current message alone says little)."""
    messages: list[str] = []
    world.gui.window.statusBar().messageChanged.connect(messages.append)
    return messages


def keyring_warnings(messages: list[str]) -> list[str]:
    return [m for m in messages if "keyring" in m.lower()]


def assert_one_line_warning(text: str, reason: str) -> None:
    assert "\n" not in text and text.startswith("No usable keyring ("), text
    assert reason in text and "kept in memory" in text, text


def test_app_runs_memory_only_with_a_clear_warning(broken: tuple[World, str],
                                                   loop: asyncio.AbstractEventLoop,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    world, reason = broken
    gui, controller = world.gui, world.gui.controller
    assert gui.window.isVisible() and "alice" in gui.model.profile_names()  # it started
    messages = shown_messages(world)
    if reason.startswith("KeyringLocked"):
        assert controller.secrets.warning is None  # a locked keyring looks fine until something is read
    else:  # no keyring at all: said when the tree is shown (at start, and again on each reload)
        # Qt emits nothing for the message already shown: clear it, so the reload must say it again.
        assert keyring_warnings([gui.window.statusBar().currentMessage()]), "not said at start"
        gui.window.statusBar().clearMessage()
        messages.clear()
        controller.reload()
        warnings = keyring_warnings(messages)
        assert len(warnings) == 1, messages
        assert_one_line_warning(warnings[0], reason)
        messages.clear()

    # Before any key is known: assuming fails with one line that names the keyring problem (a locked
    # keyring is only found out by this first read).
    assert run(loop, controller.assume("dev-readonly")) is None
    error = gui.model.error("dev-readonly") or ""
    assert "no secret access key for profile 'alice'" in error and reason in error, error
    assert "\n" not in error and "Traceback" not in error

    messages.clear()
    # Alice's key through the Edit profile dialog: the keyring refuses it, the status bar says so in one line.
    dialog = ProfileDialog(gui.model.profile_names(), gui.model.profile("alice"), gui.window)
    assert dialog.access_key_id.text() == ALICE_KEY_ID
    dialog.secret.setText(world.secret)
    assert run(loop, dialog_accepted(controller.edit_profile("alice", dialog), dialog))
    warnings = keyring_warnings(messages)
    assert warnings, messages
    for warning in warnings:  # the refusal while saving, then the store's warning as the tree is reloaded
        assert_one_line_warning(warning, reason)
    assert controller.secrets.in_memory(f"user:alice:{ALICE_KEY_ID}")

    # Assume works from memory, with and without MFA; the cached sessions are marked memory-only.
    creds = run(loop, controller.assume("dev-readonly"))
    world.learn_credentials(creds)
    world.learn_credentials(assume_with_mfa(world, loop, "dev"))
    assert gui.model.index_of("dev", 3).data() == "active"
    index = json.loads((world.config_dir / "sessions.json").read_text())["sessions"]
    assert index and all(entry["memory_only"] for entry in index.values()), index
    assert run(loop, controller.whoami("dev")), "the app keeps working"
    assert gui.window.isVisible()

    files = world.check_files()
    assert any(p.name == "sessions.json" for p in files)
    out, err = capfd.readouterr()
    world.check_text("stdout", out)
    world.check_text("stderr", err)
    assert world.failures == [], world.failures


def test_keyring_warning_stays_visible(broken: tuple[World, str]) -> None:
    world = broken[0]
    controller = world.gui.controller
    with pytest.raises(Exception, match="No usable keyring"):
        controller.secrets.set(f"user:alice:{ALICE_KEY_ID}", world.secret)  # the store now knows for both
    controller.reload()
    world.gui.window.show_message("Ready", 3000)  # what app.run shows once started
    bar = world.gui.window.statusBar()
    permanent = " ".join(w.toolTip() + " " + getattr(w, "text", lambda: "")() for w in bar.findChildren(QWidget))
    visible = bar.currentMessage() + " " + permanent + " " + world.gui.window.details.toPlainText()
    assert "keyring" in visible.lower()
