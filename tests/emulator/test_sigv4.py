"""SigV4 verification against requests signed by botocore, and against AWS's published test vectors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.sigv4 import SignedRequest, _amz_text, _check_skew, verify_request

SIGN_TIME = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
USER_KEY = "AKIAIOSFODNN7EXAMPLE"
USER_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_KEY = "ASIAY34FZKBOKMUTVV7A"
SESSION_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+session/token=="
URL = "https://sts.amazonaws.com/"
BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)

Headers = list[tuple[str, str]]


class Keys:
    """A resolve_secret that knows one user key and one session, and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, access_key_id: str, token: str | None) -> str:
        self.calls.append((access_key_id, token))
        if access_key_id == USER_KEY:
            return USER_SECRET
        if access_key_id == SESSION_KEY and token == SESSION_TOKEN:
            return SESSION_SECRET
        raise EmulatorError("InvalidClientTokenId", "The security token included in the request is invalid")


@pytest.fixture(autouse=True)
def fixed_signing_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    naive = SIGN_TIME.replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: naive)


def sign(
    url: str = URL,
    body: bytes = BODY,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    service: str = "sts",
    region: str = "us-east-1",
    unsigned_payload: bool = False,
) -> AWSRequest:
    request = AWSRequest(
        method=method, url=url, data=body, headers=dict(FORM if headers is None else headers)
    )
    if unsigned_payload:
        request.context["payload_signing_enabled"] = False
    SigV4Auth(credentials or Credentials(USER_KEY, USER_SECRET), service, region).add_auth(request)
    return request


def presign(
    url: str = URL + "?Action=GetCallerIdentity&Version=2011-06-15",
    *,
    credentials: Credentials | None = None,
    method: str = "GET",
    form: dict[str, str] | None = None,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=form or b"")
    SigV4QueryAuth(
        credentials or Credentials(USER_KEY, USER_SECRET), "sts", "us-east-1", expires=900
    ).add_auth(request)
    return request


def wire(request: AWSRequest) -> tuple[str, str, str, Headers, bytes]:
    """What the server sees: method, raw path, raw query, headers (plus the Host a client sends), body."""
    parts = urlsplit(request.url)
    headers: Headers = [(name, value) for name, value in request.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):
        default_port = {"http": 80, "https": 443}[parts.scheme]
        host = parts.hostname or ""
        headers.append(("Host", host if parts.port in (None, default_port) else f"{host}:{parts.port}"))
    body = request.body or b""
    return (
        request.method or "",
        parts.path,
        parts.query,
        headers,
        body if isinstance(body, bytes) else body.encode(),
    )


def verify(
    parts: tuple[str, str, str, Headers, bytes],
    *,
    now: datetime = SIGN_TIME,
    keys: Callable[[str, str | None], str] | None = None,
    expected_service: str | None = "sts",
) -> SignedRequest:
    method, path, query, headers, body = parts
    return verify_request(method, path, query, headers, body, now, keys or Keys(), expected_service)


def replace_header(headers: Headers, name: str, value: str) -> Headers:
    return [(n, value if n.lower() == name.lower() else v) for n, v in headers]


