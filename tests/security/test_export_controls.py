"""Finding 6b: a control character in a credential (a hostile or broken server's token) never reaches text
that a shell evaluates or a person pastes. Before, PowerShell exports carried CR/LF inside the quotes: pasted
into a console, the line ends there and the rest of the token runs as a command."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from stsdesk.core.exports import SHELLS, UnrepresentableValue, render_exports
from stsdesk.core.model import CredentialKind, Credentials

CONTROLS = ["\r", "\n", "\r\n", "\x0b", "\x0c", "\t", "\x1b[201~", "\x7f", "\x85", "\u2028", "\u2029", "\x9b"]
PAYLOAD = "'; Start-Process calc; '"


def _creds(token: str) -> Credentials:
    return Credentials(
        "ASIAEXAMPLE000000001", "secret", token, datetime(2036, 1, 1, tzinfo=UTC), CredentialKind.ASSUMED_ROLE
    )


@pytest.mark.parametrize("control", CONTROLS, ids=repr)
@pytest.mark.parametrize("shell", [s for s in SHELLS if s != "json"])
def test_control_characters_are_refused_in_every_evaluated_format(shell: str, control: str) -> None:
    token = f"FwoGZXIvYXdzEJr{control}{PAYLOAD}"
    with pytest.raises(UnrepresentableValue) as refused:
        render_exports(_creds(token), shell)
    message = str(refused.value)
    assert "AWS_SESSION_TOKEN" in message and "control character" in message
    assert "FwoGZXIvYXdzEJr" not in message and PAYLOAD not in message and "\n" not in message


def test_powershell_text_never_has_a_line_break_inside_a_value() -> None:
    out = render_exports(_creds("FwoGZXIvYXdzEJr+token/="), "powershell")
    for line in out.splitlines():
        assert line.count("'") % 2 == 0, line  # every quote opened on a line is closed on it


@pytest.mark.parametrize("control", CONTROLS, ids=repr)
def test_json_escapes_control_characters(control: str) -> None:
    out = render_exports(_creds("tok" + control), "json")
    assert json.loads(out)["AWS_SESSION_TOKEN"] == "tok" + control
    assert re.search("[\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f\\u2028\\u2029]", out) is None  # all escaped
    assert all(line.strip().startswith(('"', "{", "}")) for line in out.splitlines())
