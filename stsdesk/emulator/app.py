"""The whole emulator in one server: STS (default), EC2, console federation, console page, demo IdP.

``build_server`` is what `stsdesk emulator`, `stsdesk --demo`, the tests and the benchmarks start.
"""

from __future__ import annotations

from stsdesk.emulator.server import EmulatorServer
from stsdesk.emulator.services import EC2_ACTIONS, install_services
from stsdesk.emulator.state import EmulatorState

__all__ = ["EC2_ACTIONS", "build_server", "install_services"]


def build_server(state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """An EmulatorServer with every service and route registered (not yet started).

    Raises OSError when the address cannot be bound.
    """
    return EmulatorServer(state, host, port)

