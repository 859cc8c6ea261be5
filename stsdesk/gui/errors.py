"""Errors where the user looks, bugs where the developer looks.

Expected failures (``StsdeskError``) become one plain line for the row, the details pane and the status bar.
Unexpected exceptions are logged with their traceback to ``<config_dir>/stsdesk.log`` with anything that
looks like a secret redacted, and the app keeps running: ``sys.excepthook`` and the asyncio loop's exception
handler both end up here.
"""

from __future__ import annotations

import logging
import re
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from stsdesk.core.errors import ENTER_MFA_CODE, STORE_SECRET, Remedy, StsdeskError

if TYPE_CHECKING:
    import asyncio  # not at run time: the window and its first rows are painted before asyncio is imported

LOG_NAME = "stsdesk.log"
log = logging.getLogger("stsdesk.gui")

# Secret access keys (40 chars of base64), session tokens (long base64 runs), key=value pairs whose key says
# "secret", "token", "password", "signature", "seed" or "sessionKey" (the console's Session JSON), and the
# AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables however a shell sets them (fish: `set -gx NAME value`).
# Access key ids are not secret and stay readable. A form-encoded value (JSON in a query string) may separate
# key and value with "+" instead of a space.
_PATTERN_TEXTS = (
    r"(?i)((?:secret|token|password|signature|seed|sessionkey)[\w-]*[\"']?[\s+]*[:=][\s+]*[\"']?)[^\s\"',&]+",
    r"(?i)(AWS_(?:SECRET_ACCESS_KEY|SESSION_TOKEN|SECURITY_TOKEN)[\"']?\s+[\"']?)[^\s\"',&]+",
    r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    r"[A-Za-z0-9/+_=-]{100,}",
)
_KEYED = 2  # the first _KEYED patterns keep their key (group 1) and mask only the value
_PERCENT_TEXT = r"%[0-9A-Fa-f]{2}"
# Compiled at the first redact, not at import: ~16M instructions, before the window's first paint (issue 17).
_COMPILED: list[re.Pattern[str]] = []  # _PATTERN_TEXTS' patterns, then _PERCENT_TEXT's


def _compiled() -> list[re.Pattern[str]]:
    if not _COMPILED:
        _COMPILED.extend(re.compile(text) for text in (*_PATTERN_TEXTS, _PERCENT_TEXT))
    return _COMPILED


# What to do about an error (core.errors.Remedy), in the window's words: one entry per REMEDY_ACTIONS (a
# test checks that none is missing). The command line says the same with commands (stsdesk.cli.remedies).
GUI_WORDS: dict[str, Callable[[Remedy], str]] = {
    STORE_SECRET: lambda remedy: "; use Edit profile to store the secret key",
    ENTER_MFA_CODE: lambda remedy: ": assume it from this window to type the code",
}


def _redact_plain(text: str) -> str:
    for index, pattern in enumerate(_compiled()[:-1]):
        text = pattern.sub(r"\1***" if index < _KEYED else "***", text)
    return text


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret key, session token, password or MFA seed replaced by ***.

    Percent-encoded secrets (a getSigninToken URL carries the secret key and token inside its URL-encoded
    ``Session`` JSON, where ``%22``/``%2F`` hide them from the patterns) are found by redacting the decoded
    text too; when that finds something, the decoded, redacted text is what is returned.
    """
    text = _redact_plain(text)
    for _ in range(3):  # a URL inside a URL is encoded twice (Destination); deeper nesting is not expected
        if not _compiled()[-1].search(text):
            break
        decoded = urllib.parse.unquote(text)
        redacted = _redact_plain(decoded)
        if redacted == decoded:
            break
        text = redacted
    return text


class RedactingFormatter(logging.Formatter):
    """Formats a record (traceback included) and then redacts the whole text."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def in_gui_words(message: str, remedy: Remedy | None) -> str:
    """``message`` (an expected error's one line) followed by what to do about it in the window."""
    words = GUI_WORDS.get(remedy.action) if remedy is not None else None
    return message + (words(remedy) if words is not None and remedy is not None else "")


def user_message(exc: BaseException) -> str:
    """One plain line for the user. Expected errors say what to do; anything else points at the log."""
    if isinstance(exc, StsdeskError):
        return in_gui_words(str(exc), exc.remedy)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"Unexpected error ({type(exc).__name__}); details are in {LOG_NAME}"


