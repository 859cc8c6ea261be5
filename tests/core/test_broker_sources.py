"""broker_sources' failure paths, each a one-line error without the secret: web-identity token and SAML
assertion files, the demo IdP and federation endpoint over HTTP (the in-process demo emulator on 127.0.0.1, and
a closed port there), and credential_process commands that fail in every way botocore's contract allows."""

from __future__ import annotations

import json
import shlex
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.demo_world import DemoWorld, demo_world

from stsdesk.core.broker_sources import (
    PROCESS_DEPTH_ENV,
    get_url,
    post_form,
    process_credentials,
    saml_assertion,
    web_identity_token,
)
from stsdesk.core.errors import ConfigError, NetworkError, StsdeskError
from stsdesk.core.model import CredentialKind, Profile, ProfileKind

SAML = Profile(
    "corp",
    ProfileKind.SAML_ROLE,
    role_arn="arn:aws:iam::222222222222:role/SamlDeveloper",
    saml_principal_arn="arn:aws:iam::222222222222:saml-provider/CorpIdP",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    with demo_world(tmp_path_factory.mktemp("demo")) as world:
        yield world


def closed_port_url(path: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# -- web identity, SAML files -----------------------------------------------------------------------------


def test_web_identity_profile_without_a_token_file() -> None:
    with pytest.raises(ConfigError, match="has no web_identity_token_file"):
        web_identity_token(Profile("ci", ProfileKind.WEB_IDENTITY_ROLE))


def test_web_identity_token_is_read_again_on_every_call(tmp_path: Path) -> None:
    token = tmp_path / "token"
    profile = Profile("ci", ProfileKind.WEB_IDENTITY_ROLE, web_identity_token_file=str(token))
    token.write_text("first\n")
    assert web_identity_token(profile) == "first"
    token.write_text("rotated")
    assert web_identity_token(profile) == "rotated"


def test_saml_assertion_file_problems(tmp_path: Path) -> None:
    missing = Profile("corp", ProfileKind.SAML_ROLE, saml_assertion_file=str(tmp_path / "nope.b64"))
    with pytest.raises(ConfigError, match=r"cannot read .*nope\.b64 \(No such file or directory\)"):
        saml_assertion(missing, "http://127.0.0.1:1")
    empty = tmp_path / "empty.b64"
    empty.write_text(" \n")
    with pytest.raises(ConfigError, match="is empty"):
        saml_assertion(Profile("corp", ProfileKind.SAML_ROLE, saml_assertion_file=str(empty)), None)


def test_saml_without_a_file_needs_the_emulator(demo: DemoWorld) -> None:
    for endpoint in (None, "https://sts.us-east-1.amazonaws.com"):
        with pytest.raises(ConfigError, match="save the SAMLResponse to a file and set saml_assertion_file"):
            saml_assertion(SAML, endpoint)
    # The emulator's demo IdP signs one; the subject comes from the profile when it names one.
    named = Profile(**{**SAML.__dict__, "extra": {"stsdesk_saml_subject": "jane"}})
    assertion = saml_assertion(named, demo.endpoint + "/")
    assert len(assertion) > 500 and "\n" not in assertion


# -- HTTP helpers -----------------------------------------------------------------------------------------


def test_post_form_refused_and_unreachable(demo: DemoWorld) -> None:
    with pytest.raises(StsdeskError, match=r"the demo IdP refused the request \(HTTP 4\d\d\)"):
        post_form(f"{demo.endpoint}/_stsdesk/saml-assertion", {"provider": "not-an-arn"}, "the demo IdP")
    with pytest.raises(NetworkError, match=r"cannot reach the demo IdP at http://127\.0\.0\.1:"):
        post_form(closed_port_url("/_stsdesk/saml-assertion"), {}, "the demo IdP", timeout=5)


def test_get_url_returns_error_statuses_and_hides_the_url(demo: DemoWorld) -> None:
    status, body = get_url(f"{demo.endpoint}/federation?Action=getSigninToken&Session=%7B%7D", "federation")
    assert status >= 400 and body
    secret_url = closed_port_url("/federation?Session=SECRET-SESSION-VALUE")
    with pytest.raises(NetworkError) as unreachable:
        get_url(secret_url, "the federation endpoint", timeout=5)
    message = str(unreachable.value)
    assert message.startswith("cannot reach the federation endpoint at 127.0.0.1:")
    assert "SECRET-SESSION-VALUE" not in message and "\n" not in message


# -- credential_process -----------------------------------------------------------------------------------


def command(script: str) -> str:
    """A credential_process line running ``script`` with this Python."""
    return shlex.join([sys.executable, "-c", script])


def process(line: str) -> Profile:
    return Profile("ext", ProfileKind.CREDENTIAL_PROCESS, region="eu-west-1", credential_process=line)


def printing(document: object) -> str:
    return command(f"print({json.dumps(json.dumps(document))})")


def test_credential_process_success_with_session_and_z_expiration() -> None:
    creds = process_credentials(
        process(
            printing(
                {"Version": 1, "AccessKeyId": "ASIAEXT", "SecretAccessKey": "s3cr3t", "SessionToken": "tok",
                 "Expiration": "2036-01-02T03:04:05Z"}
            )
        )
    )
    assert (creds.access_key_id, creds.secret_access_key, creds.session_token) == ("ASIAEXT", "s3cr3t", "tok")
    assert creds.expiration == datetime(2036, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert creds.kind is CredentialKind.SESSION_TOKEN and creds.region == "eu-west-1"


def test_credential_process_long_term_keys_and_naive_expiration() -> None:
    creds = process_credentials(
        process(printing({"Version": 1, "AccessKeyId": "AKIAEXT", "SecretAccessKey": "s",
                          "Expiration": "2036-01-02T03:04:05"}))
    )
    assert creds.kind is CredentialKind.LONG_TERM and creds.session_token is None
    assert creds.expiration == datetime(2036, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("", "credential_process is empty"),
        ("'unterminated", "cannot be split into a command"),
        ("/no/such/stsdesk-helper --x", "command not found: /no/such/stsdesk-helper"),
        (command("import sys; print('first'); print('token expired, sign in again', file=sys.stderr); sys.exit(3)"),
         "failed (exit 3): token expired, sign in again"),
        (command("import sys; sys.exit(2)"), "failed (exit 2)"),
        (command("print('not json')"), "did not print credential_process JSON"),
        (command("print('[1, 2]')"), "did not print credential_process JSON"),
        (printing({"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "S"}), "printed Version 2; only 1"),
        (printing({"Version": 1, "AccessKeyId": "A"}), "lacks AccessKeyId or SecretAccessKey"),
        (printing({"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S", "Expiration": "soon"}),
         "Expiration is not an ISO 8601 time"),
    ],
)
def test_credential_process_failures_are_one_line(line: str, says: str) -> None:
    with pytest.raises(ConfigError) as failed:
        process_credentials(process(line))
    message = str(failed.value)
    assert message.startswith("profile 'ext'")
    assert says in message and "\n" not in message


def test_credential_process_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "helper"
    script.write_text("#!/bin/sh\necho {}\n")
    script.chmod(0o600)
    with pytest.raises(ConfigError, match="command not executable"):
        process_credentials(process(str(script)))


def test_credential_process_that_hangs_is_stopped() -> None:
    with pytest.raises(ConfigError, match=r"did not finish within 1 s \(stopped it\)"):
        process_credentials(process(command("import time; time.sleep(60)")), timeout=1)


def test_credential_process_loop_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROCESS_DEPTH_ENV, "4")
    with pytest.raises(ConfigError, match="again and again"):
        process_credentials(process(printing({"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "S"})))
    # The child sees the depth one higher, so a chain through stsdesk ends.
    monkeypatch.setenv(PROCESS_DEPTH_ENV, "1")
    creds = process_credentials(
        process(command(
            "import json, os; print(json.dumps({'Version': 1, 'AccessKeyId': os.environ['"
            + PROCESS_DEPTH_ENV + "'], 'SecretAccessKey': 'S'}))"
        ))
    )
    assert creds.access_key_id == "2"


def test_credentials_file_secret_follows_edits_and_is_not_restated_within_the_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials file's parse is reused: within STAMP_FRESH_S of the last look without even a stat (a burst
    of assumes on the GUI loop), after it an edit (even of the same size) is read again."""
    import os

    from stsdesk.core import broker_sources

    class NoKeyring:  # the secret is not in the keyring: the credentials file answers
        warning = None

        def get(self, key: str) -> None:
            return None

    now = [1000.0]
    monkeypatch.setattr(broker_sources.time, "monotonic", lambda: now[0])
    creds = tmp_path / "credentials"
    creds.write_text("[u]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = first\n")
    user = Profile("u", ProfileKind.IAM_USER, access_key_id="AKIAEXAMPLE000000001")
    secrets: Any = NoKeyring()
    config = tmp_path / "config"

    def secret() -> str:
        return broker_sources.long_term_credentials(user, secrets, config, creds).secret_access_key

    assert secret() == "first"
    stats: list[object] = []
    real_stat = os.stat
    monkeypatch.setattr(broker_sources.os, "stat", lambda path, *a, **k: stats.append(path) or real_stat(path))
    creds.write_text("[u]\naws_access_key_id = AKIAEXAMPLE000000001\naws_secret_access_key = again\n")
    now[0] += broker_sources.STAMP_FRESH_S / 2
    assert secret() == "first" and stats == []  # within the window: no stat, the parse reused
    now[0] += broker_sources.STAMP_FRESH_S
    assert secret() == "again" and stats  # looked again: the edit is seen
    stats.clear()
    assert secret() == "again" and stats == []
    creds.unlink()
    now[0] += broker_sources.STAMP_FRESH_S
    with pytest.raises(ConfigError):
        secret()  # gone: no secret anywhere
