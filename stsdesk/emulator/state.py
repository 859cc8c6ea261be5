"""The emulator's live state: scenario, clock, sealing key, MFA replay memory, IdP keys and issued sessions.

Temporary credentials are not stored: the session token *is* the sealed session (``caller.Session``), so
they survive a restart with the same ``state_dir`` (the sealing key is persisted there).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stsdesk.emulator.caller import Caller, Session, caller_for_key, caller_for_session
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.idp_keys import KeyStore
from stsdesk.emulator.mfa import MfaVerifier
from stsdesk.emulator.private_files import ensure_private_dir
from stsdesk.emulator.scenario import Scenario, key_id_account, random_access_key
from stsdesk.emulator.sealing import Sealer, SealError
from stsdesk.emulator.sigv4 import SignedRequest, verify_request
from stsdesk.emulator.wire import Request

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
SESSION_PURPOSE = "session"
_CACHE_SIZE = 4096


class Clock:
    """The emulator's two notions of time (DESIGN.md, "The emulator").

    ``wall()`` is the server's own clock: real UTC time plus the scenario's ``clock_offset_seconds`` (a
    server whose clock is wrong). The ``Date`` header, SigV4 clock skew and TOTP codes are judged by it, so a
    client whose clock is right keeps working after time travel, and SDKs correct skew from ``Date``.
    ``now()`` is the world's time: ``wall()`` plus every ``advance`` (time travel), by which issued
    credentials, MFA sessions, assertions and encoded messages age.
    """

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._skew = float(offset_seconds)
        self._travel = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The world's current time (wall clock plus time travel), timezone-aware UTC."""
        now = datetime.now(UTC)
        offset = self._skew + self._travel
        return now + timedelta(seconds=offset) if offset else now  # several calls per request

    def wall(self) -> datetime:
        """The server's clock reading (real time plus clock_offset_seconds, no time travel), UTC."""
        now = datetime.now(UTC)
        return now + timedelta(seconds=self._skew) if self._skew else now

    def wall_epoch(self) -> float:
        """``wall()`` as epoch seconds (for the Date header)."""
        return time.time() + self._skew

    def advance(self, seconds: float) -> None:
        """Move the world forward (time travel for tests). Raises ValueError for a negative amount."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._travel += seconds

    @property
    def offset(self) -> float:
        """World time minus real time, in seconds (clock offset plus time travel)."""
        return self._skew + self._travel

    @property
    def travelled(self) -> float:
        """Seconds added by ``advance`` so far."""
        return self._travel


@dataclass(frozen=True)
class IssuedCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


_MICROSECOND = timedelta(microseconds=1)


def _invalid_token() -> EmulatorError:
    return EmulatorError("InvalidClientTokenId", INVALID_TOKEN)


class EmulatorState:
    """Everything the request handlers share. Thread-safe: handlers run on many threads.

    Raises StateDirError (an OSError) when ``state_dir`` is not private to this user, OSError when it cannot
    be created or read.
    """

    def __init__(
        self, scenario: Scenario, state_dir: Path | None = None, allow_time_travel: bool = False
    ) -> None:
        self.scenario = scenario
        self.state_dir = state_dir
        if state_dir is not None:
            ensure_private_dir(state_dir)  # refuses a directory other users can reach (planted keys)
        self.clock = Clock(scenario.faults.clock_offset_seconds)
        self.sealer = Sealer.load_or_create(state_dir)
        self.mfa = MfaVerifier(state_dir / "mfa-used.json" if state_dir is not None else None)
        self.keys = KeyStore(state_dir)
        self.allow_time_travel = allow_time_travel
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # token -> unsealed session (a cache)
        self._lock = threading.Lock()
        self._request_count = 0
        # Long-term key id -> (the scenario it was built from, its Caller): immutable, built once per key.
        self._key_callers: dict[str, tuple[Scenario, Caller]] = {}

    def next_request_number(self) -> int:
        """A 1-based counter of STS/EC2 requests, for the every-Nth-request faults."""
        with self._lock:
            self._request_count += 1
            return self._request_count

    # ----------------------------------------------------------------------------------- sessions

    def session_for_token(self, token: str) -> Session:
        """Unseal a session token. Raises EmulatorError InvalidClientTokenId when it is not genuine."""
        with self._lock:
            cached = self._sessions.get(token)
            if cached is not None:
                self._sessions.move_to_end(token)
                return cached
        try:
            session = Session.from_payload(self.sealer.unseal(SESSION_PURPOSE, token))
        except (SealError, KeyError, TypeError, ValueError):
            raise _invalid_token() from None
        with self._lock:
            self._sessions[token] = session
            if len(self._sessions) > _CACHE_SIZE:
                self._sessions.popitem(last=False)
        return session

    def _live_session(self, access_key_id: str, token: str | None) -> Session:
        if not token:
            raise _invalid_token()
        session = self.session_for_token(token)
        if session.access_key_id != access_key_id:
            raise _invalid_token()
        if session.expiration <= self.clock.now().timestamp():
            raise EmulatorError("ExpiredToken", EXPIRED_TOKEN)
        return session

    def resolve_secret(self, access_key_id: str, token: str | None) -> str:
        """The secret key for a signing key id, for SigV4 verification.

        Raises EmulatorError InvalidClientTokenId (unknown key, a token that is not genuine or belongs to
        another key, a token sent with a long-term key) or ExpiredToken.
        """
        if access_key_id.startswith("ASIA"):
            return self._live_session(access_key_id, token).secret_access_key
        found = self.scenario.key(access_key_id)
        if found is None or token:
            raise _invalid_token()
        return found[1].secret

    def account_of_key(self, access_key_id: str) -> str | None:
        """The account owning a long-term key of the scenario, else the account a new-generation key id encodes
        (every temporary key this emulator issues is one: no record of issued keys is kept)."""
        found = self.scenario.key(access_key_id)
        if found is not None:
            return found[0].split(":")[4]
        return key_id_account(access_key_id)

    def authenticate(self, request: Request, service: str) -> tuple[SignedRequest, Caller]:
        """Verify a request's SigV4 signature for ``service`` and name its caller.

        Raises EmulatorError (MissingAuthenticationToken, IncompleteSignature, SignatureDoesNotMatch,
        InvalidClientTokenId, ExpiredToken) exactly as ``sigv4.verify_request`` and ``resolve_secret`` do.
        """
        signed = verify_request(
            request.method, request.path, request.query, request.headers, request.body,
            self.clock.wall(), self.resolve_secret, service,  # skew is judged by the server's own clock
            header_map=request.header_lists(),
        )
        return signed, self.caller(signed)

    def caller(self, signed: SignedRequest) -> Caller:
        """The identity behind a verified request. Raises EmulatorError like ``resolve_secret``."""
        akid = signed.access_key_id
        if akid.startswith("ASIA"):
            return caller_for_session(self.scenario, self._live_session(akid, signed.security_token))
        scenario = self.scenario
        known = self._key_callers.get(akid)
        if known is not None and known[0] is scenario:  # a long-term key's caller depends on the scenario only
            return known[1]
        found = scenario.key(akid)
        if found is None:
            raise _invalid_token()
        caller = caller_for_key(scenario, found[0], akid)
        if len(self._key_callers) >= _CACHE_SIZE:
            self._key_callers.clear()
        self._key_callers[akid] = (scenario, caller)
        return caller

    def issue_session(
        self,
        *,
        kind: str,
        arn: str,
        account: str,
        user_id: str,
        base_arn: str,
        duration_seconds: int,
        issued_by: str,
        session_policy: str | None = None,
        mfa_authenticated: bool = False,
        mfa_auth_time: datetime | None = None,
        source_identity: str | None = None,
        role_chained: bool = False,
        tags: tuple[tuple[str, str], ...] = (),
        transitive_tag_keys: tuple[str, ...] = (),
    ) -> tuple[IssuedCredentials, Session]:
        """Mint temporary credentials: a fresh ``ASIA`` key id and secret, and the sealed session as token.

        Expiration is now + ``duration_seconds``, in whole seconds as STS reports it.
        """
        now = self.clock.now()
        now -= _MICROSECOND * now.microsecond  # replace(microsecond=0) parses 8 keywords: ~4x the work
        expiration = now + timedelta(seconds=duration_seconds)
        key_id, secret = random_access_key("ASIA", account)
        session = Session(
            kind=kind,
            arn=arn,
            account=account,
            user_id=user_id,
            base_arn=base_arn,
            access_key_id=key_id,
            secret_access_key=secret,
            expiration=int(expiration.timestamp()),
            issued_by=issued_by,
            session_policy=session_policy,
            mfa_authenticated=mfa_authenticated,
            mfa_auth_time=int(mfa_auth_time.timestamp()) if mfa_auth_time is not None else None,
            source_identity=source_identity,
            role_chained=role_chained,
            tags=tags,
            transitive_tag_keys=transitive_tag_keys,
        )
        token = self.sealer.seal_json(SESSION_PURPOSE, session.to_json())
        with self._lock:
            self._sessions[token] = session
            if len(self._sessions) > _CACHE_SIZE:
                self._sessions.popitem(last=False)
        creds = IssuedCredentials(session.access_key_id, session.secret_access_key, token, expiration)
        return creds, session
