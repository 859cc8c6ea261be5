"""The browser side of Identity Center sign-in: the device verification page, the PKCE authorize page, and
``POST /_stsdesk/sso-approve`` that tests and the demo use instead of a person.

Plain HTML forms (no script), so a person can sign in from any real browser: choose a scenario user, then
Allow or Deny. ``GET /authorize`` checks the client and its redirect URI first (an unknown client or a
redirect URI that does not match the registration gets an error page, never a redirect); other problems
are sent back to the redirect URI as ``error=...&state=...``, as OAuth requires.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from urllib.parse import urlencode

from stsdesk.emulator.sso_oidc import redirect_matches
from stsdesk.emulator.sso_records import AuthorizeRequest, OidcError
from stsdesk.emulator.sso_state import SsoState
from stsdesk.emulator.wire import Request, Response

_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_STYLE = (
    "body{font-family:sans-serif;margin:3em auto;max-width:36em;padding:0 1em}"
    "label{display:block;margin:1em 0 .3em}input,select{font-size:1.2em;padding:.2em}"
    "button{font-size:1.1em;margin:1.2em 1em 0 0;padding:.4em 1.4em}code{background:#eee;padding:0 .3em}"
    ".muted{color:#666}"
)


def page(status: int, title: str, body_html: str) -> Response:
    """A small HTML page; ``title`` is escaped here, ``body_html`` must already be."""
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body_html}</body></html>"
    )
    return Response(status, doc.encode(), content_type="text/html; charset=utf-8")


def with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` appended to its query string."""
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _redirect(location: str, status: int = 302, body: bytes = b"", content_type: str = "text/plain") -> Response:
    return Response(status, body, content_type=content_type, headers=[("Location", location)])


def _json(status: int, body: dict[str, object], headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), content_type="application/json", headers=headers or [])


