"""Which browser opens a console, and how each profile gets a browser context of its own.

Several accounts can only be signed in to the AWS console at once when each lives in its own cookie jar:
- Chromium and Google Chrome: a user-data directory per profile under stsdesk's state
  (``<config dir>/browser-profiles/<profile>-<hash>``, 0700). A second "Open console" for the same profile goes
  to the window already running with that directory (Chromium's process singleton).
- Firefox: the Multi-Account Containers URL form ``ext+container:name=<profile>&url=<sign-in URL>``, handled
  by the "Open external links in a container" add-on (with Multi-Account Containers); the container is made
  on first use.
- ``default``: the system's default browser (one cookie jar: the last sign-in wins).

The setting is ``console_browser`` (``STSDESK_CONSOLE_BROWSER``, else ``[General] console_browser`` in the
GUI's settings file, as :mod:`stsdesk.core.sso.settings` reads ``sso_token_storage``); ``console --browser``
overrides it. No Qt, no network, nothing secret here: the sign-in URL itself is put into a private forwarding
page by :func:`stsdesk.core.console_fetch.launch_console`, never onto a command line.
"""

from __future__ import annotations

import configparser
import enum
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from stsdesk.core.errors import ConfigError
from stsdesk.core.paths import ensure_private_directory

SETTING = "console_browser"
ENV = "STSDESK_CONSOLE_BROWSER"
SETTINGS_FILE = "stsdesk-gui.ini"  # the GUI's QSettings file (stsdesk.gui.settings.SETTINGS_FILE)
PROFILES_DIR = "browser-profiles"


class BrowserKind(enum.Enum):
    """How a browser keeps profiles apart."""

    CHROMIUM = "chromium"  # also Google Chrome and any Chromium-family browser given by path
    FIREFOX = "firefox"
    DEFAULT = "default"  # the system's default browser: no separation


# Setting value -> (kind, executable names tried on PATH, in order).
_NAMED: dict[str, tuple[BrowserKind, tuple[str, ...]]] = {
    "chromium": (BrowserKind.CHROMIUM, ("chromium", "chromium-browser")),
    "chrome": (BrowserKind.CHROMIUM, ("google-chrome", "google-chrome-stable", "chrome")),
    "firefox": (BrowserKind.FIREFOX, ("firefox", "firefox-esr")),
}
BROWSER_CHOICES: tuple[str, ...] = ("chromium", "chrome", "firefox", "default")
# Flags for a Chromium-family browser opening a console: the user-data directory decides the cookie jar.
CHROMIUM_FLAGS: tuple[str, ...] = ("--no-first-run", "--no-default-browser-check")


@dataclass(frozen=True)
class Browser:
    """A browser stsdesk can start: its kind and executable (None for the system default), and the name it
    was chosen by (``chromium``, ``chrome``, ``firefox``, ``default`` or a path)."""

    name: str
    kind: BrowserKind
    executable: str | None

    @property
    def separates_profiles(self) -> bool:
        """True when each profile gets its own cookie jar (several accounts signed in at once)."""
        return self.kind is not BrowserKind.DEFAULT


