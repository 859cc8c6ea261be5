"""Plain data the engine, the CLI and the GUI share. No behaviour beyond small derived properties."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class CredentialKind(enum.Enum):
    """Where a set of credentials came from; decides what they may be used for (console, chaining)."""

    LONG_TERM = "long-term"
    SESSION_TOKEN = "session-token"  # GetSessionToken (usually with MFA)
    ASSUMED_ROLE = "assumed-role"  # AssumeRole from long-term keys or an MFA session
    CHAINED_ROLE = "chained-role"  # AssumeRole from role credentials: capped at one hour
    FEDERATION_TOKEN = "federation-token"
    SAML = "saml"
    WEB_IDENTITY = "web-identity"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expiration: datetime | None  # tz-aware UTC; None for long-term keys
    kind: CredentialKind
    region: str | None = None

    def seconds_left(self, now: datetime | None = None) -> float | None:
        """Seconds until expiry from the wall clock (None for long-term keys)."""
        if self.expiration is None:
            return None
        current = now if now is not None else datetime.now(UTC)
        return (self.expiration - current).total_seconds()

    def __repr__(self) -> str:  # never print secrets by accident
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, kind={self.kind.value}, "
            f"expiration={self.expiration.isoformat() if self.expiration else None})"
        )


class ProfileKind(enum.Enum):
    """What a profile in the tree is, by how its credentials are obtained."""

    IAM_USER = "iam-user"  # long-term keys (keyring or credentials file)
    ROLE = "role"  # AssumeRole from source_profile
    SAML_ROLE = "saml-role"
    WEB_IDENTITY_ROLE = "web-identity-role"
    FEDERATED_USER = "federated-user"  # GetFederationToken from an IAM user's keys
    CREDENTIAL_PROCESS = "credential-process"  # an external credential_process (read-only to us)
    SSO = "sso"  # IAM Identity Center: GetRoleCredentials with a sign-in token
    OTHER = "other"  # nothing we can use


@dataclass(frozen=True)
class Profile:
    """One profile from the AWS config files (or stsdesk's own state), resolved but not yet assumed.

    ``source`` is the name of the profile it is assumed from; ``chain`` the names from the root source down to
    this profile (inclusive). ``error`` is set when the profile is unusable (missing source, cycle) so that the
    rest of the tree still works.
    """

    name: str
    kind: ProfileKind
    region: str | None = None
    source: str | None = None
    role_arn: str | None = None
    mfa_serial: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    duration_seconds: int | None = None
    source_identity: str | None = None
    endpoint_url: str | None = None
    sts_regional_endpoints: str | None = None
    credential_process: str | None = None
    web_identity_token_file: str | None = None
    saml_principal_arn: str | None = None
    saml_assertion_file: str | None = None
    access_key_id: str | None = None  # long-term key id (secret lives in the keyring or credentials file)
    federation_endpoint: str | None = None  # stsdesk_federation_endpoint
    federation_policy: str | None = None  # stsdesk_federation_policy (GetFederationToken)
    federation_name: str | None = None  # stsdesk_federation_name
    sso_session: str | None = None  # IAM Identity Center: [sso-session NAME] ...
    sso_account_id: str | None = None
    sso_role_name: str | None = None
    sso_start_url: str | None = None  # ... or the legacy form with start URL and region on the profile
    sso_region: str | None = None
    chain: tuple[str, ...] = ()
    error: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def account_id(self) -> str | None:
        """The account this profile's credentials belong to, when the config says (role ARN, SSO account)."""
        arn = self.role_arn
        if not arn:
            return self.sso_account_id
        if arn:
            parts = arn.split(":")
            if len(parts) >= 6 and parts[4].isdigit():
                return parts[4]
        return None

    @property
    def needs_mfa(self) -> bool:
        return self.mfa_serial is not None


@dataclass(frozen=True)
class Identity:
    """GetCallerIdentity's answer."""

    account: str
    arn: str
    user_id: str