class SignInPages:
    """``/device``, ``/authorize``, ``/authorize/confirm`` and ``/_stsdesk/sso-approve``."""

    def __init__(self, sso: SsoState, base_url: Callable[[Request], str]) -> None:
        self.sso = sso
        self.base_url = base_url

    def _user_select(self) -> str:
        options = "".join(
            f"<option value='{html.escape(u)}'>{html.escape(u)}</option>" for u in self.sso.center.users
        )
        return f"<label for='user'>Sign in as</label><select id='user' name='user'>{options}</select>"

    def _buttons(self) -> str:
        return (
            "<div><button type='submit' name='decision' value='allow'>Allow</button>"
            "<button type='submit' name='decision' value='deny'>Deny</button></div>"
        )

    def _user(self, params: dict[str, str]) -> str | None:
        user = params.get("user", "")
        return user if user in self.sso.center.users else None

    # --------------------------------------------------------------------------------- device flow

    def device(self, request: Request) -> Response:
        """GET: the form (``?user_code=`` prefills it); POST: allow or deny that code."""
        params = request.form()
        if request.method == "POST":
            return self._device_decision(params)
        code = html.escape(params.get("user_code", "")[:20])
        return page(
            200,
            "Authorize request",
            f"<p class='muted'>{html.escape(self.sso.center.start_url)}</p>"
            "<form method='post' action='/device'>"
            "<label for='user_code'>Code shown by your application</label>"
            f"<input id='user_code' name='user_code' value='{code}' autocomplete='off' required>"
            f"{self._user_select()}{self._buttons()}</form>",
        )

    def _device_decision(self, params: dict[str, str]) -> Response:
        device = self.sso.device_for_user_code(params.get("user_code", ""))
        if device is None:
            return page(400, "Code not recognised", "<p>The code is wrong, expired or already used. "
                        "Start the sign-in again in your application.</p><p><a href='/device'>Back</a></p>")
        allow = params.get("decision") != "deny"
        user = self._user(params)
        if allow and user is None:
            return page(400, "Unknown user", "<p>Choose one of the scenario's users.</p>")
        self.sso.decide_device(device, user, allow)
        if not allow:
            return page(200, "Request denied", "<p>The application was not given access. You can close this "
                        "window.</p>")
        return page(200, "Request approved", f"<p>Signed in as <code>{html.escape(user or '')}</code>. "
                    "You can close this window and return to your application.</p>")

    # ----------------------------------------------------------------------------------- PKCE flow

    def authorize(self, request: Request) -> Response:
        """GET /authorize: validate the request, remember it, send the browser to the confirm page."""
        params = request.form()
        try:
            reg = self.sso.client(params.get("client_id", ""), None)
        except OidcError as exc:
            return page(400, "Invalid request", f"<p>{html.escape(exc.description)}.</p>")
        redirect_uri = params.get("redirect_uri", "")
        if not any(redirect_matches(r, redirect_uri) for r in reg.redirect_uris):
            return page(400, "Invalid redirect URI", f"<p><code>{html.escape(redirect_uri[:300])}</code> is not "
                        "a redirect URI registered for this client.</p>")
        state = params.get("state", "")

        def fail(error: str, description: str) -> Response:
            query = {"error": error, "error_description": description, "state": state}
            return _redirect(with_query(redirect_uri, query))

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        if "authorization_code" not in reg.grant_types:
            return fail("unauthorized_client", "This client is not registered for the authorization_code grant")
        challenge = params.get("code_challenge", "").rstrip("=")
        if params.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge):
            return fail("invalid_request", "A code_challenge with code_challenge_method S256 is required")
        scopes = (params.get("scopes") or params.get("scope") or "").split() or list(reg.scopes)
        if any(scope not in reg.scopes for scope in scopes):
            return fail("invalid_scope", "Scopes must be a subset of the client registration's")
        req = self.sso.open_authorize_request(reg, redirect_uri, state, challenge, scopes)
        return _redirect(f"{self.base_url(request)}/authorize/confirm?{urlencode({'request': req.request_id})}")

    def confirm(self, request: Request) -> Response:
        """GET: the allow/deny page of one authorize request; POST: the decision, then back to the client."""
        params = request.form()
        req = self.sso.authorize_request(request_id=params.get("request", ""))
        if req is None:
            return page(400, "Request expired", "<p>This sign-in request is unknown, expired or already "
                        "answered. Start the sign-in again in your application.</p>")
        if request.method == "POST":
            allow = params.get("decision") != "deny"
            user = self._user(params)
            if allow and user is None:
                return page(400, "Unknown user", "<p>Choose one of the scenario's users.</p>")
            return _redirect(self._decide(req, user, allow), status=303)
        scopes = ", ".join(f"<code>{html.escape(s)}</code>" for s in req.scopes) or "none"
        return page(
            200,
            "Allow access?",
            f"<p><code>{html.escape(req.client_name)}</code> asks to use your AWS access "
            f"({html.escape(self.sso.center.start_url)}; scopes {scopes}).</p>"
            "<form method='post' action='/authorize/confirm'>"
            f"<input type='hidden' name='request' value='{html.escape(req.request_id)}'>"
            f"{self._user_select()}{self._buttons()}</form>",
        )

    def _decide(self, req: AuthorizeRequest, user: str | None, allow: bool) -> str:
        code = self.sso.decide_authorize(req, user, allow)
        if code is None:
            query = {"error": "access_denied", "error_description": "The user denied the request", "state": req.state}
        else:
            query = {"code": code, "state": req.state}
        return with_query(req.redirect_uri, query)

    # ------------------------------------------------------------------------------- test/demo aid

    def approve(self, request: Request) -> Response:
        """POST /_stsdesk/sso-approve (form: ``user_code`` or ``state``, ``user``, optional ``deny=1``).

        A device code: 200 JSON ``{"approved", "user"}``. A PKCE ``state``: 303 to the client's redirect URI
        with the code (or ``error=access_denied``), the JSON body naming it as ``redirect``, so the caller
        plays the browser by following it. 400 for an unknown user, 404 when nothing waits for that code.
        """
        if request.method != "POST":
            return _json(405, {"error": "Use POST with form fields user_code or state, user, deny"})
        params = request.form()
        allow = params.get("deny", "") not in ("1", "true", "yes")
        user = self._user(params)
        if allow and user is None:
            users = ", ".join(self.sso.center.users)
            return _json(400, {"error": f"user must be one of the Identity Center users: {users}"})
        if params.get("user_code"):
            device = self.sso.device_for_user_code(params["user_code"])
            if device is None:
                return _json(404, {"error": "No pending sign-in has that user code (wrong, expired or used)"})
            self.sso.decide_device(device, user, allow)
            return _json(200, {"approved": allow, "user": user, "user_code": device.user_code})
        if params.get("state"):
            req = self.sso.authorize_request(state=params["state"])
            if req is None:
                return _json(404, {"error": "No pending authorize request has that state (wrong, expired or used)"})
            location = self._decide(req, user, allow)
            return _json(303, {"approved": allow, "user": user, "redirect": location}, [("Location", location)])
        return _json(400, {"error": "Give user_code (device flow) or state (authorization code flow)"})
