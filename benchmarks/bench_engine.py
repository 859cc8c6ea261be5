"""The engine's overhead: a warm Broker assume vs a bare boto3 assume_role, against the same emulator.

Broker.credentials_for(force_refresh=True) calls STS every time (through StsClient's executor, its cached
boto3 client, the session cache's index write and the secret store); the peer is a reused boto3 client
calling assume_role directly. Secrets go to keyring's in-memory fallback (the fail backend), so the figure is
the engine's own cost and no benchmark ever writes to the user's keyring.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.harness import Row, ms, side_by_side, time_calls
from benchmarks.servers import READONLY_ROLE, sts_client, stsdesk_emulator, write_aws_files

ROUNDS = 300
TARGET = 1.15  # the Broker at most this many times the bare boto3 call




def run() -> list[Row]:
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]  # memory-only secrets; never the user's keyring

    from stsdesk.core.broker import Broker
    from stsdesk.core.cache import SessionCache
    from stsdesk.core.profiles import load_profiles
    from stsdesk.core.secrets import SecretStore
    from stsdesk.core.sts import StsClient

    with tempfile.TemporaryDirectory(prefix="stsdesk-bench-") as tmp, stsdesk_emulator() as endpoint:
        config, credentials = write_aws_files(Path(tmp) / "aws", endpoint)
        state = Path(tmp) / "state"
        state.mkdir()
        secrets = SecretStore("stsdesk-bench")
        broker = Broker(load_profiles(config, credentials), StsClient(), SessionCache(state, secrets), secrets)
        bare: Any = sts_client(endpoint)
        store_times = time_calls(broker.cache, "store")
        loop = asyncio.new_event_loop()
        try:

            def engine() -> None:
                loop.run_until_complete(broker.credentials_for("readonly", force_refresh=True))

            def boto() -> None:
                bare.assume_role(RoleArn=READONLY_ROLE, RoleSessionName="bench")

            ours, theirs = side_by_side(engine, boto, ROUNDS, warmup=10)
        finally:
            loop.close()
    ratio = ours / theirs
    passed = ratio <= TARGET
    store = statistics.median(store_times[-ROUNDS:])
    note = (
        f"of which SessionCache.store (in memory; keyring and index written behind on a thread) {ms(store)}; "
        "secrets in keyring's in-memory fallback"
    )
    if not passed:
        note = f"over by {ratio / TARGET:.2f}x (+{ms(ours - theirs)} per call), " + note
    return [
        Row(
            "warm Broker assume (force_refresh) vs bare boto3 assume_role",
            ms(ours),
            f"boto3 {ms(theirs)}",
            f"{ratio:.2f}x",
            f"<= {TARGET}x",
            passed,
            note,
        )
    ]
