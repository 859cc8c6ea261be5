"""Fetch a console sign-in URL: getSigninToken over HTTP, then the login URL (core/console.py builds both).

Blocking (urllib); the broker runs it in an executor. The request URL carries the secret key, and the result
is a bearer credential for 15 minutes: neither ever appears in a message, and the result never appears on a
browser's command line (``open_signin_url``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stsdesk.core.broker_sources import StsTarget, get_url, is_aws_host
from stsdesk.core.console import (
    ConsoleError,
    federation_target,
    login_url,
    parse_signin_token_response,
    session_duration_for,
    signin_token_request_url,
)
from stsdesk.core.model import Credentials
from stsdesk.core.paths import ensure_private_directory

if TYPE_CHECKING:
    from stsdesk.core.browsers import Browser


def federation_endpoint_for(target: StsTarget, sts_endpoint: str) -> str | None:
    """The federation endpoint to use: the profile's ``stsdesk_federation_endpoint``, else
    ``<sts endpoint>/federation`` when STS is not an AWS host (the emulator), else None (the partition's)."""
    if target.federation_endpoint:
        return target.federation_endpoint
    if not is_aws_host(sts_endpoint):
        return f"{sts_endpoint.rstrip('/')}/federation"
    return None


# The console's regional home of a service, per partition (the federation endpoints are in core/console.py).
_SERVICE_CONSOLES = {
    "aws": "https://{region}.console.aws.amazon.com/{service}/home?region={region}",
    "aws-us-gov": "https://console.amazonaws-us-gov.com/{service}/home?region={region}",
    "aws-cn": "https://console.amazonaws.cn/{service}/home?region={region}",
}
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def console_destination(partition: str, region: str, service: str | None = None) -> str:
    """The console page for ``service`` (``ec2``, ``s3``, ``iam``...; None: the console home) in ``region`` of
    ``partition``. Raises ConsoleError for a service name that is not lower-case letters, digits and dashes,
    or a partition without a public console (aws-iso*)."""
    template = _SERVICE_CONSOLES.get(partition)
    if template is None:
        raise ConsoleError(f"no console is known for partition {partition!r}; use --destination URL")
    name = (service or "console").strip().lower()
    if not _SERVICE_NAME.match(name):
        raise ConsoleError(f"{service!r} is not a console service name (e.g. ec2, s3, cloudformation)")
    return template.format(region=region, service=name)


def console_sign_in(
    creds: Credentials,
    partition: str,
    target: StsTarget,
    sts_endpoint: str,
    duration: int | None = None,
    destination: str | None = None,
) -> str:
    """The login URL for ``creds``. Raises ConsoleError (wrong kind of credentials, refused, bad answer) and
    NetworkError (federation endpoint unreachable)."""
    fed = federation_target(
        partition, target.region, federation_endpoint_for(target, sts_endpoint), destination
    )
    request_url = signin_token_request_url(fed, creds, session_duration_for(creds, duration))
    status, body = get_url(request_url, "the console federation endpoint")
    try:
        token = parse_signin_token_response(body)
    except ConsoleError as exc:
        if status >= 400:
            raise ConsoleError(
                f"the federation endpoint refused the sign-in (HTTP {status}): {exc}"
            ) from None
        raise
    return login_url(fed, token)


# -- handing the URL to a browser --------------------------------------------------------------------------
# A browser started with the sign-in URL as an argument shows it to every local user in /proc/<pid>/cmdline
# (and the SigninToken in it is a bearer credential for 15 minutes). So the browser gets a file: URL of a 0600
# page in a 0700 directory that forwards to the sign-in URL, and the page is removed shortly after.

SIGNIN_PAGE_LIFETIME = 90.0  # seconds: long enough for a browser to cold-start and read the page


def _signin_page_html(url: str) -> str:
    import html
    import json

    # In the attribute: HTML-escaped. In the script: a JSON string with <, > and & as \u escapes, so the URL
    # can neither close the <script> element nor open an HTML comment in it, whatever it contains.
    script_url = json.dumps(url).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
        '<meta name="referrer" content="no-referrer">\n'
        f'<meta http-equiv="refresh" content="0;url={html.escape(url, quote=True)}">\n'
        "<title>Signing in to the AWS console…</title>\n"
        f"<script>window.location.replace({script_url});</script>\n"
        "</head><body><p>Signing in to the AWS console…</p></body></html>\n"
    )