def error_of(parts: tuple[str, str, str, Headers, bytes], **kwargs: object) -> EmulatorError:
    with pytest.raises(EmulatorError) as caught:
        verify(parts, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --- header form ---------------------------------------------------------------------------------------


def test_signed_post_verifies_and_names_the_signer() -> None:
    signed = verify(wire(sign()))
    assert signed == SignedRequest(USER_KEY, None, "us-east-1", "sts", SIGN_TIME)


def test_session_token_is_passed_to_resolve_secret() -> None:
    keys = Keys()
    signed = verify(
        wire(sign(credentials=Credentials(SESSION_KEY, SESSION_SECRET, SESSION_TOKEN))), keys=keys
    )
    assert keys.calls == [(SESSION_KEY, SESSION_TOKEN)]
    assert signed.security_token == SESSION_TOKEN
    assert signed.access_key_id == SESSION_KEY


def test_resolve_secret_errors_propagate() -> None:
    request = wire(sign(credentials=Credentials(SESSION_KEY, SESSION_SECRET, SESSION_TOKEN)))
    method, path, query, headers, body = request
    tampered = (method, path, query, replace_header(headers, "X-Amz-Security-Token", "other-token"), body)
    assert error_of(tampered).code == "InvalidClientTokenId"
    unknown = wire(sign(credentials=Credentials("AKIAUNKNOWNKEY000000", USER_SECRET)))
    assert error_of(unknown).code == "InvalidClientTokenId"


def test_wrong_secret_is_signature_mismatch_with_aws_text() -> None:
    error = error_of(wire(sign(credentials=Credentials(USER_KEY, "x" * 40))))
    assert (error.code, error.message, error.status) == ("SignatureDoesNotMatch", MISMATCH, 403)


def test_tampered_body_fails() -> None:
    method, path, query, headers, _ = wire(sign())
    assert error_of((method, path, query, headers, BODY + b"&Extra=1")).message == MISMATCH


def test_tampered_signed_header_fails_but_unsigned_header_does_not_matter() -> None:
    method, path, query, headers, body = wire(sign())
    tampered = replace_header(headers, "Content-Type", "text/plain")
    assert error_of((method, path, query, tampered, body)).message == MISMATCH
    extra = [*headers, ("User-Agent", "curl/8"), ("X-Unsigned", "anything")]
    assert verify((method, path, query, extra, body)).access_key_id == USER_KEY


def test_header_names_are_case_insensitive_and_values_trimmed() -> None:
    method, path, query, headers, body = wire(sign())
    reshaped = [(name.upper(), f"  {value}  ") for name, value in headers]
    assert verify((method, path, query, reshaped, body)).access_key_id == USER_KEY


def test_tampered_path_or_query_fails() -> None:
    method, path, query, headers, body = wire(sign(URL + "sub/path?a=1"))
    assert verify((method, path, query, headers, body)).service == "sts"
    assert error_of((method, "/sub/other", query, headers, body)).message == MISMATCH
    assert error_of((method, path, "a=2", headers, body)).message == MISMATCH
    assert error_of((method, path, "a=1&b=2", headers, body)).message == MISMATCH
    assert error_of(("PUT", path, query, headers, body)).message == MISMATCH


def test_path_with_dot_segments_and_encoded_characters() -> None:
    request = wire(sign("https://sts.amazonaws.com/a/./b/../c%20d//e/?k=v%20w&k=a&empty="))
    assert verify(request).region == "us-east-1"


def test_host_with_port_is_signed_including_the_port() -> None:
    method, path, query, headers, body = wire(sign("http://127.0.0.1:8443/"))
    assert ("Host", "127.0.0.1:8443") in headers
    assert verify((method, path, query, headers, body)).access_key_id == USER_KEY
    moved = replace_header(headers, "Host", "127.0.0.1:9443")
    assert error_of((method, path, query, moved, body)).message == MISMATCH


def test_tampered_date_within_the_same_day_fails_signature() -> None:
    method, path, query, headers, body = wire(sign())
    later = replace_header(headers, "X-Amz-Date", "20261126T120001Z")
    assert error_of((method, path, query, later, body)).message == MISMATCH


def test_date_outside_the_scope_day_is_reported_as_scope_error() -> None:
    method, path, query, headers, body = wire(sign())
    next_day = replace_header(headers, "X-Amz-Date", "20261127T000500Z")
    error = error_of((method, path, query, next_day, body), now=datetime(2026, 11, 27, 0, 5, tzinfo=UTC))
    assert error.code == "SignatureDoesNotMatch"
    assert error.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20261126' != '20261127', from '20261127T000500Z'."
    )


