"""Consoles side by side: each profile in its own browser context, the sign-in URL never on a command line.

A real headless Chromium (Debian package ``chromium``; skipped without it unless CI=true) opens two profiles at
once against the emulator's console page, each in its own user-data directory, and each page shows its own
identity. Chromium talks to 127.0.0.1 only: every other host resolves to nothing and any other address goes
to a proxy on 127.0.0.1:9 that refuses; background, update and telemetry traffic is switched off.
Fake browsers (scripts recording their argv) check the command lines stsdesk builds, Firefox's container
form included.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from stsdesk.core.browsers import Browser, BrowserKind, resolve_browser
from stsdesk.core.console_fetch import launch_console

if TYPE_CHECKING:
    from conftest import World  # tests/e2e/conftest.py (fixtures only at run time)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ISOLATION_FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",  # loopback bypasses the proxy; anything else is refused there
)


def _wait_for(check: Any, what: str, limit: float = 60.0) -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


# -- fake browsers -----------------------------------------------------------------------------------------

FAKE = """#!{python}
import json, pathlib, sys, urllib.parse
out = pathlib.Path({out!r})
page = pathlib.Path(urllib.parse.urlsplit(sys.argv[-1]).path)
record = {{"argv": sys.argv, "page": page.read_text()}}
target = out / (str(len(list(out.glob("*.json")))) + ".tmp")
target.write_text(json.dumps(record))
target.rename(target.with_suffix(".json"))
"""


def _fake_browser(tmp_path: Path, name: str) -> tuple[Path, Path]:
    out = tmp_path / f"{name}-runs"
    out.mkdir()
    script = tmp_path / name
    script.write_text(FAKE.format(python=sys.executable, out=str(out)))
    script.chmod(0o755)
    return script, out


def _runs(out: Path, count: int) -> list[dict[str, Any]]:
    found = _wait_for(lambda: sorted(out.glob("*.json")) if len(list(out.glob("*.json"))) >= count else None,
                      f"{count} browser starts")
    return [json.loads(path.read_text()) for path in found]


def test_chromium_gets_a_private_user_data_dir_per_profile_and_no_token(world: World, tmp_path: Path) -> None:
    fake, out = _fake_browser(tmp_path, "fake-chromium")
    first = world.stsdesk("console", "readonly", "--open", "--browser", str(fake))
    assert first.returncode == 0, first.stderr
    second = world.stsdesk("console", "dev", "--open", "--browser", str(fake),
                           "--mfa-code", world.emulator.mfa_code(), "--service", "ec2", "--region", "eu-west-1")
    assert second.returncode == 0, second.stderr
    assert "SigninToken" not in first.stdout + first.stderr + second.stdout + second.stderr
    runs = _runs(out, 2)
    dirs = []
    for run in runs:
        argv = run["argv"]
        assert not any("SigninToken" in arg for arg in argv)  # never on a command line (/proc/PID/cmdline)
        assert argv[-1].startswith("file:///")
        data_dir = Path(next(arg for arg in argv if arg.startswith("--user-data-dir=")).split("=", 1)[1])
        assert data_dir.parent == world.config_dir / "browser-profiles"
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert "SigninToken=" in run["page"] and "Action=login" in run["page"]
        dirs.append(data_dir)
    assert len(set(dirs)) == 2
    pages = " ".join(run["page"] for run in runs)
    # --service ec2 --region eu-west-1 became the destination of dev's console.
    assert "eu-west-1.console.aws.amazon.com%2Fec2%2Fhome%3Fregion%3Deu-west-1" in pages


def test_firefox_opens_a_page_that_forwards_into_the_profiles_container(world: World, tmp_path: Path) -> None:
    fake, out = _fake_browser(tmp_path, "firefox")
    done = world.stsdesk("console", "readonly", "--open", "--browser", str(fake))
    assert done.returncode == 0, done.stderr
    (run,) = _runs(out, 1)
    assert run["argv"][1:] == [run["argv"][-1]]  # only the page's file: URL
    assert "ext+container:name=readonly&amp;url=http%3A%2F%2F127.0.0.1" in run["page"]
    assert "SigninToken%3D" in run["page"]


def test_the_browser_setting_is_used_and_a_bad_one_is_one_line(world: World, tmp_path: Path) -> None:
    fake, out = _fake_browser(tmp_path, "fake-chrome")
    env = {**world.env, "STSDESK_CONSOLE_BROWSER": str(fake)}
    done = subprocess.run([sys.executable, "-m", "stsdesk", "console", "readonly", "--open"], capture_output=True,
                          text=True, env=env, timeout=60, cwd=world.home, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert _runs(out, 1)
    bad = world.stsdesk("console", "readonly", "--open", "--browser", "netscape")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "unknown browser 'netscape'" in bad.stderr
    usage = world.stsdesk("console", "readonly", "--browser", "chromium")
    assert usage.returncode == 2 and "--open" in usage.stderr


def test_resolve_browser_by_name_and_path(tmp_path: Path) -> None:
    assert resolve_browser("default").kind is BrowserKind.DEFAULT
    found = resolve_browser("chrome", which=lambda name: f"/opt/{name}" if name == "google-chrome-stable" else None)
    assert found == Browser("chrome", BrowserKind.CHROMIUM, "/opt/google-chrome-stable")
    with pytest.raises(Exception, match="not installed"):
        resolve_browser("firefox", which=lambda name: None)
    plain = tmp_path / "not-executable"
    plain.write_text("")
    with pytest.raises(Exception, match="not an executable file"):
        resolve_browser(str(plain))


# -- a real headless Chromium ------------------------------------------------------------------------------


class DevTools:
    """The smallest WebSocket client that speaks the Chrome DevTools Protocol to one page (127.0.0.1 only)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head[:80]
        self.next_id = 0

    def _send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        length = len(data)
        header = bytes([0x81]) + (
            bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack(">H", length)
        )
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _exact(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            data += chunk
        return data

    def _receive(self) -> dict[str, Any]:
        first, second = self._exact(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._exact(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._exact(8))[0]
        payload = self._exact(length)
        return json.loads(payload) if first & 0x0F == 1 else {}

    def evaluate(self, expression: str) -> Any:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                               "params": {"expression": expression, "returnByValue": True}}))
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                return message.get("result", {}).get("result", {}).get("value")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _page_socket(data_dir: Path) -> tuple[int, str]:
    active = data_dir / "DevToolsActivePort"
    text = _wait_for(lambda: active.read_text() if active.exists() and active.read_text().strip() else None,
                     "Chromium's DevTools port")
    port = int(text.split()[0])

    def console_page() -> str | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            pages = json.loads(answer.read())
        for page in pages:
            if page.get("type") == "page" and page.get("url", "").endswith("/console"):
                return str(page["webSocketDebuggerUrl"])
        return None

    url = _wait_for(console_page, "the console page to load")
    return port, "/" + url.split("/", 3)[3]


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed")
def test_two_profiles_signed_in_at_once_in_headless_chromium(world: World) -> None:
    assert CHROMIUM is not None, "CI must install chromium (.ci/run)"
    urls = {}
    for profile, extra in (("readonly", ()), ("dev", ("--mfa-code", world.emulator.mfa_code()))):
        done = world.stsdesk("console", profile, *extra)
        assert done.returncode == 0, done.stderr
        urls[profile] = done.stdout.strip()
    flags = list(ISOLATION_FLAGS) + (["--no-sandbox"] if os.getuid() == 0 else [])
    browser = Browser("chromium", BrowserKind.CHROMIUM, CHROMIUM)
    launches = {}
    try:
        for profile, url in urls.items():  # both running at the same time
            launches[profile] = launch_console(url, profile, browser, world.config_dir, extra_args=flags)
        shown = {}
        for profile, launched in launches.items():
            assert launched.opened and launched.process is not None and launched.context is not None
            port, path = _page_socket(Path(launched.context))
            tools = DevTools(port, path)
            try:
                shown[profile] = _wait_for(
                    lambda tools=tools: tools.evaluate("document.getElementById('arn')?.textContent"),
                    f"{profile}'s identity on its console page",
                )
            finally:
                tools.close()
        assert shown["readonly"].startswith("arn:aws:sts::222222222222:assumed-role/ReadOnly/")
        assert shown["dev"].startswith("arn:aws:sts::222222222222:assumed-role/Developer/")
        # Each kept its own cookie: the first one is still signed in as itself after the second signed in.
        port, path = _page_socket(Path(launches["readonly"].context or ""))
        tools = DevTools(port, path)
        try:
            tools.evaluate("location.reload()")
            again = _wait_for(lambda: tools.evaluate("document.getElementById('arn')?.textContent"), "reload")
        finally:
            tools.close()
        assert again == shown["readonly"]
    finally:
        for launched in launches.values():
            if launched.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(launched.process.pid, signal.SIGTERM)  # its own session: Chromium's helpers too
                try:
                    launched.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(launched.process.pid, signal.SIGKILL)
                    launched.process.wait(timeout=10)


