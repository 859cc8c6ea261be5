"""The Identity Center portal API (rest-json, bearer token in ``x-amz-sso_bearer_token``): ListAccounts,
ListAccountRoles, GetRoleCredentials, Logout.

GetRoleCredentials issues an ordinary emulator role session of the assignment's ``AWSReservedSSO_*`` role,
named after the user, so STS (GetCallerIdentity, AssumeRole chains), EC2 and DecodeAuthorizationMessage
treat it like any other role session. Errors: ``{"message", "__type"}`` with the ``x-amzn-ErrorType``
header; 401 UnauthorizedException for a missing, expired or logged-out token, 403 ForbiddenException
"No access" for a role that is not assigned, 400 InvalidRequestException for bad parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from stsdesk.emulator.sealing import SealError
from stsdesk.emulator.sso_records import SignIn
from stsdesk.emulator.sso_scenario import SSO_SCOPE
from stsdesk.emulator.sso_state import SsoState
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.sts_common import assumed_role_arn
from stsdesk.emulator.wire import Request, Response

PAGE_PURPOSE = "sso-page-token"
DEFAULT_PAGE = 20
MAX_PAGE = 100
_ACCOUNT = re.compile(r"[0-9]{12}")
_SMALL_NUMBER = re.compile(r"[0-9]{1,3}")
_T = TypeVar("_T")


class PortalError(Exception):
    """A portal error: ``code`` as botocore reports it, ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _unauthorized() -> PortalError:
    return PortalError("UnauthorizedException", "Session token not found or invalid", 401)


def _bad(message: str) -> PortalError:
    return PortalError("InvalidRequestException", message, 400)


def portal_error_response(exc: PortalError, request_id: str) -> Response:
    """The portal's error document (``message``, ``__type``) with the ``x-amzn-ErrorType`` header."""
    body = {"message": exc.message, "__type": f"com.amazonaws.switchboard.portal#{exc.code}"}
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", exc.code)]
    return Response(exc.status, json.dumps(body).encode(), content_type="application/json", headers=headers)


class Portal:
    """The portal routes over one SsoState and the emulator state that issues role sessions."""

    def __init__(self, state: EmulatorState, sso: SsoState) -> None:
        self.state = state
        self.sso = sso

    def _serve(self, request: Request, method: str, work: Any) -> Response:
        try:
            if request.method != method:
                raise _bad(f"{request.method} is not allowed here; use {method}")
            sign_in = self._sign_in(request)
            params = request.form() if method == "GET" else {}
            body = work(sign_in, params)
        except PortalError as exc:
            return portal_error_response(exc, request.request_id)
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("x-amzn-RequestId", request.request_id)]
        return Response(200, payload, content_type="application/json", headers=headers)

    def _sign_in(self, request: Request) -> SignIn:
        token = request.header("x-amz-sso_bearer_token") or ""
        sign_in = self.sso.sign_in_for_access_token(token.strip())
        if sign_in is None or (sign_in.scopes and SSO_SCOPE not in sign_in.scopes):
            raise _unauthorized()
        return sign_in

    def list_accounts(self, request: Request) -> Response:
        """GET /assignment/accounts (ListAccounts)."""
        return self._serve(request, "GET", self._accounts)

    def list_account_roles(self, request: Request) -> Response:
        """GET /assignment/roles (ListAccountRoles); roles are named by permission set."""
        return self._serve(request, "GET", self._roles)

    def get_role_credentials(self, request: Request) -> Response:
        """GET /federation/credentials (GetRoleCredentials)."""
        return self._serve(request, "GET", self._credentials)

    def logout(self, request: Request) -> Response:
        """POST /logout (Logout): ends the sign-in."""
        def work(sign_in: SignIn, params: dict[str, str]) -> None:
            self.sso.logout(sign_in)

        return self._serve(request, "POST", work)

    # ---------------------------------------------------------------------------------- operations

    def _accounts(self, sign_in: SignIn, params: dict[str, str]) -> dict[str, Any]:
        accounts = self.sso.center.accounts_of.get(sign_in.user, [])
        page, next_token = self._page(accounts, params, sign_in, "accounts")
        listed = [
            {"accountId": a.id, "accountName": a.display_name, "emailAddress": a.email or f"aws-{a.id}@example.com"}
            for a in page
        ]
        return _with_next({"accountList": listed}, next_token)

    def _roles(self, sign_in: SignIn, params: dict[str, str]) -> dict[str, Any]:
        account = _account_id(params)
        roles = self.sso.center.roles_of.get((sign_in.user, account), [])
        page, next_token = self._page(roles, params, sign_in, f"roles/{account}")
        # roleName is the permission set's name ("ReadOnly"); the IAM role behind it is AWSReservedSSO_*.
        return _with_next({"roleList": [{"roleName": p.name, "accountId": account} for _, p in page]}, next_token)

    def _credentials(self, sign_in: SignIn, params: dict[str, str]) -> dict[str, Any]:
        account = _account_id(params)
        name = params.get("role_name", "")
        if not name:
            raise _bad("role_name is required")
        found = self.sso.center.role_for(sign_in.user, account, name)
        if found is None:
            raise PortalError("ForbiddenException", "No access", 403)
        role, pset = found
        creds, _ = self.state.issue_session(
            kind="assumed-role",
            arn=assumed_role_arn(role, sign_in.user),
            account=role.account,
            user_id=f"{role.unique_id}:{sign_in.user}",
            base_arn=role.arn,
            duration_seconds=pset.session_duration,
            # Identity Center federates into the role with SAML: the console treats it as a role session.
            issued_by="AssumeRoleWithSAML",
        )
        return {
            "roleCredentials": {
                "accessKeyId": creds.access_key_id,
                "secretAccessKey": creds.secret_access_key,
                "sessionToken": creds.session_token,
                "expiration": int(creds.expiration.timestamp()) * 1000,
            }
        }

    def _page(
        self, items: Sequence[_T], params: dict[str, str], sign_in: SignIn, kind: str
    ) -> tuple[Sequence[_T], str | None]:
        raw_max = params.get("max_result")
        size = DEFAULT_PAGE
        if raw_max is not None:
            if not _SMALL_NUMBER.fullmatch(raw_max) or not 1 <= int(raw_max) <= MAX_PAGE:
                raise _bad(f"max_result must be a whole number from 1 to {MAX_PAGE}")
            size = int(raw_max)
        offset = 0
        token = params.get("next_token")
        if token:
            try:
                data = self.state.sealer.unseal(PAGE_PURPOSE, token)
            except SealError:
                raise _bad("Invalid next_token") from None
            if data.get("user") != sign_in.user or data.get("kind") != kind or not isinstance(data.get("at"), int):
                raise _bad("Invalid next_token")
            offset = data["at"]
        end = offset + size
        following = None
        if end < len(items):
            following = self.state.sealer.seal(PAGE_PURPOSE, {"user": sign_in.user, "kind": kind, "at": end})
        return items[offset:end], following


def _account_id(params: dict[str, str]) -> str:
    account = params.get("account_id", "")
    if not _ACCOUNT.fullmatch(account):
        raise _bad("account_id must be a 12-digit AWS account id")
    return account


def _with_next(body: dict[str, Any], next_token: str | None) -> dict[str, Any]:
    if next_token is not None:
        body["nextToken"] = next_token
    return body
