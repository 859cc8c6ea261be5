"""Wildcard patterns, policy variables and Condition operators of the IAM policy language.

Written by hand: no maintained Python library evaluates IAM conditions. The semantics follow the IAM
user guide ("Condition operators", "Conditions with multiple context keys or values"):

- a key missing from the request context makes an operator false, except negated operators
  (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike`` ...) and ``...IfExists``, which are true;
- several policy values for one key are OR-ed; for a negated operator they are NOR-ed;
- ``ForAllValues:`` is true when the key is absent; ``ForAnyValue:`` is false when it is absent;
- ``Null: true`` matches an absent key, ``Null: false`` a present one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from stsdesk.emulator.wildcard import Glob, StepCounter, compile_glob

ContextValue = str | list[str]
"""A request-context value: numbers, dates and booleans travel as strings; multi-valued keys as lists."""

Context = Mapping[str, ContextValue]
"""A request context whose keys are already lower-cased (condition keys are case-insensitive)."""

PatternMode = Literal["exact", "glob", "arn"]


class UnresolvedVariable(Exception):
    """A ``${...}`` policy variable names a key the request context lacks: the statement cannot match."""


class _Var(NamedTuple):
    key: str  # lower-cased context key
    default: str | None


class _Literal(NamedTuple):
    text: str  # text taken literally even where wildcards are active (from ${*}, ${?}, ${$})


_Segment = str | _Var | _Literal
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


def _segments(text: str, variables: bool) -> tuple[_Segment, ...]:
    if not variables or "${" not in text:
        return (text,)
    out: list[_Segment] = []
    pos = 0
    for found in _VARIABLE.finditer(text):
        body = found.group(1).strip()
        if body in _SPECIAL:
            replacement: _Segment = _Literal(_SPECIAL[body])
        else:
            parsed = _VARIABLE_BODY.match(body)
            if parsed is None:
                continue  # not a variable reference: left as ordinary text
            replacement = _Var(parsed.group(1).lower(), parsed.group(2))
        out.append(text[pos : found.start()])
        out.append(replacement)
        pos = found.end()
    out.append(text[pos:])
    return tuple(s for s in out if s != "")


def _variable_value(var: _Var, ctx: Context) -> str:
    value = ctx.get(var.key)
    if isinstance(value, list):
        # Multi-valued keys cannot be used as variables; a one-element list is just a value.
        value = value[0] if len(value) == 1 else None
    if value is None:
        if var.default is None:
            raise UnresolvedVariable(var.key)
        return var.default
    return value


@functools.lru_cache(maxsize=2048)
def _compiled(parts: tuple[tuple[str, bool], ...], arn: bool, ignore_case: bool) -> Glob:
    return compile_glob(parts, arn=arn, ignore_case=ignore_case)


class Pattern:
    """A policy string compiled once: ``*``/``?`` wildcards (unless mode is exact) and ``${var}`` variables.

    Text that comes from a variable is matched literally, as IAM does. Matching is linear-time
    (:mod:`stsdesk.emulator.wildcard`): no pattern can make a request slow.
    """

    __slots__ = ("_glob", "_mode", "_segments", "ignore_case", "text")

    def __init__(self, text: str, mode: PatternMode, *, ignore_case: bool = False, variables: bool = True):
        self.text = text
        self.ignore_case = ignore_case
        self._mode: PatternMode = mode
        self._segments = _segments(text, variables)
        self._glob: Glob | None = None
        if mode != "exact" and all(isinstance(s, str) for s in self._segments):
            self._glob = self._compile(list(self._segments))

    @property
    def uses_context(self) -> bool:
        """Whether matching depends on the request context (the pattern holds a ``${var}`` to substitute)."""
        return any(isinstance(s, _Var) for s in self._segments)

    def _resolved(self, ctx: Context) -> list[_Segment]:
        # Variable values become literal segments; pattern text stays as it is.
        return [_Literal(_variable_value(s, ctx)) if isinstance(s, _Var) else s for s in self._segments]

    def _compile(self, parts: list[_Segment]) -> Glob:
        pairs = tuple((p, True) if isinstance(p, str) else (p[0], False) for p in parts)
        return _compiled(pairs, self._mode == "arn", self.ignore_case)

    def glob(self, ctx: Context) -> Glob:
        """The compiled wildcard matcher, variables substituted. Raises UnresolvedVariable; ValueError in
        exact mode (no wildcards there)."""
        if self._mode == "exact":
            raise ValueError("an exact pattern has no wildcards")
        return self._glob if self._glob is not None else self._compile(self._resolved(ctx))

    def resolve(self, ctx: Context) -> str:
        """The text with variables substituted. Raises UnresolvedVariable for a missing one."""
        return "".join(s if isinstance(s, str) else (s.text if isinstance(s, _Literal) else
                       _variable_value(s, ctx)) for s in self._segments)

    def matches(self, value: str, ctx: Context, counter: StepCounter | None = None) -> bool:
        """Whether ``value`` matches. Raises UnresolvedVariable when a variable cannot be substituted.
        ``counter`` (tests) counts the character comparisons made."""
        if self._mode == "exact":
            wanted = self.resolve(ctx)
            return wanted.casefold() == value.casefold() if self.ignore_case else wanted == value
        return self.glob(ctx).matches(value, counter)


# A positive per-value test: does one request value match any of the policy values?
_Test = Callable[[str, Context], bool]
_Builder = Callable[[tuple[str, ...], bool], _Test]  # (policy values, policy variables enabled)


def _pattern_test(mode: PatternMode, ignore_case: bool = False) -> _Builder:
    def build(values: tuple[str, ...], variables: bool) -> _Test:
        patterns = [Pattern(v, mode, ignore_case=ignore_case, variables=variables) for v in values]
        return lambda value, ctx: any(p.matches(value, ctx) for p in patterns)

    return build


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_date(text: str) -> datetime | None:
    """An IAM date: ISO-8601 (``Z`` or offset; naive means UTC) or epoch seconds. None if neither."""
    text = text.strip()
    number = _number(text)
    if number is not None:
        try:
            return datetime.fromtimestamp(float(number), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# Numeric and Date operators take no policy variables: their values are parsed once, here.
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": operator.eq,
    "lessthan": operator.lt,
    "lessthanequals": operator.le,
    "greaterthan": operator.gt,
    "greaterthanequals": operator.ge,
}


def _ordered_test(parse: Callable[[str], Decimal | datetime | None], comparison: str) -> _Builder:
    compare = _COMPARISONS[comparison]

    def build(values: tuple[str, ...], variables: bool) -> _Test:
        limits = []
        for v in values:
            limit = parse(v)
            if limit is None:
                raise ValueError(f"invalid value {v!r}")
            limits.append(limit)

        def test(value: str, ctx: Context) -> bool:
            actual = parse(value)
            return actual is not None and any(compare(actual, limit) for limit in limits)

        return test

    return build


def _ip_test(values: tuple[str, ...], variables: bool) -> _Test:
    networks = []
    for v in values:
        try:
            networks.append(ipaddress.ip_network(v.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid address {v!r}") from exc

    def test(value: str, ctx: Context) -> bool:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        return any(address in net for net in networks)  # other IP version: simply not in it

    return test


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary_test(values: tuple[str, ...], variables: bool) -> _Test:
    blobs = []
    for v in values:
        blob = _b64(v)
        if blob is None:
            raise ValueError(f"invalid base64 value {v!r}")
        blobs.append(blob)
    return lambda value, ctx: _b64(value) in blobs


# lower-cased base operator -> (negated, builder). A negated operator is "not the positive one".
_OPERATORS: dict[str, tuple[bool, _Builder]] = {
    "stringequals": (False, _pattern_test("exact")),
    "stringnotequals": (True, _pattern_test("exact")),
    "stringequalsignorecase": (False, _pattern_test("exact", ignore_case=True)),
    "stringnotequalsignorecase": (True, _pattern_test("exact", ignore_case=True)),
    "stringlike": (False, _pattern_test("glob")),
    "stringnotlike": (True, _pattern_test("glob")),
    "bool": (False, _pattern_test("exact", ignore_case=True)),
    "binaryequals": (False, _binary_test),
    "ipaddress": (False, _ip_test),
    "notipaddress": (True, _ip_test),
    # IAM treats ArnEquals like ArnLike: wildcards are allowed in both.
    "arnequals": (False, _pattern_test("arn")),
    "arnlike": (False, _pattern_test("arn")),
    "arnnotequals": (True, _pattern_test("arn")),
    "arnnotlike": (True, _pattern_test("arn")),
    "numericnotequals": (True, _ordered_test(_number, "equals")),
    "datenotequals": (True, _ordered_test(parse_date, "equals")),
}
for _name in _COMPARISONS:
    _OPERATORS["numeric" + _name] = (False, _ordered_test(_number, _name))
    _OPERATORS["date" + _name] = (False, _ordered_test(parse_date, _name))


class Condition:
    """One (operator, key, values) triple of a Condition block, compiled at parse time.

    Raises ValueError from the constructor for an unknown operator or a value the operator cannot use.
    """

    __slots__ = (
        "_if_exists", "_key", "_negated", "_null", "_qualifier", "_test", "key", "operator", "values",
    )

    def __init__(self, operator: str, key: str, values: tuple[str, ...], *, variables: bool = True) -> None:
        self.operator, self.key, self.values = operator, key, values
        self._key = key.lower()
        name = operator
        self._qualifier: str | None = None
        prefix, sep, rest = operator.partition(":")
        if sep:
            if prefix.lower() not in ("foranyvalue", "forallvalues"):
                raise ValueError(f"unknown set operator {prefix!r}")
            self._qualifier, name = prefix.lower(), rest
        base = name.lower()
        self._if_exists = base.endswith("ifexists") and base != "ifexists"
        if self._if_exists:
            base = base[: -len("ifexists")]
        self._null = base == "null"
        self._negated = False
        self._test: _Test | None = None
        if self._null:
            if self._if_exists or any(v.lower() not in ("true", "false") for v in values):
                raise ValueError("Null takes the values true or false")
        elif base in _OPERATORS:
            self._negated, build = _OPERATORS[base]
            self._test = build(values, variables)
        else:
            raise ValueError(f"unknown condition operator {operator!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Condition):
            return NotImplemented
        return (self.operator, self.key, self.values) == (other.operator, other.key, other.values)

    def __hash__(self) -> int:
        return hash((self.operator, self.key, self.values))

    def __repr__(self) -> str:
        return f"Condition({self.operator!r}, {self.key!r}, {self.values!r})"

    def holds(self, ctx: Context) -> bool:
        """Whether the condition is true for ``ctx`` (lower-cased keys). Raises UnresolvedVariable."""
        raw = ctx.get(self._key)
        actual: list[str] = [] if raw is None else ([raw] if isinstance(raw, str) else list(raw))
        if self._null:
            present = bool(actual)
            return any((v.lower() == "false") == present for v in self.values)
        if not actual:
            if self._qualifier == "forallvalues":
                return True
            if self._qualifier == "foranyvalue":
                return False  # even with IfExists: real IAM answers false for an absent key here
            return self._if_exists or self._negated
        test = self._test
        assert test is not None
        if self._qualifier == "forallvalues":
            return all(test(v, ctx) != self._negated for v in actual)
        if self._qualifier == "foranyvalue":
            return any(test(v, ctx) != self._negated for v in actual)
        # A plain operator, also when it meets a multi-valued key: some value must match the policy
        # values; for a negated operator, none may.
        return any(test(v, ctx) for v in actual) != self._negated
