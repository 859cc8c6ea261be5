"""The engine measurement, run by bench_engine inside a private D-Bus session with its own gnome-keyring.

Expects HOME, STSDESK_CONFIG_DIR and PYTHON_KEYRING_BACKEND (the SecretService backend) set by the caller
(benchmarks.harness.run_with_private_keyring). Strict A B alternation of:

- stsdesk: ``Broker.credentials_for(force_refresh=True)`` then ``SessionCache.flush()``: the STS call through
  StsClient's executor, then the write-behind work the store deferred (the secret into the Secret Service over
  D-Bus, the index rewritten under its lock) drained inside stsdesk's own timing, so none of it can land on
  the next bare call;
- the peer: a reused boto3 client calling assume_role on the same emulator.

Prints one JSON object on stdout (see ``measure``) or {"error": "..."}.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import alternate, rounds, time_calls
from benchmarks.servers import READONLY_ROLE, sts_client, stsdesk_emulator, write_aws_files

ROUNDS = 300


def measure() -> dict[str, Any]:
    import keyring

    from stsdesk.core.broker import Broker
    from stsdesk.core.cache import SessionCache
    from stsdesk.core.profiles import load_profiles
    from stsdesk.core.secrets import SecretStore
    from stsdesk.core.sts import StsClient

    backend = f"{type(keyring.get_keyring()).__module__}.{type(keyring.get_keyring()).__name__}"
    if backend != "keyring.backends.SecretService.Keyring":
        raise RuntimeError(f"keyring chose {backend}, not the Secret Service")
    n = rounds(ROUNDS, 3)
    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-") as tmp, stsdesk_emulator() as endpoint:
        config, credentials = write_aws_files(Path(tmp) / "aws", endpoint)
        state = Path(tmp) / "state"
        state.mkdir()
        secrets = SecretStore("stsdesk-bench")
        cache = SessionCache(state, secrets)
        broker = Broker(load_profiles(config, credentials), StsClient(), cache, secrets)
        bare: Any = sts_client(endpoint)
        set_times = time_calls(secrets, "set")  # on the writer thread, inside the flush
        flush_times = time_calls(cache, "flush")
        loop = asyncio.new_event_loop()
        try:

            def engine() -> None:
                loop.run_until_complete(broker.credentials_for("readonly", force_refresh=True))
                if not cache.flush(10.0):
                    raise RuntimeError("the session cache could not be written")

            def boto() -> None:
                bare.assume_role(RoleArn=READONLY_ROLE, RoleSessionName="bench")

            ours, peer = alternate(engine, boto, n, warmup=rounds(10, 1))
            # What stays in the keyring: the session's secret, read back the way another process would.
            session = cache.peek("profile:readonly")
            durable = session is not None and not session.memory_only
        finally:
            loop.close()
    return {
        "ours": statistics.median(ours),
        "peer": statistics.median(peer),
        "rounds": n,
        "flush": statistics.median(flush_times[-n:]),
        "secret_set": statistics.median(set_times[-n:]) if set_times else None,
        "backend": backend,
        "durable": durable,
        "ours_p90": sorted(ours)[int(0.9 * (len(ours) - 1))],
        "peer_p90": sorted(peer)[int(0.9 * (len(peer) - 1))],
    }


def main() -> int:
    t0 = time.perf_counter()
    try:
        result = measure()
    except Exception as exc:  # reported as the row's note by the parent
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["seconds"] = time.perf_counter() - t0
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
