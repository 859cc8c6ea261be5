"""cache_index, the import-light reader of the credential-process cache hit, agrees with the full cache."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from helpers import unmeasured_env

from stsdesk.core.cache_index import CREDENTIAL_KINDS, FastSession, credential_process_document
from stsdesk.core.exports import credential_process_json
from stsdesk.core.model import CredentialKind, Credentials


def test_kinds_match_the_model() -> None:
    assert {kind.value for kind in CredentialKind} == CREDENTIAL_KINDS


def test_document_is_what_exports_prints() -> None:
    expiry = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC) + timedelta(microseconds=7)
    for token in ("tok/en+", None):
        creds = Credentials("ASIAX", "sec/ret", token, expiry, CredentialKind.ASSUMED_ROLE, "eu-west-1")
        fast = FastSession("ASIAX", "sec/ret", token, expiry, "assumed-role", "eu-west-1")
        assert credential_process_document(fast) == credential_process_json(creds)


def test_cache_hit_path_imports_stay_light() -> None:
    code = (
        "import sys, stsdesk.cli, stsdesk.core.cache_index, stsdesk.core.fingerprint, stsdesk.core.paths;"
        "print(sorted(m for m in ('dataclasses', 'logging', 'argparse', 'stsdesk.core.model',"
        " 'stsdesk.core.cache', 'stsdesk.core.cache_pending') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=unmeasured_env()
    )
    assert done.stdout.strip() == "[]"