def test_date_header_instead_of_x_amz_date() -> None:
    request = wire(sign(headers={**FORM, "Date": "placeholder"}))
    names = {name.lower() for name, _ in request[3]}
    assert "date" in names and "x-amz-date" not in names
    assert verify(request).amz_date == SIGN_TIME


def test_wrong_service_scope() -> None:
    request = wire(sign(service="iam"))
    error = error_of(request)
    assert (error.code, error.message) == (
        "SignatureDoesNotMatch",
        "Credential should be scoped to correct service: 'sts'. ",
    )
    assert verify(request, expected_service=None).service == "iam"


def test_wrong_terminator_and_service_reported_together() -> None:
    method, path, query, headers, body = wire(sign(service="iam"))
    auth = dict((n.lower(), v) for n, v in headers)["authorization"].replace("aws4_request", "aws5_request")
    error = error_of((method, path, query, replace_header(headers, "Authorization", auth), body))
    assert error.message == (
        "Credential should be scoped to correct service: 'sts'. "
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


def test_region_is_taken_from_the_scope() -> None:
    assert verify(wire(sign(region="eu-west-1"))).region == "eu-west-1"


@pytest.mark.parametrize("minutes", [15, -15])
def test_skew_up_to_fifteen_minutes_is_accepted(minutes: int) -> None:
    assert verify(wire(sign()), now=SIGN_TIME + timedelta(minutes=minutes)).amz_date == SIGN_TIME


def test_signature_expired_when_clock_is_ahead() -> None:
    error = error_of(wire(sign()), now=SIGN_TIME + timedelta(minutes=45))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)
    assert error.message == (
        "Signature expired: 20261126T120000Z is now earlier than 20261126T123000Z "
        "(20261126T124500Z - 15 min.)"
    )


def test_signature_not_yet_current_when_clock_is_behind() -> None:
    error = error_of(wire(sign()), now=SIGN_TIME - timedelta(minutes=15, milliseconds=500))
    assert error.message == (
        "Signature not yet current: 20261126T120000Z is still later than 20261126T115959Z "
        "(20261126T114459Z + 15 min.)"
    )


def test_expiry_is_checked_before_the_key_is_resolved() -> None:
    keys = Keys()
    error_of(wire(sign()), now=SIGN_TIME + timedelta(hours=1), keys=keys)
    assert keys.calls == []


def test_unsigned_payload_header_is_honoured() -> None:
    method, path, query, headers, _ = wire(sign(unsigned_payload=True))
    assert ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD") in headers
    assert verify((method, path, query, headers, b"Action=Anything")).access_key_id == USER_KEY


# --- malformed or missing signatures ------------------------------------------------------------------


def test_no_authentication_at_all() -> None:
    error = error_of(("POST", "/", "", [("Host", "sts.amazonaws.com"), *FORM.items()], BODY))
    assert (error.code, error.message, error.status) == (
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
        403,
    )


def test_authorization_without_parts_lists_every_missing_piece() -> None:
    headers = [("Host", "sts.amazonaws.com"), ("Authorization", "AWS4-HMAC-SHA256")]
    error = error_of(("POST", "/", "", headers, BODY))
    assert (error.code, error.status) == ("IncompleteSignature", 400)
    assert error.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS4-HMAC-SHA256"
    )


def test_authorization_part_without_equals_sign() -> None:
    auth = "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=abc"
    headers = [("Host", "sts.amazonaws.com"), ("X-Amz-Date", "20261126T120000Z"), ("Authorization", auth)]
    error = error_of(("POST", "/", "", headers, BODY))
    assert error.code == "IncompleteSignature"
    assert (
        error.message
        == f"'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
    )


def _with_authorization(edit: Callable[[str], str]) -> tuple[str, str, str, Headers, bytes]:
    method, path, query, headers, body = wire(sign())
    auth = dict((n.lower(), v) for n, v in headers)["authorization"]
    return method, path, query, replace_header(headers, "Authorization", edit(auth)), body


