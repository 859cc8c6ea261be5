"""MFA codes without typing, and the list of requests waiting for a device.

- ``mfa_process`` (a profile key, as in aws-vault): a command that prints the code. Split like a POSIX shell
  (``shlex``) and run without a shell, stdin closed, with a timeout; its stdout stripped must be 6 digits.
- A YubiKey through ``ykman oath accounts code --single <account>`` when ``ykman`` is on PATH. The account is
  the profile's ``stsdesk_yubikey_account``, else the device's serial ARN (aws-vault's convention). A profile
  with ``stsdesk_yubikey_account`` gets its codes from the key without asking; the GUI's MFA dialog can offer
  "Get code from YubiKey" for any device (:func:`yubikey_available`), with a "touch your key" callback.
- :class:`MfaWaitlist`: every credentials request waiting for an MFA device (a profile, a terminal through the
  bridge, a served profile's renewal) and what it will get, with change notifications, for the MFA dialog.

Blocking functions (they run a process): call them in an executor. No secret is ever put in a message: the
process's output is never echoed (only its last stderr line, which is what a person needs to act on).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stsdesk.core.commands import run_command_line
from stsdesk.core.errors import StsdeskError

if TYPE_CHECKING:
    from stsdesk.core.model import Profile

log = logging.getLogger(__name__)

MFA_PROCESS_KEY = "mfa_process"
YUBIKEY_ACCOUNT_KEY = "stsdesk_yubikey_account"
PROCESS_TIMEOUT = 60.0  # seconds: a process may itself wait for a touch or a password manager's unlock
TOUCH_TIMEOUT = 30.0  # seconds: ykman waits this long for a touch before stsdesk gives up
_CODE = re.compile(r"^\d{6}$")


class MfaSourceError(StsdeskError):
    """An MFA code could not be had from a process or a YubiKey (one line, what to do about it)."""


@dataclass(frozen=True)
class CodeSource:
    """Where a profile's MFA codes come from without typing: ``kind`` is ``process`` (``command`` is the
    mfa_process line) or ``yubikey`` (``command`` is the OATH account to ask for)."""

    kind: str
    command: str
    profile: str  # the profile whose key says so (for messages)


def code_source(chain: Sequence[Profile], serial: str) -> CodeSource | None:
    """The code source for an MFA prompt of the last profile of ``chain`` (root first) for device ``serial``:
    the nearest profile's ``mfa_process``, else the nearest ``stsdesk_yubikey_account``; None: ask a person.
    Never raises."""
    for profile in reversed(chain):
        command = profile.extra.get(MFA_PROCESS_KEY, "").strip()
        if command:
            return CodeSource("process", command, profile.name)
        account = profile.extra.get(YUBIKEY_ACCOUNT_KEY, "").strip()
        if account:
            return CodeSource("yubikey", account, profile.name)
    return None


def _check_code(text: str, what: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    code = lines[-1] if lines else ""
    if not _CODE.match(code):
        shape = f"{len(code)} digits" if code.isdigit() else "not a 6-digit code"
        raise MfaSourceError(f"{what} printed {shape if code else 'nothing'}; AWS needs a 6-digit code")
    return code


def run_mfa_process(
    command: str, *, timeout: float = PROCESS_TIMEOUT, env: Mapping[str, str] | None = None
) -> str:
    """Run an ``mfa_process`` line (shlex-split, no shell, stdin closed) and return the 6-digit code it printed.

    Raises MfaSourceError (one line) when the line cannot be split, the command is missing or not executable,
    it runs longer than ``timeout`` seconds (it is killed), exits non-zero (its last stderr line is quoted), or
    prints anything but a 6-digit code as its last line."""
    out = run_command_line(command, "mfa_process", MfaSourceError, timeout=timeout, env=env)
    return _check_code(out.decode("utf-8", "replace"), "mfa_process")


# -- YubiKey (ykman) ---------------------------------------------------------------------------------------


def ykman_path(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The ``ykman`` executable on PATH, or None."""
    return which("ykman")


