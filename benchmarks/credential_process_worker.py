"""The command-line measurements, run by bench_credential_process inside a private D-Bus session.

Expects HOME, STSDESK_CONFIG_DIR and PYTHON_KEYRING_BACKEND set by the caller (a throwaway home and a
Secret Service keyring that lives only as long as that D-Bus session; benchmarks.harness.run_with_private_keyring).
With a session cached (primed by one credential-process call), strict A B alternation of:

- ``stsdesk credential-process P`` vs bare ``python -c pass`` (the floor: any Python child costs that);
- ``stsdesk assume P`` vs bare ``python -c pass``;
- ``aws sts get-caller-identity`` via credential_process vs the same call with the credentials in env vars.

Prints one JSON object on stdout (see ``measure``) or {"error": "..."}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import rounds, side_by_side, top_imports
from benchmarks.servers import PYTHON, REGION, REPO, stsdesk_emulator, write_aws_files

ROUNDS = 30  # the AWS CLI pair (~0.5 s a call: ~30 s for both sides; 12 left the ratio to a few noisy calls)
CHILD_ROUNDS = 60  # the stsdesk children vs python -c pass
AWS = str(Path(PYTHON).with_name("aws"))


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}… exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return done


def measure() -> dict[str, object]:
    home = Path(os.environ["HOME"])
    # Up-to-date bytecode, as an installed stsdesk has (pip compiles on install) and as the peer's standard
    # library has: in a tree being edited under PYTHONDONTWRITEBYTECODE=1 every changed module would otherwise
    # be compiled from source in every child (1-2 ms each).
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "stsdesk")], check=False, capture_output=True)
    with stsdesk_emulator() as endpoint:
        process = f"credential_process = {PYTHON} -m stsdesk credential-process readonly\n"
        extra = f"[profile via-stsdesk]\nregion = {REGION}\n{process}"
        config, credentials = write_aws_files(home / ".aws", endpoint, extra)
        base = dict(
            os.environ,
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(credentials),
            AWS_ENDPOINT_URL_STS=endpoint,  # both sides call the same emulator
            AWS_DEFAULT_REGION=REGION,
        )
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            base.pop(name, None)
        # Prime the cache: the first call assumes the role and stores the session (secret in the keyring).
        first = json.loads(_run([PYTHON, "-m", "stsdesk", "credential-process", "readonly"], base).stdout)
        timed = _run([PYTHON, "-X", "importtime", "-m", "stsdesk", "credential-process", "readonly"], base)
        fast_path = json.loads(timed.stdout)["AccessKeyId"] == first["AccessKeyId"]
        botocore_imported = "botocore" in timed.stderr
        child_cmd = [PYTHON, "-m", "stsdesk", "credential-process", "readonly"]
        bare_cmd = [PYTHON, "-c", "pass"]
        n = rounds(CHILD_ROUNDS, 2)
        child, bare = side_by_side(lambda: _run(child_cmd, base), lambda: _run(bare_cmd, base), n, warmup=2)
        assume_cmd = [PYTHON, "-m", "stsdesk", "assume", "readonly"]
        assumed = _run(assume_cmd, base).stdout
        assume_cached = first["AccessKeyId"] in assumed
        assume_timed = _run([PYTHON, "-X", "importtime", *assume_cmd[1:]], base)
        assume, bare_assume = side_by_side(
            lambda: _run(assume_cmd, base), lambda: _run(bare_cmd, base), rounds(CHILD_ROUNDS // 2, 2), warmup=2
        )
        with_profile = dict(base, AWS_PROFILE="via-stsdesk")
        with_env = dict(
            base,
            AWS_ACCESS_KEY_ID=first["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=first["SecretAccessKey"],
            AWS_SESSION_TOKEN=first["SessionToken"],
        )
        cmd = [AWS, "sts", "get-caller-identity", "--output", "json"]
        ours_arn = json.loads(_run(cmd, with_profile).stdout)["Arn"]
        peer_arn = json.loads(_run(cmd, with_env).stdout)["Arn"]
        if ours_arn != peer_arn:
            raise RuntimeError(f"the two sides are different identities: {ours_arn} vs {peer_arn}")
        ours, peer = side_by_side(
            lambda: _run(cmd, with_profile), lambda: _run(cmd, with_env), rounds(ROUNDS, 1), warmup=1
        )
    return {
        "ours": ours,
        "peer": peer,
        "rounds": rounds(ROUNDS, 1),
        "botocore_imported": botocore_imported,
        "fast_path": fast_path,
        "child": child,
        "python_startup": bare,
        "child_rounds": n,
        "top_imports": top_imports(timed.stderr),
        "assume": assume,
        "assume_python": bare_assume,
        "assume_rounds": rounds(CHILD_ROUNDS // 2, 2),
        "assume_cached": assume_cached,
        "assume_top_imports": top_imports(assume_timed.stderr, 5),
        "assume_botocore": "botocore" in assume_timed.stderr,
    }


def main() -> int:
    try:
        result = measure()
    except Exception as exc:  # reported as the row's note by the parent
        result = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