def test_unsupported_algorithm() -> None:
    error = error_of(_with_authorization(lambda a: a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")))
    assert (error.code, error.message) == (
        "IncompleteSignature",
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ",
    )


def test_credential_with_too_few_elements() -> None:
    error = error_of(_with_authorization(lambda a: a.replace("/aws4_request", "")))
    assert error.code == "IncompleteSignature"
    assert error.message == (
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        f"got '{USER_KEY}/20261126/us-east-1/sts'"
    )


def test_host_must_be_signed() -> None:
    error = error_of(
        _with_authorization(lambda a: a.replace("SignedHeaders=content-type;host;", "SignedHeaders="))
    )
    assert (error.code, error.message) == (
        "SignatureDoesNotMatch",
        "'Host' must be a 'SignedHeader' in the AWS Authorization.",
    )


def test_junk_signature_is_a_mismatch_not_a_crash() -> None:
    assert (
        error_of(_with_authorization(lambda a: a.split("Signature=")[0] + "Signature=zé€")).message
        == MISMATCH
    )


def test_authorization_parts_separated_by_commas_only() -> None:
    assert verify(_with_authorization(lambda a: a.replace(", ", ","))).access_key_id == USER_KEY


def test_bad_date_format() -> None:
    method, path, query, headers, body = wire(sign())
    error = error_of(
        (method, path, query, replace_header(headers, "X-Amz-Date", "2026-11-26T12:00:00Z"), body)
    )
    assert (error.code, error.message) == (
        "IncompleteSignature",
        "Date must be in ISO-8601 'basic format'. Got '2026-11-26T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    )


def test_both_forms_at_once() -> None:
    method, path, _, headers, body = wire(sign())
    error = error_of((method, path, "X-Amz-Algorithm=AWS4-HMAC-SHA256", headers, body))
    assert (error.code, error.message) == (
        "SignatureDoesNotMatch",
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    )


# --- query-string (presigned) form --------------------------------------------------------------------


def test_presigned_get_verifies() -> None:
    request = wire(presign())
    assert "X-Amz-Signature=" in request[2]
    assert not any(name.lower() == "authorization" for name, _ in request[3])
    assert verify(request) == SignedRequest(USER_KEY, None, "us-east-1", "sts", SIGN_TIME)


def test_presigned_with_session_token_passes_token() -> None:
    keys = Keys()
    request = wire(presign(credentials=Credentials(SESSION_KEY, SESSION_SECRET, SESSION_TOKEN)))
    assert verify(request, keys=keys).security_token == SESSION_TOKEN
    assert keys.calls == [(SESSION_KEY, SESSION_TOKEN)]


def test_presigned_post_with_body_moved_into_query() -> None:
    request = wire(presign(URL, method="POST", form={"Action": "GetCallerIdentity", "Version": "2011-06-15"}))
    assert "Action=GetCallerIdentity" in request[2]
    assert request[4] == b""
    assert verify(request).access_key_id == USER_KEY


def test_presigned_tampering_fails() -> None:
    method, path, query, headers, body = wire(presign())
    swapped = query.replace("Action=GetCallerIdentity", "Action=GetSessionToken")
    assert error_of((method, path, swapped, headers, body)).message == MISMATCH
    assert error_of((method, path, query + "&Extra=1", headers, body)).message == MISMATCH
    moved = replace_header(headers, "Host", "sts.us-east-1.amazonaws.com")
    assert error_of((method, path, query, moved, body)).message == MISMATCH


def test_presigned_expires_with_the_fifteen_minute_window() -> None:
    request = wire(presign())
    assert verify(request, now=SIGN_TIME + timedelta(minutes=15)).amz_date == SIGN_TIME
    error = error_of(request, now=SIGN_TIME + timedelta(minutes=16))
    assert error.message.startswith(
        "Signature expired: 20261126T120000Z is now earlier than 20261126T120100Z"
    )


def test_presigned_missing_parameters() -> None:
    method, path, query, headers, body = wire(presign())
    kept = "&".join(p for p in query.split("&") if not p.startswith(("X-Amz-Signature=", "X-Amz-Date=")))
    error = error_of((method, path, kept, headers, body))
    assert (error.code, error.message) == (
        "IncompleteSignature",
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters.",
    )


# --- AWS's published SigV4 test suite (signer vectors, checked here from the verifying side) -------------

SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "path", "query", "extra_headers", "signed", "signature"),
    [
        (
            "POST",
            "/",
            "",
            [],
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "GET",
            "/",
            "",
            [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            "host;my-header1;x-amz-date",
            "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        ),
        (
            "GET",
            "/",
            "",
            [("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')],
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ),
        (
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            [],
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "GET",
            "/",
            "%E1%88%B4=bar",
            [],
            "host;x-amz-date",
            "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ),
        (
            "GET",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            "",
            [],
            "host;x-amz-date",
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        ),
    ],
    ids=[
        "post-vanilla",
        "header-key-duplicate",
        "header-value-trim",
        "query-order",
        "utf8-query",
        "unreserved",
    ],
)
def test_aws_suite_vectors(
    method: str, path: str, query: str, extra_headers: Headers, signed: str, signature: str
) -> None:
    auth = (
        f"AWS4-HMAC-SHA256 Credential={SUITE_KEY}/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"), *extra_headers]
    headers.append(("Authorization", auth))

    def suite_keys(access_key_id: str, token: str | None) -> str:
        assert (access_key_id, token) == (SUITE_KEY, None)
        return SUITE_SECRET

    signed_request = verify_request(method, path, query, headers, b"", SUITE_TIME, suite_keys, "service")
    assert signed_request.service == "service"
    wrong = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    with pytest.raises(EmulatorError, match="request signature we calculated"):
        verify_request(
            method, path, query, replace_header(headers, "Authorization", wrong), b"", SUITE_TIME, suite_keys
        )


@pytest.mark.parametrize(
    "moment", [datetime(2026, 11, 26, 8, 5, 3, tzinfo=UTC), datetime(999, 2, 3, 4, 5, 6, tzinfo=UTC)]
)
def test_amz_date_text_says_what_strftime_says(moment: datetime) -> None:
    assert _amz_text(moment) == moment.strftime("%Y%m%dT%H%M%SZ")


@given(st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)))
def test_amz_date_text_from_the_digit_table_says_what_strftime_says(moment: datetime) -> None:
    assert _amz_text(moment) == moment.strftime("%Y%m%dT%H%M%SZ")


def _skew_verdict_the_long_way(amz_date: datetime, now: datetime) -> str:
    now = now.astimezone(UTC).replace(microsecond=0)
    if amz_date < now - timedelta(minutes=15):
        return "expired"
    if amz_date > now + timedelta(minutes=15):
        return "not yet current"
    return "ok"


@given(
    signed=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    offset_us=st.integers(min_value=-(16 * 60 + 2) * 10**6, max_value=(16 * 60 + 2) * 10**6)
    | st.sampled_from([k * 10**6 + d for k in (-901, -900, -899, 899, 900, 901) for d in (-1, 0, 1, 999_999)]),
    east=st.booleans(),
)
def test_clock_skew_shortcut_agrees_with_the_floored_clock_rule(signed: datetime, offset_us: int, east: bool) -> None:
    amz_date = signed.replace(microsecond=0)
    now = amz_date + timedelta(microseconds=offset_us)
    if east:  # a clock reading in another zone: the same instant
        now = now.astimezone(timezone(timedelta(hours=5, minutes=30)))
    expected = _skew_verdict_the_long_way(amz_date, now)
    try:
        _check_skew(amz_date, now)
        verdict = "ok"
    except EmulatorError as exc:
        verdict = "expired" if "Signature expired" in exc.message else "not yet current"
    assert verdict == expected
