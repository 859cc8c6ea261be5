"""Support for the credential-server tests (no tests here): three independent SDK clients, each a long-running
child process.

Each client reads one line per request on stdin and answers one JSON line on stdout:
``{"ok": true, "arn": ..., "key": ...}`` (GetCallerIdentity against the emulator, and the access key the SDK
signed with, as far as it can tell) or ``{"ok": false, "error": ...}``. The first answer is preceded by a line
``{"static": [...]}`` listing the static-credential variables the client's environment holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

AWS_CLI = Path(sys.executable).with_name("aws")
JS_CACHE_ENV = "STSDESK_JS_SDK_CACHE"
STATIC = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE")

BOTO3_CLIENT = r"""
import json, os, sys
import boto3
print(json.dumps({"static": [k for k in %(static)r if k in os.environ]}), flush=True)
session = boto3.session.Session()
sts = None
for _line in sys.stdin:
    try:
        if os.environ.get("FRESH_SESSION"):  # a new SDK session per request (see the IMDS renewal test)
            session, sts = boto3.session.Session(), None
        if sts is None:  # one client for the whole run, made on the first request (it loads credentials)
            sts = session.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL_STS"])
        arn = sts.get_caller_identity()["Arn"]
        creds = session.get_credentials()
        print(json.dumps({"ok": True, "arn": arn, "key": creds.get_frozen_credentials().access_key,
                          "method": creds.method}), flush=True)
    except Exception as exc:
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
"""

AWS_CLI_CLIENT = r"""
static=""
for name in %(static)s; do if [ -n "${!name+x}" ]; then static="$static $name"; fi; done
"$PYTHON" -c 'import json,sys; print(json.dumps({"static": sys.argv[1].split()}))' "$static"
while read -r _line; do
    if arn=$("$AWS" sts get-caller-identity --query Arn --output text 2>/tmp/.err.$$); then
        key=$("$AWS" configure list | awk '$1=="access_key"{print $2" "$3}')
        "$PYTHON" -c 'import json,sys; print(json.dumps({"ok": True, "arn": sys.argv[1], "key": sys.argv[2]}))' \
            "$arn" "$key"
    else
        "$PYTHON" -c 'import json,sys; print(json.dumps({"ok": False, "error": open(sys.argv[1]).read()}))' \
            /tmp/.err.$$
    fi
    rm -f /tmp/.err.$$
done
"""

JS_CLIENT = r"""
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
const readline = require("readline");
console.log(JSON.stringify({ static: %(static)s.filter((k) => k in process.env) }));
const client = new STSClient({ region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL_STS });
const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", () => {
  queue = queue.then(async () => {
    try {
      const identity = await client.send(new GetCallerIdentityCommand({}));
      const creds = await client.config.credentials();
      console.log(JSON.stringify({ ok: true, arn: identity.Arn, key: creds.accessKeyId }));
    } catch (err) {
      console.log(JSON.stringify({ ok: false, error: `${err.name}: ${err.message}` }));
    }
  });
});
"""


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail when CI=true (CI must run every client)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _private_cache() -> Path:
    """The npm cache directory: STSDESK_JS_SDK_CACHE, else <tmp>/stsdesk-js-sdk-<uid>. In the shared temporary
    directory it must be ours, a real directory and private: code planted there by another user would run in
    the tests. Otherwise a fresh private directory is used (and the SDK installed again)."""
    chosen = os.environ.get(JS_CACHE_ENV)
    if chosen:
        return Path(chosen)
    path = Path(tempfile.gettempdir()) / f"stsdesk-js-sdk-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return path
    return Path(tempfile.mkdtemp(prefix="stsdesk-js-sdk-"))


def js_sdk() -> Path:
    """node_modules with @aws-sdk/client-sts and @aws-sdk/credential-providers (installed once with npm, at
    whatever versions the registry gives today)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are needed for the JavaScript SDK client")
    js_cache = _private_cache()
    modules = js_cache / "node_modules"
    wanted = [modules / "@aws-sdk" / "client-sts", modules / "@aws-sdk" / "credential-providers"]
    if not all(path.is_dir() for path in wanted):
        done = subprocess.run(
            ["npm", "i", "--no-audit", "--no-fund", "@aws-sdk/client-sts", "@aws-sdk/credential-providers"],
            cwd=js_cache, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            unavailable(f"npm could not install the JavaScript SDK (registry unreachable?): {done.stderr[-300:]}")
    return modules


@dataclass(frozen=True)
class ClientKind:
    """How to start one client: argv and extra environment, written into ``directory``."""

    name: str

    def argv(self, directory: Path) -> tuple[list[str], dict[str, str]]:
        static = list(STATIC)
        if self.name == "boto3":
            script = directory / "client_boto3.py"
            script.write_text(BOTO3_CLIENT % {"static": tuple(static)})
            return [sys.executable, str(script)], {}
        if self.name == "aws-cli":
            script = directory / "client_aws.sh"
            script.write_text(AWS_CLI_CLIENT % {"static": " ".join(static)})
            return ["bash", str(script)], {"AWS": str(AWS_CLI), "PYTHON": sys.executable}
        modules = js_sdk()
        script = directory / "client_js.cjs"
        script.write_text(JS_CLIENT % {"static": json.dumps(static)})
        return ["node", str(script)], {"NODE_PATH": str(modules)}


CLIENTS = [ClientKind("boto3"), ClientKind("aws-cli"), ClientKind("js-sdk")]


class Child:
    """A running ``stsdesk exec --server|--imds PROFILE -- CLIENT``, driven line by line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        try:
            self.static = self._read()["static"]
        except BaseException:
            self.__exit__()
            raise

    def _read(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            _out, err = self.process.communicate(timeout=30)
            raise AssertionError(f"the client ended (status {self.process.returncode}): {err[-2000:]}")
        answer: dict[str, object] = json.loads(line)
        return answer

    def ask(self) -> dict[str, object]:
        """One GetCallerIdentity in the child."""
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        return self._read()

    def finish(self) -> tuple[int, str]:
        """Close stdin (the client ends); the exec's exit status and stderr."""
        _out, err = self.process.communicate(timeout=60)
        return self.process.returncode, err

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)  # closes every pipe
