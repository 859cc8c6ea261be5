"""Finding 5: the console sign-in URL (its SigninToken is a bearer credential for 15 minutes) never appears on a
browser's command line, which every local user can read in /proc/<pid>/cmdline.

``stsdesk console PROFILE --open`` runs against the e2e emulator with a fake browser (``BROWSER``) that records
the argv it was given and the page it was pointed at, then waits while a second local user reads every
process's command line. The page must forward to a sign-in URL that really signs in at the emulator.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from e2e.conftest import World

from security.conftest import OtherUser
from stsdesk.core.console_fetch import write_signin_page

FAKE_BROWSER = r'''
import json, os, stat, sys, time, urllib.parse
record, go = os.environ["FAKE_BROWSER_RECORD"], os.environ["FAKE_BROWSER_GO"]
url = sys.argv[-1]
path = urllib.parse.unquote(urllib.parse.urlsplit(url).path) if url.startswith("file:") else url
info = {"argv": sys.argv, "pid": os.getpid(), "path": path}
try:
    st, dst = os.lstat(path), os.lstat(os.path.dirname(path))
    info.update(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, link=stat.S_ISLNK(st.st_mode),
                dir_mode=stat.S_IMODE(dst.st_mode), dir_uid=dst.st_uid, content=open(path).read())
except OSError as exc:
    info["error"] = str(exc)
with open(record + ".tmp", "w") as out:
    json.dump(info, out)
os.replace(record + ".tmp", record)
deadline = time.monotonic() + 20
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
'''


def _forwarded_url(page: str) -> str:
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page)
    assert match, page
    import html

    return html.unescape(match.group(1))


def test_console_open_never_puts_the_signin_token_on_a_command_line(
    world: World, other_user: OtherUser, tmp_path: Path
) -> None:
    browser = tmp_path / "fake-browser"  # BROWSER names one executable; webbrowser appends the URL
    browser.write_text(f"#!{sys.executable}\n{FAKE_BROWSER}")
    browser.chmod(0o755)
    record, go = tmp_path / "record.json", tmp_path / "go"
    env = {
        **world.env,
        "BROWSER": str(browser),
        "FAKE_BROWSER_RECORD": str(record),
        "FAKE_BROWSER_GO": str(go),
    }
    env.pop("XDG_RUNTIME_DIR", None)  # the shared temp dir fallback: the harder case
    cli = subprocess.Popen(
        [sys.executable, "-m", "stsdesk", "console", "readonly", "--open"],
        env=env, cwd=world.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not record.exists():
            assert cli.poll() is None, cli.communicate()
            assert time.monotonic() < deadline, "the fake browser was never started"
            time.sleep(0.05)
        seen = json.loads(record.read_text())
        assert "error" not in seen, seen
        signin_url = _forwarded_url(seen["content"])
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(signin_url).query)["SigninToken"][0]
        assert len(token) > 20

        # What every local user sees while the browser runs: no token in any process's command line.
        cmdlines = other_user.run("sh", "-c", "cat /proc/[0-9]*/cmdline 2>/dev/null; true").stdout
        assert seen["argv"][-1] in cmdlines.replace("\0", " "), "could not read the browser's command line"
        assert token not in cmdlines and "SigninToken" not in cmdlines
        assert token not in " ".join(seen["argv"])
        # The page itself: 0600 in a 0700 directory of ours, unreadable to the other user.
        assert (seen["mode"], seen["dir_mode"]) == (0o600, 0o700)
        assert seen["uid"] == seen["dir_uid"] == os.getuid() and not seen["link"]
        assert other_user.run("cat", seen["path"], check=False).returncode != 0
    finally:
        go.touch()
        out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "SigninToken" not in out + err

    # The page forwards to a URL that really signs in (as a browser following it would).
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(signin_url, timeout=10) as response:
        assert "ReadOnly" in response.read().decode()


def test_page_escapes_the_url_in_html_and_script(tmp_path: Path) -> None:
    directory = tmp_path / "pages"
    directory.mkdir(mode=0o700)
    hostile = 'https://signin.example/federation?a="><script>alert(1)</script>&b=\'</script><b>'
    page = write_signin_page(hostile, directory)
    text = page.read_text()
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert text.count("<script>") == 1 and text.count("</script>") == 1
    assert _forwarded_url(text) == hostile
    script = re.search(r"<script>window\.location\.replace\((.*)\);</script>", text)
    assert script and json.loads(script.group(1)) == hostile


def test_page_is_0600_under_a_permissive_umask(tmp_path: Path) -> None:
    directory = tmp_path / "pages"
    directory.mkdir(mode=0o700)
    old = os.umask(0)
    try:
        page = write_signin_page("https://signin.example/federation?SigninToken=x", directory)
    finally:
        os.umask(old)
    assert stat.S_IMODE(page.stat().st_mode) == 0o600


@pytest.mark.parametrize("runtime_mode", [0o700, 0o755])
def test_pages_directory_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime_mode: int) -> None:
    from stsdesk.core.console_fetch import signin_pages_directory

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    runtime.chmod(runtime_mode)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    directory = signin_pages_directory()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and directory.stat().st_uid == os.getuid()
    assert (directory.parent == runtime) is (runtime_mode == 0o700)  # a loose runtime dir is not used


def test_page_is_removed_after_its_lifetime_and_at_once_when_no_browser_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stsdesk.core.console_fetch import open_signin_url

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    given: list[str] = []
    assert open_signin_url("https://signin.example/?SigninToken=t", lambda u: given.append(u) is None, 0.2)
    page = Path(urllib.parse.unquote(urllib.parse.urlsplit(given[0]).path))
    assert page.parent == runtime / "stsdesk-console"
    deadline = time.monotonic() + 30
    while page.exists():  # removed by a detached remover (the CLI exits right after opening)
        assert time.monotonic() < deadline, "the sign-in page was not removed"
        time.sleep(0.05)
    assert not open_signin_url("https://signin.example/?SigninToken=t", lambda u: given.append(u) and False)
    assert list((runtime / "stsdesk-console").iterdir()) == []
