"""Sign-in tokens: read, keep fresh with the refresh token, save after a sign-in, remove on sign-out.

Rules (SSO_FACTS.md): the cache entry is re-read before every refresh and nothing keeps a private copy of
the refresh token; a refresh starts 15 minutes before the access token expires (botocore's window), so a
sign-in lasts as long as its refresh token. When another tool rewrote the entry while stsdesk refreshed,
the other tool's token is kept. Refreshes of stsdesk's own processes are serialised by a lock file in
stsdesk's config directory (never in ~/.aws).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stsdesk.core.sso.client import SsoClients, error_code, is_unauthorized, translate
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.errors import NotSignedIn, SignInExpired, TokenCacheCorrupt
from stsdesk.core.sso.token_cache import (
    TokenStore,
    exclusive_lock,
    format_time,
    parse_time,
    registration_key,
    token_key,
)

log = logging.getLogger(__name__)

REFRESH_WINDOW = 15 * 60.0  # botocore's SSOTokenProvider window
REGISTRATION_MARGIN = 15 * 60.0  # the AWS CLI treats a registration as expired this early
Clock = Callable[[], datetime]
# CreateToken answers that mean "this refresh token is no good" (as opposed to throttling or an outage).
_REFUSED = frozenset(
    {
        "InvalidGrantException",
        "ExpiredTokenException",
        "InvalidClientException",
        "UnauthorizedClientException",
        "AccessDeniedException",
        "InvalidRequestException",
        "InvalidScopeException",
    }
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenState:
    """What is known about a session's sign-in, without any secret."""

    session: SsoSession
    signed_in: bool
    access_expires: datetime | None = None
    refreshable: bool = False
    registration_expires: datetime | None = None
    problem: str | None = None  # a damaged entry: why it cannot be used

    def seconds_left(self, now: datetime | None = None) -> float | None:
        """Seconds the access token has left (None when not signed in)."""
        if self.access_expires is None:
            return None
        return (self.access_expires - (now or utc_now())).total_seconds()

    def sign_in_ends(self) -> datetime | None:
        """When the sign-in itself ends at the latest: the registration's expiry when the token can be
        refreshed (the refresh token's own life is not told to clients), else the access token's expiry."""
        if self.refreshable and self.registration_expires is not None:
            return self.registration_expires
        return self.access_expires


def _expiry(token: Mapping[str, Any], key: str) -> datetime | None:
    try:
        return parse_time(token.get(key))
    except ValueError:
        return None


def can_refresh(token: Mapping[str, Any], now: datetime) -> bool:
    """botocore's test: refresh token, client id and secret, and an unexpired registration."""
    if not all(isinstance(token.get(k), str) and token.get(k) for k in ("refreshToken", "clientId", "clientSecret")):
        return False
    registration = _expiry(token, "registrationExpiresAt")
    return registration is not None and registration > now


