"""Finding 4: the credential-process fast path reads a secret from the Secret Service only when the session bus
and the service that owns ``org.freedesktop.secrets`` both run as this user.

Real processes, real uids: a ``dbus-daemon`` (with a config that lets any user connect, as an attacker's would)
run either by a second local user or by us, and a fake Secret Service (tests/security/fake_secret_service.py)
run by either. The fast path must refuse unless both are ours, and must not even send its lookup (the fake
logs every method it is asked). The all-ours case proves the fake would have been believed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jeepney
import pytest

from security.conftest import OtherUser, unavailable
from stsdesk.core.fast_secret import read_secret

HERE = Path(__file__).resolve().parent
FAKE_SECRET = "secret-from-someone-else"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.started):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.stop()


def _wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            pytest.fail(f"{what}: the process exited ({proc.returncode}): {err[-500:]}")
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.05)


def _as(user: OtherUser | None, argv: list[str]) -> list[str]:
    return argv if user is None else ["runuser", "-u", user.name, "--", *argv]


def _scenario(
    bus_owner: OtherUser | None, service_owner: OtherUser | None, shared_tmp: Path, processes: Processes,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """Start the bus and the fake service; point this process's session bus at it; return the service log."""
    if shutil.which("dbus-daemon") is None:
        unavailable("dbus-daemon is not installed (apt-get install dbus)")
    socket = shared_tmp / "bus"
    config = shared_tmp / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    config.chmod(0o644)
    bus = processes.start(_as(bus_owner, ["dbus-daemon", f"--config-file={config}", "--nofork"]))
    _wait_for(socket.exists, "the bus socket", bus)
    # The service runs under a system Python 3 (the venv's interpreter lives under root's home, which the
    # second user cannot enter) with a copy of jeepney (pure Python) it can read.
    lib = shared_tmp / "lib"
    shutil.copytree(Path(jeepney.__file__).parent, lib / "jeepney")
    shutil.copy(HERE / "fake_secret_service.py", lib / "fake_secret_service.py")
    for path in [lib, *lib.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    python = sys.executable if service_owner is None else shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        unavailable("a system python3 the second user can run is needed for the fake Secret Service")
    log = shared_tmp / "service.log"
    log.touch()
    log.chmod(0o666)
    service = processes.start(
        _as(service_owner, ["env", f"PYTHONPATH={lib}", python, str(lib / "fake_secret_service.py"),
                            f"unix:path={socket}", str(log), FAKE_SECRET])
    )
    _wait_for(lambda: "ready" in log.read_text(), "the fake Secret Service taking its name", service)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={socket}")
    return log


def test_bus_of_another_user_is_not_trusted(
    other_user: OtherUser, shared_tmp: Path, processes: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _scenario(other_user, other_user, shared_tmp, processes, monkeypatch)
    assert read_secret("stsdesk", "session:profile:dev") is None
    assert log.read_text().split() == ["ready"], "the lookup was sent to another user's Secret Service"


def test_secret_service_of_another_user_on_our_bus_is_not_trusted(
    other_user: OtherUser, shared_tmp: Path, processes: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _scenario(None, other_user, shared_tmp, processes, monkeypatch)
    assert read_secret("stsdesk", "session:profile:dev") is None
    assert log.read_text().split() == ["ready"], "the lookup was sent to another user's Secret Service"


def test_our_own_bus_and_service_are_used(
    shared_tmp: Path, processes: Processes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same fake, run by us on our bus, is believed (so the refusals above are the checks)."""
    log = _scenario(None, None, shared_tmp, processes, monkeypatch)
    assert read_secret("stsdesk", "session:profile:dev") == FAKE_SECRET
    assert "GetSecret" in log.read_text().split()
