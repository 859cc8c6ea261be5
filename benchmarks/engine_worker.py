"""The engine measurement, run by bench_engine inside a private D-Bus session with its own gnome-keyring.

Expects HOME, STSDESK_CONFIG_DIR and PYTHON_KEYRING_BACKEND (the SecretService backend) set by the caller
(benchmarks.harness.run_with_private_keyring). Strict A B alternation of:

- stsdesk: ``Broker.credentials_for(force_refresh=True)`` then ``SessionCache.flush()``: the STS call through
  StsClient's executor, then the write-behind work the store deferred (the secret into the Secret Service over
  D-Bus, the index rewritten under its lock) drained inside stsdesk's own timing, so none of it can land on
  the next bare call;
- the peer: a reused boto3 client calling assume_role on the same emulator.

Then floors of a durable store, each alternating with the bare boto3 call again: ``keyring.set_password``
of a secret of the same size (what SessionCache's write cost through keyring before SecretStore kept its
connection open), and the Secret Service daemon's own cost for it: CreateItem(replace) (``daemon_floor``) and
SetSecret on an existing item (``daemon_update_floor``), each on a connection kept open.

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


def secrets_payload(broker: Any, cache: Any) -> str:
    """A session secret of the size stsdesk stores (the JSON of a real STS session's keys and token)."""
    from stsdesk.core.cache import _secret_json

    session = cache.lookup("profile:readonly", 0.0)
    if session is None:
        raise RuntimeError("no cached session to size the keyring floor by")
    return str(_secret_json(session[1]))


def daemon_floor(payload: str) -> Any:
    """The Secret Service's own floor for one write: CreateItem (replace) over one D-Bus connection and one
    collection kept open (secretstorage, keyring's own library), so neither the connection, the session
    negotiation nor keyring's lookups are counted; what is left is the daemon storing the item."""
    import secretstorage

    connection = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(connection)
    attributes = {"service": "stsdesk-bench-floor", "username": "session:daemon"}
    secret = payload.encode()

    def write() -> None:
        collection.create_item("stsdesk bench floor", attributes, secret, replace=True)

    return write


def daemon_update_floor(payload: str) -> Any:
    """The Secret Service's floor for rewriting an existing item's secret: SetSecret alone on an item, over one
    connection and one session kept open (what SecretStore does when it rewrites an item that carries keyring's
    label and attributes; gnome-keyring saves the keyring file for it as for CreateItem)."""
    import secretstorage
    from jeepney import DBusAddress, new_method_call
    from secretstorage.util import format_secret, open_session

    connection = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(connection)
    attributes = {"service": "stsdesk-bench-floor", "username": "session:daemon-update"}
    item = collection.create_item("stsdesk bench floor", attributes, payload.encode(), replace=True)
    session = open_session(connection)
    address = DBusAddress(item.item_path, "org.freedesktop.secrets", "org.freedesktop.Secret.Item")
    secret = payload.encode()

    def write() -> None:
        message = new_method_call(address, "SetSecret", "(oayays)", (format_secret(session, secret, "text/plain"),))
        reply = connection.send_and_get_reply(message, timeout=10)
        if reply.header.message_type.name != "method_return":
            raise RuntimeError(f"SetSecret failed: {reply.body!r}"[:200])

    return write


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

            engine()  # one session stored: the floor's secret has its size
            payload = secrets_payload(broker, cache)

            def floor() -> None:  # the keyring write alone, as SessionCache makes it: the least a durable store costs
                keyring.set_password("stsdesk-bench-floor", "session:floor", payload)

            daemon = daemon_floor(payload)
            daemon_update = daemon_update_floor(payload)
            ours, peer = alternate(engine, boto, n, warmup=rounds(10, 1))
            keyring_only, peer_again = alternate(floor, boto, rounds(ROUNDS // 3, 2), warmup=2)
            daemon_only, _ = alternate(daemon, boto, rounds(ROUNDS // 3, 2), warmup=2)
            update_only, _ = alternate(daemon_update, boto, rounds(ROUNDS // 3, 2), warmup=2)
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
        "keyring_set": statistics.median(keyring_only),
        "keyring_set_boto3": statistics.median(peer_again),
        "daemon_write": statistics.median(daemon_only),
        "daemon_update": statistics.median(update_only),
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
