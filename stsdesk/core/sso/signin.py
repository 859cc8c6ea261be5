"""An interactive IAM Identity Center sign-in: PKCE with a loopback redirect (default) or the device code.

The flow object is the API for the CLI and the GUI alike (no Qt, no browser code here): construct a
:class:`SignIn`, subscribe with ``on_event``, ``await sign_in.run()``, call ``cancel()`` from anywhere
(any thread) to stop it. Events, in order: ``OPEN_URL`` (the page to open: the caller opens the browser or
prints it), ``USER_CODE`` (device flow: the code to show the user, always), ``WAITING`` (until when),
then ``DONE`` or ``FAILED`` (a one-line message). Blocking boto3 calls run in the default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from stsdesk.core.errors import StsdeskError
from stsdesk.core.sso.client import error_code, translate
from stsdesk.core.sso.config import DEFAULT_SCOPE, SsoSession
from stsdesk.core.sso.errors import SignInCancelled, SignInDenied, SignInFailed, SignInTimedOut
from stsdesk.core.sso.loopback import (
    REDIRECT_WITHOUT_PORT,
    CallbackResult,
    LoopbackServer,
    code_challenge,
    code_verifier,
)
from stsdesk.core.sso.token_cache import format_time
from stsdesk.core.sso.tokens import SsoTokens, TokenState

log = logging.getLogger(__name__)
T = TypeVar("T")

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
AUTH_GRANTS = ["authorization_code", "refresh_token"]
BROWSER_TIMEOUT = 600.0  # how long the PKCE flow waits for the browser to come back (the AWS CLI's 10 min)
SLOW_DOWN_STEP = 5.0


class EventKind(enum.Enum):
    OPEN_URL = "open-url"
    USER_CODE = "user-code"
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class SignInEvent:
    """One step of a sign-in, for the UI. Never carries a token (the URL and user code are not secrets
    that grant access on their own: the user still has to approve in the browser)."""

    kind: EventKind
    session: SsoSession
    url: str | None = None
    user_code: str | None = None
    until: datetime | None = None  # WAITING: when the attempt expires; DONE: when the access token expires
    message: str | None = None  # FAILED: one line


class SignIn:
    """One sign-in attempt for ``session``; see the module docstring. Use each instance once."""

    def __init__(
        self,
        session: SsoSession,
        tokens: SsoTokens,
        *,
        device_code: bool = False,
        browser_timeout: float = BROWSER_TIMEOUT,
    ) -> None:
        self.session = session
        self.tokens = tokens
        # A legacy start-URL profile has no session name: the AWS CLI signs those in with the device code.
        self.device_code = device_code or session.legacy
        self.browser_timeout = browser_timeout
        self._listeners: list[Callable[[SignInEvent], None]] = []
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelled = False

    def on_event(self, callback: Callable[[SignInEvent], None]) -> None:
        """Call ``callback(event)`` for every event, on the event loop's thread."""
        self._listeners.append(callback)

    def _emit(self, kind: EventKind, **fields: Any) -> None:
        event = SignInEvent(kind, self.session, **fields)
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:  # a broken listener must not break the sign-in
                log.exception("sign-in listener failed")

    def cancel(self) -> None:
        """Stop the sign-in at any point (thread-safe); ``run()`` then raises SignInCancelled."""
        self._cancelled = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not task.done():
            loop.call_soon_threadsafe(task.cancel)

    async def run(self) -> TokenState:
        """Sign in and write the token; returns the new sign-in state.

        Raises SignInCancelled, SignInDenied (denied in the browser), SignInTimedOut (code expired or the
        browser never came back), SsoCallError/NetworkError/Throttled for service failures,
        TokenCacheCorrupt when the token cannot be written. A FAILED event precedes every raise.
        """
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        try:
            if self._cancelled:
                raise asyncio.CancelledError
            state = await (self._device() if self.device_code else self._pkce())
        except asyncio.CancelledError:
            error: StsdeskError = SignInCancelled("sign-in cancelled")
            self._emit(EventKind.FAILED, message=str(error))
            raise error from None
        except StsdeskError as exc:
            self._emit(EventKind.FAILED, message=str(exc))
            raise
        except OSError as exc:  # the loopback server could not listen, a token file could not be written
            failure = SignInFailed(f"the sign-in to {self.session.label} failed ({exc.strerror or type(exc).__name__})")
            self._emit(EventKind.FAILED, message=str(failure))
            raise failure from None
        self._emit(EventKind.DONE, until=state.access_expires)
        return state

    # -- plumbing ------------------------------------------------------------------------------------------

    async def _call(self, what: str, func: Callable[..., T], **kwargs: Any) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, lambda: func(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, what) from None

    def _what(self, operation: str) -> str:
        return f"IAM Identity Center sign-in ({self.session.region}, {operation})"

    def _now(self) -> datetime:
        return self.tokens.now()

    async def _register(self, auth_code: bool, redirect: str | None = None) -> dict[str, Any]:
        cached = self.tokens.registration(self.session, auth_code)
        if cached is not None:
            return cached
        oidc = self.tokens.clients.oidc(self.session.region, self.session.endpoint_url)
        scopes = list(self.session.scopes)
        name = self.session.name if self.session.name is not None else str(int(self._now().timestamp()))
        kwargs: dict[str, Any] = {"clientName": f"botocore-client-{name}", "clientType": "public"}
        if auth_code:
            scopes = scopes or [DEFAULT_SCOPE]
            kwargs.update(grantTypes=AUTH_GRANTS, redirectUris=[redirect], issuerUrl=self.session.api_start_url)
        elif not self.session.legacy:
            scopes = scopes or [DEFAULT_SCOPE]  # a refresh token, so the sign-in outlives one access token
        if scopes:
            kwargs["scopes"] = scopes
        response = await self._call(self._what("RegisterClient"), oidc.register_client, **kwargs)
        expires = datetime.fromtimestamp(int(response["clientSecretExpiresAt"]), UTC)
        registration: dict[str, Any] = {
            "clientId": response["clientId"],
            "clientSecret": response["clientSecret"],
            "expiresAt": format_time(expires),
        }
        if scopes:
            registration["scopes"] = scopes
        if auth_code:
            registration["grantTypes"] = AUTH_GRANTS
        await asyncio.get_running_loop().run_in_executor(
            None, self.tokens.save_registration, self.session, registration
        )
        return registration

    async def _save(self, response: dict[str, Any], registration: dict[str, Any]) -> TokenState:
        return await asyncio.get_running_loop().run_in_executor(
            None, self.tokens.save_sign_in, self.session, response, registration
        )

    # -- device code ---------------------------------------------------------------------------------------

    async def _device(self) -> TokenState:
        registration = await self._register(auth_code=False)
        oidc = self.tokens.clients.oidc(self.session.region, self.session.endpoint_url)
        start = await self._call(
            self._what("StartDeviceAuthorization"),
            oidc.start_device_authorization,
            clientId=registration["clientId"],
            clientSecret=registration["clientSecret"],
            startUrl=self.session.api_start_url,
        )
        deadline = self._now() + timedelta(seconds=int(start.get("expiresIn") or 600))
        url = start.get("verificationUriComplete") or start["verificationUri"]
        self._emit(EventKind.OPEN_URL, url=url)
        self._emit(EventKind.USER_CODE, user_code=start["userCode"], url=start["verificationUri"])
        self._emit(EventKind.WAITING, until=deadline)
        interval = float(start.get("interval") or 5)
        from botocore.exceptions import ClientError

        while True:
            await asyncio.sleep(interval)
            try:
                response = await asyncio.get_running_loop().run_in_executor(
                    None,
                    lambda: oidc.create_token(
                        grantType=DEVICE_GRANT,
                        clientId=registration["clientId"],
                        clientSecret=registration["clientSecret"],
                        deviceCode=start["deviceCode"],
                    ),
                )
            except ClientError as exc:
                code = error_code(exc)
                if code == "AuthorizationPendingException":
                    if self._now() < deadline:
                        continue
                    raise SignInTimedOut(self._expired_message()) from None
                if code == "SlowDownException":
                    interval += SLOW_DOWN_STEP
                    continue
                if code == "ExpiredTokenException":
                    raise SignInTimedOut(self._expired_message()) from None
                if code == "AccessDeniedException":
                    raise SignInDenied(f"the sign-in to {self.session.label} was denied in the browser") from None
                raise translate(exc, self._what("CreateToken")) from None
            except Exception as exc:
                raise translate(exc, self._what("CreateToken")) from None
            return await self._save(response, registration)

    def _expired_message(self) -> str:
        return (
            f"the sign-in code for {self.session.label} expired before it was approved; "
            f"run {self.session.login_command} again"
        )

    # -- authorization code with PKCE ----------------------------------------------------------------------

    async def _pkce(self) -> TokenState:
        registration = await self._register(auth_code=True, redirect=REDIRECT_WITHOUT_PORT)
        loop = asyncio.get_running_loop()
        result: asyncio.Future[CallbackResult] = loop.create_future()

        def deliver(found: CallbackResult) -> None:
            def settle() -> None:
                if not result.done():
                    result.set_result(found)

            loop.call_soon_threadsafe(settle)

        state = str(uuid.uuid4())
        verifier = code_verifier()
        server = LoopbackServer(state, deliver)
        try:
            base = await self._call(
                self._what("authorize"),
                self.tokens.clients.oidc_base_url,
                region=self.session.region,
                endpoint=self.session.endpoint_url,
            )
            query = urllib.parse.urlencode(
                {
                    "response_type": "code",
                    "client_id": registration["clientId"],
                    "redirect_uri": server.redirect_uri,
                    "state": state,
                    "code_challenge_method": "S256",
                    "scopes": " ".join(registration.get("scopes") or self.session.scopes or [DEFAULT_SCOPE]),
                },
                quote_via=urllib.parse.quote,
            )
            url = f"{base}/authorize?{query}&code_challenge={code_challenge(verifier)}"
            deadline = self._now() + timedelta(seconds=self.browser_timeout)
            self._emit(EventKind.OPEN_URL, url=url)
            self._emit(EventKind.WAITING, until=deadline)
            try:
                found = await asyncio.wait_for(result, self.browser_timeout)
            except TimeoutError:
                minutes = max(1, round(self.browser_timeout / 60))
                raise SignInTimedOut(
                    f"the browser did not come back within {minutes} min; run {self.session.login_command} again "
                    "(or add --device-code to sign in on another device)"
                ) from None
        finally:
            with contextlib.suppress(Exception):
                await loop.run_in_executor(None, server.close)
        if found.error is not None:
            if found.error == "access_denied":
                raise SignInDenied(f"the sign-in to {self.session.label} was denied in the browser")
            raise SignInFailed(f"the sign-in to {self.session.label} failed in the browser ({found.error})")
        oidc = self.tokens.clients.oidc(self.session.region, self.session.endpoint_url)
        from botocore.exceptions import ClientError

        try:
            response = await loop.run_in_executor(
                None,
                lambda: oidc.create_token(
                    grantType="authorization_code",
                    clientId=registration["clientId"],
                    clientSecret=registration["clientSecret"],
                    redirectUri=server.redirect_uri,
                    codeVerifier=verifier,
                    code=found.code,
                ),
            )
        except ClientError as exc:
            if error_code(exc) == "ExpiredTokenException":
                raise SignInTimedOut(self._expired_message()) from None
            raise translate(exc, self._what("CreateToken")) from None
        except Exception as exc:
            raise translate(exc, self._what("CreateToken")) from None
        return await self._save(response, registration)