class SsoTokens:
    """Tokens of sign-in sessions in ``store``; ``lock_path`` serialises refreshes across stsdesk processes."""

    def __init__(self, store: TokenStore, clients: SsoClients, lock_path: Path, now: Clock = utc_now) -> None:
        self.store = store
        self.clients = clients
        self.lock_path = lock_path
        self.now = now

    # -- reading -----------------------------------------------------------------------------------------

    def _load(self, session: SsoSession) -> dict[str, Any] | None:
        try:
            token = self.store.load(token_key(session.cache_name))
        except TokenCacheCorrupt as exc:
            raise TokenCacheCorrupt(f"{exc}; sign in again to replace it: {session.login_command}") from None
        if token is None:
            return None
        if not isinstance(token.get("accessToken"), str) or _expiry(token, "expiresAt") is None:
            where = self.store.describe(token_key(session.cache_name))
            raise TokenCacheCorrupt(
                f"the sign-in cache {where} has no usable accessToken/expiresAt (damaged); run: {session.login_command}"
            )
        return token

    def state(self, session: SsoSession) -> TokenState:
        """The session's sign-in state (never raises for a damaged entry: ``problem`` says why)."""
        try:
            token = self._load(session)
        except TokenCacheCorrupt as exc:
            return TokenState(session, False, problem=str(exc))
        if token is None:
            return TokenState(session, False)
        return TokenState(
            session,
            True,
            _expiry(token, "expiresAt"),
            can_refresh(token, self.now()) and not session.legacy,
            _expiry(token, "registrationExpiresAt"),
        )

    # -- a valid access token ----------------------------------------------------------------------------

    def access_token(self, session: SsoSession, *, force_refresh: bool = False) -> str:
        """A valid access token for ``session`` (blocking): the cached one, refreshed first when it has less
        than 15 minutes left (or ``force_refresh``, after the portal refused it).

        Raises NotSignedIn (no sign-in), SignInExpired (expired and not refreshable, or the refresh was
        refused), TokenCacheCorrupt (damaged entry), NetworkError/Throttled when a needed refresh could not
        reach sso-oidc and the old token has expired.
        """
        token = self._require(session)
        if not force_refresh and self._left(token) > REFRESH_WINDOW:
            return str(token["accessToken"])
        with exclusive_lock(self.lock_path):
            token = self._require(session)  # re-read: another process or tool may have refreshed meanwhile
            if not force_refresh and self._left(token) > REFRESH_WINDOW:
                return str(token["accessToken"])
            refreshed = self._refresh(session, token)
        if refreshed is not None:
            return str(refreshed["accessToken"])
        if self._left(token) > 0 and not force_refresh:
            return str(token["accessToken"])
        raise SignInExpired(self._ended(session, token))

    def _require(self, session: SsoSession) -> dict[str, Any]:
        token = self._load(session)
        if token is None:
            raise NotSignedIn(f"not signed in to IAM Identity Center ({session.label}); run: {session.login_command}")
        return token

    def _left(self, token: Mapping[str, Any]) -> float:
        expires = _expiry(token, "expiresAt")
        return (expires - self.now()).total_seconds() if expires is not None else -1.0

    def _ended(self, session: SsoSession, token: Mapping[str, Any]) -> str:
        if session.legacy:
            why = "its access token expired (a legacy sso_start_url profile cannot refresh; use an [sso-session])"
        elif not can_refresh(token, self.now()):
            why = "its access token expired and it holds no usable refresh token or registration"
        else:
            why = "it was revoked or has ended (the refresh was refused)"
        return f"the sign-in to {session.label} is no longer valid: {why}; run: {session.login_command}"

    def _refresh(self, session: SsoSession, token: dict[str, Any]) -> dict[str, Any] | None:
        """Refresh under the lock; the new token (written back) or None when refreshing is impossible/refused.

        NetworkError/Throttled propagate when the current token has expired (nothing else would work).
        """
        if session.legacy or not can_refresh(token, self.now()):
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.clients.oidc(session.region, session.endpoint_url)
        try:
            response = client.create_token(
                grantType="refresh_token",
                clientId=token["clientId"],
                clientSecret=token["clientSecret"],
                refreshToken=token["refreshToken"],
            )
        except ClientError as exc:
            log.info("SSO token refresh for %s refused (%s)", session.label, error_code(exc))
            theirs = self._theirs_if_changed(session, token)
            if theirs is None and error_code(exc) not in _REFUSED and self._left(token) <= 0:
                raise translate(exc, f"IAM Identity Center sign-in ({session.region})") from None
            return theirs
        except BotoCoreError as exc:
            if self._left(token) > 0:
                log.info(
                    "SSO token refresh for %s failed (%s); using the current token", session.label, type(exc).__name__
                )
                return None
            raise translate(exc, f"IAM Identity Center sign-in ({session.region})") from None
        new = dict(token)  # unknown fields and their order are kept, as the Go SDK does
        new["accessToken"] = response["accessToken"]
        new["expiresAt"] = format_time(self.now() + timedelta(seconds=int(response["expiresIn"])))
        if response.get("refreshToken"):
            new["refreshToken"] = response["refreshToken"]
        current = self.store.load(token_key(session.cache_name))
        if current is not None and current != token and self._usable(current):
            return current  # another tool rewrote it while we refreshed: theirs wins
        self.store.save(token_key(session.cache_name), new)
        return new

    def _usable(self, token: Mapping[str, Any]) -> bool:
        return isinstance(token.get("accessToken"), str) and self._left(token) > 0

    def _theirs_if_changed(self, session: SsoSession, mine: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            current = self.store.load(token_key(session.cache_name))
        except TokenCacheCorrupt:
            return None
        if current is not None and current != mine and self._usable(current):
            return current
        return None

    # -- after a sign-in, and sign-out ---------------------------------------------------------------------

    def save_sign_in(
        self, session: SsoSession, response: Mapping[str, Any], registration: Mapping[str, Any]
    ) -> TokenState:
        """Write the token of a completed sign-in (CreateToken's ``response``) in the AWS CLI's field order."""
        token: dict[str, Any] = {
            "startUrl": session.start_url,
            "region": session.region,
            "accessToken": response["accessToken"],
            "expiresAt": format_time(self.now() + timedelta(seconds=int(response["expiresIn"]))),
            "clientId": registration["clientId"],
            "clientSecret": registration["clientSecret"],
            "registrationExpiresAt": registration["expiresAt"],
        }
        if response.get("refreshToken"):
            token["refreshToken"] = response["refreshToken"]
        self.store.save(token_key(session.cache_name), token)
        return self.state(session)

    def registration(self, session: SsoSession, auth_code: bool) -> dict[str, Any] | None:
        """The cached client registration usable for this flow (as the AWS CLI decides), or None."""
        try:
            found = self.store.load(self._registration_key(session))
        except TokenCacheCorrupt:
            return None
        if not found or not all(isinstance(found.get(k), str) for k in ("clientId", "clientSecret")):
            return None
        expires = _expiry(found, "expiresAt")
        if expires is None or (expires - self.now()).total_seconds() < REGISTRATION_MARGIN:
            return None
        is_auth = "authorization_code" in (found.get("grantTypes") or ())
        return found if is_auth == auth_code else None

    def save_registration(self, session: SsoSession, registration: Mapping[str, Any]) -> None:
        """Cache a client registration where the AWS CLI keeps its own."""
        self.store.save(self._registration_key(session), registration)

    def _registration_key(self, session: SsoSession) -> str:
        return registration_key(session.start_url, session.region, list(session.scopes) or None, session.name)

    def access_token_if_any(self, session: SsoSession) -> str | None:
        """The stored access token, even an expired one (for Logout); None when there is none or it is damaged."""
        try:
            token = self._load(session)
        except TokenCacheCorrupt:
            return None
        return str(token["accessToken"]) if token is not None else None

    def sign_out(self, session: SsoSession) -> bool:
        """Invalidate the token server-side (Logout; failures ignored, as the AWS CLI does) and remove it.

        Returns True when there was a sign-in to remove.
        """
        access = self.access_token_if_any(session)
        if access is not None:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                self.clients.portal(session.region, session.endpoint_url).logout(accessToken=access)
            except (ClientError, BotoCoreError) as exc:
                log.info(
                    "SSO Logout for %s: %s (token removed locally anyway)",
                    session.label,
                    "refused" if is_unauthorized(exc) else type(exc).__name__,
                )
        return self.store.delete(token_key(session.cache_name))
