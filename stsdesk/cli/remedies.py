"""Errors in the command line's words: core's message plus what to do, said as a command to run."""

from __future__ import annotations

import shlex

from stsdesk.core.errors import ENTER_MFA_CODE, STORE_SECRET, Remedy, StsdeskError


def _store_secret(remedy: Remedy) -> str:
    profile = shlex.quote(remedy.profile or "PROFILE")
    return f"; run: stsdesk add-user {profile} --access-key-id {shlex.quote(remedy.access_key_id or 'ID')}"


def _enter_mfa_code(remedy: Remedy) -> str:
    return ": pass --mfa-code or run in a terminal"


# One entry per core.errors.REMEDY_ACTIONS (a test checks that none is missing).
CLI_WORDS = {STORE_SECRET: _store_secret, ENTER_MFA_CODE: _enter_mfa_code}


def cli_message(exc: StsdeskError) -> str:
    """``exc``'s one-line message, followed by its remedy (if any) as the command that fixes it."""
    remedy = exc.remedy
    words = CLI_WORDS.get(remedy.action) if remedy is not None else None
    return str(exc) + (words(remedy) if words is not None and remedy is not None else "")
