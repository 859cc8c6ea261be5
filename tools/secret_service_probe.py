"""Probe the Secret Service of the current D-Bus session: store an item, read it back, delete it.

Exit status 0 when all three worked; otherwise 1 with the reason on stderr (one line). Used by tools/test.sh
before it says the test keyring works, and by the tests' keyring gate (tests/helpers/gates.py). Gives up after
20 seconds: a locked collection can wait forever on an unlock prompt nobody answers.
"""

from __future__ import annotations

import signal
import sys
import uuid
from types import FrameType


def _timeout(_signum: int, _frame: FrameType | None) -> None:
    raise TimeoutError("the Secret Service did not answer within 20 s (a locked keyring waiting for a prompt?)")


def probe() -> None:
    """Round-trip one item through keyring's SecretService backend; raises on any failure."""
    from keyring.backends import SecretService

    backend = SecretService.Keyring()
    service, key, value = "stsdesk:test-probe", f"probe-{uuid.uuid4()}", f"value-{uuid.uuid4()}"
    backend.set_password(service, key, value)
    try:
        read = backend.get_password(service, key)
        if read != value:
            raise RuntimeError(f"stored an item but read back {'nothing' if read is None else 'another value'}")
    finally:
        backend.delete_password(service, key)
    if backend.get_password(service, key) is not None:
        raise RuntimeError("the probe item is still there after deleting it")


def main() -> int:
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(20)
    try:
        probe()
    except Exception as exc:  # any failure means "does not work here"; say which, in one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{type(exc).__name__}: {text[:200]}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
