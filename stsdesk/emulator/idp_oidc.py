"""The demo OIDC issuer: RS256 ID tokens, and their verification as AssumeRoleWithWebIdentity does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from stsdesk.emulator.errors import EmulatorError, validation_error
from stsdesk.emulator.idp_keys import KeyStore

# STS's WebIdentityToken parameter limit (STS_FACTS.md, "Parameters").
MAX_WEB_IDENTITY_TOKEN_CHARS = 20_000
# How far ahead of the emulator's clock a token's nbf may be. AWS does not document a tolerance.
_FUTURE_SKEW = timedelta(minutes=5)

# Real STS messages (recorded InvalidIdentityToken / ExpiredTokenException answers).
MSG_AUDIENCE = "Incorrect token audience"
MSG_NO_KEY = (
    "Couldn't retrieve verification key from your identity provider,  "
    "please reference AssumeRoleWithWebIdentity documentation for requirements"
)
# Not seen verbatim from STS: the botocore model's description of InvalidIdentityToken.
MSG_INVALID = (
    "The web identity token that was passed could not be validated by AWS. "
    "Get a new identity token from the identity provider and then retry the request."
)


@dataclass(frozen=True)
class OidcClaims:
    """What a verified web identity token says; ``audience`` is the client id that matched."""

    issuer: str
    subject: str
    audience: str
    expires: datetime
    issued_at: datetime
    claims: dict[str, Any]


def _invalid(message: str) -> EmulatorError:
    return EmulatorError("InvalidIdentityToken", message)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_oidc_token(
    keys: KeyStore,
    issuer: str,
    subject: str,
    audience: str,
    now: datetime,
    lifetime: int = 3600,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """An RS256 JWT from ``issuer`` for ``subject`` and ``audience``, valid from ``now`` for ``lifetime`` s.

    The header carries the issuer key's ``kid``. ``extra`` claims are added last and may replace the
    standard ones (tests use that to build wrong tokens).
    """
    issued = int(_utc(now).timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
    }
    claims.update(extra or {})
    key = keys.key_for(issuer)
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, "typ": "JWT"})


def _numeric_date(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if value is None:
        raise _invalid(f"Missing a required claim: {name}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(MSG_INVALID)
    return int(value)


def verify_oidc_token(
    keys: KeyStore, token: str, known_issuers: Mapping[str, Sequence[str]], now: datetime
) -> OidcClaims:
    """Verify a web identity token at ``now`` against the OIDC providers of the role's account.

    ``known_issuers`` maps each provider's issuer URL to its client ids. Raises EmulatorError as real STS
    answers: ValidationError when longer than 20000 characters; InvalidIdentityToken when the token is
    not a JWT, its issuer has no provider ("No OpenIDConnect provider found in your account for ISS"), its
    key id is unknown, its algorithm is not RS256 (none and HS256 included), its signature is bad, a
    required claim is missing, or no audience is a client id ("Incorrect token audience");
    ExpiredTokenException once ``exp`` has passed.
    """
    if len(token) > MAX_WEB_IDENTITY_TOKEN_CHARS:
        raise validation_error(
            token,
            "webIdentityToken",
            f"Member must have length less than or equal to {MAX_WEB_IDENTITY_TOKEN_CHARS}",
        )
    now = _utc(now)
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _invalid(MSG_INVALID) from exc

    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _invalid("Missing a required claim: iss")
    if issuer not in known_issuers:
        raise _invalid(f"No OpenIDConnect provider found in your account for {issuer}")

    key = keys.key_for(issuer)
    # The algorithm is pinned, never taken from the header: that blocks "none" and HS256-with-public-key.
    if header.get("alg") != "RS256":
        raise _invalid(MSG_INVALID)
    if header.get("kid") != key.kid:
        raise _invalid(MSG_NO_KEY)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=["RS256"],
            # Times are checked below against the emulator's clock, which may differ from the wall clock.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise _invalid(MSG_INVALID) from exc

    expires = _numeric_date(claims, "exp")
    if now.timestamp() >= expires:
        raise EmulatorError(
            "ExpiredTokenException",
            f"Token expired: current date/time {int(now.timestamp())} must be before the expiration "
            f"date/time {expires}",
        )
    issued_at = _numeric_date(claims, "iat")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and not_before > (now + _FUTURE_SKEW).timestamp():
        raise _invalid(MSG_INVALID)

    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _invalid("Missing a required claim: sub")
    raw_audience = claims.get("aud")
    if raw_audience is None:
        raise _invalid("Missing a required claim: aud")
    audiences = [raw_audience] if isinstance(raw_audience, str) else raw_audience
    if not isinstance(audiences, list):
        raise _invalid(MSG_AUDIENCE)
    allowed = set(known_issuers[issuer])
    audience = next((a for a in audiences if isinstance(a, str) and a in allowed), None)
    if audience is None:
        raise _invalid(MSG_AUDIENCE)

    return OidcClaims(
        issuer=issuer,
        subject=subject,
        audience=audience,
        expires=datetime.fromtimestamp(expires, UTC),
        issued_at=datetime.fromtimestamp(issued_at, UTC),
        claims=claims,
    )
