"""IAM Identity Center (SSO): sign-in sessions, the shared token cache, sign-in flows, discovery, sync.

Entry point for the rest of stsdesk: :class:`stsdesk.core.sso.service.SsoService`. Sign-in flow for UIs:
:class:`stsdesk.core.sso.signin.SignIn` (events, ``cancel()``). Nothing in this package imports Qt, and
boto3/botocore are imported only inside the functions that call AWS.
"""