def signin_pages_directory() -> Path:
    """A private (0700, ours, not a link) directory for sign-in pages: ``$XDG_RUNTIME_DIR/stsdesk-console``
    when the runtime dir is private, else a fresh ``mkdtemp`` directory (created 0700 under a random name).
    Raises UnsafeDirectory when the runtime dir's ``stsdesk-console`` is not ours or not private."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime:
        try:
            st = os.lstat(runtime)
        except OSError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
            directory = Path(runtime) / "stsdesk-console"
            ensure_private_directory(directory, what="opening the console in a browser")
            return directory
    return Path(tempfile.mkdtemp(prefix="stsdesk-console-"))


def write_signin_page(url: str, directory: Path | None = None) -> Path:
    """Write a page that forwards a browser to ``url``: mode 0600, created exclusively (never through a link)
    in ``directory`` (default ``signin_pages_directory()``). Pages there older than SIGNIN_PAGE_LIFETIME are
    removed on the way. Raises OSError when the directory is not writable, UnsafeDirectory when it is unsafe.
    """
    directory = signin_pages_directory() if directory is None else directory
    _sweep(directory)
    fd, name = tempfile.mkstemp(prefix="signin-", suffix=".html", dir=directory)  # O_EXCL, 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as page:
            page.write(_signin_page_html(url))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _sweep(directory: Path) -> None:
    cutoff = time.time() - SIGNIN_PAGE_LIFETIME
    with contextlib.suppress(OSError):
        for old in directory.glob("signin-*.html"):
            with contextlib.suppress(OSError):
                if old.lstat().st_mtime < cutoff:
                    old.unlink()


def _remove_later(page: Path, delay: float) -> None:
    """Remove ``page`` (and its directory when it is a private mkdtemp one) after ``delay`` seconds, even when
    this process exits first (the CLI does): a detached ``sh`` does it; without one, a daemon timer."""
    directory = page.parent
    remove_dir = directory.name.startswith("stsdesk-console-")
    shell = shutil.which("sh") if os.name == "posix" else None
    if shell is not None:
        # The outer sh starts the remover in the background and exits at once (waited for here), so the
        # remover is nobody's child and outlives this process. The page's path is not secret.
        script = '(sleep "$1"; rm -f -- "$2"; [ "$3" = 1 ] && rmdir -- "$4") >/dev/null 2>&1 & exit 0'
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [shell, "-c", script, "sh", f"{delay:g}", str(page), "1" if remove_dir else "0", str(directory)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, timeout=10, check=True,
            )
            return

    def remove() -> None:
        with contextlib.suppress(OSError):
            page.unlink()
            if remove_dir:
                directory.rmdir()

    timer = threading.Timer(delay, remove)
    timer.daemon = True
    timer.start()


def open_signin_url(
    url: str, opener: Callable[[str], bool] | None = None, lifetime: float = SIGNIN_PAGE_LIFETIME
) -> bool:
    """Open the console sign-in ``url`` in a browser without it appearing on any command line.

    Writes the forwarding page (``write_signin_page``), hands ``opener`` (default: ``webbrowser.open``; the
    GUI passes QDesktopServices.openUrl) its ``file://`` URL, and removes the page after ``lifetime`` seconds.
    Returns what ``opener`` returned (False: no browser could be started; the page is removed at once).
    Raises ConsoleError when the page cannot be written, UnsafeDirectory when no private place for it exists.
    """
    if opener is None:
        import webbrowser

        opener = webbrowser.open
    try:
        page = write_signin_page(url)
    except OSError as exc:
        raise ConsoleError(f"could not write the sign-in page for the browser ({exc.strerror or exc})") from None
    try:
        opened = bool(opener(page.as_uri()))
    except BaseException:
        page.unlink(missing_ok=True)
        raise
    if not opened:
        page.unlink(missing_ok=True)
        return False
    _remove_later(page, lifetime)
    return True


@dataclass(frozen=True)
class ConsoleLaunch:
    """What :func:`launch_console` did: whether a browser was started, in which context (the profile's
    Chromium user-data directory or Firefox container name; None for the system default), and the started
    process (None for the system default, which the desktop opens)."""

    opened: bool
    browser: str
    context: str | None
    process: subprocess.Popen[bytes] | None = None


def launch_console(
    url: str,
    profile: str,
    browser: Browser,
    state_dir: Path,
    *,
    extra_args: Sequence[str] = (),
    lifetime: float = SIGNIN_PAGE_LIFETIME,
    opener: Callable[[str], bool] | None = None,
) -> ConsoleLaunch:
    """Open the console sign-in ``url`` for ``profile`` in ``browser``, each profile in its own context
    (:mod:`stsdesk.core.browsers`): a Chromium-family browser is started with the profile's ``--user-data-dir``
    and the ``file:`` URL of a 0600 forwarding page; Firefox gets a page that forwards into the profile's
    container (``ext+container:``); the system default goes through :func:`open_signin_url` (``opener``).
    The sign-in URL is never on a command line. ``extra_args`` go to the browser before the page (tests).

    Raises ConsoleError when the page cannot be written or the browser cannot be started, UnsafeDirectory
    when no private place exists for the page or the profile's browser directory."""
    from stsdesk.core.browsers import BrowserKind, browser_argv, page_target, profile_data_dir

    if browser.kind is BrowserKind.DEFAULT or browser.executable is None:
        return ConsoleLaunch(open_signin_url(url, opener, lifetime), browser.name, None)
    try:
        page = write_signin_page(page_target(browser, url, profile))
    except OSError as exc:
        raise ConsoleError(f"could not write the sign-in page for the browser ({exc.strerror or exc})") from None
    try:
        argv = browser_argv(browser, page.as_uri(), profile, state_dir, extra_args)
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        page.unlink(missing_ok=True)
        raise ConsoleError(f"could not start {browser.name} ({exc.strerror or type(exc).__name__})") from None
    except BaseException:
        page.unlink(missing_ok=True)
        raise
    _remove_later(page, lifetime)
    context = str(profile_data_dir(state_dir, profile)) if browser.kind is BrowserKind.CHROMIUM else profile
    return ConsoleLaunch(True, browser.name, context, process)
