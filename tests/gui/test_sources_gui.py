"""SAML roles, web-identity roles and federated users through the GUI, against the embedded demo emulator:
"Who am I" on each asks the GUI's broker for credentials and shows the caller STS names."""

from __future__ import annotations

import asyncio

import pytest
from gui_helpers import run, until

from stsdesk.core.model import CredentialKind
from stsdesk.gui.app import GuiApp

pytestmark = pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")

CALLERS = {
    "dev-saml": ("arn:aws:sts::222222222222:assumed-role/SamlDeveloper/", CredentialKind.SAML),
    "ci-deployer": ("arn:aws:sts::222222222222:assumed-role/CiDeployer/ci", CredentialKind.WEB_IDENTITY),
    "alice-federated": ("arn:aws:sts::111111111111:federated-user/alice-console", CredentialKind.FEDERATION_TOKEN),
}


@pytest.mark.parametrize("profile", sorted(CALLERS))
def test_whoami_through_the_window(gui: GuiApp, loop: asyncio.AbstractEventLoop, profile: str) -> None:
    prefix, kind = CALLERS[profile]
    assert gui.controller.select(profile)
    gui.window.whoami_action.trigger()
    run(loop, until(lambda: "Caller ARN" in gui.window.details.toPlainText()))
    assert prefix in gui.window.details.toPlainText()
    assert gui.window.statusBar().currentMessage().startswith(f"{profile} is {prefix}")
    # The session the window got is the broker's, of the right kind, and cached for the tree's countdown.
    broker = gui.controller.broker
    assert broker is not None
    creds = run(loop, broker.credentials_for(profile))
    assert creds.kind is kind
    assert broker.session_state(profile) is not None
