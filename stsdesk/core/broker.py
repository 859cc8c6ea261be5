"""The broker: valid credentials for a profile, from the session cache or from STS.

One in-flight request per profile and per MFA session (concurrent callers await the same task); one MFA
prompt at a time per device. MFA sessions (GetSessionToken with MFA) are cached per (long-term key, device)
and reused for role sessions of up to an hour; a longer role session is assumed straight from the long-term
keys with a fresh code, because AssumeRole from temporary credentials is limited to one hour. How each kind
of profile gets a fresh session is in :mod:`stsdesk.core.mfa_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from stsdesk.core.broker_sources import StsTarget, role_matches, sts_target
from stsdesk.core.cache import CachedSession, SessionCache
from stsdesk.core.errors import ConfigError, DurationError, Remedy, StsdeskError
from stsdesk.core.fingerprint import source_fingerprint
from stsdesk.core.mfa_rule import mfa_cache_key
from stsdesk.core.mfa_session import (
    BrokerRequest,
    MfaPrompt,
    MfaRequest,
    SessionMaker,
    SessionResult,
    cache_key_for,
)
from stsdesk.core.mfa_sources import INTERACTIVE, MfaWaitlist
from stsdesk.core.model import Credentials, Identity, Profile, ProfileKind
from stsdesk.core.secrets import SecretStore
from stsdesk.core.sts import StsClient

if TYPE_CHECKING:
    from stsdesk.core.decode import Verdict
    from stsdesk.core.profiles import ProfileTree
    from stsdesk.core.sso.service import SsoService

__all__ = ["Broker", "MfaPrompt", "MfaRequest", "cache_key_for", "mfa_cache_key"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# At most this many requests start their work (profile chain, cache, request built and handed to the executor)
# per turn of the event loop; more wait for the next turns, in order. 200 refreshes started together (a burst from
# the GUI, the tray's auto-refresh) were 200 x ~0.1 ms of work in one turn of the GUI's loop plus a wait for the GIL
# after each step, while the executor's threads can only take 10 of them at a time anyway: the GUI froze for
# ~40 ms with no gain. A single request is never delayed.
REQUESTS_PER_TURN = 16


class TurnBudget:
    """Admits at most ``per_turn`` callers per turn of the running event loop; the others are admitted on the
    following turns, first come first served."""

    def __init__(self, per_turn: int) -> None:
        self.per_turn = max(1, per_turn)
        self._used = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._next: asyncio.Handle | None = None  # the next turn's admissions
        self._loop: asyncio.AbstractEventLoop | None = None

    async def admit(self) -> None:
        """Return at once while this turn has room, else at a later turn (a cancelled wait gives its place up)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests run one per test): nothing from an old one carries over
            self._loop, self._used, self._waiting, self._next = loop, 0, deque(), None
        if not self._waiting and self._used < self.per_turn:
            self._used += 1
            self._schedule(loop)
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(waiter)
        self._schedule(loop)
        await waiter

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._next is None:
            self._next = loop.call_soon(self._turn)

    def _turn(self) -> None:
        """A new turn: room for ``per_turn`` more; the first waiters take it (they run on the turn after)."""
        self._next = None
        self._used = 0
        while self._waiting and self._used < self.per_turn:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self._used += 1
        if self._waiting or self._used:
            assert self._loop is not None
            self._schedule(self._loop)


