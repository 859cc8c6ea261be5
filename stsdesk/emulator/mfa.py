"""TOTP checks for the emulator's virtual MFA devices: RFC 6238 (SHA-1, 30 s, 6 digits), no replays.

The code arithmetic is pyotp's; this module adds what a server needs around it: the previous/current/next
step window AWS accepts, a per-device ledger of steps already used (persisted, so a restart does not reopen
a replay window) and a lock, since the emulator serves requests on several threads.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from pathlib import Path

import pyotp

STEP_SECONDS = 30
DIGITS = 6
# AWS accepts the code of the previous and the next step as well as the current one (clock drift).
WINDOW_STEPS = 1
# Used steps are remembered this long; anything older is outside every acceptance window anyway.
LEDGER_SECONDS = 120

_log = logging.getLogger(__name__)


class _Totp(pyotp.TOTP):
    # pyotp >= 2.10 refuses seeds under 112 bits, but authenticator apps accept the common 80-bit
    # (16 base32 characters) seeds that demo scenarios use, so the emulator does too.
    min_secret_length_bits = 80


def _totp(seed_base32: str) -> _Totp:
    try:
        return _Totp(seed_base32, digits=DIGITS, interval=STEP_SECONDS)
    except ValueError as error:  # binascii.Error is a ValueError too
        raise ValueError(f"MFA seed is not usable base32 of at least 80 bits: {error}") from None


def current_code(seed_base32: str, now: float) -> str:
    """The 6-digit code a device with ``seed_base32`` shows at Unix time ``now``.

    Raises ValueError if the seed is not base32 or shorter than 80 bits.
    """
    return _totp(seed_base32).generate_otp(int(now // STEP_SECONDS))


class MfaVerifier:
    """Checks TOTP codes per MFA device and refuses a code that was already accepted."""

    def __init__(self, state_path: Path | None) -> None:
        """Keep the used-codes ledger in ``state_path`` (JSON), or in memory only if None.

        An unreadable or corrupt ledger file is logged and treated as empty: it only guards the last two
        minutes, so losing it is a small, short-lived weakening, not a reason to refuse to start.
        """
        self._path = state_path
        self._lock = threading.Lock()
        self._used: dict[str, set[int]] = self._load() if state_path is not None else {}

    def check(self, serial: str, seed_base32: str, code: str, now: float) -> bool:
        """Whether ``code`` is valid for the device ``serial`` at Unix time ``now``, consuming it if so.

        Accepts the codes of the previous, current and next 30-second step. A code whose step was already
        accepted for this serial is refused. Codes that are not exactly six ASCII digits are refused, never
        raised on. Raises ValueError if ``seed_base32`` is not a usable seed (a scenario error).
        """
        totp = _totp(seed_base32)
        if not (isinstance(code, str) and len(code) == DIGITS and code.isascii() and code.isdigit()):
            return False
        current = int(now // STEP_SECONDS)
        matching = [
            step
            for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1)
            if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code)
        ]
        if not matching:
            return False
        with self._lock:
            self._prune(now)
            used = self._used.setdefault(serial, set())
            fresh = [step for step in matching if step not in used]
            if not fresh:
                return False
            used.add(fresh[0])
            self._save()
        return True

    def _prune(self, now: float) -> None:
        oldest_kept = int((now - LEDGER_SECONDS) // STEP_SECONDS)
        for serial in list(self._used):
            kept = {step for step in self._used[serial] if step >= oldest_kept}
            if kept:
                self._used[serial] = kept
            else:
                del self._used[serial]

    def _load(self) -> dict[str, set[int]]:
        assert self._path is not None
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            _log.warning("MFA ledger %s is unreadable (%s); starting with an empty one", self._path, error)
            return {}
        used = data.get("used") if isinstance(data, dict) else None
        if not isinstance(used, dict):
            _log.warning("MFA ledger %s has an unexpected shape; starting with an empty one", self._path)
            return {}
        return {
            str(serial): {step for step in steps if isinstance(step, int)}
            for serial, steps in used.items()
            if isinstance(steps, list)
        }

    def _save(self) -> None:
        """Write the ledger atomically (temporary file + rename). Called with the lock held."""
        if self._path is None:
            return
        document = {"version": 1, "used": {serial: sorted(steps) for serial, steps in self._used.items()}}
        try:
            from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

            atomic_write(self._path, json.dumps(document).encode(), make_parents=True)  # 0600, new dirs 0700
        except OSError as error:
            # The in-memory ledger still refuses replays; only a restart within two minutes would not.
            _log.warning("could not save MFA ledger %s: %s", self._path, error)
