"""Bookkeeping done after the response is sent (EmulatorState.answering): a new session is remembered before the
next request on its connection is read, at once outside a server, and its credentials work on any connection
straight away."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sts_world import ALICE_KEY, B, Emu

from stsdesk.emulator.state import EmulatorState

ROLE = f"arn:aws:iam::{B}:role/Open"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _signed(endpoint: str, body: str) -> dict[str, str]:
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={"Content-Type": FORM})
    SigV4Auth(Credentials(*ALICE_KEY), "sts", "us-east-1").add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def _post(conn: http.client.HTTPConnection, endpoint: str, body: str) -> str:
    conn.request("POST", "/", body=body.encode(), headers=_signed(endpoint, body))
    reply = conn.getresponse()
    text = reply.read().decode()
    assert reply.status == 200, text
    return text


def test_the_session_is_remembered_before_the_next_request_on_its_connection(emu: Emu) -> None:
    host = urlsplit(emu.endpoint)
    conn = http.client.HTTPConnection(host.hostname or "", host.port, timeout=10)
    try:
        issued = _post(conn, emu.endpoint, f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=s1")
        token = re.search(r"<SessionToken>([^<]+)</SessionToken>", issued)
        assert token is not None
        sock = conn.sock
        # The server runs the first request's deferred work before it reads this one off the connection, so once
        # this answer is back the session is in the cache, without any waiting.
        _post(conn, emu.endpoint, "Action=GetCallerIdentity&Version=2011-06-15")
        assert conn.sock is sock and sock is not None  # the same keep-alive connection
        assert token[1] in emu.state._sessions
    finally:
        conn.close()


def test_new_credentials_work_at_once_on_another_connection(emu: Emu) -> None:
    for n in range(5):
        creds = emu.client(ALICE_KEY).assume_role(RoleArn=ROLE, RoleSessionName=f"s{n}")["Credentials"]
        who = emu.from_creds(creds).get_caller_identity()  # a new client: another connection
        assert who["Arn"] == f"arn:aws:sts::{B}:assumed-role/Open/s{n}"


def test_outside_a_server_the_session_is_remembered_at_once(emu: Emu) -> None:
    state: EmulatorState = emu.state
    creds = state.issue_session(
        kind="session", arn=f"arn:aws:iam::{B}:user/x", account=B, user_id="AIDAX", base_arn=f"arn:aws:iam::{B}:user/x",
        duration_seconds=900, issued_by="GetSessionToken",
    )
    assert state._sessions[creds.session_token].access_key_id == creds.access_key_id
    # and it is the session the token holds
    assert state.sealer.unseal("session", creds.session_token)["akid"] == creds.access_key_id


def test_bookkeeping_collected_while_answering_waits_for_run_deferred(emu: Emu) -> None:
    state: EmulatorState = emu.state
    later = state.answering()
    try:
        creds = state.issue_session(
            kind="session", arn=f"arn:aws:iam::{B}:user/y", account=B, user_id="AIDAY",
            base_arn=f"arn:aws:iam::{B}:user/y", duration_seconds=900, issued_by="GetSessionToken",
        )
    finally:
        state.answered()
    assert creds.session_token not in state._sessions and len(later) == 1
    state.run_deferred(later)
    assert state._sessions[creds.session_token].arn == f"arn:aws:iam::{B}:user/y"
