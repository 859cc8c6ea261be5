"""How the broker makes fresh sessions: roles, MFA sessions, SAML, web identity, federation tokens.

The base class of :class:`stsdesk.core.broker.Broker`, split out to keep each module about one thing: this
one knows which STS call a profile needs and when an MFA code is needed; the broker knows about caching,
single-flight and events.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from stsdesk.core.broker_sources import (
    StsTarget,
    long_term_credentials,
    process_credentials,
    saml_assertion,
    session_name,
    sts_target,
    web_identity_token,
)
from stsdesk.core.errors import (
    ENTER_MFA_CODE,
    ConfigError,
    DurationError,
    InvalidMfaCode,
    MfaRequired,
    Remedy,
    StsdeskError,
)
from stsdesk.core.mfa_rule import CHAINED_MAX, mfa_cache_key, reuses_mfa_session
from stsdesk.core.mfa_sources import CodeSource, MfaSourceError, MfaWaitlist, code_source, obtain_code
from stsdesk.core.model import Credentials, Profile, ProfileKind
from stsdesk.core.secrets import SecretStore
from stsdesk.core.sts import StsClient, default_sts_endpoint, resolve_endpoint

if TYPE_CHECKING:
    from stsdesk.core.profiles import ProfileTree

T = TypeVar("T")

MFA_TRIES = 3
# Like aws-vault: an IAM user without MFA hands out a GetSessionToken session of an hour, not its keys.
PLAIN_SESSION_SECONDS = 3600
# Kinds whose credentials are a role session: a role assumed from them is role chaining.
_ROLE_KINDS = (ProfileKind.ROLE, ProfileKind.SAML_ROLE, ProfileKind.WEB_IDENTITY_ROLE, ProfileKind.SSO)


@dataclass(frozen=True)
class MfaRequest:
    """What an MFA prompt shows: who asks, for which role, with which device, and the last error."""

    profile: str  # the profile the user asked for
    role_arn: str | None  # the role being assumed, if any
    mfa_serial: str
    error: str | None = None  # previous attempt's error (wrong code): show it, let the user retry


MfaPrompt = Callable[[MfaRequest], Awaitable[str]]


@dataclass
class SessionResult:
    creds: Credentials
    identity_arn: str | None = None
    mfa_serial: str | None = None
    mfa_at: datetime | None = None  # when an MFA code last vouched for this session (None: no MFA)


@dataclass
class BrokerRequest:
    """One credentials_for() call: the profile asked for and an MFA code usable once."""

    profile: str
    code: str | None = None
    force: bool = False
    min_ttl: float = 300.0
    visited: set[str] = field(default_factory=set)
    long_term: bool = False  # an IAM user's own keys asked for explicitly (--no-session): no session made
    region: str | None = None  # the session's chosen region (--region): STS is called there (core/region)

    def take_code(self) -> str | None:
        code, self.code = self.code, None
        return code


def cache_key_for(profile: str) -> str:
    """The session cache key of a profile's own session."""
    return f"profile:{profile}"