def setup_logging(config_dir: Path, defer: bool = False) -> Path:
    """Send stsdesk's log records to ``<config_dir>/stsdesk.log`` (rotated, redacted); returns the path.

    An unwritable directory is not fatal: records then go to stderr only. With ``defer`` the file is opened by
    ``open_log_file`` (the app calls it once the first rows are painted: the rotating handler's imports, socket
    and pickle among them, cost ~14M instructions before that); the records logged until then are kept and
    written first, and an error record opens the file at once.
    """
    path = config_dir / LOG_NAME
    root = logging.getLogger("stsdesk")
    root.setLevel(logging.INFO)
    early = _EarlyRecords(path)
    _install(early)
    if not defer:
        early.open()
    return path


def open_log_file() -> None:
    """Open the log file of a deferred ``setup_logging`` (if any) and write the records kept until now; then
    the file's handler takes the early handler's place. Safe to call again."""
    for handler in list(logging.getLogger("stsdesk").handlers):
        if isinstance(handler, _EarlyRecords):
            _install(handler.open())


def _install(handler: logging.Handler) -> None:
    """Make ``handler`` the one handler setup_logging put on the ``stsdesk`` logger."""
    root = logging.getLogger("stsdesk")
    for old in [h for h in root.handlers if getattr(h, "_stsdesk", False)]:
        root.removeHandler(old)
        if old is not handler and not (isinstance(old, _EarlyRecords) and old.target is handler):
            old.close()
    handler._stsdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)


class _EarlyRecords(logging.Handler):
    """The records logged before the log file is opened (setup_logging with ``defer``); passes them on once it
    is (``open``): all kept so far, in order, then each one as it comes."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._records: list[logging.LogRecord] = []
        self._target: logging.Handler | None = None

    def open(self) -> logging.Handler:
        """The log file's handler (stderr's when the file cannot be opened), made once; the kept records are
        written to it."""
        if self._target is None:
            formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            try:
                from stsdesk.core.paths import private_log_handler  # 0600 whatever the umask or an older mode

                handler: logging.Handler = private_log_handler(self._path, 1_000_000, 2)
            except OSError:
                handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(formatter)
            self._target = handler
            records, self._records = self._records, []
            for record in records:
                handler.handle(record)
        return self._target

    @property
    def target(self) -> logging.Handler | None:
        return self._target

    def close(self) -> None:
        if self._target is not None:
            self._target.close()
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        if self._target is None and record.levelno < logging.ERROR:
            self._records.append(record)
        else:  # an error is written at once (the app may be about to stop), after those kept
            self.open().handle(record)


class ErrorReporter:
    """Installs the last-resort handlers; ``notify`` shows a one-line message (the status bar)."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        self._notify = notify
        self._previous_hook: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Route ``sys.excepthook`` (exceptions escaping Qt slots and qasync's async slots) and ``loop``'s
        exception handler (callbacks, tasks whose exception nobody retrieved) to ``report``."""
        self._previous_hook = sys.excepthook
        sys.excepthook = self.excepthook
        if loop is not None:
            self._loop = loop
            loop.set_exception_handler(self.loop_exception)

    def uninstall(self) -> None:
        """Undo ``install`` (safe to call twice). The loop gets its default handler back: tasks destroyed
        while the interpreter shuts down must not reach a logger that is being torn down."""
        if self._previous_hook is not None:
            sys.excepthook = self._previous_hook
            self._previous_hook = None
        if self._loop is not None:
            if not self._loop.is_closed():
                self._loop.set_exception_handler(None)
            self._loop = None

    def report(self, exc: BaseException, context: str = "") -> str:
        """Log ``exc`` (traceback only for unexpected errors) and show its one-line message."""
        message = user_message(exc)
        if isinstance(exc, StsdeskError):
            log.info("%s%s", f"{context}: " if context else "", message)
        else:
            log.error("unexpected error%s", f" in {context}" if context else "", exc_info=exc)
        self._notify(message)
        return message

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        self.report(exc.with_traceback(tb), "Qt callback")

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.report(exc, "background task")
        else:
            log.error("event loop: %s", redact(str(context.get("message", context))))
