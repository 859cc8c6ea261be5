"""credential-process answers a cached profile without importing botocore, and steps aside when the AWS
files changed. Runs `stsdesk.cli.main` in a fresh interpreter with an in-memory keyring holding it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SCRIPT = r"""
import json, sys
import keyring
from keyring.backend import KeyringBackend

class Memory(KeyringBackend):
    priority = 1
    items = {}
    def get_password(self, service, username):
        return self.items.get((service, username))
    def set_password(self, service, username, password):
        self.items[(service, username)] = password
    def delete_password(self, service, username):
        self.items.pop((service, username), None)

keyring.set_keyring(Memory())
from datetime import UTC, datetime, timedelta
from stsdesk.core.cache import CachedSession, SessionCache
from stsdesk.core.fingerprint import aws_config_paths_light, source_fingerprint
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.paths import config_dir, keyring_namespace
from stsdesk.core.secrets import SecretStore, service_name

directory = config_dir()
secrets = SecretStore(service_name(keyring_namespace(directory)))
config, credentials = aws_config_paths_light()
now = datetime.now(UTC)
creds = Credentials("ASIAFASTPATH00000001", "fast-secret", "fast-token", now + timedelta(hours=1),
                    CredentialKind.ASSUMED_ROLE, "us-east-1")
meta = CachedSession("profile:cached", "cached", creds.access_key_id, creds.kind, creds.expiration,
                     "arn:aws:sts::222222222222:assumed-role/R/s", None, None,
                     source_fingerprint("cached", config, credentials, directory), now)
cache = SessionCache(directory, secrets)
cache.store(meta, creds)
getattr(cache, "flush", lambda: None)()  # a write-behind cache: durable before other readers look

from stsdesk.cli import _credential_process_fast, build_parser, main
status = main(["credential-process", "cached"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("botocore", "boto3"))
config.write_text(config.read_text() + "\n# edited\n")
args = build_parser().parse_args(["credential-process", "cached"])
stale_hit = _credential_process_fast(args)
print(json.dumps({"status": status, "heavy": heavy, "stale_hit": stale_hit}), file=sys.stderr)
"""


def test_cached_credential_process_imports_no_botocore(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile cached]\nregion = us-east-1\n")
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "STSDESK_CONFIG_DIR": str(home / "stsdesk"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["status"] == 0
    assert report["heavy"] == []
    assert report["stale_hit"] is False  # the config file changed: the full path must decide
    document = json.loads(done.stdout)
    assert document == {
        "Version": 1,
        "AccessKeyId": "ASIAFASTPATH00000001",
        "SecretAccessKey": "fast-secret",
        "SessionToken": "fast-token",
        "Expiration": document["Expiration"],
    }


# -- with the real Secret Service: the direct read, no keyring import ----------------------------------------

STORE_SCRIPT = r"""
import sys
from datetime import UTC, datetime, timedelta
from stsdesk.core.cache import CachedSession, SessionCache
from stsdesk.core.fingerprint import aws_config_paths_light, source_fingerprint
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.paths import config_dir, keyring_namespace
from stsdesk.core.secrets import SecretStore, service_name

directory = config_dir()
secrets = SecretStore(service_name(keyring_namespace(directory)))
config, credentials = aws_config_paths_light()
now = datetime.now(UTC)
creds = Credentials(sys.argv[1], "direct-secret", "direct-token", now + timedelta(hours=1),
                    CredentialKind.ASSUMED_ROLE, "us-east-1")
meta = CachedSession("profile:cached", "cached", creds.access_key_id, creds.kind, creds.expiration, None, None,
                     None, source_fingerprint("cached", config, credentials, directory), now)
cache = SessionCache(directory, secrets)
cache.store(meta, creds)
getattr(cache, "flush", lambda: None)()  # a write-behind cache: durable before other readers look
"""

RUN_SCRIPT = r"""
import json, sys
from stsdesk.cli import main
status = main(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"keyring", "botocore", "boto3", "secretstorage", "jeepney"})
print(json.dumps({"status": status, "loaded": loaded}), file=sys.stderr)
"""

FAST_ONLY_SCRIPT = r"""
import json, sys
from stsdesk.cli import _credential_process_fast, _plain_credential_process
answered = _credential_process_fast(_plain_credential_process(["credential-process", "cached"]))
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"keyring", "botocore", "boto3", "secretstorage"})
print(json.dumps({"answered": answered, "loaded": loaded}), file=sys.stderr)
"""


def _python(script: str, env: dict[str, str], *args: str) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    return (json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}), done.stdout


@pytest.mark.keyring
def test_cached_credential_process_reads_the_secret_service_without_keyring(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile cached]\nregion = us-east-1\n")
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "DBUS_SESSION_BUS_ADDRESS": os.environ["DBUS_SESSION_BUS_ADDRESS"],
        "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    state = str(home / "stsdesk")
    key_id = "ASIADIRECT" + uuid.uuid4().hex[:10].upper()
    _python(STORE_SCRIPT, dict(env, STSDESK_CONFIG_DIR=state), key_id)
    argv = ["--config-dir", state, "credential-process", "cached"]

    first, out = _python(RUN_SCRIPT, env, *argv)  # no record yet: keyring reads it, and the backend is noted
    assert first == {"status": 0, "loaded": ["jeepney", "keyring", "secretstorage"]}
    assert json.loads(out)["AccessKeyId"] == key_id
    second, out = _python(RUN_SCRIPT, env, *argv)
    assert second == {"status": 0, "loaded": []}  # neither keyring nor botocore nor boto3 nor jeepney
    document = json.loads(out)
    assert (document["AccessKeyId"], document["SecretAccessKey"], document["SessionToken"]) == (
        key_id, "direct-secret", "direct-token"
    )
    # Another backend named in the environment: the direct read steps aside and keyring (here: none) decides.
    other = dict(env, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", STSDESK_CONFIG_DIR=state)
    third, out = _python(FAST_ONLY_SCRIPT, other)
    assert third == {"answered": False, "loaded": ["keyring"]} and out == ""
