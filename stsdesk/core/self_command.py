"""How to run this very stsdesk again from another program: the command behind a ``credential_process`` line.

One home for the rule, used by the CLI (``import-credentials``, help texts) and the GUI ("Copy
credential_process line"): the AWS CLI and SDKs run the line without stsdesk's PATH or virtualenv, so it names
the stsdesk that runs now by absolute path. Standard library only.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def stsdesk_command(argv0: str | None = None, executable: str | None = None) -> list[str]:
    """The argv prefix that starts the stsdesk running now, with an absolute path first.

    In order: a frozen bundle's own executable; the ``stsdesk`` console script this process was started as
    (``argv0``, default ``sys.argv[0]``, looked up on PATH when it is a bare name); the ``stsdesk`` script next
    to this Python (its virtualenv's bin); else ``[python, "-m", "stsdesk"]``. Never raises."""
    python = os.path.abspath(executable or sys.executable)
    if getattr(sys, "frozen", False):
        return [python]
    started = sys.argv[0] if argv0 is None else argv0
    if started and Path(started).name.lower() in ("stsdesk", "stsdesk.exe", "stsdesk-script.py"):
        found = started if os.sep in started else shutil.which(started)
        if found and os.path.isfile(found):
            return [os.path.abspath(found)]
    for name in ("stsdesk", "stsdesk.exe"):
        beside = Path(python).with_name(name)
        if beside.is_file() and os.access(beside, os.X_OK):
            return [str(beside)]
    return [python, "-m", "stsdesk"]


def credential_process_command(profile: str, config_dir: Path | str | None = None) -> str:
    """The value of ``credential_process`` in ~/.aws/config that gets ``profile``'s credentials from this
    stsdesk (with ``--config-dir`` when stsdesk runs with a config directory other than the default, whose
    keyring entries and cache the line must find), quoted for botocore's shell-like split. Never raises."""
    command = stsdesk_command()
    if config_dir is not None:
        command += ["--config-dir", str(Path(config_dir).expanduser().absolute())]
    return shlex.join([*command, "credential-process", profile])


def credential_process_line(profile: str, config_dir: Path | str | None = None) -> str:
    """``credential_process = <command>``, ready to paste into a profile section; see
    :func:`credential_process_command`."""
    return f"credential_process = {credential_process_command(profile, config_dir)}"