def yubikey_account(chain: Sequence[Profile], serial: str) -> str:
    """The OATH account the codes of device ``serial`` come from for the last profile of ``chain`` (root
    first): the nearest ``stsdesk_yubikey_account``, else ``serial`` itself (ykman matches it as a
    case-insensitive part of ``issuer:name``). The GUI's "Get code from YubiKey" asks for this account."""
    for profile in reversed(chain):
        account = profile.extra.get(YUBIKEY_ACCOUNT_KEY, "").strip()
        if account:
            return account
    return serial


def yubikey_available(account: str, *, timeout: float = 5.0, ykman: str | None = None) -> bool:
    """True when ykman is on PATH, a YubiKey is connected and at least one of its OATH accounts matches
    ``account`` (``ykman oath accounts list``, no touch needed). False on any failure; never raises.
    Blocking (up to ``timeout`` seconds)."""
    program = ykman or ykman_path()
    if program is None:
        return False
    try:
        done = subprocess.run(
            [program, "oath", "accounts", "list"], stdin=subprocess.DEVNULL, capture_output=True,
            timeout=timeout, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode != 0:
        return False
    wanted = account.lower()
    return any(wanted in line.lower() for line in done.stdout.decode("utf-8", "replace").splitlines())


def _ykman_error(stderr: str, account: str) -> str:
    text = stderr.lower()
    if "no yubikey" in text or "failed connecting" in text or "no device" in text:
        return "no YubiKey found: insert it and try again"
    if "multiple matches" in text:
        return f"several accounts on the YubiKey match '{account}'; set {YUBIKEY_ACCOUNT_KEY} to one of them"
    if "no matching account" in text or "no match" in text:
        return f"no OATH account on the YubiKey matches '{account}'; set {YUBIKEY_ACCOUNT_KEY} in the profile"
    if "password" in text:
        return "the YubiKey's OATH application is password-protected; remember the password with ykman first"
    last = stderr.strip().splitlines()[-1].strip()[:200] if stderr.strip() else ""
    return f"ykman failed{': ' + last if last else ''}"


def yubikey_code(
    account: str,
    *,
    on_touch: Callable[[], None] | None = None,
    timeout: float = TOUCH_TIMEOUT,
    ykman: str | None = None,
) -> str:
    """The current code of ``account`` from the YubiKey (``ykman oath accounts code --single ACCOUNT``).

    ``on_touch()`` is called (from a helper thread) once ykman asks for a touch, so a dialog can say "touch
    your key". Raises MfaSourceError (one line) when ykman is missing, no YubiKey is connected, no account or
    several match, nobody touched the key within ``timeout`` seconds (ykman is stopped), or the code is not 6
    digits. Blocking."""
    program = ykman or ykman_path()
    if program is None:
        raise MfaSourceError("ykman is not installed (YubiKey Manager CLI); install it or type the code")
    try:
        process = subprocess.Popen(
            [program, "oath", "accounts", "code", "--single", account],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise MfaSourceError(f"cannot run ykman ({exc.strerror or exc})") from None
    assert process.stdout is not None and process.stderr is not None
    errors: list[str] = []

    def watch_stderr() -> None:  # ykman says "Touch your YubiKey..." on stderr and then waits
        assert process.stderr is not None
        touched = False
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace")
            errors.append(line)
            if not touched and "touch" in line.lower() and on_touch is not None:
                touched = True
                try:
                    on_touch()
                except Exception:  # a broken dialog must not break getting the code
                    log.exception("on_touch callback failed")

    chunks: list[bytes] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        chunks.append(process.stdout.read())

    readers = [
        threading.Thread(target=watch_stderr, name="stsdesk-ykman-err", daemon=True),
        threading.Thread(target=read_stdout, name="stsdesk-ykman-out", daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise MfaSourceError(f"the YubiKey was not touched within {timeout:g} s") from None
    finally:
        for reader in readers:
            reader.join(timeout=5)
        process.stdout.close()
        process.stderr.close()
    if process.returncode != 0:
        raise MfaSourceError(_ykman_error("".join(errors), account))
    return _check_code(b"".join(chunks).decode("utf-8", "replace"), "ykman")


def obtain_code(source: CodeSource, on_touch: Callable[[], None] | None = None) -> str:
    """The code from ``source`` (:func:`run_mfa_process` or :func:`yubikey_code`). Raises MfaSourceError."""
    if source.kind == "process":
        return run_mfa_process(source.command)
    return yubikey_code(source.command, on_touch=on_touch)


# -- requests waiting for a device -------------------------------------------------------------------------

TERMINAL = "terminal"  # a CLI command through the GUI's terminal bridge
SERVED = "served"  # a credential server's renewal (exec --server, serve, the GUI's Serve)
INTERACTIVE = "interactive"  # the GUI itself or a CLI command in this process


@dataclass(frozen=True)
class WaitingRequest:
    """One credentials request that needs (or may need) a code from ``mfa_serial``, and what it will get:
    the profile asked for, the role it assumes (None: an IAM user's MFA session), the session length asked for
    (None: the profile's or AWS's default), who asked (TERMINAL, SERVED, INTERACTIVE or a caller's own word),
    and since when (``time.time()``)."""

    id: int
    profile: str
    role_arn: str | None
    mfa_serial: str
    duration: int | None
    requester: str
    since: float


class MfaWaitlist:
    """Every request waiting for an MFA device, per device, with change notifications (the broker keeps one;
    the GUI's MFA dialog lists :meth:`waiting_for` its device and listens with :meth:`subscribe`).

    Thread-safe for reading; changed on the event loop's thread by the broker."""

    def __init__(self) -> None:
        self._entries: dict[int, WaitingRequest] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[str], None]] = []
        self._touch: set[str] = set()

    @contextlib.contextmanager
    def waiting(
        self, profile: str, role_arn: str | None, mfa_serial: str, duration: int | None, requester: str
    ) -> Iterator[WaitingRequest]:
        """Register a request for the duration of the ``with`` block; subscribers hear of it on entry and exit."""
        entry = WaitingRequest(
            next(self._ids), profile, role_arn, mfa_serial, duration, requester, time.time()
        )
        with self._lock:
            self._entries[entry.id] = entry
        self._emit(mfa_serial)
        try:
            yield entry
        finally:
            with self._lock:
                self._entries.pop(entry.id, None)
            self._emit(mfa_serial)

    def waiting_for(self, mfa_serial: str) -> list[WaitingRequest]:
        """The requests waiting for ``mfa_serial``, oldest first."""
        with self._lock:
            return sorted((e for e in self._entries.values() if e.mfa_serial == mfa_serial), key=lambda e: e.id)

    def devices(self) -> list[str]:
        """The devices something is waiting for, in order of their oldest request."""
        with self._lock:
            ordered = sorted(self._entries.values(), key=lambda e: e.id)
        return list(dict.fromkeys(e.mfa_serial for e in ordered))

    def touch_needed(self, mfa_serial: str) -> bool:
        """True while a YubiKey for ``mfa_serial`` waits for a touch (say "touch your key")."""
        with self._lock:
            return mfa_serial in self._touch

    def note_touch(self, mfa_serial: str, needed: bool) -> None:
        """Record whether the device's YubiKey waits for a touch; subscribers hear of a change (possibly from a
        helper thread: a GUI marshals it to its own thread, as a queued Qt signal does)."""
        with self._lock:
            changed = (mfa_serial in self._touch) != needed
            if needed:
                self._touch.add(mfa_serial)
            else:
                self._touch.discard(mfa_serial)
        if changed:
            self._emit(mfa_serial)

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(mfa_serial)`` when that device's list (or touch state) changes; returns an unsubscribe
        function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, mfa_serial: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(mfa_serial)
            except Exception:  # a broken listener must not break credential delivery
                log.exception("MFA waitlist subscriber failed")
