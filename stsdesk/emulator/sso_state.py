"""Identity Center's server side: client registrations, device and PKCE authorizations, sign-in sessions.

Access and refresh tokens are sealed documents (``aoa``/``aor`` + the sealed text, like AWS's prefixes) naming
their sign-in session; the sessions, registrations and which refresh token is current live here and, with a
``state_dir``, in ``sso-state.json`` (written atomically), so a restarted emulator keeps its sign-ins. Device
codes, pending authorize requests and authorization codes are short-lived and kept in memory only.

Every expiry is judged on the emulator's clock, so time travel ages them; polling speed (SlowDown) is judged
on the real monotonic clock, because that is how fast the client really polls.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stsdesk.emulator.sealing import Sealer, SealError
from stsdesk.emulator.sso_records import (
    AuthCode,
    AuthorizeRequest,
    DeviceAuthorization,
    OidcError,
    Registration,
    SignIn,
    TokenGrant,
    invalid_client,
    invalid_grant,
    invalid_request,
)
from stsdesk.emulator.sso_scenario import SSO_SCOPE, IdentityCenter
from stsdesk.emulator.state import Clock

ACCESS_PURPOSE = "sso-access-token"
REFRESH_PURPOSE = "sso-refresh-token"
STATE_FILE = "sso-state.json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_GRANTS = (DEVICE_GRANT, "refresh_token")
AUTH_CODE_SECONDS = 300
_USER_CODE_CHARS = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alikes


@dataclass
class SsoState:
    """Thread-safe store of everything sso-oidc and the portal share. Raises OSError from ``load`` or any
    change when ``state_dir`` cannot be written."""

    center: IdentityCenter
    clock: Clock
    sealer: Sealer
    state_dir: Path | None = None
    registrations: dict[str, Registration] = field(default_factory=dict)
    sign_ins: dict[str, SignIn] = field(default_factory=dict)
    devices: dict[str, DeviceAuthorization] = field(default_factory=dict)
    user_codes: dict[str, str] = field(default_factory=dict)  # user code -> device code
    authorize_requests: dict[str, AuthorizeRequest] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> float:
        """The emulator's time (time travel included), epoch seconds."""
        return self.clock.now().timestamp()

    # -------------------------------------------------------------------------------- persistence

    def load(self) -> None:
        """Read ``sso-state.json`` when there is one; a corrupt file is set aside, not fatal."""
        if self.state_dir is None:
            return
        path = self.state_dir / STATE_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
            regs = {r["client_id"]: Registration(**r) for r in data["registrations"]}
            sign_ins = {s["sid"]: SignIn(**s) for s in data["sign_ins"]}
        except FileNotFoundError:
            return
        except (ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                path.replace(path.with_suffix(".corrupt"))
            return
        self.registrations, self.sign_ins = regs, sign_ins

    def _save(self) -> None:
        if self.state_dir is None:
            return
        now = self.now()
        self.registrations = {k: r for k, r in self.registrations.items() if r.expires_at > now}
        self.sign_ins = {k: s for k, s in self.sign_ins.items() if s.expires_at > now}
        body = json.dumps(
            {
                "registrations": [asdict(r) for r in self.registrations.values()],
                "sign_ins": [asdict(s) for s in self.sign_ins.values()],
            }
        )
        from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

        atomic_write(self.state_dir / STATE_FILE, body.encode("utf-8"), fsync=False)  # 0600

    # ------------------------------------------------------------------------------ registrations

    def register(self, name: str, scopes: list[str], grants: list[str], redirects: list[str]) -> tuple[
        Registration, str
    ]:
        """A new public client registration and its secret (shown once, like AWS)."""
        now = int(self.now())
        secret = "eyJ" + secrets.token_urlsafe(96)  # AWS's secrets are JWT-like; only the shape matters
        reg = Registration(
            client_id=secrets.token_urlsafe(16) + "dXMtZWFzdC0x",
            secret_digest=_digest(secret),
            name=name,
            scopes=scopes,
            grant_types=grants or list(DEFAULT_GRANTS),
            redirect_uris=redirects,
            issued_at=now,
            expires_at=now + self.center.registration_seconds,
        )
        with self.lock:
            self.registrations[reg.client_id] = reg
            self._save()
        return reg, secret

    def client(self, client_id: str, client_secret: str | None) -> Registration:
        """The registration for a client id and (when given) its secret. Raises InvalidClientException for
        an unknown id, a wrong secret or an expired registration."""
        reg = self.registrations.get(client_id)
        if reg is None:
            raise invalid_client("Invalid client provided")
        if client_secret is not None and not secrets.compare_digest(reg.secret_digest, _digest(client_secret)):
            raise invalid_client("Invalid client secret provided")
        if reg.expires_at <= self.now():
            raise invalid_client("Client registration has expired")
        return reg

    # ------------------------------------------------------------------------------- device flow

    def start_device(self, reg: Registration) -> DeviceAuthorization:
        """A new device authorization for ``reg``. Raises UnauthorizedClientException when the client was
        not registered for the device grant."""
        if DEVICE_GRANT not in reg.grant_types:
            raise OidcError(
                "UnauthorizedClientException", "unauthorized_client",
                "This client is not registered for the device code grant",
            )
        with self.lock:
            self._prune()
            user_code = _user_code()
            while user_code in self.user_codes:
                user_code = _user_code()
            device = DeviceAuthorization(
                device_code=secrets.token_urlsafe(96),
                user_code=user_code,
                client_id=reg.client_id,
                expires_at=self.now() + self.center.device_code_seconds,
                interval=self.center.poll_interval_seconds,
            )
            self.devices[device.device_code] = device
            self.user_codes[user_code] = device.device_code
        return device

    def _prune(self) -> None:
        """Forget device codes, authorize requests and codes an hour past their life (until then a late poll
        still hears ExpiredToken, not InvalidGrant). Called with the lock held."""
        now = self.now() - 3600
        for device in [d for d in self.devices.values() if d.expires_at <= now]:
            del self.devices[device.device_code]
            self.user_codes.pop(device.user_code, None)
        self.authorize_requests = {k: r for k, r in self.authorize_requests.items() if r.expires_at > now}
        self.codes = {k: c for k, c in self.codes.items() if c.expires_at > now}

    def device_for_user_code(self, user_code: str) -> DeviceAuthorization | None:
        """The pending, unexpired device authorization behind a user code (any case, dash optional)."""
        code = user_code.strip().upper().replace(" ", "")
        if len(code) == 8 and "-" not in code:
            code = code[:4] + "-" + code[4:]
        device = self.devices.get(self.user_codes.get(code, ""))
        if device is None or device.status != "pending" or device.expires_at <= self.now():
            return None
        return device

    def decide_device(self, device: DeviceAuthorization, user: str | None, allow: bool) -> None:
        """Record the person's answer; the next poll redeems it (or hears AccessDenied)."""
        with self.lock:
            device.status = "approved" if allow else "denied"
            device.user = user

    def poll_device(self, reg: Registration, device_code: str) -> str:
        """The approved user for a device code, consuming it. Raises the AWS error for every other case:
        InvalidGrant (unknown, foreign or used code), ExpiredToken, SlowDown, AccessDenied, AuthorizationPending.
        """
        with self.lock:
            device = self.devices.get(device_code)
            if device is None or device.client_id != reg.client_id or device.status == "used":
                raise invalid_grant("Invalid device code provided")
            if device.expires_at <= self.now():
                raise OidcError("ExpiredTokenException", "expired_token", "Device code has expired")
            mono = time.monotonic()
            last, device.last_poll = device.last_poll, mono
            if last is not None and mono - last < device.interval:
                raise OidcError("SlowDownException", "slow_down", "Client is polling too fast")
            if device.status == "denied":
                raise OidcError("AccessDeniedException", "access_denied", "The user denied the request")
            if device.status == "pending":
                raise OidcError(
                    "AuthorizationPendingException", "authorization_pending", "Authorization is still pending"
                )
            device.status = "used"
            self.user_codes.pop(device.user_code, None)
            assert device.user is not None
            return device.user

    # --------------------------------------------------------------------------------- PKCE flow

    def open_authorize_request(
        self, reg: Registration, redirect_uri: str, state: str, challenge: str, scopes: list[str]
    ) -> AuthorizeRequest:
        """Remember a validated /authorize request until a person (or the approve aid) answers it."""
        with self.lock:
            self._prune()
            req = AuthorizeRequest(
                request_id=secrets.token_urlsafe(18),
                client_id=reg.client_id,
                client_name=reg.name,
                redirect_uri=redirect_uri,
                state=state,
                challenge=challenge,
                scopes=scopes,
                expires_at=self.now() + self.center.device_code_seconds,
            )
            self.authorize_requests[req.request_id] = req
        return req

    def authorize_request(self, request_id: str | None = None, state: str | None = None) -> AuthorizeRequest | None:
        """A pending, unexpired authorize request by its id or (the newest) by the client's ``state``."""
        now = self.now()
        with self.lock:
            live = [r for r in self.authorize_requests.values() if not r.done and r.expires_at > now]
        if request_id is not None:
            return next((r for r in live if r.request_id == request_id), None)
        matching = [r for r in live if r.state == state]
        return matching[-1] if matching else None

    def decide_authorize(self, req: AuthorizeRequest, user: str | None, allow: bool) -> str | None:
        """Close ``req``; the authorization code when allowed, else None."""
        with self.lock:
            req.done = True
            if not allow or user is None:
                return None
            code = secrets.token_urlsafe(32)
            self.codes[code] = AuthCode(
                req.client_id, req.redirect_uri, req.challenge, user, req.scopes, self.now() + AUTH_CODE_SECONDS
            )
            return code

    def redeem_code(self, reg: Registration, code: str, redirect_uri: str | None, verifier: str | None) -> AuthCode:
        """The authorization code's grant, consuming it. Raises InvalidGrant (unknown, used or foreign code,
        redirect URI or verifier that does not match), InvalidRequest (missing redirect URI or verifier),
        ExpiredToken (code past its life)."""
        if not redirect_uri:
            raise invalid_request("redirectUri is required for the authorization_code grant")
        if not verifier:
            raise invalid_request("codeVerifier is required for the authorization_code grant")
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant.used or grant.client_id != reg.client_id:
                raise invalid_grant("Invalid authorization code provided")
            if grant.expires_at <= self.now():
                raise OidcError("ExpiredTokenException", "expired_token", "Authorization code has expired")
            if grant.redirect_uri != redirect_uri:
                raise invalid_grant("redirectUri does not match the one used in the authorization request")
            if not 43 <= len(verifier) <= 128 or pkce_challenge(verifier) != grant.challenge:
                raise invalid_grant("Code verifier does not match the code challenge")
            grant.used = True
            return grant

    # ----------------------------------------------------------------------------- tokens, sessions

    def issue(self, reg: Registration, user: str, scopes: list[str]) -> TokenGrant:
        """Start a sign-in session for ``user`` and give its first tokens: with ``sso:account:access`` an
        access token of ``access_token_seconds`` and a refresh token (when the client may refresh), else
        one access token of ``unscoped_token_seconds`` and no refresh token."""
        now = int(self.now())
        refreshable = SSO_SCOPE in scopes and "refresh_token" in reg.grant_types
        lifetime = self.center.refresh_token_seconds if refreshable else self.center.unscoped_token_seconds
        sign_in = SignIn(secrets.token_urlsafe(12), user, reg.client_id, scopes, now + lifetime)
        with self.lock:
            self.sign_ins[sign_in.sid] = sign_in
            grant = self._tokens(sign_in, refreshable)
            self._save()
        return grant

    def _tokens(self, sign_in: SignIn, refreshable: bool, presented: str | None = None) -> TokenGrant:
        now = int(self.now())
        center = self.center
        seconds = center.access_token_seconds if SSO_SCOPE in sign_in.scopes else center.unscoped_token_seconds
        seconds = max(1, min(seconds, sign_in.expires_at - now))  # never outlives the sign-in
        access = "aoa" + self.sealer.seal(ACCESS_PURPOSE, {"sid": sign_in.sid, "exp": now + seconds})
        refresh = None
        if presented is not None and not self.center.rotate_refresh_tokens:
            refresh = presented  # the same refresh token serves the whole sign-in
        elif refreshable:
            if not sign_in.refresh_id or self.center.rotate_refresh_tokens:
                sign_in.refresh_id = secrets.token_urlsafe(12)
            refresh = "aor" + self.sealer.seal(
                REFRESH_PURPOSE, {"sid": sign_in.sid, "rid": sign_in.refresh_id, "cid": sign_in.client_id}
            )
        return TokenGrant(access, seconds, refresh)

    def refresh(self, reg: Registration, refresh_token: str) -> TokenGrant:
        """New tokens for a refresh token. Raises InvalidGrant for a token that is not genuine, belongs to
        another client, was already used (rotation), or whose sign-in ended (expired or logged out)."""
        if "refresh_token" not in reg.grant_types:
            raise OidcError(
                "UnauthorizedClientException", "unauthorized_client",
                "This client is not registered for the refresh_token grant",
            )
        try:
            data = self.sealer.unseal(REFRESH_PURPOSE, refresh_token[3:]) if refresh_token.startswith("aor") else {}
        except SealError:
            data = {}
        with self.lock:
            sign_in = self.sign_ins.get(str(data.get("sid", "")))
            if (
                sign_in is None
                or data.get("cid") != reg.client_id
                or data.get("rid") != sign_in.refresh_id
                or sign_in.expires_at <= self.now()
            ):
                raise invalid_grant("Invalid refresh token provided")
            grant = self._tokens(sign_in, True, refresh_token)
            self._save()
        return grant

    def sign_in_for_access_token(self, token: str) -> SignIn | None:
        """The live sign-in behind an access token, or None (not genuine, expired, logged out)."""
        if not token.startswith("aoa"):
            return None
        try:
            data = self.sealer.unseal(ACCESS_PURPOSE, token[3:])
        except SealError:
            return None
        exp = data.get("exp")
        if not isinstance(exp, int) or exp <= self.now():
            return None
        sign_in = self.sign_ins.get(str(data.get("sid", "")))
        if sign_in is None or sign_in.expires_at <= self.now():
            return None
        return sign_in

    def logout(self, sign_in: SignIn) -> None:
        """End a sign-in: its access and refresh tokens stop working (role credentials already issued do
        not, as in AWS)."""
        with self.lock:
            self.sign_ins.pop(sign_in.sid, None)
            self._save()


def pkce_challenge(verifier: str) -> str:
    """base64url(sha256(verifier)) without padding (RFC 7636 S256)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user_code() -> str:
    picks = "".join(secrets.choice(_USER_CODE_CHARS) for _ in range(8))
    return f"{picks[:4]}-{picks[4:]}"
