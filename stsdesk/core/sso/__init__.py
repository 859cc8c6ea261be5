"""IAM Identity Center (SSO): sign-in sessions, the shared token cache, sign-in flows, discovery, sync.

For the rest of stsdesk (CLI, GUI, broker) the entry point is :class:`stsdesk.core.sso.service.SsoService`
(one per config directory; give it to the broker with ``broker.sso = service``):

- ``sessions(tree)`` / ``session(tree, name)``: :class:`~stsdesk.core.sso.config.SsoSession` objects;
  ``status(session)``: :class:`~stsdesk.core.sso.tokens.TokenState` (signed in, access token expiry,
  ``sign_in_ends()``, ``problem``); ``signed_in_user(tree, session, broker.cache.sessions())``.
- ``sign_in(session, device_code=False)``: a :class:`~stsdesk.core.sso.signin.SignIn` flow object:
  ``on_event(callback)`` (OPEN_URL, USER_CODE, WAITING, DONE, FAILED), ``await run()``, ``cancel()``.
- Blocking (run them in an executor): ``discover(session, on_progress)``, ``role_credentials(target)``,
  ``sign_out(session, tree, forget=broker.forget)``; :mod:`stsdesk.core.sso.sync` plans and writes profiles.

Nothing in this package imports Qt; boto3/botocore are imported only inside the functions that call AWS.
"""
