"""Noticing changes made outside the window: the AWS config files and the session cache index.

Each watched file is watched together with its directory: an atomic replace (temp file + rename, what every
careful writer does, stsdesk included) gives the path a new inode and silently ends a watch on the file, while
the directory still reports the rename. Events are debounced; a group is announced only when one of its files
really changed (inode, mtime, ctime or size), so lock files, settings saves and other neighbours in the same
directory cost a ``stat`` and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

if TYPE_CHECKING:
    from stsdesk.core.broker import Broker

Stamp = tuple[int, int, int, int] | None


def file_stamp(path: Path) -> Stamp:
    """What identifies one version of ``path`` (None: it does not exist or cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class FileWatch(QObject):
    """Watches named groups of files; ``changed(group)`` once per group after its files settle."""

    changed = Signal(str)

    def __init__(self, groups: Mapping[str, Sequence[Path]], debounce_ms: int = 150,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._groups = {name: [Path(p) for p in paths] for name, paths in groups.items()}
        self._stamps: dict[Path, Stamp] = {}
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._poke)
        self._watcher.directoryChanged.connect(self._poke)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._check)
        for paths in self._groups.values():
            for path in paths:
                self._stamps[path] = file_stamp(path)
        self._rewatch()

    def watched(self) -> list[str]:
        """The paths being watched now (files that exist and their directories)."""
        return sorted(self._watcher.files() + self._watcher.directories())

    def settle(self, group: str) -> None:
        """Take ``group``'s files as they are now (a change this process made and has already acted on)."""
        for path in self._groups.get(group, []):
            self._stamps[path] = file_stamp(path)

    def stop(self) -> None:
        """Watch nothing more."""
        self._timer.stop()
        paths = self._watcher.files() + self._watcher.directories()
        if paths:
            self._watcher.removePaths(paths)

    def _poke(self, _path: str) -> None:
        self._timer.start()  # restarts: a burst of events is one check

    def _rewatch(self) -> None:
        """Watch every file that exists now (a replaced file is a new one) and every directory that exists."""
        files, directories = set(self._watcher.files()), set(self._watcher.directories())
        wanted: list[str] = []
        for paths in self._groups.values():
            for path in paths:
                if path.is_file() and str(path) not in files:
                    wanted.append(str(path))
                parent = path.parent
                while not parent.is_dir() and parent != parent.parent:  # a directory made later: watch its parent
                    parent = parent.parent
                if str(parent) not in directories:
                    wanted.append(str(parent))
                    directories.add(str(parent))
        if wanted:
            self._watcher.addPaths(wanted)

    def _check(self) -> None:
        changed: list[str] = []
        for group, paths in self._groups.items():
            for path in paths:
                stamp = file_stamp(path)
                if stamp != self._stamps.get(path):
                    self._stamps[path] = stamp
                    if str(path) in self._watcher.files():  # may still follow the replaced inode
                        self._watcher.removePath(str(path))
                    if group not in changed:
                        changed.append(group)
        self._rewatch()
        for group in changed:
            self.changed.emit(group)


def watch_broker_files(broker: Broker, parent: QObject | None = None) -> FileWatch:
    """A FileWatch of ``broker``'s AWS config files (group "config") and its session cache index ("cache")."""
    from stsdesk.core.cache_index import INDEX_NAME

    tree = broker.tree
    return FileWatch({"config": [Path(tree.config_file), Path(tree.credentials_file)],
                      "cache": [Path(broker.cache.directory) / INDEX_NAME]}, parent=parent)
