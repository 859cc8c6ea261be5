"""Finding 6f: SIGTERM makes the GUI quit cleanly, as Quit does: the terminal bridge's socket and secret are
removed, the write-behind session cache reaches disk, and the process exits 0 (so the clipboard hook runs).

A real ``stsdesk --demo`` (offscreen Qt) serves one terminal request through its bridge, then gets SIGTERM.
Before, the default action killed it: exit status -15, socket and secret left behind, pending writes lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stsdesk.core.bridge import SECRET_NAME, SOCKET_NAME, bridge_directory, bridge_request

REPO = Path(__file__).resolve().parents[2]


def test_sigterm_quits_cleanly(tmp_path: Path) -> None:
    config, runtime = tmp_path / "config", tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PYTHONPATH": str(REPO)}
    gui = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "--demo", "--config-dir", str(config)],
        env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    work_dir = config / "demo"  # --demo with --config-dir keeps the demo's state there
    directory = bridge_directory(work_dir, runtime_dir=str(runtime))
    try:
        deadline = time.monotonic() + 120
        while not (directory / SOCKET_NAME).exists():
            assert gui.poll() is None, gui.communicate()
            assert time.monotonic() < deadline, "the GUI's terminal bridge never came up"
            time.sleep(0.1)
        creds = bridge_request(directory, "dev-readonly", timeout=60)
        assert creds is not None and creds.session_token
        gui.send_signal(signal.SIGTERM)
        _out, err = gui.communicate(timeout=60)
    finally:
        if gui.poll() is None:
            gui.kill()
            gui.communicate()
    assert gui.returncode == 0, f"exit status {gui.returncode}: {err[-2000:]}"
    assert "Traceback" not in err
    assert not (directory / SOCKET_NAME).exists(), "the bridge socket was left behind"
    assert not (directory / SECRET_NAME).exists(), "the bridge secret was left behind"
    index = json.loads((work_dir / "sessions.json").read_text())
    assert "dev-readonly" in json.dumps(index), "the session assumed just before SIGTERM never reached disk"
