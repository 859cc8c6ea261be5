"""Session tags for AssumeRole: validation, transitive tags down a role chain, and the trust-policy context.

Facts (STS_FACTS.md, botocore's ``tagKeyType``/``tagValueType``/``tagListType``): at most 50 tags and 50
transitive keys; a key is 1..128 and a value 0..256 characters of ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``; keys are
case-insensitive, so two keys differing only in case are refused; a transitive key must be among the tags;
transitive tags of the calling session pass to the next one and may not be set again (in any case). Session
tags become ``aws:PrincipalTag/KEY`` in the new session's requests; during the AssumeRole they are
``aws:RequestTag/KEY`` and ``aws:TagKeys`` for the trust policy.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat

from stsdesk.emulator.errors import EmulatorError, validation_error
from stsdesk.emulator.policy import ContextValue

MAX_TAGS = 50
KEY_MAX = 128
VALUE_MAX = 256
TAG_PATTERN = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]"
DUPLICATE_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
TRANSITIVE_NOT_IN_TAGS = "The specified transitive tag key must be included in the requested tags."
TRANSITIVE_CONFLICT = (
    "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key "
    "from the calling session."
)
_EXTRA_CHARS = frozenset("_.:/=+-@")
_LIST_PREFIXES = ("Tags.", "TransitiveTagKeys.")


@dataclass(frozen=True)
class SessionTags:
    """Tags a session carries: (key, value) pairs in request order, and which keys are transitive."""

    tags: tuple[tuple[str, str], ...] = ()
    transitive: tuple[str, ...] = ()

    def transitive_tags(self) -> tuple[tuple[str, str], ...]:
        """The pairs that pass on to the next session of a role chain."""
        wanted = {k.lower() for k in self.transitive}
        return tuple((k, v) for k, v in self.tags if k.lower() in wanted)


_NO_TAGS = SessionTags()


def _allowed(text: str) -> bool:
    return all(c in _EXTRA_CHARS or unicodedata.category(c)[0] in "LZN" for c in text)


def _members(params: Mapping[str, str], prefix: str) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    head = prefix + ".member."
    for key, value in params.items():
        if key.startswith(head):
            index, _, field = key[len(head):].partition(".")
            if index.isdigit() and len(index) < 6:
                found.setdefault(int(index), {})[field] = value
    return found


def requested_tags(params: Mapping[str, str]) -> SessionTags:
    """Tags.member.N.Key/Value and TransitiveTagKeys.member.N of a request, validated.

    Raises ValidationError (count, length, characters, a tag without its key) and InvalidParameterValue
    (duplicate keys in any case, a transitive key that is not among the tags), with STS's wording.
    """
    if not any(map(str.startswith, params, repeat(_LIST_PREFIXES))):  # map(): no generator frame per name
        return _NO_TAGS  # the common request: no tag work at all
    members = _members(params, "Tags")
    if len(members) > MAX_TAGS:
        raise validation_error(str(len(members)), "tags", f"Member must have length less than or equal to {MAX_TAGS}")
    pairs: list[tuple[str, str]] = []
    for n, member in sorted(members.items()):
        key, value = member.get("Key"), member.get("Value")
        if key is None:
            raise validation_error("null", f"tags.{n}.member.key", "Member must not be null")
        if value is None:
            raise validation_error("null", f"tags.{n}.member.value", "Member must not be null")
        for field, text, low, high in (("key", key, 1, KEY_MAX), ("value", value, 0, VALUE_MAX)):
            where = f"tags.{n}.member.{field}"
            if len(text) < low:
                raise validation_error(text, where, f"Member must have length greater than or equal to {low}")
            if len(text) > high:
                raise validation_error(text, where, f"Member must have length less than or equal to {high}")
            if not _allowed(text):
                quantifier = "+" if field == "key" else "*"
                raise validation_error(
                    text, where, f"Member must satisfy regular expression pattern: {TAG_PATTERN}{quantifier}"
                )
        pairs.append((key, value))
    lowered = [k.lower() for k, _ in pairs]
    if len(set(lowered)) != len(lowered):
        raise EmulatorError("InvalidParameterValue", DUPLICATE_KEYS)
    transitive_members = {
        int(k.rsplit(".", 1)[1]): v for k, v in params.items()
        if k.startswith("TransitiveTagKeys.member.") and k.rsplit(".", 1)[1].isdigit()
    }
    if len(transitive_members) > MAX_TAGS:
        too_many = f"Member must have length less than or equal to {MAX_TAGS}"
        raise validation_error(str(len(transitive_members)), "transitiveTagKeys", too_many)
    transitive = tuple(v for _, v in sorted(transitive_members.items()))
    for key in transitive:
        if key.lower() not in lowered:
            raise EmulatorError("InvalidParameterValue", TRANSITIVE_NOT_IN_TAGS)
    return SessionTags(tuple(pairs), transitive)


def chained(inherited: SessionTags, requested: SessionTags) -> SessionTags:
    """The new session's tags: the calling session's transitive tags plus the requested ones.

    Raises InvalidParameterValue when a requested key (any case) is a transitive key of the calling session.
    """
    if not inherited.transitive and not requested.tags and not requested.transitive:
        return _NO_TAGS  # the usual AssumeRole: nothing to pass on, nothing asked for (same value as below)
    incoming = inherited.transitive_tags()
    taken = {k.lower() for k, _ in incoming}
    if any(k.lower() in taken for k, _ in requested.tags):
        raise EmulatorError("InvalidParameterValue", TRANSITIVE_CONFLICT)
    keys = tuple(k for k, _ in incoming) + requested.transitive
    return SessionTags(incoming + requested.tags, keys)


def request_context(requested: SessionTags) -> dict[str, ContextValue]:
    """``aws:RequestTag/KEY`` and ``aws:TagKeys`` for the trust evaluation of a request that passes tags."""
    if not requested.tags:
        return {}
    ctx: dict[str, ContextValue] = {f"aws:RequestTag/{k}": v for k, v in requested.tags}
    ctx["aws:TagKeys"] = [k for k, _ in requested.tags]
    return ctx


def principal_context(tags: tuple[tuple[str, str], ...]) -> dict[str, ContextValue]:
    """``aws:PrincipalTag/KEY`` for every tag of a session."""
    return {f"aws:PrincipalTag/{k}": v for k, v in tags}


WEB_IDENTITY_TAGS_CLAIM = "https://aws.amazon.com/tags"


def web_identity_tags(claims: Mapping[str, object]) -> SessionTags:
    """Session tags carried by a web identity token: the ``https://aws.amazon.com/tags`` claim,
    ``{"principal_tags": {"KEY": ["value"]}, "transitive_tag_keys": ["KEY"]}``, checked like request tags.

    Raises InvalidIdentityToken for a claim of another shape, else what ``requested_tags`` raises.
    """
    raw = claims.get(WEB_IDENTITY_TAGS_CLAIM)
    if raw is None:
        return _NO_TAGS
    principal = raw.get("principal_tags", {}) if isinstance(raw, dict) else None
    transitive = raw.get("transitive_tag_keys", []) if isinstance(raw, dict) else None
    if not isinstance(principal, dict) or not isinstance(transitive, list):
        raise EmulatorError("InvalidIdentityToken", "The tags claim of the web identity token is malformed.")
    params: dict[str, str] = {}
    for n, (key, values) in enumerate(principal.items(), start=1):
        value = values[0] if isinstance(values, list) and len(values) == 1 else values
        if not isinstance(key, str) or not isinstance(value, str):
            raise EmulatorError("InvalidIdentityToken", "The tags claim of the web identity token is malformed.")
        params[f"Tags.member.{n}.Key"], params[f"Tags.member.{n}.Value"] = key, value
    for n, key in enumerate(transitive, start=1):
        if not isinstance(key, str):
            raise EmulatorError("InvalidIdentityToken", "The tags claim of the web identity token is malformed.")
        params[f"TransitiveTagKeys.member.{n}"] = key
    return requested_tags(params)
