"""Console federation URLs: endpoints per partition, duration rules per credential kind, response parsing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

from stsdesk.core.console import (
    ConsoleError,
    FederationTarget,
    federation_target,
    login_url,
    parse_signin_token_response,
    session_duration_for,
    signin_token_request_url,
)
from stsdesk.core.model import CredentialKind, Credentials

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLE=="
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+token/with=odd&chars"
SIGNIN_TOKEN = "VCQgs5qZZt3Q6fn8Tr5EXAMPLE-signin-token"


def creds(kind: CredentialKind, token: str | None = TOKEN) -> Credentials:
    return Credentials(
        access_key_id="ASIAEXAMPLE000000001",
        secret_access_key=SECRET,
        session_token=token,
        expiration=datetime(2026, 11, 26, 17, 28, 47, tzinfo=UTC),
        kind=kind,
    )


@pytest.mark.parametrize(
    ("partition", "region", "federation", "console"),
    [
        ("aws", None, "https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"),
        (
            "aws",
            "eu-west-1",
            "https://signin.aws.amazon.com/federation",
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
        ),
        (
            "aws-us-gov",
            "us-gov-west-1",
            "https://signin.amazonaws-us-gov.com/federation",
            "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
        ),
        (
            "aws-us-gov",
            None,
            "https://signin.amazonaws-us-gov.com/federation",
            "https://console.amazonaws-us-gov.com/",
        ),
        (
            "aws-cn",
            "cn-north-1",
            "https://signin.amazonaws.cn/federation",
            "https://console.amazonaws.cn/console/home?region=cn-north-1",
        ),
    ],
)
def test_partition_endpoints(partition: str, region: str | None, federation: str, console: str) -> None:
    target = federation_target(partition, region)
    assert target == FederationTarget(federation_url=federation, console_url=console, issuer="stsdesk")


def test_emulator_override_uses_its_own_console_page() -> None:
    target = federation_target("aws", "us-east-1", federation_endpoint="http://127.0.0.1:4599/federation")
    assert target.federation_url == "http://127.0.0.1:4599/federation"
    assert target.console_url == "http://127.0.0.1:4599/console"


def test_destination_overrides_console_url() -> None:
    dest = "https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#Instances:"
    assert federation_target("aws", "eu-west-1", destination=dest).console_url == dest
    override = federation_target("aws", None, "http://127.0.0.1:1/federation", destination=dest)
    assert override.console_url == dest


def test_unknown_partition_and_bad_urls() -> None:
    with pytest.raises(ConsoleError, match=r"aws-iso.*stsdesk_federation_endpoint"):
        federation_target("aws-iso", "us-iso-east-1")
    assert federation_target("aws-iso", None, "https://fed.example.test/federation").console_url == (
        "https://fed.example.test/console"
    )
    with pytest.raises(ConsoleError, match="console destination must be an http"):
        federation_target("aws", None, destination="javascript:alert(1)")
    with pytest.raises(ConsoleError, match="federation endpoint must be an http"):
        federation_target("aws", None, federation_endpoint="file:///etc/passwd")


@pytest.mark.parametrize(
    ("kind", "requested", "expected"),
    [
        (CredentialKind.FEDERATION_TOKEN, None, None),
        (CredentialKind.FEDERATION_TOKEN, 3600, None),
        (CredentialKind.CHAINED_ROLE, None, 3599),
        (CredentialKind.CHAINED_ROLE, 3600, 3599),
        (CredentialKind.CHAINED_ROLE, 43200, 3599),
        (CredentialKind.CHAINED_ROLE, 1800, 1800),
        (CredentialKind.CHAINED_ROLE, 60, 900),
        (CredentialKind.ASSUMED_ROLE, None, None),
        (CredentialKind.ASSUMED_ROLE, 7200, 7200),
        (CredentialKind.ASSUMED_ROLE, 100000, 43200),
        (CredentialKind.ASSUMED_ROLE, 10, 900),
        (CredentialKind.SAML, 43200, 43200),
        (CredentialKind.SAML, None, None),
        (CredentialKind.WEB_IDENTITY, 50000, 43200),
    ],
)
def test_session_duration_rules(kind: CredentialKind, requested: int | None, expected: int | None) -> None:
    assert session_duration_for(creds(kind), requested) == expected


def test_session_token_credentials_are_refused_with_advice() -> None:
    with pytest.raises(ConsoleError) as info:
        session_duration_for(creds(CredentialKind.SESSION_TOKEN), None)
    message = str(info.value)
    assert "GetSessionToken" in message
    assert "assume a role or use a federated user" in message
    assert "\n" not in message


def test_long_term_keys_are_refused() -> None:
    with pytest.raises(ConsoleError, match="long-term access keys"):
        session_duration_for(creds(CredentialKind.LONG_TERM, token=None), None)
    with pytest.raises(ConsoleError, match="session token") as info:
        signin_token_request_url(federation_target("aws", None), creds(CredentialKind.LONG_TERM, None), None)
    assert SECRET not in str(info.value)


def test_signin_token_request_url_encodes_the_session() -> None:
    target = federation_target("aws", None)
    url = signin_token_request_url(target, creds(CredentialKind.ASSUMED_ROLE), 3600)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://signin.aws.amazon.com/federation"
    # No raw JSON, plus or slash may leak into the query: a "+" would decode as a space.
    assert "{" not in parts.query and "+" not in parts.query and "/" not in parts.query
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    assert [name for name, _ in pairs] == ["Action", "SessionDuration", "Session"]
    params = dict(pairs)
    assert params["Action"] == "getSigninToken"
    assert params["SessionDuration"] == "3600"
    assert json.loads(params["Session"]) == {
        "sessionId": "ASIAEXAMPLE000000001",
        "sessionKey": SECRET,
        "sessionToken": TOKEN,
    }


def test_signin_token_request_url_without_duration() -> None:
    target = federation_target("aws", None)
    url = signin_token_request_url(target, creds(CredentialKind.FEDERATION_TOKEN), None)
    assert "SessionDuration" not in parse_qs(urlsplit(url).query)


def test_parse_signin_token_response_ok() -> None:
    assert parse_signin_token_response(json.dumps({"SigninToken": SIGNIN_TOKEN}).encode()) == SIGNIN_TOKEN
    assert parse_signin_token_response(b' \n{"SigninToken":"abc"}\n') == "abc"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<!DOCTYPE html><html><body>Error " + SECRET.encode() + b"</body></html>", "HTML"),
        (b"<html><title>400 Bad Request</title></html>", "HTML"),
        (b"\xff\xfe\x00", "binary"),
        (b"SigninToken=" + SIGNIN_TOKEN.encode(), "not JSON"),
        (b'{"Token": "' + SIGNIN_TOKEN.encode() + b'"}', "no SigninToken"),
        (b'{"SigninToken": ""}', "no SigninToken"),
        (b'{"SigninToken": 42}', "no SigninToken"),
        (b'["' + SIGNIN_TOKEN.encode() + b'"]', "no SigninToken"),
    ],
)
def test_parse_signin_token_response_errors(body: bytes, expected: str) -> None:
    with pytest.raises(ConsoleError, match=expected) as info:
        parse_signin_token_response(body)
    message = str(info.value)
    assert "\n" not in message
    assert SECRET not in message and SIGNIN_TOKEN not in message and TOKEN not in message


def test_login_url_parameters() -> None:
    target = federation_target("aws", "us-east-1")
    url = login_url(target, "tok+en/x=")
    parts = urlsplit(url)
    assert parts.netloc == "signin.aws.amazon.com"
    pairs = parse_qsl(parts.query, strict_parsing=True)
    assert pairs == [
        ("Action", "login"),
        ("Issuer", "stsdesk"),
        ("Destination", "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1"),
        ("SigninToken", "tok+en/x="),
    ]


def test_override_with_existing_query_string_appends() -> None:
    target = federation_target("aws", None, federation_endpoint="http://127.0.0.1:9/federation?x=1")
    assert login_url(target, "t").startswith("http://127.0.0.1:9/federation?x=1&Action=login&")


def test_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, stsdesk.core.console; "
        "print(sorted(m for m in ('boto3', 'botocore', 'urllib.request', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True, timeout=20)
    assert out.stdout.strip() == "[]"
