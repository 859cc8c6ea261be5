"""Who is behind a signed request: an IAM user, an account root, or a temporary session.

A ``Caller`` is immutable: built from the scenario for long-term (``AKIA``) keys (once per key, the state
keeps it) and from the sealed session token for temporary (``ASIA``) keys (on every request). It supplies
the global condition keys (``aws:*``) and evaluates the caller's identity policies, intersected with a
session policy when one was passed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from stsdesk.emulator.policy import (
    ContextValue,
    Decision,
    MatchedStatement,
    Policy,
    Principal,
    evaluate,
    intersect,
)
from stsdesk.emulator.policy import parse_policy as _parse_policy
from stsdesk.emulator.scenario import Scenario, stable_id
from stsdesk.emulator.sealing import encode_json, json_string
from stsdesk.emulator.xmlout import iso8601

KINDS = ("user", "root", "assumed-role", "federated-user", "session")

# The root user is not limited by identity policies (there are no SCPs in the emulator).
_ROOT_ALLOW = Decision(
    allowed=True,
    explicit_deny=False,
    matched=(MatchedStatement("root", "ALLOW", (), ("*",), ("*",), ()),),
)


@functools.lru_cache(maxsize=512)
def parse_cached(document: str) -> Policy:
    """Parse a policy document once per distinct text (session policies travel as JSON in tokens).

    Raises EmulatorError MalformedPolicyDocument like ``parse_policy``.
    """
    return _parse_policy(document)


@dataclass(frozen=True)
class Session:
    """Everything a sealed session token carries; ``to_payload``/``from_payload`` give its sealed form.

    ``base_arn`` is the identity whose policies apply: the role ARN for role sessions, the user (or root)
    ARN for GetSessionToken and GetFederationToken sessions.
    """

    kind: str
    arn: str
    account: str
    user_id: str
    base_arn: str
    access_key_id: str
    secret_access_key: str
    expiration: int  # epoch seconds
    issued_by: str  # the STS action that created the session
    session_policy: str | None = None
    mfa_authenticated: bool = False
    mfa_auth_time: int | None = None  # epoch seconds
    source_identity: str | None = None
    role_chained: bool = False
    tags: tuple[tuple[str, str], ...] = ()  # session tags, transitive ones included
    transitive_tag_keys: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "v": 1,
            "k": self.kind,
            "arn": self.arn,
            "acct": self.account,
            "uid": self.user_id,
            "base": self.base_arn,
            "akid": self.access_key_id,
            "sk": self.secret_access_key,
            "exp": self.expiration,
            "act": self.issued_by,
            "sp": self.session_policy,
            "mfa": self.mfa_authenticated,
            "mfat": self.mfa_auth_time,
            "si": self.source_identity,
            "chain": self.role_chained,
        }
        if self.tags:  # left out when empty: most tokens carry none and stay small
            payload["tags"] = [list(pair) for pair in self.tags]
            payload["tt"] = list(self.transitive_tag_keys)
        return payload

    def to_json(self) -> str:
        """``encode_json(self.to_payload())``, character for character. Written out with one f-string for the
        usual session (no tags, the declared field types): building the dict and running the encoder over it
        cost twice as much, once per issued session."""
        exp, mfat, mfa, chain = self.expiration, self.mfa_auth_time, self.mfa_authenticated, self.role_chained
        if (
            self.tags
            or type(exp) is not int
            or (mfat is not None and type(mfat) is not int)
            or type(mfa) is not bool
            or type(chain) is not bool
        ):
            return encode_json(self.to_payload())
        policy, si = self.session_policy, self.source_identity
        return (
            f'{{"v":1,"k":{json_string(self.kind)},"arn":{json_string(self.arn)},'
            f'"acct":{json_string(self.account)},"uid":{json_string(self.user_id)},'
            f'"base":{json_string(self.base_arn)},"akid":{json_string(self.access_key_id)},'
            f'"sk":{json_string(self.secret_access_key)},"exp":{exp},"act":{json_string(self.issued_by)},'
            f'"sp":{"null" if policy is None else json_string(policy)},"mfa":{"true" if mfa else "false"},'
            f'"mfat":{"null" if mfat is None else mfat},"si":{"null" if si is None else json_string(si)},'
            f'"chain":{"true" if chain else "false"}}}'
        )

    @classmethod
    def from_payload(cls, data: Mapping[str, object]) -> Session:
        """Rebuild from a sealed payload. Raises KeyError/TypeError/ValueError when fields are missing."""

        def text(key: str) -> str:
            value = data[key]
            if not isinstance(value, str):
                raise TypeError(key)
            return value

        def opt_text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        def opt_int(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        exp = opt_int("exp")
        if exp is None or text("k") not in KINDS:
            raise ValueError("bad session payload")
        raw_tags = data.get("tags", [])
        raw_tt = data.get("tt", [])
        if not isinstance(raw_tags, list) or not isinstance(raw_tt, list):
            raise TypeError("tags")
        tags = tuple((str(pair[0]), str(pair[1])) for pair in raw_tags if isinstance(pair, list) and len(pair) == 2)
        return cls(
            kind=text("k"),
            arn=text("arn"),
            account=text("acct"),
            user_id=text("uid"),
            base_arn=text("base"),
            access_key_id=text("akid"),
            secret_access_key=text("sk"),
            expiration=exp,
            issued_by=text("act"),
            session_policy=opt_text("sp"),
            mfa_authenticated=data.get("mfa") is True,
            mfa_auth_time=opt_int("mfat"),
            source_identity=opt_text("si"),
            role_chained=data.get("chain") is True,
            tags=tags,
            transitive_tag_keys=tuple(str(k) for k in raw_tt),
        )


@dataclass(frozen=True)
class Caller:
    """The identity behind a request. ``arn``/``account``/``user_id`` are what GetCallerIdentity answers;
    ``principal`` is matched against trust policies; ``issued_by`` is "" for long-term keys, else the STS
    action that created the temporary credentials."""

    kind: str
    arn: str
    account: str
    user_id: str
    principal: Principal
    policies: tuple[Policy, ...]
    session_policies: tuple[Policy, ...]
    temporary: bool
    role_chained: bool
    mfa_authenticated: bool
    mfa_auth_time: datetime | None
    source_identity: str | None
    expiration: datetime | None
    access_key_id: str
    base_arn: str = ""
    issued_by: str = ""
    username: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()

    @property
    def is_root(self) -> bool:
        return self.base_arn.endswith(":root") or self.kind == "root"

    @functools.cached_property
    def policies_context_free(self) -> bool:
        """Whether every identity and session policy is context-free (``Policy.context_free``): ``is_allowed``
        then answers the same whatever the context."""
        return all(policy.context_free for policy in self.policies + self.session_policies)

    def context(self, now: datetime, region: str, secure: bool) -> dict[str, ContextValue]:
        """The global condition keys (``aws:*``) this caller brings to any request made at ``now``."""
        ctx: dict[str, ContextValue] = {
            "aws:CurrentTime": iso8601(now),
            "aws:EpochTime": str(int(now.timestamp())),
            "aws:RequestedRegion": region,
            "aws:SecureTransport": "true" if secure else "false",
            "aws:PrincipalArn": self.base_arn if self.kind == "assumed-role" else (self.base_arn or self.arn),
            "aws:PrincipalAccount": self.account,
            "aws:userid": self.user_id,
            "aws:PrincipalType": _PRINCIPAL_TYPE.get(self.kind, "User"),
        }
        if self.kind == "federated-user":
            ctx["aws:PrincipalArn"] = self.arn
        if self.username is not None:
            ctx["aws:username"] = self.username
        # Long-term keys carry no MFA information at all; temporary ones say true or false.
        if self.temporary:
            ctx["aws:MultiFactorAuthPresent"] = "true" if self.mfa_authenticated else "false"
        if self.mfa_authenticated and self.mfa_auth_time is not None:
            ctx["aws:MultiFactorAuthAge"] = str(max(0, int((now - self.mfa_auth_time).total_seconds())))
        if self.source_identity is not None:
            ctx["aws:SourceIdentity"] = self.source_identity
        for key, value in self.tags:
            ctx[f"aws:PrincipalTag/{key}"] = value
        return ctx

    def is_allowed(self, action: str, resource: str, context: Mapping[str, ContextValue]) -> Decision:
        """Identity policies ∩ session policy for ``action`` on ``resource``. Root is allowed everything its
        session policy allows; a federated user's permissions are its policy ∩ the user's policies."""
        base = _ROOT_ALLOW if self.is_root else evaluate(self.policies, action, resource, context)
        if self.kind == "federated-user" and not self.session_policies:
            # GetFederationToken without a policy grants nothing (IAM user guide).
            return intersect([base, evaluate((), action, resource, context)])
        if not self.session_policies:
            return base
        return intersect([base, evaluate(self.session_policies, action, resource, context)])


_PRINCIPAL_TYPE = {
    "user": "User",
    "root": "Account",
    "assumed-role": "AssumedRole",
    "federated-user": "FederatedUser",
    "session": "User",
}


@functools.lru_cache(maxsize=1024)
def _user_id(user_arn: str) -> str:
    # A hash and a base32 per request otherwise; the id depends on the ARN alone.
    return stable_id("AIDA", user_arn)


def caller_for_key(scenario: Scenario, owner_arn: str, access_key_id: str) -> Caller:
    """The caller behind a long-term key owned by ``owner_arn`` (a user ARN or an account root ARN)."""
    account = owner_arn.split(":")[4]
    root = owner_arn.endswith(":root")
    user = None if root else scenario.user_by_arn(owner_arn)
    return Caller(
        kind="root" if root else "user",
        arn=owner_arn,
        account=account,
        user_id=account if root else _user_id(owner_arn),
        principal=Principal("AWS", frozenset({owner_arn}), account),
        policies=user.policies if user is not None else (),
        session_policies=(),
        temporary=False,
        role_chained=False,
        mfa_authenticated=False,
        mfa_auth_time=None,
        source_identity=None,
        expiration=None,
        access_key_id=access_key_id,
        base_arn=owner_arn,
        username=None if root else (user.name if user is not None else owner_arn.rsplit("/", 1)[-1]),
    )


def caller_for_session(scenario: Scenario, session: Session) -> Caller:
    """The caller behind temporary credentials. Policies are looked up afresh in the scenario, so a role
    removed from the scenario leaves its sessions with no permissions."""
    identifiers = {session.arn}
    policies: tuple[Policy, ...] = ()
    username: str | None = None
    if session.kind == "assumed-role":
        identifiers.add(session.base_arn)
        role = scenario.role_by_arn(session.base_arn)
        policies = role.policies if role is not None else ()
    elif not session.base_arn.endswith(":root"):
        user = scenario.user_by_arn(session.base_arn)
        policies = user.policies if user is not None else ()
        if session.kind == "session":
            username = user.name if user is not None else session.base_arn.rsplit("/", 1)[-1]
    session_policies = (parse_cached(session.session_policy),) if session.session_policy else ()
    mfa_time = (
        datetime.fromtimestamp(session.mfa_auth_time, UTC) if session.mfa_auth_time is not None else None
    )
    return Caller(
        kind=session.kind,
        arn=session.arn,
        account=session.account,
        user_id=session.user_id,
        principal=Principal("AWS", frozenset(identifiers), session.account),
        policies=policies,
        session_policies=session_policies,
        temporary=True,
        role_chained=session.role_chained,
        mfa_authenticated=session.mfa_authenticated,
        mfa_auth_time=mfa_time,
        source_identity=session.source_identity,
        expiration=datetime.fromtimestamp(session.expiration, UTC),
        access_key_id=session.access_key_id,
        base_arn=session.base_arn,
        issued_by=session.issued_by,
        username=username,
        tags=session.tags,
        transitive_tag_keys=session.transitive_tag_keys,
    )
