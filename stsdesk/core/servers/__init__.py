"""Local credential servers: a loopback endpoint for the SDKs' container credential provider or IMDSv2 flow,
serving a profile's session renewed in the background (DESIGN.md "Local credential servers"). No Qt.

Public API::

    served = await ServedProfile.start(broker, "dev", ServerMode.CONTAINER)   # first session, then listen
    served.endpoint, served.token, served.lines("bash"), served.child_environment(os.environ)
    served.subscribe(lambda event: ...)                                        # ServerEvent on every change
    await served.stop()                                                        # token invalid at once

    servers = CredentialServers(broker)          # the GUI's registry: serve(profile), stop(profile), served()
"""

from __future__ import annotations

from stsdesk.core.servers.server import CredentialServer, ServerError, ServerMode
from stsdesk.core.servers.service import CredentialServers, ServedProfile, ServerEvent
from stsdesk.core.servers.supply import CredentialSupply, NoTemporaryCredentials, SupplyState, SupplyStatus

__all__ = [
    "CredentialServer",
    "CredentialServers",
    "CredentialSupply",
    "NoTemporaryCredentials",
    "ServedProfile",
    "ServerError",
    "ServerEvent",
    "ServerMode",
    "SupplyState",
    "SupplyStatus",
]