def resolve_browser(name: str, which: Callable[[str], str | None] = shutil.which) -> Browser:
    """The browser named by a setting or ``--browser``: ``chromium``, ``chrome``, ``firefox``, ``default``, the
    name of an executable on PATH or its path (Firefox when its file name says ``firefox``, else taken for a
    Chromium-family browser, which all understand ``--user-data-dir``).

    Raises ConfigError (one line) when a named browser is not on PATH or a path is not an executable file."""
    value = name.strip()
    lowered = value.lower()
    if lowered in ("", "default", "system"):
        return Browser("default", BrowserKind.DEFAULT, None)
    named = _NAMED.get(lowered)
    if named is not None:
        kind, candidates = named
        for candidate in candidates:
            found = which(candidate)
            if found:
                return Browser(lowered, kind, found)
        raise ConfigError(
            f"browser '{lowered}' is not installed (none of {', '.join(candidates)} is on PATH); "
            f"choose another with --browser ({', '.join(BROWSER_CHOICES)} or a path)"
        )
    path = Path(value).expanduser()
    if os.sep not in value:
        found = which(value)  # another Chromium-family browser by name: brave-browser, vivaldi, microsoft-edge
        if not found:
            raise ConfigError(
                f"unknown browser '{value[:60]}'; use one of {', '.join(BROWSER_CHOICES)}, a browser on PATH "
                "or the path of one"
            )
        kind = BrowserKind.FIREFOX if "firefox" in value.lower() else BrowserKind.CHROMIUM
        return Browser(value, kind, found)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ConfigError(f"browser '{value[:200]}' is not an executable file")
    kind = BrowserKind.FIREFOX if "firefox" in path.name.lower() else BrowserKind.CHROMIUM
    return Browser(str(path), kind, str(path))


def browser_setting(config_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """The ``console_browser`` setting: ``STSDESK_CONSOLE_BROWSER``, else the GUI settings file's
    ``[General] console_browser``, else ``default``. Never raises (a damaged settings file reads as unset;
    the GUI reports that itself); :func:`resolve_browser` judges the value."""
    environ = os.environ if env is None else env
    value = environ.get(ENV, "").strip()
    if value:
        return value
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(config_dir / SETTINGS_FILE, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return "default"
    return parser.get("General", SETTING, fallback="").strip().strip('"') or "default"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def profile_data_dir(state_dir: Path, profile: str) -> Path:
    """The Chromium user-data directory of ``profile``: ``<state_dir>/browser-profiles/<name>-<hash>``, created
    0700 (parents too). The hash keeps profiles apart whose names differ only in characters a file name
    cannot hold. Raises UnsafeDirectory when it is a link or someone else's, OSError when it cannot be made."""
    safe = _UNSAFE.sub("_", profile).strip("._")[:48] or "profile"
    digest = hashlib.sha256(profile.encode("utf-8")).hexdigest()[:8]
    directory = Path(state_dir) / PROFILES_DIR / f"{safe}-{digest}"
    ensure_private_directory(directory, what="opening consoles side by side", tighten=True)
    return directory


def container_url(container: str, url: str) -> str:
    """``ext+container:name=<container>&url=<url>``, both fully percent-encoded (the form the "Open external
    links in a container" add-on reads for Firefox Multi-Account Containers)."""
    return f"ext+container:name={quote(container, safe='')}&url={quote(url, safe='')}"


def page_target(browser: Browser, login_url: str, profile: str) -> str:
    """Where the forwarding page sends the browser: the container URL for Firefox, else the sign-in URL."""
    if browser.kind is BrowserKind.FIREFOX:
        return container_url(profile, login_url)
    return login_url


def browser_argv(
    browser: Browser,
    page_uri: str,
    profile: str,
    state_dir: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The command line that opens ``page_uri`` (a ``file:`` URL of a forwarding page, never the sign-in URL)
    for ``profile``: Chromium-family browsers with ``--user-data-dir`` of :func:`profile_data_dir`; Firefox as
    is (the page forwards into the container). ``extra_args`` go before the URL (tests: ``--headless``...).

    Raises ConfigError for the system default (it has no command line here; use ``webbrowser``) and what
    :func:`profile_data_dir` raises."""
    if browser.executable is None or browser.kind is BrowserKind.DEFAULT:
        raise ConfigError("the system default browser is opened through the desktop, not a command line")
    if browser.kind is BrowserKind.CHROMIUM:
        data_dir = profile_data_dir(state_dir, profile)
        return [browser.executable, f"--user-data-dir={data_dir}", *CHROMIUM_FLAGS, *extra_args, page_uri]
    return [browser.executable, *extra_args, page_uri]
