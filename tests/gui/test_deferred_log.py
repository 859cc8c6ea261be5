"""setup_logging(defer=True): the log file is opened after the first rows are painted, and nothing logged before
is lost (issue 17)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from stsdesk.gui.errors import LOG_NAME, open_log_file, setup_logging


@pytest.fixture
def stsdesk_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger("stsdesk")
    before = list(root.handlers)
    yield root
    for handler in [h for h in root.handlers if h not in before]:
        root.removeHandler(handler)
        handler.close()


def test_records_before_the_file_is_opened_are_written_first(tmp_path: Path,
                                                             stsdesk_logger: logging.Logger) -> None:
    path = setup_logging(tmp_path, defer=True)
    assert path == tmp_path / LOG_NAME
    log = logging.getLogger("stsdesk.gui.test")
    log.info("early one")
    log.warning("early two secret_key=abcdef")
    assert not path.exists()  # not opened yet
    open_log_file()
    log.info("late one")
    open_log_file()  # again: nothing changes
    for handler in stsdesk_logger.handlers:
        handler.flush()
    lines = path.read_text().splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["early one", "early two secret_key=***", "late one"]
    assert sum(1 for h in stsdesk_logger.handlers if getattr(h, "_stsdesk", False)) == 1


def test_an_error_opens_the_file_at_once(tmp_path: Path, stsdesk_logger: logging.Logger) -> None:
    path = setup_logging(tmp_path, defer=True)
    log = logging.getLogger("stsdesk.gui.test")
    log.info("before")
    log.error("the app stopped")
    for handler in stsdesk_logger.handlers:
        handler.flush()
    text = path.read_text()
    assert text.index("before") < text.index("the app stopped")
    log.info("after")
    for handler in stsdesk_logger.handlers:
        handler.flush()
    assert path.read_text().count("\n") == 3


def test_without_defer_the_file_is_opened_at_once(tmp_path: Path, stsdesk_logger: logging.Logger) -> None:
    path = setup_logging(tmp_path)
    logging.getLogger("stsdesk.gui.test").info("now")
    for handler in stsdesk_logger.handlers:
        handler.flush()
    assert "now" in path.read_text()
