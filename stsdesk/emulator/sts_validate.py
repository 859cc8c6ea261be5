"""Parameter validation for the STS actions, with the messages real STS answers.

botocore checks minimum lengths and values on the client but sends maxima and pattern violations through, so
everything is checked here (raw Query requests skip botocore altogether).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat

from stsdesk.emulator.caller import parse_cached
from stsdesk.emulator.errors import EmulatorError, validation_error
from stsdesk.emulator.policy import Policy

Params = Mapping[str, str]

ROLE_SESSION_NAME = r"[\w+=,.@-]*"
EXTERNAL_ID = r"[\w+=,.@:/-]*"
SERIAL_NUMBER = r"[\w+=/:,.@-]*"
TOKEN_CODE = r"[\d]*"
SOURCE_IDENTITY = r"[\w+=,.@-]*"
FEDERATION_NAME = r"[\w+=,.@-]*"
ACCESS_KEY_ID = r"[\w]*"
POLICY_CHARS = r"[\u0009\u000A\u000D\u0020-\u00FF]+"
ARN_CHARS = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]+"

PACKED_POLICY_LIMIT = 2048
MAX_POLICY_ARNS = 10
MAX_TAGS = 50
# AssumeRole's Policy has no maximum length in the model (whitespace does not count once packed), but a text
# this many times the packed limit cannot fit however it is compacted: refused before it is parsed.
_PARSE_LIMIT = 16 * PACKED_POLICY_LIMIT


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # re.fullmatch(str, ...) looks its pattern up in re's cache on every call; several per request.
    return re.compile(pattern)


def _member(name: str) -> str:
    """Query parameter name -> the member name STS reports ('RoleSessionName' -> 'roleSessionName')."""
    return name[:1].lower() + name[1:]


def text(
    params: Params,
    name: str,
    *,
    min_len: int = 0,
    max_len: int | None = None,
    pattern: str | None = None,
    required: bool = False,
) -> str | None:
    """One string parameter, checked for length and pattern. Raises ValidationError (missing, too short,
    too long, pattern), in the order and wording STS uses."""
    value = params.get(name)
    if value is None:
        if required:
            raise validation_error("null", _member(name), "Member must not be null")
        return None
    if len(value) < min_len:
        raise validation_error(
            value, _member(name), f"Member must have length greater than or equal to {min_len}"
        )
    if max_len is not None and len(value) > max_len:
        raise validation_error(
            value, _member(name), f"Member must have length less than or equal to {max_len}"
        )
    if pattern is not None and _compiled(pattern).fullmatch(value) is None:
        raise validation_error(
            value, _member(name), f"Member must satisfy regular expression pattern: {pattern}"
        )
    return value


def required_text(params: Params, name: str, **limits: object) -> str:
    """Like ``text`` with ``required=True``; never None."""
    value = text(params, name, required=True, **limits)  # type: ignore[arg-type]
    assert value is not None
    return value


def integer(params: Params, name: str, *, minimum: int, maximum: int) -> int | None:
    """An integer parameter within [minimum, maximum]. Raises ValidationError otherwise."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        raise validation_error(raw, _member(name), "Member must be a valid integer") from None
    if value < minimum:
        raise validation_error(
            raw, _member(name), f"Member must have value greater than or equal to {minimum}"
        )
    if value > maximum:
        raise validation_error(raw, _member(name), f"Member must have value less than or equal to {maximum}")
    return value


def source_identity(params: Params) -> str | None:
    """SourceIdentity: 2..64 of ``[\\w+=,.@-]``, not starting with ``aws:``."""
    value = text(params, "SourceIdentity", min_len=2, max_len=64, pattern=SOURCE_IDENTITY)
    if value is not None and value.lower().startswith("aws:"):
        raise EmulatorError("ValidationError", "SourceIdentity must not begin with the prefix 'aws:'")
    return value


def mfa_pair(params: Params) -> tuple[str | None, str | None]:
    """(SerialNumber, TokenCode), each validated; either may be None (the caller decides what that means)."""
    serial = text(params, "SerialNumber", min_len=9, max_len=256, pattern=SERIAL_NUMBER)
    code = text(params, "TokenCode", min_len=6, max_len=6, pattern=TOKEN_CODE)
    return serial, code


