"""IAM policy documents: parsing, evaluation, trust evaluation and session-policy intersection.

Written by hand: no maintained Python library evaluates IAM policies. Condition operators, wildcard
patterns and policy variables live in :mod:`stsdesk.emulator.conditions`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from stsdesk.emulator.conditions import Condition, Context, ContextValue, Pattern, UnresolvedVariable
from stsdesk.emulator.errors import EmulatorError

__all__ = [
    "ContextValue",
    "Decision",
    "MatchedStatement",
    "Policy",
    "Principal",
    "Statement",
    "TrustVerdict",
    "evaluate",
    "evaluate_trust",
    "intersect",
    "parse_policy",
]

SYNTAX_ERROR = "Syntax errors in policy."
_VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_LEVEL = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                   "NotResource", "Condition"}
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")


@dataclass(frozen=True)
class Principal:
    """Who is asking, for Principal/NotPrincipal matching in trust and resource policies.

    ``identifiers`` holds every value a policy may name to match this caller exactly: a user ARN; for an
    assumed-role session both the session ARN and the role ARN; a service name; a provider ARN.
    ``account`` is the owning account of an AWS principal (for ``arn:aws:iam::ACCT:root`` / ``ACCT``).
    """

    type: str
    identifiers: frozenset[str]
    account: str | None = None


@dataclass(frozen=True)
class Statement:
    """One compiled policy statement. ``principal``/``not_principal`` are (type, value) pairs, type "*"
    for the bare ``"Principal": "*"``; None when the element is absent."""

    sid: str
    effect: str  # "Allow" | "Deny"
    principal: tuple[tuple[str, str], ...] | None
    not_principal: tuple[tuple[str, str], ...] | None
    action: tuple[str, ...] | None
    not_action: tuple[str, ...] | None
    resource: tuple[str, ...] | None
    not_resource: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    _actions: tuple[Pattern, ...] = field(compare=False, repr=False, default=())
    _resources: tuple[Pattern, ...] = field(compare=False, repr=False, default=())
    _matched: list[MatchedStatement] = field(compare=False, repr=False, default_factory=list)

    def matched(self) -> MatchedStatement:
        """This statement as reported in a Decision (built once: every evaluation that matches asks)."""
        if self._matched:
            return self._matched[0]
        principals = self.principal if self.principal is not None else (self.not_principal or ())
        matched = MatchedStatement(
            sid=self.sid,
            effect=self.effect.upper(),
            principals=tuple(value for _, value in principals),
            actions=self.action if self.action is not None else (self.not_action or ()),
            resources=self.resource if self.resource is not None else (self.not_resource or ()),
            conditions=tuple((c.operator, c.key, c.values) for c in self.conditions),
        )
        if not self._matched:  # two threads may both build it; either copy is the same value
            self._matched.append(matched)
        return matched


_Outcome = tuple[tuple["MatchedStatement", ...], tuple["MatchedStatement", ...], frozenset[str]]


@dataclass(frozen=True)
class Policy:
    """A parsed policy. ``source`` is the document as JSON text."""

    statements: tuple[Statement, ...]
    source: str
    # No conditions and no policy variables: how the policy applies depends on the action, the resource and
    # the caller only, so _outcome remembers it (in _memo) instead of matching every statement again.
    context_free: bool = field(init=False, compare=False, repr=False)
    _memo: dict[tuple[str, str, Principal | None], _Outcome] = field(
        init=False, compare=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        free = all(
            not stmt.conditions and not any(p.uses_context for p in stmt._actions + stmt._resources)
            for stmt in self.statements
        )
        object.__setattr__(self, "context_free", free)

    def to_json(self) -> str:
        """Canonical compact JSON of the document (element order kept), for PackedPolicySize and sealing."""
        return json.dumps(json.loads(self.source), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class MatchedStatement:
    sid: str
    effect: str  # "ALLOW" | "DENY"
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool
    matched: tuple[MatchedStatement, ...]  # the matching deny statements on explicit deny, else the allows


IMPLICIT_DENY = Decision(allowed=False, explicit_deny=False, matched=())


class TrustVerdict(Enum):
    ALLOWED_DIRECT = "allowed_direct"
    ALLOWED_VIA_ACCOUNT = "allowed_via_account"
    EXPLICIT_DENY = "explicit_deny"
    NOT_ALLOWED = "not_allowed"


# ---------------------------------------------------------------------------------------------- parsing


def _malformed(message: str = SYNTAX_ERROR) -> EmulatorError:
    return EmulatorError("MalformedPolicyDocument", message)


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise _malformed()
    return tuple(items)


def _condition_value(value: Any) -> str:
    # JSON numbers and booleans are allowed as condition values; IAM compares their text.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise _malformed()


def _parse_principal(value: Any) -> tuple[tuple[str, str], ...]:
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, dict) or not value:
        raise _malformed()
    entries: list[tuple[str, str]] = []
    for kind, names in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise _malformed()
        entries.extend((kind, name) for name in _strings(names))
    return tuple(entries)


def _parse_actions(value: Any) -> tuple[tuple[str, ...], tuple[Pattern, ...]]:
    actions = _strings(value)
    for action in actions:
        if action == "*":
            continue
        if ":" not in action:
            raise _malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
        if action.count(":") > 1:
            raise _malformed("Actions/Condition can contain only one colon.")
    return actions, tuple(Pattern(a, "glob", ignore_case=True, variables=False) for a in actions)


def _parse_resources(value: Any, variables: bool) -> tuple[tuple[str, ...], tuple[Pattern, ...]]:
    resources = _strings(value)
    for resource in resources:
        if resource != "*" and not resource.startswith("arn:"):
            raise _malformed(f'Resource {resource} must be in ARN format or "*".')
    return resources, tuple(Pattern(r, "glob", variables=variables) for r in resources)


def _parse_conditions(value: Any, variables: bool) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise _malformed()
    conditions: list[Condition] = []
    for operator, block in value.items():
        if not isinstance(block, dict) or not block:
            raise _malformed()
        for key, raw in block.items():
            values = tuple(_condition_value(v) for v in (raw if isinstance(raw, list) else [raw]))
            try:
                condition = Condition(operator, key, values, variables=variables)
            except ValueError as exc:
                raise _malformed() from exc
            conditions.append(condition)
    return tuple(conditions)


def _parse_statement(raw: Any, variables: bool) -> Statement:
    if not isinstance(raw, dict) or not set(raw) <= _STATEMENT_KEYS:
        raise _malformed()
    sid = raw.get("Sid", "")
    effect = raw.get("Effect")
    if not isinstance(sid, str) or effect not in ("Allow", "Deny"):
        raise _malformed()
    for first in ("Action", "Resource", "Principal"):
        if first in raw and "Not" + first in raw:
            raise _malformed()
    if "Action" not in raw and "NotAction" not in raw:
        raise _malformed("Policy statement must contain actions.")
    action_key = "Action" if "Action" in raw else "NotAction"
    actions, action_patterns = _parse_actions(raw[action_key])
    resources: tuple[str, ...] | None = None
    resource_patterns: tuple[Pattern, ...] = ()
    resource_key = "Resource" if "Resource" in raw else "NotResource"
    if resource_key in raw:
        resources, resource_patterns = _parse_resources(raw[resource_key], variables)
    return Statement(
        sid=sid,
        effect=effect,
        principal=_parse_principal(raw["Principal"]) if "Principal" in raw else None,
        not_principal=_parse_principal(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        action=actions if action_key == "Action" else None,
        not_action=actions if action_key == "NotAction" else None,
        resource=resources if resource_key == "Resource" else None,
        not_resource=resources if resource_key == "NotResource" else None,
        conditions=_parse_conditions(raw["Condition"], variables) if "Condition" in raw else (),
        _actions=action_patterns,
        _resources=resource_patterns,
    )


def parse_policy(document: str | Mapping[str, Any]) -> Policy:
    """Parse and compile a policy document given as JSON text or as an already decoded mapping.

    ``Statement`` may be one object or a list; Action/Resource a string or a list; Version is optional.
    Raises EmulatorError("MalformedPolicyDocument", ...) for bad JSON, unknown elements, a missing
    Statement, an Effect other than Allow/Deny, Action with NotAction, an unknown condition operator, a
    condition value its operator cannot use, and the like.
    """
    if isinstance(document, str):
        try:
            parsed = json.loads(document)
        except ValueError as exc:
            raise _malformed() from exc
        source = document
    else:
        parsed = dict(document)
        try:
            source = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise _malformed() from exc
    if not isinstance(parsed, dict) or not set(parsed) <= _TOP_LEVEL or "Statement" not in parsed:
        raise _malformed()
    version = parsed.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise _malformed()
    raw_statements = parsed["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise _malformed()
    # Policy variables exist only from Version 2012-10-17 on; before, "${...}" is literal text.
    variables = version == "2012-10-17"
    return Policy(statements=tuple(_parse_statement(s, variables) for s in raw_statements), source=source)


# ------------------------------------------------------------------------------------------- evaluation

# How a statement's principal element admitted the caller.
_DIRECT, _ACCOUNT, _ANY = "direct", "account", "any"


def _names_account(value: str, account: str | None) -> bool:
    if account is None:
        return False
    root = _ACCOUNT_ROOT.match(value)
    return value == account or (root is not None and root.group(1) == account)


def _principal_match(entries: tuple[tuple[str, str], ...], caller: Principal) -> str | None:
    """_DIRECT when an entry names the caller itself, _ACCOUNT when only its account, else None."""
    best: str | None = None
    for kind, value in entries:
        if kind == "*" or (kind == "AWS" and value == "*"):
            return _DIRECT
        if kind != caller.type:
            continue
        if value in caller.identifiers:
            return _DIRECT
        if kind == "AWS" and _names_account(value, caller.account):
            best = _ACCOUNT
    return best


def _exempt_by_not_principal(entries: tuple[tuple[str, str], ...], caller: Principal) -> bool:
    """Whether NotPrincipal exempts the caller. As IAM documents, an AWS caller is exempt only when its
    account and each of its identities (for a session: the role and the session) are all listed."""
    listed = {value for kind, value in entries if kind in (caller.type, "*")}
    if "*" in listed:
        return True
    if caller.type != "AWS":
        return bool(listed & caller.identifiers)
    account_ok = caller.account is None or any(_names_account(v, caller.account) for v in listed)
    return account_ok and caller.identifiers <= listed


def _applies(
    stmt: Statement, action: str, resource: str, ctx: Context, caller: Principal | None
) -> str | None:
    """How the statement applies to the request (_ANY for identity policies), or None if it does not."""
    action_hit = any(p.matches(action, ctx) for p in stmt._actions)
    if action_hit != (stmt.action is not None):
        return None
    try:
        if stmt.resource is not None or stmt.not_resource is not None:
            resource_hit = False
            for pattern in stmt._resources:
                try:
                    if pattern.matches(resource, ctx):
                        resource_hit = True
                        break
                except UnresolvedVariable:
                    if stmt.not_resource is not None:
                        raise  # cannot tell what is excluded: the statement does not match
            if resource_hit != (stmt.resource is not None):
                return None
        how: str | None = _ANY
        if caller is not None:
            if stmt.principal is not None:
                how = _principal_match(stmt.principal, caller)
            elif stmt.not_principal is not None:
                how = None if _exempt_by_not_principal(stmt.not_principal, caller) else _DIRECT
            else:
                how = None  # a resource-policy statement without a principal admits nobody
            if how is None:
                return None
        if all(c.holds(ctx) for c in stmt.conditions):
            return how
    except UnresolvedVariable:
        pass
    return None


_MEMO_ENTRIES = 1024  # per policy; a policy asked about more (action, resource, caller) triples starts afresh


def _outcome(
    policy: Policy, action: str, resource: str, context: Mapping[str, ContextValue], caller: Principal | None,
    lowered: dict[str, ContextValue] | None,
) -> _Outcome:
    """The matching deny statements, allow statements and principal-match kinds of one policy, in statement
    order; remembered for a context-free policy. ``lowered`` is ``context`` with lower-cased keys, if known."""
    key = (action, resource, caller)
    if policy.context_free:
        known = policy._memo.get(key)
        if known is not None:
            return known
    ctx = lowered if lowered is not None else {k.lower(): v for k, v in context.items()}
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    hows: set[str] = set()
    for stmt in policy.statements:
        how = _applies(stmt, action, resource, ctx, caller)
        if how is None:
            continue
        if stmt.effect == "Deny":
            denies.append(stmt.matched())
        else:
            allows.append(stmt.matched())
            hows.add(how)
    outcome = (tuple(denies), tuple(allows), frozenset(hows))
    if policy.context_free:
        memo = policy._memo
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[key] = outcome
    return outcome


def _evaluate(
    policies: Sequence[Policy], action: str, resource: str, context: Mapping[str, ContextValue],
    caller: Principal | None,
) -> tuple[Decision, set[str]]:
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    hows: set[str] = set()
    lowered = None
    if not all(policy.context_free for policy in policies):
        lowered = {key.lower(): value for key, value in context.items()}
    for policy in policies:
        policy_denies, policy_allows, policy_hows = _outcome(policy, action, resource, context, caller, lowered)
        denies += policy_denies
        allows += policy_allows
        hows |= policy_hows
    if denies:
        return Decision(allowed=False, explicit_deny=True, matched=tuple(denies)), set()
    if allows:
        return Decision(allowed=True, explicit_deny=False, matched=tuple(allows)), hows
    return IMPLICIT_DENY, set()


def evaluate(
    policies: Sequence[Policy], action: str, resource: str, context: Mapping[str, ContextValue],
    principal: Principal | None = None,
) -> Decision:
    """Evaluate ``action`` on ``resource`` against ``policies``: explicit deny wins, else any allow, else
    implicit deny. With ``principal`` None (identity policies) Principal elements are ignored; with a
    principal (resource policies) a statement must name it. Context keys are matched case-insensitively.
    Never raises for a parsed policy: a condition that cannot be decided simply does not match.
    """
    return _evaluate(policies, action, resource, context, principal)[0]


def evaluate_trust(
    policy: Policy, principal: Principal, action: str, resource: str, context: Mapping[str, ContextValue],
) -> tuple[TrustVerdict, Decision]:
    """Evaluate a role trust policy for ``principal``.

    ALLOWED_DIRECT: an allow names the caller itself (or "*", or its service / identity provider).
    ALLOWED_VIA_ACCOUNT: the allows only name the caller's account, so the caller's identity policies must
    also allow the action. EXPLICIT_DENY / NOT_ALLOWED otherwise.
    """
    decision, hows = _evaluate([policy], action, resource, context, principal)
    if decision.explicit_deny:
        return TrustVerdict.EXPLICIT_DENY, decision
    if not decision.allowed:
        return TrustVerdict.NOT_ALLOWED, decision
    verdict = TrustVerdict.ALLOWED_VIA_ACCOUNT if hows == {_ACCOUNT} else TrustVerdict.ALLOWED_DIRECT
    return verdict, decision


def intersect(decisions: Sequence[Decision]) -> Decision:
    """The effective decision when a session policy (or another boundary) applies: allowed only if every
    decision allows; an explicit deny in any reports all the deny statements. No decisions: implicit deny.
    """
    if any(d.explicit_deny for d in decisions):
        denied = tuple(m for d in decisions if d.explicit_deny for m in d.matched)
        return Decision(allowed=False, explicit_deny=True, matched=denied)
    if decisions and all(d.allowed for d in decisions):
        allowed = tuple(m for d in decisions for m in d.matched)
        return Decision(allowed=True, explicit_deny=False, matched=allowed)
    return IMPLICIT_DENY