class Broker(SessionMaker):
    """Credentials for the profiles of ``tree``; see the module docstring for the rules."""

    def __init__(
        self,
        tree: ProfileTree,
        sts: StsClient,
        cache: SessionCache,
        secrets: SecretStore,
        mfa_prompt: MfaPrompt | None = None,
        min_ttl: float = 300.0,
        default_region: str = "us-east-1",
        sso: SsoService | None = None,
    ) -> None:
        self.tree = tree
        self._sso = sso
        self.sts = sts
        self.cache = cache
        self.secrets = secrets
        self.mfa_prompt = mfa_prompt
        self.min_ttl = min_ttl
        self.default_region = default_region
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._device_locks: dict[str, asyncio.Lock] = {}
        self._errors: dict[str, Exception] = {}
        self._subscribers: list[Callable[[str], None]] = []
        self.mfa_waitlist: MfaWaitlist = MfaWaitlist()  # what waits for each MFA device (core/mfa_sources)
        self.admission = TurnBudget(REQUESTS_PER_TURN)  # requests started per turn of the event loop

    # -- tree, events, state -----------------------------------------------------------------------------

    def reload(self, tree: ProfileTree) -> None:
        """Use a freshly loaded profile tree (after the config files changed)."""
        self.tree = tree
        for name in list(self._errors):
            if name not in tree.profiles:
                del self._errors[name]

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(profile)`` when a profile's session or error changes; returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, profile: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(profile)
            except Exception:  # a broken listener must not break credential delivery
                log.exception("broker subscriber failed for %s", profile)

    def last_error(self, profile: str) -> str | None:
        """The message of the last failed credentials_for(profile), cleared by the next success."""
        error = self._errors.get(profile)
        return None if error is None else str(error)

    def last_remedy(self, profile: str) -> Remedy | None:
        """What to do about the last failed credentials_for(profile) (None: nothing to suggest), as data."""
        error = self._errors.get(profile)
        return error.remedy if isinstance(error, StsdeskError) else None

    def fingerprint(self, profile: str) -> str:
        """The cheap source fingerprint stored with ``profile``'s session (see core/fingerprint.py)."""
        return source_fingerprint(
            profile, self.tree.config_file, self.tree.credentials_file, self.cache.directory
        )

    def session_state(self, profile: str) -> CachedSession | None:
        """Metadata of the profile's cached session (for an IAM user with MFA: its MFA session), or None.

        No keyring access, no network. Expired sessions are returned too (callers show "expired").
        """
        meta = self.cache.peek(cache_key_for(profile))
        if meta is not None:
            return meta
        found = self.tree.profiles.get(profile)
        if (
            found is not None
            and found.kind is ProfileKind.IAM_USER
            and found.mfa_serial
            and found.access_key_id
        ):
            return self.cache.peek(mfa_cache_key(found.access_key_id, found.mfa_serial))
        return None

    def forget(self, profile: str | None = None) -> list[str]:
        """Drop the cached sessions of ``profile`` (all of them with None); returns the cache keys dropped."""
        dropped = self.cache.forget(None) if profile is None else self.cache.forget_profile(profile)
        names = {key.split(":", 1)[1] for key in dropped if key.startswith("profile:")}
        if profile is not None:
            names.add(profile)
        for name in sorted(names):
            self._emit(name)
        return dropped

    # -- single flight -------------------------------------------------------------------------------------

    async def _single_flight(self, key: str, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``start()`` once for ``key``; concurrent callers await the same result (or exception)."""
        future = self._flights.get(key)
        if future is None:
            task = asyncio.ensure_future(start())
            self._flights[key] = task

            def done(finished: asyncio.Future[Any]) -> None:
                if self._flights.get(key) is finished:
                    del self._flights[key]
                if not finished.cancelled():
                    finished.exception()  # retrieved here so that a failure nobody awaits is not logged

            task.add_done_callback(done)
            future = task
        result: T = await asyncio.shield(future)
        return result

    # -- public credential API -----------------------------------------------------------------------------

    async def credentials_for(
        self,
        profile: str,
        *,
        duration: int | None = None,
        force_refresh: bool = False,
        mfa_code: str | None = None,
        min_ttl: float | None = None,
        long_term: bool = False,
        region: str | None = None,
        requester: str = INTERACTIVE,
    ) -> Credentials:
        """Valid credentials for ``profile`` with more than ``min_ttl`` (default: the broker's) seconds left.

        ``region`` is a region chosen for this session (``--region``, the GUI's picker; validated by the caller
        with :func:`stsdesk.core.region.validate_region`): a fresh session is made through that region's STS
        endpoint; a cached session is used whatever region made it (STS credentials work in every region).
        ``requester`` says who asks (``mfa_sources.TERMINAL``, ``SERVED``, ``INTERACTIVE``): while the request
        runs, a profile that uses an MFA device is listed in ``mfa_waitlist`` under that device.

        An IAM user profile gives a session (GetSessionToken, with MFA when it has a device), never its
        long-term key, unless ``long_term`` is True (an explicit request: ``--no-session``, the GUI's choice);
        ``long_term`` changes nothing for other kinds of profile.

        Raises ProfileNotFound/ConfigError/ProfileCycleError for unusable profiles, DurationError for a
        duration STS would refuse, MfaRequired when a code is needed and there is no prompt, InvalidMfaCode,
        MfaCancelled, and the StsCallError family for STS failures.
        """
        await self.admission.admit()
        request = BrokerRequest(
            profile, mfa_code, force_refresh, self.min_ttl if min_ttl is None else min_ttl, long_term=long_term,
            region=region,
        )
        try:
            with self._waiting(profile, duration, requester):
                result = await self._obtain(profile, duration, request)
        except Exception as exc:
            self._errors[profile] = exc
            self._emit(profile)
            raise
        if self._errors.pop(profile, None) is not None:
            self._emit(profile)
        return result.creds

    def _waiting(self, name: str, duration: int | None, requester: str) -> contextlib.AbstractContextManager[Any]:
        """The mfa_waitlist entry of a request for ``name`` when its chain uses an MFA device, else nothing."""
        try:
            chain = self.tree.chain(name)
        except StsdeskError:
            return contextlib.nullcontext()  # _obtain says what is wrong
        serial = next((p.mfa_serial for p in reversed(chain) if p.mfa_serial), None)
        if serial is None:
            return contextlib.nullcontext()
        wanted = duration if duration is not None else chain[-1].duration_seconds
        return self.mfa_waitlist.waiting(name, chain[-1].role_arn, serial, wanted, requester)

    async def _obtain(self, name: str, duration: int | None, request: BrokerRequest) -> SessionResult:
        profile = self.tree.get(name)
        chain = self.tree.chain(name)  # raises for cycles, missing sources, broken settings
        if name in request.visited:
            raise ConfigError(f"profile '{name}' is its own source")
        request.visited.add(name)
        if profile.kind is ProfileKind.IAM_USER:
            return await self._iam_user(profile, chain, duration, request)
        key = cache_key_for(name)
        return await self._single_flight(
            key, lambda: self._profile_session(profile, chain, duration, request)
        )

    async def _profile_session(
        self, profile: Profile, chain: list[Profile], duration: int | None, request: BrokerRequest
    ) -> SessionResult:
        key = cache_key_for(profile.name)
        if not request.force:
            hit = self._cached(key, request.min_ttl, duration, profile.role_arn)
            if hit is not None:
                return hit
        target = sts_target(chain, self.default_region, region=request.region)
        result = await self._fresh(profile, chain, target, duration, request)
        self._store(key, profile.name, result)
        return result

    def _cached(
        self, key: str, min_ttl: float, duration: int | None, role_arn: str | None
    ) -> SessionResult | None:
        found = self.cache.lookup(key, min_ttl)
        if found is None:
            return None
        meta, creds = found
        if duration is not None and (meta.expiration - meta.created).total_seconds() < duration - 120:
            return None  # a longer session was asked for than the cached one was made with
        if not role_matches(meta.identity_arn, role_arn):
            return None  # the profile now names another role
        fingerprint = self.fingerprint(meta.profile)
        if meta.source_fingerprint != fingerprint and not meta.memory_only:
            # The AWS files changed (often for another profile): refresh the stamp so that the
            # credential-process fast path can serve this session again.
            self._store_meta(replace(meta, source_fingerprint=fingerprint), creds)
        return SessionResult(creds, meta.identity_arn, meta.mfa_serial, meta.mfa_authenticated_at)

    def _store(self, key: str, profile: str, result: SessionResult) -> None:
        creds = result.creds
        if creds.expiration is None:
            return  # long-term keys are never cached as sessions
        now = datetime.now(UTC)
        meta = CachedSession(
            cache_key=key,
            profile=profile,
            access_key_id=creds.access_key_id,
            kind=creds.kind,
            expiration=creds.expiration,
            identity_arn=result.identity_arn,
            mfa_serial=result.mfa_serial,
            mfa_authenticated_at=result.mfa_at,
            source_fingerprint=self.fingerprint(profile),
            created=now,
        )
        self._store_meta(meta, creds)
        self._emit(profile)

    def _store_meta(self, meta: CachedSession, creds: Credentials) -> None:
        # In memory at once; the keyring and index write happens behind, on the cache's writer thread (an
        # unwritable index is logged there and costs other processes a miss, never this answer).
        self.cache.store(meta, creds)

    # -- IAM Identity Center -------------------------------------------------------------------------------

    @property
    def sso(self) -> SsoService:
        """The Identity Center service (made on first use with this broker's config dir and keyring)."""
        if self._sso is None:
            from stsdesk.core.sso.service import SsoService

            self._sso = SsoService(self.cache.directory, self.secrets)
        return self._sso

    @sso.setter
    def sso(self, service: SsoService) -> None:
        """Use ``service`` (the CLI's, with its environment; the GUI's, with the demo endpoints)."""
        self._sso = service

    async def _fresh(
        self,
        profile: Profile,
        chain: list[Profile],
        target: StsTarget,
        duration: int | None,
        request: BrokerRequest,
    ) -> SessionResult:
        if profile.kind is not ProfileKind.SSO:
            return await super()._fresh(profile, chain, target, duration, request)
        if duration is not None:
            raise DurationError(
                f"profile '{profile.name}' is an IAM Identity Center role: its session length is set by the "
                "permission set, so --duration cannot be used"
            )
        sso_target = self.sso.target(self.tree, profile.name)
        creds = await asyncio.get_running_loop().run_in_executor(
            None, self.sso.role_credentials, sso_target, target.region
        )
        # GetRoleCredentials does not say who signed in or which AWSReservedSSO_* role this is; one
        # GetCallerIdentity does (for `sso status`, the GUI, role checks). Best effort: never fails the fetch.
        arn: str | None = None
        try:
            identity = await asyncio.wait_for(
                self.sts.get_caller_identity(creds, **self._call_args(target)), _IDENTITY_TIMEOUT
            )
            arn = identity.arn
        except Exception as exc:  # anything at all: the credentials are good without it
            log.info("GetCallerIdentity after GetRoleCredentials for %s: %s", profile.name, type(exc).__name__)
        return SessionResult(creds, arn)

    # -- things done with credentials ----------------------------------------------------------------------

    def _target(self, profile: str, region: str | None = None) -> StsTarget:
        return sts_target(self.tree.chain(profile), self.default_region, region=region)

    async def whoami(self, profile: str, *, region: str | None = None) -> Identity:
        """GetCallerIdentity with the profile's credentials (in ``region`` when chosen). Errors as
        credentials_for()."""
        creds = await self.credentials_for(profile, region=region)
        return await self.sts.get_caller_identity(creds, **self._call_args(self._target(profile, region)))

    async def decode(self, text: str, profile: str) -> Verdict:
        """Find the encoded message in ``text``, decode it (DecodeAuthorizationMessage as ``profile``), parse.

        Raises DecodeInputError when ``text`` holds no encoded message, AccessDenied when the profile may not
        decode, StsCallError(InvalidAuthorizationMessageException) for a forged or expired blob.
        """
        from stsdesk.core.decode import extract_encoded_message, parse_decoded_message

        encoded = extract_encoded_message(text)
        # GetSessionToken sessions may not call DecodeAuthorizationMessage: an IAM user decodes with its own
        # keys, which stay in this process.
        user = self.tree.get(profile).kind is ProfileKind.IAM_USER
        creds = await self.credentials_for(profile, long_term=user)
        decoded = await self.sts.decode_authorization_message(
            creds, encoded, **self._call_args(self._target(profile))
        )
        return parse_decoded_message(decoded)

    async def console_url(
        self,
        profile: str,
        *,
        duration: int | None = None,
        destination: str | None = None,
        region: str | None = None,
        service: str | None = None,
    ) -> str:
        """A console sign-in URL for ``profile`` (a secret: valid 15 minutes). IAM users sign in through a
        federation token. The console opens in the session's region (``region`` when chosen) unless
        ``destination`` says where, or ``service`` (``ec2``...) picks that service's page in the region
        (:func:`stsdesk.core.console_fetch.console_destination`). Raises ConsoleError, NetworkError and the
        errors of credentials_for()."""
        from stsdesk.core.console_fetch import console_destination, console_sign_in
        from stsdesk.core.sts import partition_for

        found = self.tree.get(profile)
        target = self._target(profile, region)
        if found.kind is ProfileKind.IAM_USER:
            keys = self._long_term(found)
            name = "".join(ch for ch in profile if ch.isalnum() or ch in "+=,.@-")[:32] or "stsdesk"
            creds, _arn = await self.sts.get_federation_token(
                keys,
                name=name.ljust(2, "-"),
                policy=found.federation_policy or _ALLOW_ALL,
                duration=duration,
                **self._call_args(target),
            )
        else:
            creds = await self.credentials_for(profile, region=region)
        # The role ARN's partition, else the region's (an IAM user in us-gov-west-1 signs in to GovCloud).
        arn_parts = (found.role_arn or "").split(":")
        partition = partition_for(target.region, arn_parts[1] if len(arn_parts) > 1 and arn_parts[1] else None)
        if service is not None and destination is None:
            destination = console_destination(partition, target.region, service)
        return await asyncio.get_running_loop().run_in_executor(
            None, console_sign_in, creds, partition, target, self._endpoint(target), duration, destination
        )


_IDENTITY_TIMEOUT = 5.0
# Effective permissions of a federation token are the intersection with the user's own policies.
_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