def _members(params: Params, prefix: str) -> dict[int, dict[str, str]]:
    """Query lists: ``Prefix.member.N.Field=value`` -> {N: {Field: value}}."""
    found: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if not key.startswith(prefix + ".member."):
            continue
        rest = key[len(prefix) + 8 :]
        index, _, field = rest.partition(".")
        if index.isdigit():
            found.setdefault(int(index), {})[field] = value
    return found


def _too_large(percent: int) -> EmulatorError:
    return EmulatorError(
        "PackedPolicyTooLarge",
        f"Packed policy consumes {percent}% of allotted space, please use smaller policy for this request.",
    )


@dataclass(frozen=True)
class SessionPolicy:
    """What a caller passed to narrow a session: the inline policy, managed policy ARNs, tags."""

    policy: Policy | None
    policy_json: str | None
    policy_arns: tuple[str, ...]
    tag_count: int
    packed_percent: int | None  # None when nothing was passed (PackedPolicySize is then left out)


_NOTHING_PASSED = SessionPolicy(None, None, (), 0, None)
_ARNS_PREFIX = "PolicyArns.member."
_LIST_PREFIXES = (_ARNS_PREFIX, "Tags.member.")


def session_policy(params: Params, *, policy_max_len: int | None, allow_tags: bool = True) -> SessionPolicy:
    """Validate and parse Policy / PolicyArns / Tags and compute the packed size as a percentage.

    Raises ValidationError (too long, bad characters, too many ARNs or tags), MalformedPolicyDocument,
    PackedPolicyTooLarge ("Packed policy consumes N% of allotted space, ...").
    """
    raw = text(params, "Policy", min_len=1, max_len=policy_max_len, pattern=POLICY_CHARS)
    # map() over the names: no generator frame resumed per parameter (each costs more than its startswith)
    if raw is None and not any(map(str.startswith, params, repeat(_LIST_PREFIXES if allow_tags else _ARNS_PREFIX))):
        return _NOTHING_PASSED  # the usual request: what the lines below come to when nothing was passed
    arns = tuple(m.get("arn", "") for _, m in sorted(_members(params, "PolicyArns").items()))
    if len(arns) > MAX_POLICY_ARNS:
        raise validation_error(
            str(len(arns)), "policyArns", f"Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    for arn in arns:
        if not 20 <= len(arn) <= 2048 or not arn.startswith("arn:"):
            raise validation_error(
                arn, "policyArns.member.arn", "Member must have length greater than or equal to 20"
            )
    tags = _members(params, "Tags") if allow_tags else {}
    if len(tags) > MAX_TAGS:
        raise validation_error(
            str(len(tags)), "tags", f"Member must have length less than or equal to {MAX_TAGS}"
        )
    if raw is not None and len(raw) > _PARSE_LIMIT:
        # Bound the work (and parse_cached's memory) per request: no compaction brings this under the limit.
        raise _too_large(math.ceil(len(raw) * 100 / PACKED_POLICY_LIMIT))
    policy = parse_cached(raw) if raw is not None else None
    compact = policy.to_json() if policy is not None else None
    if raw is None and not arns and not tags:
        return SessionPolicy(None, None, (), 0, None)
    # Real STS compresses before measuring; the compact JSON length is a fair, deterministic stand-in.
    size = (len(compact) if compact else 0) + sum(len(a) for a in arns)
    size += sum(len(t.get("Key", "")) + len(t.get("Value", "")) for t in tags.values())
    percent = max(1, math.ceil(size * 100 / PACKED_POLICY_LIMIT))
    if percent > 100:
        raise _too_large(percent)
    return SessionPolicy(policy, compact, arns, len(tags), percent)


def with_tags(policy: SessionPolicy, tags: tuple[tuple[str, str], ...]) -> SessionPolicy:
    """``policy`` with session tags that came from elsewhere (a web identity token) counted into the packed
    size. Raises PackedPolicyTooLarge like ``session_policy``."""
    if not tags:
        return policy
    size = len(policy.policy_json or "") + sum(len(a) for a in policy.policy_arns)
    size += sum(len(k) + len(v) for k, v in tags)
    percent = max(1, math.ceil(size * 100 / PACKED_POLICY_LIMIT))
    if percent > 100:
        raise _too_large(percent)
    return dataclasses.replace(policy, tag_count=len(tags), packed_percent=percent)