class SessionMaker:
    """Fresh sessions from STS. Subclasses provide caching (``_cached``/``_store``), single-flight and
    ``_obtain`` (credentials of a source profile, through the cache)."""

    tree: ProfileTree
    sts: StsClient
    secrets: SecretStore
    mfa_prompt: MfaPrompt | None
    default_region: str
    _device_locks: dict[str, asyncio.Lock]
    mfa_waitlist: MfaWaitlist | None = None  # requests waiting for a device (the broker's, for the MFA dialog)

    async def _obtain(self, name: str, duration: int | None, request: BrokerRequest) -> SessionResult:
        raise NotImplementedError

    def _cached(
        self, key: str, min_ttl: float, duration: int | None, role_arn: str | None
    ) -> SessionResult | None:
        raise NotImplementedError

    def _store(self, key: str, profile: str, result: SessionResult) -> None:
        raise NotImplementedError

    async def _single_flight(self, key: str, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
        raise NotImplementedError

    def _call_args(self, target: StsTarget) -> dict[str, Any]:
        endpoint = target.endpoint_url
        overridden = os.environ.get("AWS_ENDPOINT_URL_STS") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint is None and not target.regional and not overridden:
            endpoint = default_sts_endpoint(target.region, regional=False)
        return {"region": target.region, "endpoint_url": endpoint}

    def _endpoint(self, target: StsTarget) -> str:
        return resolve_endpoint(target.region, self._call_args(target)["endpoint_url"])

    async def _fresh(
        self,
        profile: Profile,
        chain: list[Profile],
        target: StsTarget,
        duration: int | None,
        request: BrokerRequest,
    ) -> SessionResult:
        kind = profile.kind
        wanted = duration if duration is not None else profile.duration_seconds
        args = self._call_args(target)
        if kind is ProfileKind.SAML_ROLE:
            assertion = await asyncio.get_running_loop().run_in_executor(
                None, saml_assertion, profile, self._endpoint(target)
            )
            creds, arn = await self.sts.assume_role_with_saml(
                role_arn=str(profile.role_arn),
                principal_arn=str(profile.saml_principal_arn),
                assertion_b64=assertion,
                duration=wanted,
                **args,
            )
            return SessionResult(creds, arn)
        if kind is ProfileKind.WEB_IDENTITY_ROLE:
            creds, arn = await self.sts.assume_role_with_web_identity(
                role_arn=str(profile.role_arn),
                token=web_identity_token(profile),
                session_name=session_name(profile),
                duration=wanted,
                **args,
            )
            return SessionResult(creds, arn)
        if kind is ProfileKind.FEDERATED_USER:
            user = self.tree.get(str(profile.source))
            keys = self._long_term(user)
            name = (profile.federation_name or profile.name)[:32]
            creds, arn = await self.sts.get_federation_token(
                keys, name=name, policy=profile.federation_policy, duration=wanted, **args
            )
            return SessionResult(creds, arn)
        if kind is ProfileKind.ROLE:
            return await self._role(profile, chain, target, wanted, request)
        if kind is ProfileKind.CREDENTIAL_PROCESS:
            # As botocore does: run it (it may prompt on the terminal itself), so that roles chain from it.
            creds = await asyncio.get_running_loop().run_in_executor(None, process_credentials, profile)
            return SessionResult(creds)
        raise ConfigError(
            f"profile '{profile.name}' gives no credentials stsdesk can use (kind {kind.value}): it needs "
            "keys, role_arn with source_profile, sso_session or credential_process"
        )

    def _long_term(self, profile: Profile) -> Credentials:
        return long_term_credentials(profile, self.secrets, self.tree.config_file, self.tree.credentials_file)

    async def _role(
        self,
        profile: Profile,
        chain: list[Profile],
        target: StsTarget,
        wanted: int | None,
        request: BrokerRequest,
    ) -> SessionResult:
        args = self._call_args(target)
        role_arn = str(profile.role_arn)
        base = {
            "role_arn": role_arn,
            "session_name": session_name(profile),
            "external_id": profile.external_id,
            "source_identity": profile.source_identity,
            **args,
        }
        if profile.source is None:
            if profile.extra.get("source_profile") == profile.name:
                source: Profile = profile  # botocore: a profile with its own keys may be its own source
            else:
                raise ConfigError(
                    f"profile '{profile.name}': credential_source is not supported by stsdesk; "
                    "use source_profile"
                )
        else:
            source = self.tree.get(profile.source)
        serial = profile.mfa_serial
        mfa_request = MfaRequest(request.profile, role_arn, serial or "")
        if source.kind is ProfileKind.IAM_USER or source is profile:
            keys = self._long_term(source)
            if serial and reuses_mfa_session(wanted):  # the rule the tray predicts with (core/mfa_rule)
                session = await self._mfa_session(source, keys, serial, mfa_request, request, target)
                creds, arn = await self.sts.assume_role(session.creds, duration=wanted, **base)
                return SessionResult(creds, arn, serial, session.mfa_at)
            if serial:
                # Longer than an hour: only AssumeRole from long-term keys allows it, with a fresh code.
                async def direct(code: str) -> tuple[Credentials, str]:
                    return await self.sts.assume_role(
                        keys, duration=wanted, mfa_serial=serial, mfa_code=code, **base
                    )

                creds, arn = await self._with_mfa(mfa_request, request, direct)
                return SessionResult(creds, arn, serial, datetime.now(UTC))
            creds, arn = await self.sts.assume_role(keys, duration=wanted, **base)
            return SessionResult(creds, arn)
        if source.kind not in (*_ROLE_KINDS, ProfileKind.FEDERATED_USER, ProfileKind.CREDENTIAL_PROCESS):
            raise ConfigError(
                f"profile '{profile.name}': source_profile '{source.name}' ({source.kind.value}) "
                "cannot be used as a source by stsdesk"
            )
        # A credential_process may hand out long-term keys: STS itself says whether this is role chaining.
        if wanted is not None and wanted > CHAINED_MAX and source.kind is not ProfileKind.CREDENTIAL_PROCESS:
            raise DurationError(
                f"profile '{profile.name}' asks for {wanted} s, but it is assumed from another role's "
                f"session ('{source.name}') and AWS caps role chaining at {CHAINED_MAX} s; "
                f"ask for {CHAINED_MAX} or less"
            )
        parent = await self._obtain(source.name, None, request)
        if serial and parent.mfa_at is None:

            async def chained(code: str) -> tuple[Credentials, str]:
                return await self.sts.assume_role(
                    parent.creds, duration=wanted, mfa_serial=serial, mfa_code=code, **base
                )

            creds, arn = await self._with_mfa(mfa_request, request, chained)
            return SessionResult(creds, arn, serial, datetime.now(UTC))
        # The parent session already carries MFA context (aws:MultiFactorAuthPresent) into this one.
        creds, arn = await self.sts.assume_role(parent.creds, duration=wanted, **base)
        return SessionResult(creds, arn, parent.mfa_serial, parent.mfa_at)

    async def _iam_user(
        self, profile: Profile, chain: list[Profile], duration: int | None, request: BrokerRequest
    ) -> SessionResult:
        keys = self._long_term(profile)
        if request.long_term and profile.name == request.profile:
            return SessionResult(keys)  # asked for explicitly: the only way the long-term key leaves
        if not profile.mfa_serial:
            if keys.session_token:
                return SessionResult(keys)  # temporary keys written into the files: no GetSessionToken with them
            return await self._plain_session(profile, keys, chain, duration, request)
        # Like aws-vault: an IAM user with an MFA device gets an MFA session (GetSessionToken).
        target = sts_target(chain, self.default_region, region=request.region)
        mfa_request = MfaRequest(request.profile, None, profile.mfa_serial)
        wanted = duration if duration is not None else profile.duration_seconds
        return await self._mfa_session(
            profile, keys, profile.mfa_serial, mfa_request, request, target, wanted
        )

    async def _plain_session(
        self, user: Profile, keys: Credentials, chain: list[Profile], duration: int | None, request: BrokerRequest
    ) -> SessionResult:
        """A GetSessionToken session (no MFA) of an IAM user without an MFA device, cached as the profile's own
        session, so that its long-term key never leaves the keyring unless asked for (``long_term``)."""
        key = cache_key_for(user.name)
        wanted = duration or user.duration_seconds or PLAIN_SESSION_SECONDS

        async def start() -> SessionResult:
            if not request.force:
                hit = self._cached(key, request.min_ttl, duration, None)
                if hit is not None:
                    return hit
            target = sts_target(chain, self.default_region, region=request.region)
            creds = await self.sts.get_session_token(keys, duration=wanted, **self._call_args(target))
            result = SessionResult(creds)
            self._store(key, user.name, result)
            return result

        return await self._single_flight(key, start)

    async def _mfa_session(
        self,
        user: Profile,
        keys: Credentials,
        serial: str,
        mfa_request: MfaRequest,
        request: BrokerRequest,
        target: StsTarget,
        duration: int | None = None,
    ) -> SessionResult:
        key = mfa_cache_key(keys.access_key_id, serial)

        async def start() -> SessionResult:
            if not (request.force and user.name == request.profile):
                hit = self._cached(key, request.min_ttl, duration, None)
                if hit is not None:
                    return hit

            async def call(code: str) -> Credentials:
                return await self.sts.get_session_token(
                    keys, duration=duration, mfa_serial=serial, mfa_code=code, **self._call_args(target)
                )

            creds = await self._with_mfa(mfa_request, request, call)
            result = SessionResult(creds, None, serial, datetime.now(UTC))
            self._store(key, user.name, result)
            return result

        return await self._single_flight(key, start)

    async def _with_mfa(
        self, mfa_request: MfaRequest, request: BrokerRequest, call: Callable[[str], Awaitable[T]]
    ) -> T:
        """Run ``call(code)`` with a code from the request or the prompt; on a wrong code ask again (up to
        MFA_TRIES times) with the error shown. One prompt at a time per device."""
        lock = self._device_locks.setdefault(mfa_request.mfa_serial, asyncio.Lock())
        async with lock:
            error: str | None = None
            last: InvalidMfaCode | None = None
            # mfa_process / stsdesk_yubikey_account (core/mfa_sources): tried once, before any prompt.
            source = self._code_source(mfa_request)
            for _attempt in range(MFA_TRIES):
                code = request.take_code()
                from_source: str | None = None
                if code is None and source is not None:
                    kind = source.kind
                    code, error = await self._code_from_source(source, mfa_request, error)
                    from_source, source = (kind if code is not None else None), None
                if code is None:
                    if self.mfa_prompt is None:
                        if last is not None:
                            raise last
                        if error is not None:  # the code source failed: its one-line reason
                            raise MfaRequired(error, remedy=Remedy(ENTER_MFA_CODE, mfa_request.profile))
                        raise MfaRequired(
                            f"profile {mfa_request.profile} needs an MFA code",
                            remedy=Remedy(ENTER_MFA_CODE, mfa_request.profile),
                        )
                    code = await self.mfa_prompt(replace(mfa_request, error=error))
                try:
                    return await call(code.strip())
                except InvalidMfaCode as exc:
                    last, error = exc, str(exc)
                    if from_source:
                        what = "mfa_process" if from_source == "process" else "the YubiKey"
                        error = f"the code from {what} was refused: {exc}"
                        last = InvalidMfaCode(error, exc.code)
            assert last is not None
            raise last

    def _code_source(self, mfa_request: MfaRequest) -> CodeSource | None:
        try:
            chain = self.tree.chain(mfa_request.profile)
        except StsdeskError:
            return None
        return code_source(chain, mfa_request.mfa_serial)

    async def _code_from_source(
        self, source: CodeSource, mfa_request: MfaRequest, error: str | None
    ) -> tuple[str | None, str | None]:
        """(code, None) from ``source``, or (None, its one-line error) when it gave none. The waitlist says
        "touch your key" while a YubiKey waits for a touch."""
        waitlist = self.mfa_waitlist
        serial = mfa_request.mfa_serial

        def on_touch() -> None:
            if waitlist is not None:
                waitlist.note_touch(serial, True)

        try:
            code = await asyncio.get_running_loop().run_in_executor(None, obtain_code, source, on_touch)
        except MfaSourceError as exc:
            return None, str(exc)
        finally:
            if waitlist is not None:
                waitlist.note_touch(serial, False)
        return code, error
