"""What `stsdesk` shows before its engine is loaded: the profiles of the AWS config files, read without botocore,
the keyring or the demo emulator, grouped and expanded as the engine's tree will be (issue 17: launch to profiles
visible). load_engine then reuses the tree read here while the files are unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stsdesk.core.model import Profile
    from stsdesk.core.profiles import ProfileTree
    from stsdesk.gui.app import GuiApp


FileStamp = tuple[int, int, int] | None  # (inode, size, mtime in ns) of a config file; None: no such file


def _file_stamp(path: Path) -> FileStamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class ConfigSnapshot:
    """The profiles read from the AWS config files before the engine exists (shown at once), and the files'
    stamps taken just before that read: load_engine reuses the tree while both files are unchanged."""

    tree: ProfileTree
    stamps: tuple[FileStamp, FileStamp]

    def current(self) -> ProfileTree | None:
        """The tree if the files it was read from are still the AWS config files, unchanged; else None."""
        from stsdesk.core.profiles import aws_config_paths

        paths = aws_config_paths()
        if paths != (self.tree.config_file, self.tree.credentials_file):
            return None
        return self.tree if tuple(_file_stamp(path) for path in paths) == self.stamps else None


def show_config_profiles(gui: GuiApp) -> ConfigSnapshot | None:
    """Show the profiles of the AWS config files in the tree before the engine is loaded (no botocore, no
    keyring, no emulator: the config files only), grouped and expanded as the engine's tree will be; their
    sessions and errors come with load_engine. Returns what was read for load_engine to reuse, or None when the
    files cannot be read (load_engine then says why)."""
    from stsdesk.core.errors import StsdeskError
    from stsdesk.core.profiles import aws_config_paths, load_profiles
    from stsdesk.core.sso.config import config_sessions
    from stsdesk.gui.sso_tree import build_rows

    paths = aws_config_paths()
    stamps = (_file_stamp(paths[0]), _file_stamp(paths[1]))
    try:
        tree = load_profiles(*paths)
    except StsdeskError:
        return None
    rows = build_rows(tree, config_sessions(tree), {})
    roots: list[Profile] = rows.roots
    gui.model.set_profiles(roots, rows.children, gui.controller.aliases)
    view, proxy = gui.window.tree, gui.controller.proxy
    for name in gui.model.parent_names():  # as the controller's show_tree expands them
        index = proxy.mapFromSource(gui.model.index_of(name))
        if index.isValid():
            view.expand(index)
    return ConfigSnapshot(tree, stamps)


async def tree_painted(gui: GuiApp, timeout: float = 0.25) -> None:
    """Let the event loop lay out and paint the tree now, before slower startup work: returns once the tree's
    viewport has painted, or after ``timeout`` s (a window hidden in the tray never paints)."""
    from PySide6.QtCore import QEvent, QObject

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    class Watch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not done.done():
                done.set_result(None)  # the coroutine resumes on a later turn: after this paint
            return False

    viewport = gui.window.tree.viewport()
    watch = Watch()
    viewport.installEventFilter(watch)
    viewport.update()
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        pass
    finally:
        viewport.removeEventFilter(watch)
