"""Server-side verification of AWS Signature Version 4 (Authorization header and query-string forms).

Written by hand: botocore only signs, and no maintained library verifies SigV4 on the server. The checks run
in the order real AWS (the "coral" front end shared by STS and other query services) applies them, with the
messages it answers: presence of the auth pieces, date format, clock skew, host signed, algorithm, shape of
the credential, credential scope, access key, signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_plus

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.xmlout import TWO_DIGITS as _TWO

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# STS accepts requests signed up to 15 minutes either side of its clock; presigned URLs live no longer
# than that whatever X-Amz-Expires says (STS ignores it).
MAX_SKEW = timedelta(minutes=15)

_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# The field patterns of strptime's %Y%m%d T %H%M%S at full width (as _strptime builds them, IGNORECASE).
_AMZ_DATE = re.compile(
    r"(\d\d\d\d)(1[0-2]|0[1-9])(3[0-1]|[1-2]\d|0[1-9]| [1-9])T(2[0-3]|[0-1]\d)([0-5]\d)(6[0-1]|[0-5]\d)Z",
    re.IGNORECASE,
)
_AMZ_DATE_UPPER = re.compile(_AMZ_DATE.pattern)
_QUERY_AUTH_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)
# AWS accepts commas, spaces or both between the parts of the Authorization header.
_AUTH_PART_SEPARATOR = re.compile(r"[,\s]+")

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True)
class SignedRequest:
    """Who signed a verified request and for which scope."""

    access_key_id: str
    security_token: str | None
    region: str
    service: str
    amz_date: datetime  # UTC, timezone-aware


class _AuthParts(NamedTuple):
    """The signature pieces of a request, from either form (a NamedTuple: built once per request, and a
    frozen dataclass pays an object.__setattr__ call per field)."""

    algorithm: str
    credential: str
    signed_headers: str
    signature: str
    amz_date: datetime
    amz_date_text: str
    security_token: str | None
    canonical_query: str


def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    now: datetime,
    resolve_secret: Callable[[str, str | None], str],
    expected_service: str | None = None,
    header_map: dict[str, list[str]] | None = None,
) -> SignedRequest:
    """Verify the SigV4 signature of one request and say who signed it.

    ``path`` and ``query`` are the raw (still percent-encoded) request target split at ``?``; ``headers`` are
    as received (any case, duplicates allowed). ``resolve_secret(access_key_id, security_token)`` returns the
    secret key; it raises EmulatorError itself for unknown keys or bad/expired tokens.

    Raises EmulatorError: MissingAuthenticationToken (no signature at all), IncompleteSignature (malformed or
    incomplete signature pieces), SignatureDoesNotMatch (both forms at once, clock skew, wrong scope, wrong
    signature) and whatever ``resolve_secret`` raises. ``header_map``, when given, is ``headers`` as lower-cased
    name -> every value in order (``_header_map(headers)``), already at hand.
    """
    if header_map is None:
        header_map = _header_map(headers)
    query_pairs = _parse_query(query)
    query_first: dict[str, str] = {}
    for key, value in query_pairs:
        query_first.setdefault(key, value)
    authorization = header_map.get("authorization")
    has_query_auth = "X-Amz-Algorithm" in query_first

    if authorization is not None and has_query_auth:
        raise EmulatorError(
            "SignatureDoesNotMatch",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )
    if has_query_auth:
        parts = _query_auth(query_pairs, query_first)
    elif authorization is not None and authorization[0].lstrip().startswith("AWS4-"):
        parts = _header_auth(authorization[0], header_map, query_pairs)
    else:
        raise EmulatorError("MissingAuthenticationToken", "Request is missing Authentication Token")

    _check_skew(parts.amz_date, now)
    signed_names = parts.signed_headers.split(";")
    if "host" not in parts.signed_headers.lower().split(";"):
        raise EmulatorError(
            "SignatureDoesNotMatch", "'Host' must be a 'SignedHeader' in the AWS Authorization."
        )
    if parts.algorithm != ALGORITHM:
        raise EmulatorError(
            "IncompleteSignature",
            f"Unsupported AWS 'algorithm': '{parts.algorithm}' (only {ALGORITHM} for now). ",
        )
    # AWS ignores trailing slashes in the credential.
    scope = parts.credential.rstrip("/").split("/")
    if len(scope) != 5:
        raise EmulatorError(
            "IncompleteSignature",
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{parts.credential}'",
        )
    access_key_id, scope_date, region, service, terminator = scope
    _check_scope(scope_date, region, service, terminator, parts.amz_date_text, expected_service)

    secret = resolve_secret(access_key_id, parts.security_token)

    canonical_request = "\n".join(
        (
            method,
            _canonical_uri(path),
            parts.canonical_query,
            _canonical_headers(signed_names, header_map),
            parts.signed_headers,
            _payload_hash(header_map, body),
        )
    )
    string_to_sign = "\n".join(
        (
            ALGORITHM,
            parts.amz_date_text,
            f"{scope_date}/{region}/{service}/{TERMINATOR}",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        )
    )
    inner, outer = _signing_pads(secret, scope_date, region, service)
    inner = inner.copy()
    inner.update(string_to_sign.encode("utf-8"))
    outer = outer.copy()
    outer.update(inner.digest())
    expected = outer.hexdigest()  # HMAC-SHA256(signing key, string to sign), RFC 2104
    # The provided signature may hold any character; encode leniently so a junk one fails the comparison
    # instead of raising.
    if not hmac.compare_digest(expected.encode("ascii"), parts.signature.encode("utf-8", "replace")):
        raise EmulatorError("SignatureDoesNotMatch", _SIGNATURE_MISMATCH)
    return SignedRequest(access_key_id, parts.security_token, region, service, parts.amz_date)


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        if key in result:
            result[key].append(value)
        else:
            result[key] = [value]
    return result


def _parse_query(query: str) -> list[tuple[str, str]]:
    """Decoded (key, value) pairs of a raw query string, in order."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((unquote_plus(key, errors="replace"), unquote_plus(value, errors="replace")))
    return pairs


