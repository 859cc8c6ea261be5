"""A shared world for tests: the emulator on resources/demo.toml in this process (127.0.0.1, port 0), the
demo's AWS config written next to it, an in-memory secret store holding alice's key, and a real Broker on it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stsdesk.core.broker import Broker, MfaPrompt
from stsdesk.core.cache import SessionCache
from stsdesk.core.profiles import load_profiles
from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.core.sts import StsClient
from stsdesk.demo import ALICE_KEY_ID, demo_scenario_path, write_demo_files
from stsdesk.emulator.app import build_server
from stsdesk.emulator.mfa import current_code
from stsdesk.emulator.scenario import load_scenario
from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.state import EmulatorState


class MemorySecrets(SecretStore):
    """A SecretStore that keeps everything in this process (never the OS keyring)."""

    def __init__(self) -> None:
        super().__init__("stsdesk:test-memory")
        self.items: dict[str, str] = {}

    @property
    def persistent(self) -> bool:
        return False

    def get(self, key: str) -> str | None:
        return self.items.get(key)

    def set(self, key: str, value: str) -> None:
        self.items[key] = value

    def delete(self, key: str) -> None:
        self.items.pop(key, None)


@dataclass
class DemoWorld:
    server: EmulatorServer
    directory: Path
    config: Path
    credentials: Path
    alice_secret: str
    mfa_seed: str
    used_codes: set[str] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def mfa_code(self) -> str:
        """A code of alice's device not used before (the emulator refuses a replayed one)."""
        while True:
            now = time.time()
            for offset in (0, 30):
                code = current_code(self.mfa_seed, now + offset)
                if code not in self.used_codes:
                    self.used_codes.add(code)
                    return code
            time.sleep(1)

    def broker(self, state: Path, prompt: MfaPrompt | None = None) -> Broker:
        """A real Broker on the demo config, with alice's key in memory; close with ``close_broker``."""
        secrets = MemorySecrets()
        secrets.set(user_key("alice", ALICE_KEY_ID), self.alice_secret)
        sts = StsClient()
        sts.backoff_base = 0
        tree = load_profiles(self.config, self.credentials)
        return Broker(tree, sts, SessionCache(state, secrets), secrets, prompt)


def close_broker(broker: Broker) -> None:
    """Finish the cache's writes behind and close the STS client."""
    broker.cache.flush()
    broker.sts.close()


@contextmanager
def demo_world(directory: Path) -> Iterator[DemoWorld]:
    """The demo emulator running in this process, and its AWS config under ``directory``."""
    scenario = load_scenario(demo_scenario_path())
    alice = next(user for user in scenario.users if user.name == "alice")
    assert alice.mfa is not None
    server = build_server(EmulatorState(scenario, directory / "emulator-state"), "127.0.0.1", 0)
    server.start()
    try:
        config, credentials = write_demo_files(directory / "demo", server.endpoint)
        yield DemoWorld(server, directory / "demo", config, credentials, alice.access_keys[0].secret, alice.mfa.seed)
    finally:
        server.stop()