def test_other_browsers_on_path_the_setting_file_and_per_profile_dirs(tmp_path: Path) -> None:
    from stsdesk.core.browsers import browser_setting, profile_data_dir

    brave = "/usr/bin/brave-browser"
    found = resolve_browser("brave-browser", which=lambda name: brave if name == "brave-browser" else None)
    assert found.kind is BrowserKind.CHROMIUM and found.executable == brave
    with pytest.raises(Exception, match="unknown browser 'netscape'"):
        resolve_browser("netscape", which=lambda name: None)
    (tmp_path / "stsdesk-gui.ini").write_text('[General]\nconsole_browser="firefox"\n')
    assert browser_setting(tmp_path, {}) == "firefox"
    assert browser_setting(tmp_path, {"STSDESK_CONSOLE_BROWSER": "chrome"}) == "chrome"
    assert browser_setting(tmp_path / "nowhere", {}) == "default"
    first, second = profile_data_dir(tmp_path, "team/a"), profile_data_dir(tmp_path, "team_a")
    assert first != second and first.parent == second.parent == tmp_path / "browser-profiles"
    assert stat.S_IMODE(first.stat().st_mode) == 0o700
    assert profile_data_dir(tmp_path, "team/a") == first  # stable: the same profile finds its cookies again


def test_a_browser_that_cannot_start_is_one_line_and_leaves_no_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsdesk.core.console import ConsoleError

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    gone = Browser("chromium", BrowserKind.CHROMIUM, str(tmp_path / "no-such-chromium"))
    with pytest.raises(ConsoleError, match=r"^could not start chromium \(No such file or directory\)$"):
        launch_console("https://signin.example/federation?SigninToken=t", "dev", gone, tmp_path / "state")
    assert list((runtime / "stsdesk-console").glob("signin-*.html")) == []
