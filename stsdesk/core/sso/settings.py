"""stsdesk's own Identity Center setting: where sign-in tokens are kept (``sso_token_storage``).

``file`` (default): the AWS CLI's ``~/.aws/sso/cache``, shared with ``aws`` and every SDK. ``keyring``: the
OS keyring, invisible to other tools. Read from ``STSDESK_SSO_TOKEN_STORAGE``, else from the settings file
the GUI writes (``<config dir>/stsdesk-gui.ini``, QSettings INI, key ``sso_token_storage`` in
``[General]``), so the GUI's Settings dialog and the CLI agree. No Qt here: plain configparser.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

from stsdesk.core.sso.errors import SsoConfigError

SETTING = "sso_token_storage"
ENV = "STSDESK_SSO_TOKEN_STORAGE"
SETTINGS_FILE = "stsdesk-gui.ini"  # the GUI's QSettings file (stsdesk.gui.settings.SETTINGS_FILE)
CHOICES = ("file", "keyring")


def token_storage(config_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """``file`` or ``keyring``; raises SsoConfigError (one line) for any other value."""
    environ = os.environ if env is None else env
    value = environ.get(ENV, "").strip()
    where = ENV
    if not value:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(config_dir / SETTINGS_FILE, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return "file"  # a damaged GUI settings file must not stop sign-ins; the GUI reports it itself
        value = parser.get("General", SETTING, fallback="").strip().strip('"')
        where = f"{SETTING} in {config_dir / SETTINGS_FILE}"
    value = value.lower() or "file"
    if value not in CHOICES:
        raise SsoConfigError(f"{where} is '{value[:40]}'; use 'file' (shared with the AWS CLI) or 'keyring'")
    return value
