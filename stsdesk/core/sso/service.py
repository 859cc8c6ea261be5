"""IAM Identity Center for the rest of stsdesk: one object the broker, the CLI and the GUI share.

:class:`SsoService` finds sign-in sessions in the profile tree, starts sign-ins (:class:`SignIn`), hands out
valid access tokens and role credentials (GetRoleCredentials), discovers accounts and roles, and signs out.
Blocking methods are marked; async callers run them in an executor.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stsdesk.core.errors import ConfigError
from stsdesk.core.model import CredentialKind, Credentials, Profile, ProfileKind
from stsdesk.core.sso.client import SsoClients, SsoEndpoints, error_code, is_unauthorized, translate
from stsdesk.core.sso.config import SsoSession, config_sessions, profile_sso, session_from_section
from stsdesk.core.sso.discovery import SsoAccount, discover
from stsdesk.core.sso.errors import RoleNotAssigned, SignInExpired, SsoConfigError
from stsdesk.core.sso.settings import token_storage
from stsdesk.core.sso.signin import SignIn
from stsdesk.core.sso.token_cache import FileTokenStore, KeyringTokenStore, TokenStore, default_cache_dir
from stsdesk.core.sso.tokens import Clock, SsoTokens, TokenState, utc_now

if TYPE_CHECKING:
    from stsdesk.core.cache import CachedSession
    from stsdesk.core.profiles import ProfileTree
    from stsdesk.core.secrets import SecretStore

log = logging.getLogger(__name__)
LOCK_NAME = "sso.lock"
# When one of these is set botocore finds the SSO endpoints itself; a profile's endpoint_url comes after them.
_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class SsoTarget:
    """What an SSO profile signs in with and which role it uses."""

    session: SsoSession
    account_id: str
    role_name: str


@dataclass(frozen=True)
class SignOutResult:
    """What ``sign_out`` removed: whether there was a sign-in, the AWS CLI role-cache files and stsdesk's
    cached sessions dropped."""

    session: SsoSession
    had_sign_in: bool
    cli_cache_files: int
    sessions_dropped: int = 0


class SsoService:
    """Identity Center support for one stsdesk config directory (``state_dir``)."""

    def __init__(
        self,
        state_dir: Path,
        secrets: SecretStore,
        *,
        endpoints: SsoEndpoints | None = None,
        storage: str | None = None,
        token_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        now: Clock = utc_now,
    ) -> None:
        """``storage`` ``file``/``keyring`` (default: the ``sso_token_storage`` setting); ``token_dir``
        overrides ~/.aws/sso/cache (tests). Raises SsoConfigError for a bad setting."""
        self.storage = storage or token_storage(state_dir, env)
        self.env = env
        store: TokenStore = (
            KeyringTokenStore(secrets)
            if self.storage == "keyring"
            else FileTokenStore(token_dir or default_cache_dir(env))
        )
        self.clients = SsoClients(endpoints)
        self.tokens = SsoTokens(store, self.clients, Path(state_dir) / LOCK_NAME, now)

    # -- sessions in the config ----------------------------------------------------------------------------

    def sessions(self, tree: ProfileTree) -> list[SsoSession]:
        """Every sign-in session: ``[sso-session]`` sections in file order, then legacy start URLs that SSO
        profiles use. Broken sections are left out (``session()`` explains them)."""
        return [self._with_endpoint(tree, session) for session in config_sessions(tree)]

    def _with_endpoint(self, tree: ProfileTree, session: SsoSession) -> SsoSession:
        """``session`` with the endpoint_url of a profile signing in with it, as botocore would use for
        `aws sso login --profile` (only when no AWS_ENDPOINT_URL* variable decides)."""
        environ = os.environ if self.env is None else self.env
        if session.endpoint_url or any(environ.get(name) for name in _ENDPOINT_VARIABLES):
            return session
        for profile in tree.profiles.values():
            if profile.kind is not ProfileKind.SSO or profile.error is not None or not profile.endpoint_url:
                continue
            if session.name is not None and profile.sso_session == session.name:
                return replace(session, endpoint_url=profile.endpoint_url)
            if session.legacy and not profile.sso_session and profile.sso_start_url == session.start_url:
                return replace(session, endpoint_url=profile.endpoint_url)
        return session

    def session(self, tree: ProfileTree, name: str | None = None) -> SsoSession:
        """The session called ``name`` (an sso-session, an SSO profile's session, or a legacy start URL);
        with None, the only one there is. Raises SsoConfigError naming the choices."""
        if name is not None:
            if name in tree.sso_sessions:
                return self._with_endpoint(tree, session_from_section(name, tree.sso_sessions[name]))
            if name in tree.profiles and tree.profiles[name].kind is ProfileKind.SSO:
                return self.target(tree, name).session
            for session in self.sessions(tree):
                if session.legacy and session.start_url == name:
                    return session
        known = self.sessions(tree)
        names = ", ".join(s.label for s in known[:8]) or "none"
        if name is None and len(known) == 1:
            return known[0]
        from stsdesk.core.profiles import display_path

        where = display_path(tree.config_file)
        if name is None and not known:
            raise SsoConfigError(
                f"no IAM Identity Center session in {where}; add [sso-session NAME] with sso_start_url and sso_region"
            )
        if name is None:
            raise SsoConfigError(f"several sign-in sessions in {where} ({names}); name one")
        raise SsoConfigError(f"no sso-session or SSO profile '{name}' in {where} (sessions: {names})")

    def target(self, tree: ProfileTree, profile: str, *, endpoint: bool = True) -> SsoTarget:
        """Session, account and role of the SSO profile ``profile``; ConfigError when it is not one or is broken.
        ``endpoint=False`` skips looking for a profile's endpoint_url (only the names are needed)."""
        found = tree.get(profile)
        if found.kind is not ProfileKind.SSO:
            raise ConfigError(f"profile '{profile}' is not an IAM Identity Center profile")
        values = {
            "sso_session": found.sso_session,
            "sso_start_url": found.sso_start_url,
            "sso_region": found.sso_region,
            "sso_account_id": found.sso_account_id,
            "sso_role_name": found.sso_role_name,
            "sso_registration_scopes": found.extra.get("sso_registration_scopes"),
        }
        try:
            session, account, role = profile_sso(profile, {k: v for k, v in values.items() if v}, tree.sso_sessions)
        except SsoConfigError as exc:
            raise SsoConfigError(f"profile '{profile}': {exc}") from None
        return SsoTarget(self._with_endpoint(tree, session) if endpoint else session, account, role)

    def profiles_of(self, tree: ProfileTree, session: SsoSession) -> list[str]:
        """SSO profiles signing in with ``session`` and every profile chained from them (for forgetting)."""
        def signs_in_with(profile: Profile) -> bool:
            # The same test as target(...).session.cache_name, without building a session per profile
            # (thousands of synced profiles).
            if profile.kind is not ProfileKind.SSO or profile.error is not None:
                return False
            if session.name is not None:
                return profile.sso_session == session.name
            return not profile.sso_session and profile.sso_start_url == session.start_url

        pending = [name for name, profile in tree.profiles.items() if signs_in_with(profile)]
        found: dict[str, None] = {}
        while pending:
            name = pending.pop()
            if name not in found:
                found[name] = None
                pending.extend(reversed([child.name for child in tree.children(name)]))
        return list(found)

    def signed_in_user(self, tree: ProfileTree, session: SsoSession, cached: Iterable[CachedSession]) -> str | None:
        """Who is signed in to ``session``, as far as stsdesk knows: the user named in the newest cached role
        session (``cached``: the broker cache's ``sessions()``) of this session's profiles. None until a role of
        it was used (the sign-in token itself does not say)."""
        names = set(self.profiles_of(tree, session))
        best: CachedSession | None = None
        for meta in cached:
            arn = meta.identity_arn or ""
            newer = best is None or meta.created > best.created
            if meta.profile in names and ":assumed-role/AWSReservedSSO_" in arn and newer:
                best = meta
        return best.identity_arn.rsplit("/", 1)[-1] if best is not None and best.identity_arn else None

    # -- sign-in state -------------------------------------------------------------------------------------

    def sign_in(
        self, session: SsoSession, *, device_code: bool = False, browser_timeout: float | None = None
    ) -> SignIn:
        """A new sign-in flow for ``session`` (not started: subscribe with ``on_event``, then ``await run()``)."""
        if browser_timeout is None:
            return SignIn(session, self.tokens, device_code=device_code)
        return SignIn(session, self.tokens, device_code=device_code, browser_timeout=browser_timeout)

    def status(self, session: SsoSession) -> TokenState:
        """The sign-in state of ``session`` (no network)."""
        return self.tokens.state(session)

    def sign_out(
        self,
        session: SsoSession,
        tree: ProfileTree | None = None,
        forget: Callable[[str], list[str]] | None = None,
    ) -> SignOutResult:
        """Logout server-side, remove the token, the AWS CLI's cached role credentials of this session's
        profiles in ~/.aws/cli/cache and, with ``forget`` (``Broker.forget``), stsdesk's cached sessions of
        them and of every role chained from them (blocking)."""
        removed_files = dropped = 0
        if tree is not None:
            for name in self.profiles_of(tree, session):
                if forget is not None:
                    dropped += len(forget(name))
                profile = tree.profiles[name]
                if profile.kind is ProfileKind.SSO:
                    removed_files += self._drop_cli_role_cache(self.target(tree, name, endpoint=False))
        had = self.tokens.sign_out(session)
        return SignOutResult(session, had, removed_files, dropped)

    def _drop_cli_role_cache(self, target: SsoTarget) -> int:
        args: dict[str, str] = {"roleName": target.role_name, "accountId": target.account_id}
        if target.session.name is not None:
            args["sessionName"] = target.session.name
        else:
            args["startUrl"] = target.session.start_url
        key = hashlib.sha1(json.dumps(args, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        path = default_cache_dir(self.env).parent.parent / "cli" / "cache" / f"{key}.json"
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("ProviderType") != "sso":
                return 0
            path.unlink()
        except (OSError, ValueError, AttributeError):
            return 0
        return 1

    # -- using the sign-in ---------------------------------------------------------------------------------

    def role_credentials(self, target: SsoTarget, region: str | None = None) -> Credentials:
        """GetRoleCredentials for ``target`` with a valid (refreshed if needed) access token (blocking).

        Raises NotSignedIn/SignInExpired/TokenCacheCorrupt (sign in again), RoleNotAssigned (403: the role
        is not assigned to the user), Throttled, NetworkError, SsoCallError.
        """
        session = target.session
        what = f"the IAM Identity Center portal (GetRoleCredentials {target.account_id}/{target.role_name})"
        response = self._with_token(
            session,
            what,
            lambda portal, token: portal.get_role_credentials(
                roleName=target.role_name, accountId=target.account_id, accessToken=token
            ),
            role=target,
        )
        raw = response.get("roleCredentials") or {}
        expiration = datetime.fromtimestamp(int(raw["expiration"]) / 1000.0, UTC)
        return Credentials(
            str(raw["accessKeyId"]),
            str(raw["secretAccessKey"]),
            str(raw["sessionToken"]),
            expiration,
            CredentialKind.ASSUMED_ROLE,
            region,
        )

    def discover(self, session: SsoSession, on_progress: Callable[[int, int], None] | None = None) -> list[SsoAccount]:
        """Every account and role the signed-in user may use (blocking; see discovery.discover)."""
        accounts: list[SsoAccount] = self._with_token(
            session,
            "the IAM Identity Center portal (ListAccounts)",
            lambda portal, token: discover(portal, token, on_progress=on_progress),
        )
        return accounts

    def _with_token(
        self, session: SsoSession, what: str, call: Callable[[Any, str], Any], role: SsoTarget | None = None
    ) -> Any:
        """``call(portal, token)``; once more with a refreshed token when the portal refuses the token."""
        from botocore.exceptions import BotoCoreError, ClientError

        from stsdesk.core.sso.errors import SsoCallError

        portal = self.clients.portal(session.region, session.endpoint_url)
        token = self.tokens.access_token(session)
        for attempt in range(2):
            try:
                return call(portal, token)
            except (ClientError, BotoCoreError, SsoCallError) as exc:
                if (
                    is_unauthorized(exc)
                    or error_code(exc) == "UnauthorizedException"
                    or getattr(exc, "code", "") == "UnauthorizedException"
                ):
                    if attempt == 0:
                        token = self.tokens.access_token(session, force_refresh=True)
                        continue
                    raise SignInExpired(
                        f"IAM Identity Center refused the sign-in to {session.label} (revoked or ended); "
                        f"run: {session.login_command}"
                    ) from None
                if isinstance(exc, SsoCallError):
                    raise
                translated = translate(exc, what)
                if isinstance(translated, RoleNotAssigned) and role is not None:
                    raise RoleNotAssigned(
                        f"role {role.role_name} in account {role.account_id} is not assigned to you in IAM Identity "
                        f"Center ({session.label}): ask an administrator, or run stsdesk sso sync to see your roles",
                        translated.code,
                    ) from None
                raise translated from None
        raise AssertionError("unreachable")
