"""`stsdesk --demo`: the embedded emulator on the demo scenario, its AWS config, and alice's key in a secret store.

No Qt here (the GUI, tests and benchmarks can all use it). Everything lives under one directory; the demo's
secrets are kept in memory only, so a demo never leaves anything in the user's keyring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.demo import ALICE_KEY_ID, ALICE_MFA, DemoWorld, demo_scenario_path, use_demo_files, write_demo_files

ALICE_ARN = "arn:aws:iam::111111111111:user/alice"


class MemorySecretStore(SecretStore):
    """A SecretStore that never touches the OS keyring (demo and tests): secrets live until exit."""

    def __init__(self) -> None:
        super().__init__("stsdesk-demo")
        self._values: dict[str, str] = {}

    @property
    def persistent(self) -> bool:
        return False

    @property
    def warning(self) -> str | None:
        return None  # by design in the demo: nothing to warn about

    def in_memory(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        self._values[key] = value

    def delete(self, key: str) -> None:
        self._values.pop(key, None)


@dataclass
class DemoSession:
    world: DemoWorld
    server: object  # stsdesk.emulator.server.EmulatorServer
    secrets: MemorySecretStore

    def mfa_hint(self, serial: str) -> str | None:
        """"Demo aid" text with the demo device's current code (only for the demo's own device)."""
        if serial != ALICE_MFA:
            return None
        from stsdesk.emulator.mfa import current_code

        now = time.time()
        return (f"Demo aid: the demo MFA device shows {current_code(self.world.mfa_seed, now)} now "
                f"(next code in {30 - int(now) % 30} s)")

    def stop(self) -> None:
        stop = getattr(self.server, "stop", None)
        if stop is not None:
            stop()


def start_demo(directory: Path, scenario_path: Path | None = None, port: int = 0) -> DemoSession:
    """Start the emulator on loopback (on ``port``, from demo.reserve_loopback_port, else on any free port if
    that one was taken meanwhile; 0: any free port), write the demo AWS config under ``directory`` and point
    AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at it. Blocking (binds a socket, one local HTTP call).

    Raises ScenarioError for a broken scenario and OSError when the server cannot start or files cannot be
    written.
    """
    from stsdesk.emulator.app import build_server
    from stsdesk.emulator.scenario import load_scenario
    from stsdesk.emulator.state import EmulatorState

    scenario = load_scenario(scenario_path or demo_scenario_path())
    alice = scenario.user_by_arn(ALICE_ARN)
    if alice is None or not alice.access_keys or alice.mfa is None:
        raise OSError(f"the demo scenario has no user alice with a key and an MFA device ({scenario.source})")
    state = EmulatorState(scenario, directory / "emulator-state")
    try:
        server = build_server(state, "127.0.0.1", port)
    except OSError:
        if not port:
            raise
        server = build_server(state, "127.0.0.1", 0)  # the reserved port was taken since: any free one
    server.start()
    config, credentials = write_demo_files(directory, server.endpoint)
    use_demo_files(config, credentials, server.endpoint)
    secrets = MemorySecretStore()
    secrets.set(user_key("alice", ALICE_KEY_ID), alice.access_keys[0].secret)
    world = DemoWorld(server.endpoint, config, credentials, directory, alice.mfa.seed, alice.access_keys[0].secret)
    return DemoSession(world, server, secrets)