def _canonical_query(pairs: Sequence[tuple[str, str]], exclude: str | None) -> str:
    if not pairs:  # the usual POST to "/"
        return ""
    encoded = sorted(
        (_uri_encode(key), _uri_encode(value)) for key, value in pairs if exclude is None or key != exclude
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _header_auth(
    authorization: str, header_map: dict[str, list[str]], query_pairs: Sequence[tuple[str, str]]
) -> _AuthParts:
    algorithm, _, rest = authorization.strip().partition(" ")
    params: dict[str, str] = {}
    # Runs of commas and whitespace separate the parts (what _AUTH_PART_SEPARATOR matches; str.split() and
    # the pattern's \s agree on what whitespace is), without a regex scan of the whole header.
    for part in rest.replace(",", " ").split():
        name, equals, value = part.partition("=")
        if not equals:
            raise EmulatorError(
                "IncompleteSignature",
                f"'{name}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'.",
            )
        params.setdefault(name, value)

    amz_date_header = header_map.get("x-amz-date")
    http_date_header = header_map.get("date")
    message = ""
    if not (params.get("Credential") and params.get("Signature") and params.get("SignedHeaders")):
        message = "".join(
            f"Authorization header requires '{name}' parameter. "
            for name in ("Credential", "Signature", "SignedHeaders")
            if not params.get(name)
        )
    if amz_date_header is None and http_date_header is None:
        message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    if message:
        raise EmulatorError("IncompleteSignature", f"{message}Authorization={authorization}")

    if amz_date_header is not None:
        amz_date, amz_date_text = _amz_date_and_text(amz_date_header[0].strip())
    else:
        assert http_date_header is not None  # checked above
        amz_date = _parse_http_date(http_date_header[0].strip())
        amz_date_text = _amz_text(amz_date)
    token = header_map.get("x-amz-security-token")
    return _AuthParts(
        algorithm=algorithm,
        credential=params["Credential"],
        signed_headers=params["SignedHeaders"],
        signature=params["Signature"],
        amz_date=amz_date,
        amz_date_text=amz_date_text,
        security_token=(token[0].strip() or None) if token else None,
        canonical_query=_canonical_query(query_pairs, exclude=None),
    )


def _query_auth(query_pairs: Sequence[tuple[str, str]], query_first: dict[str, str]) -> _AuthParts:
    message = "".join(
        f"AWS query-string parameters must include '{name}'. "
        for name in _QUERY_AUTH_PARAMS
        if not query_first.get(name)
    )
    if message:
        raise EmulatorError("IncompleteSignature", f"{message}Re-examine the query-string parameters.")
    amz_date, amz_date_text = _amz_date_and_text(query_first["X-Amz-Date"])
    token = query_first.get("X-Amz-Security-Token")
    return _AuthParts(
        algorithm=query_first["X-Amz-Algorithm"],
        credential=query_first["X-Amz-Credential"],
        signed_headers=query_first["X-Amz-SignedHeaders"],
        signature=query_first["X-Amz-Signature"],
        amz_date=amz_date,
        amz_date_text=amz_date_text,
        security_token=token or None,
        # The signature cannot sign itself: it is the one parameter left out.
        canonical_query=_canonical_query(query_pairs, exclude="X-Amz-Signature"),
    )


def _amz_text(moment: datetime) -> str:
    """``moment.strftime(_AMZ_DATE_FORMAT)``, without strftime's cost for the usual four-digit years."""
    if moment.year < 1000:  # strftime's %Y does not pad these on every platform; say what it says
        return moment.strftime(_AMZ_DATE_FORMAT)
    return (
        f"{moment.year}{_TWO[moment.month]}{_TWO[moment.day]}"
        f"T{_TWO[moment.hour]}{_TWO[moment.minute]}{_TWO[moment.second]}Z"
    )


@lru_cache(maxsize=64)
def _amz_date_and_text(text: str) -> tuple[datetime, str]:
    """``_parse_amz_date(text)`` and its ``_amz_text``: a signed date is the same text for every request a
    client signs within one second, so each is parsed once (a refused one raises each time, as before)."""
    moment = _parse_amz_date(text)
    return moment, _amz_text(moment)


def _bad_date(text: str) -> EmulatorError:
    return EmulatorError(
        "IncompleteSignature",
        f"Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _parse_amz_date(text: str) -> datetime:
    # The basic format is exactly 16 characters. _AMZ_DATE accepts exactly what strptime(_AMZ_DATE_FORMAT)
    # accepts at that length (its field patterns, case-insensitive T/Z), at a fraction of strptime's cost.
    if len(text) != 16:
        raise _bad_date(text)
    # The usual spelling (digits, upper-case T and Z) first: a case-sensitive match is cheaper.
    found = _AMZ_DATE_UPPER.fullmatch(text) or _AMZ_DATE.fullmatch(text)
    if found is None:
        raise _bad_date(text)
    try:
        return datetime(
            int(found[1]), int(found[2]), int(found[3]), int(found[4]), int(found[5]), int(found[6]), tzinfo=UTC
        )
    except ValueError:  # 30 February, second 60
        raise _bad_date(text) from None


def _parse_http_date(text: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise _bad_date(text) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _check_skew(amz_date: datetime, now: datetime) -> None:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    # The usual case in one subtraction: for a signed date of whole seconds (always, from either date form),
    # -15 min <= now - amz_date < 15 min + 1 s is exactly the test below passing (the clock floored to whole
    # seconds, then earliest <= amz_date <= latest). Anything else is judged, and worded, by the test below.
    if amz_date.microsecond == 0 and _SKEW_BACK <= now - amz_date < _SKEW_AHEAD:
        return
    # The signed date has whole seconds; so does the clock it is compared with.
    now = now.astimezone(UTC).replace(microsecond=0)
    earliest = now - MAX_SKEW
    if amz_date < earliest:
        raise EmulatorError(
            "SignatureDoesNotMatch",
            f"Signature expired: {_skew_text(amz_date)} is now earlier than {_skew_text(earliest)} "
            f"({_skew_text(now)} - {_SKEW_MINUTES} min.)",
        )
    latest = now + MAX_SKEW
    if amz_date > latest:
        raise EmulatorError(
            "SignatureDoesNotMatch",
            f"Signature not yet current: {_skew_text(amz_date)} is still later than {_skew_text(latest)} "
            f"({_skew_text(now)} + {_SKEW_MINUTES} min.)",
        )


_SKEW_MINUTES = int(MAX_SKEW.total_seconds() // 60)
_SKEW_BACK = -MAX_SKEW
_SKEW_AHEAD = MAX_SKEW + timedelta(seconds=1)


def _skew_text(moment: datetime) -> str:
    return moment.strftime(_AMZ_DATE_FORMAT)


def _check_scope(
    scope_date: str,
    region: str,
    service: str,
    terminator: str,
    amz_date_text: str,
    expected_service: str | None,
) -> None:
    # AWS reports every scope problem at once, in this order and with this punctuation.
    problems: list[str] = []
    if not region:
        problems.append(f"Credential should be scoped to a valid region, not '{region}'. ")
    if expected_service is not None and service != expected_service:
        problems.append(f"Credential should be scoped to correct service: '{expected_service}'. ")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )
    if scope_date != amz_date_text[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date_text[:8]}', from '{amz_date_text}'."
        )
    if problems:
        raise EmulatorError("SignatureDoesNotMatch", "".join(problems))


def _canonical_uri(path: str) -> str:
    """The canonical URI of a raw path: dot segments and empty segments removed, then encoded once more.

    Services other than S3 sign the already-encoded path encoded a second time.
    """
    if not path or path == "/":  # the usual Query-protocol path: nothing to normalise or encode
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    normalized = "/" + "/".join(segments) if path.startswith("/") else "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~") or "/"


def _canonical_headers(signed_names: Sequence[str], header_map: dict[str, list[str]]) -> str:
    lines = []
    for name in signed_names:
        lowered = name.lower()
        # Trim each value and collapse inner whitespace; repeated headers are joined with commas.
        values = header_map.get(lowered, [])
        one = len(values) == 1
        value = " ".join(values[0].split()) if one else ",".join(" ".join(raw.split()) for raw in values)
        lines.append(f"{lowered}:{value}\n")
    return "".join(lines)


def _payload_hash(header_map: dict[str, list[str]], body: bytes) -> str:
    declared = header_map.get("x-amz-content-sha256")
    if declared and declared[0] == UNSIGNED_PAYLOAD:
        return UNSIGNED_PAYLOAD
    # A declared hex digest is not trusted: the body's own hash is what the signature must cover.
    return hashlib.sha256(body).hexdigest()


@lru_cache(maxsize=256)
def _signing_pads(secret: str, date: str, region: str, service: str) -> tuple[Any, Any]:
    """SHA-256 states that have absorbed the signing key XOR ipad and XOR opad: an HMAC with that key is then
    two copies and two updates (``hmac.digest`` sets up OpenSSL's HMAC afresh each time, twice the work)."""
    key = _signing_key(secret, date, region, service).ljust(_SHA256_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


_SHA256_BLOCK = 64
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode("utf-8"), hashlib.sha256).digest()
    for part in (region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
