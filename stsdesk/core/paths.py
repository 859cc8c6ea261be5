"""Where stsdesk keeps its own state (never secrets: those live in the OS keyring).

On the fast ``stsdesk credential-process`` path: imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "stsdesk"
CONFIG_DIR_ENV = "STSDESK_CONFIG_DIR"


def default_config_dir() -> Path:
    """The per-user config directory platformdirs picks for stsdesk (not created here)."""
    from platformdirs import user_config_dir  # a few ms; only needed when no directory was given

    # appauthor=False: on Windows platformdirs would otherwise nest "stsdesk\\stsdesk".
    return Path(user_config_dir(APP_NAME, appauthor=False))


def config_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Return stsdesk's config directory, creating it (mode 0700) when it does not exist.

    Precedence: ``explicit`` (``--config-dir``) > ``STSDESK_CONFIG_DIR`` in ``env`` (default ``os.environ``)
    > platformdirs' user config dir. ``~`` is expanded; an empty value counts as unset. An existing directory
    is used as it is (its mode is not changed). Raises ``OSError`` when the directory cannot be created or the
    path exists but is not a directory.
    """
    environ = os.environ if env is None else env
    chosen = (
        str(explicit) if explicit is not None and str(explicit) != "" else environ.get(CONFIG_DIR_ENV, "")
    )
    path = Path(chosen).expanduser() if chosen else default_config_dir()
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is filtered through the umask; make the intent explicit.
        path.chmod(0o700)
    return path.absolute()


def keyring_namespace(directory: Path) -> str | None:
    """The keyring namespace for a config directory: None for the default one, else a short stable hash.

    Separate config directories (``--config-dir`` in tests, demos, a second identity) thereby never read or
    overwrite each other's secrets: the keyring service becomes ``stsdesk:<namespace>``.
    """
    resolved = directory.expanduser().resolve()
    if resolved == default_config_dir().expanduser().resolve():
        return None
    return hashlib.sha256(os.fsencode(resolved)).hexdigest()[:12]
