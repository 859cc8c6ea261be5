"""What `stsdesk` shows before its engine is loaded: the profiles of the AWS config files, read without botocore,
the keyring or the demo emulator, grouped and expanded as the engine's tree will be (issue 17: launch to profiles
visible). load_engine then reuses the tree read here while the files are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QEvent, QObject

    from stsdesk.core.model import Profile
    from stsdesk.core.profiles import ProfileTree
    from stsdesk.gui.app import GuiApp
    from stsdesk.gui.main_window import MainWindow


FileStamp = tuple[int, int, int] | None  # (inode, size, mtime in ns) of a config file; None: no such file


def _file_stamp(path: Path) -> FileStamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class ConfigSnapshot:
    """The profiles read from the AWS config files before the engine exists (shown at once), and the files'
    stamps taken just before that read: load_engine reuses the tree while both files are unchanged. (A plain
    class: @dataclass compiles the source of its methods at import, before the first paint.)"""

    def __init__(self, tree: ProfileTree, stamps: tuple[FileStamp, FileStamp]) -> None:
        self.tree = tree
        self.stamps = stamps

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


def _run_qt_until(arm: Callable[[Callable[[], None]], object], timeout_ms: int | None = None) -> None:
    """Run a plain Qt event loop (no asyncio: the window and the config's rows are painted before asyncio and
    qasync are imported, issue 17) until the callback given to ``arm`` is called, or ``timeout_ms`` has passed.
    The loop ends on a later turn, as a coroutine awaiting the same moment resumes: after the event that called
    it (a paint) has finished."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    ended: list[bool] = []

    def end() -> None:
        if not ended:
            ended.append(True)
            QTimer.singleShot(0, loop.quit)

    arm(end)
    timer = None
    if timeout_ms is not None:
        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(end)
        timer.start(timeout_ms)
    loop.exec()
    if timer is not None:
        timer.stop()


def first_paint(window: MainWindow) -> None:
    """Show ``window`` and return once it has painted (``first_painted``), from a plain Qt event loop."""
    ends: list[Callable[[], None]] = []

    def arm(end: Callable[[], None]) -> None:
        ends.append(end)
        window.first_painted.connect(end)
        window.show()

    try:
        _run_qt_until(arm)
    finally:
        if ends:
            window.first_painted.disconnect(ends[0])


def _paint_watch(done: Callable[[], None]) -> QObject:
    """An event filter that calls ``done`` at its watched widget's paint events."""
    from PySide6.QtCore import QEvent, QObject

    class Watch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                done()
            return False

    return Watch()


def rows_painted(gui: GuiApp, timeout: float = 0.25) -> None:
    """Let a plain Qt event loop lay out and paint the tree now (the config's rows, before asyncio is imported):
    returns once the tree's viewport has painted, or after ``timeout`` s (a window hidden in the tray never
    paints)."""
    viewport = gui.window.tree.viewport()
    watches: list[QObject] = []

    def arm(end: Callable[[], None]) -> None:
        watches.append(_paint_watch(end))
        viewport.installEventFilter(watches[0])
        viewport.update()

    try:
        _run_qt_until(arm, round(timeout * 1000))
    finally:
        if watches:
            viewport.removeEventFilter(watches[0])


async def tree_painted(gui: GuiApp, timeout: float = 0.25) -> None:
    """Let the event loop lay out and paint the tree now, before slower startup work: returns once the tree's
    viewport has painted, or after ``timeout`` s (a window hidden in the tray never paints)."""
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def painted() -> None:
        if not done.done():
            done.set_result(None)  # the coroutine resumes on a later turn: after this paint

    viewport = gui.window.tree.viewport()
    watch = _paint_watch(painted)
    viewport.installEventFilter(watch)
    viewport.update()
    try:
        await asyncio.wait_for(done, timeout)
    except TimeoutError:
        pass
    finally:
        viewport.removeEventFilter(watch)
