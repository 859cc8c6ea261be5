"""StsClient: endpoints, credential kinds, error translation and retries (botocore Stubber, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from stsdesk.core.errors import (
    AccessDenied,
    ClockSkew,
    ExpiredCredentials,
    InvalidMfaCode,
    StsCallError,
    Throttled,
)
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.sts import StsClient, default_sts_endpoint, resolve_endpoint

ENDPOINT = "http://127.0.0.1:9"  # never contacted: every call is stubbed
LONG = Credentials("AKIASTUB000000000001", "stub-secret", None, None, CredentialKind.LONG_TERM)
ROLE = Credentials("ASIASTUB000000000001", "stub-secret", "tok", None, CredentialKind.ASSUMED_ROLE)
ROLE_ARN = "arn:aws:iam::222222222222:role/Dev"


def _creds_response() -> dict[str, Any]:
    return {
        "Credentials": {
            "AccessKeyId": "ASIARESULT0000000001",
            "SecretAccessKey": "result-secret",
            "SessionToken": "result-token",
            "Expiration": datetime.now(UTC) + timedelta(hours=1),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAX:s",
            "Arn": "arn:aws:sts::222222222222:assumed-role/Dev/s",
        },
    }


@pytest.fixture
def client() -> Iterator[StsClient]:
    sts = StsClient(max_attempts=3)
    sts.backoff_base = 0.0
    yield sts
    sts.close()


def stub(sts: StsClient, creds: Credentials) -> Stubber:
    stubber = Stubber(sts._client(creds, "us-east-1", ENDPOINT))
    stubber.activate()
    return stubber


def assume(sts: StsClient, source: Credentials, **extra: Any) -> tuple[Credentials, str]:
    return asyncio.run(
        sts.assume_role(
            source, role_arn=ROLE_ARN, session_name="ss", region="us-east-1", endpoint_url=ENDPOINT, **extra
        )
    )


def test_endpoints_are_regional_and_partition_aware() -> None:
    assert default_sts_endpoint("eu-west-1") == "https://sts.eu-west-1.amazonaws.com"
    assert default_sts_endpoint("cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"
    assert default_sts_endpoint("us-east-1", regional=False) == "https://sts.amazonaws.com"
    assert resolve_endpoint("us-east-1", None, env={"AWS_ENDPOINT_URL_STS": "http://x:1/"}) == "http://x:1"
    assert (
        resolve_endpoint("us-east-1", "http://y:2", env={"AWS_ENDPOINT_URL_STS": "http://x:1"})
        == "http://y:2"
    )


def test_assume_role_from_long_term_and_chained_kinds(client: StsClient) -> None:
    stubber = stub(client, LONG)
    stubber.add_response("assume_role", _creds_response(), {"RoleArn": ROLE_ARN, "RoleSessionName": "ss"})
    creds, arn = assume(client, LONG)
    assert creds.kind is CredentialKind.ASSUMED_ROLE and arn.endswith("/Dev/s")
    assert creds.expiration is not None and creds.expiration.tzinfo is not None
    stubber = stub(client, ROLE)
    stubber.add_response("assume_role", _creds_response())
    chained, _ = assume(client, ROLE)
    assert chained.kind is CredentialKind.CHAINED_ROLE


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            InvalidMfaCode,
        ),
        ("AccessDenied", "User: x is not authorized to perform: sts:AssumeRole on resource: y", AccessDenied),
        ("ExpiredToken", "The security token included in the request is expired", ExpiredCredentials),
        ("InvalidClientTokenId", "The security token included in the request is invalid", ExpiredCredentials),
        ("SignatureDoesNotMatch", "Signature expired: 20260101T000000Z is now earlier than ...", ClockSkew),
        (
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            StsCallError,
        ),
    ],
)
def test_errors_become_typed_one_line_messages(
    client: StsClient, code: str, message: str, expected: type[StsCallError]
) -> None:
    stubber = stub(client, LONG)
    stubber.add_client_error(
        "assume_role", service_error_code=code, service_message=message + "\nsecond line"
    )
    with pytest.raises(expected) as caught:
        assume(client, LONG)
    assert type(caught.value) is expected
    assert caught.value.code == code
    assert "\n" not in str(caught.value) and "stub-secret" not in str(caught.value)


def test_throttling_is_retried_then_succeeds(client: StsClient) -> None:
    stubber = stub(client, LONG)
    stubber.add_client_error("assume_role", service_error_code="Throttling", http_status_code=400)
    stubber.add_client_error("assume_role", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("assume_role", _creds_response())
    creds, _ = assume(client, LONG)
    assert creds.access_key_id == "ASIARESULT0000000001"
    stubber.assert_no_pending_responses()


def test_throttling_gives_up_after_max_attempts(client: StsClient) -> None:
    stubber = stub(client, LONG)
    for _ in range(3):
        stubber.add_client_error("assume_role", service_error_code="Throttling", http_status_code=400)
    with pytest.raises(Throttled):
        assume(client, LONG)
    stubber.assert_no_pending_responses()


def test_a_call_with_an_mfa_code_is_not_retried(client: StsClient) -> None:
    stubber = stub(client, LONG)
    stubber.add_client_error("assume_role", service_error_code="Throttling", http_status_code=400)
    stubber.add_response("assume_role", _creds_response())
    with pytest.raises(Throttled):
        assume(client, LONG, mfa_serial="arn:aws:iam::111111111111:mfa/a", mfa_code="123456")
    assert len(stubber._queue) == 1  # the success was never consumed: the spent code was not re-sent


def test_session_token_identity_and_decode(client: StsClient) -> None:
    stubber = stub(client, LONG)
    stubber.add_response(
        "get_session_token",
        {"Credentials": _creds_response()["Credentials"]},
        {"SerialNumber": "arn:aws:iam::111111111111:mfa/a", "TokenCode": "123456"},
    )
    stubber.add_response(
        "get_caller_identity",
        {"Account": "111111111111", "Arn": "arn:aws:iam::111111111111:user/a", "UserId": "AIDA"},
    )
    stubber.add_response(
        "decode_authorization_message", {"DecodedMessage": '{"allowed":false}'}, {"EncodedMessage": "blob"}
    )
    session = asyncio.run(
        client.get_session_token(
            LONG,
            mfa_serial="arn:aws:iam::111111111111:mfa/a",
            mfa_code="123456",
            region="us-east-1",
            endpoint_url=ENDPOINT,
        )
    )
    assert session.kind is CredentialKind.SESSION_TOKEN
    identity = asyncio.run(client.get_caller_identity(LONG, region="us-east-1", endpoint_url=ENDPOINT))
    assert identity.account == "111111111111" and identity.user_id == "AIDA"
    decoded = asyncio.run(
        client.decode_authorization_message(LONG, "blob", region="us-east-1", endpoint_url=ENDPOINT)
    )
    assert decoded == '{"allowed":false}'


def test_unsigned_saml_call_and_clients_are_cached(client: StsClient) -> None:
    stubber = Stubber(client._client(None, "us-east-1", ENDPOINT))
    stubber.activate()
    stubber.add_response("assume_role_with_saml", _creds_response())
    creds, arn = asyncio.run(
        client.assume_role_with_saml(
            role_arn=ROLE_ARN,
            principal_arn="arn:aws:iam::222222222222:saml-provider/P",
            assertion_b64="PHNhbWw+",
            region="us-east-1",
            endpoint_url=ENDPOINT,
        )
    )
    assert creds.kind is CredentialKind.SAML and arn
    assert client._client(LONG, "us-east-1", ENDPOINT) is client._client(LONG, "us-east-1", ENDPOINT)
    assert client._client(LONG, "us-east-1", ENDPOINT) is not client._client(LONG, "eu-west-1", ENDPOINT)
