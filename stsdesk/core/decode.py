"""Encoded authorization failure messages: find the blob in pasted text, read the decoded JSON, explain it.

DecodeAuthorizationMessage itself is called elsewhere; this module is pure text work. The decoded document
is read tolerantly: AWS's own documented example uses strings for booleans, ``""`` for empty lists and
``{"item": ...}`` wrappers, while real messages use ``{"items": [...]}`` lists of ``{"value": ...}``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any

from stsdesk.core.errors import StsdeskError

MAX_ENCODED_LENGTH = 10240  # STS rejects longer EncodedMessage values
_MIN_BARE_BLOB = 64  # a bare paste shorter than this is a request id or a key, not an encoded message


def _marker_pattern(phrase: str) -> re.Pattern[str]:
    # A terminal that hard-wraps may break the phrase anywhere, even inside a word.
    wrap = r"(?:[ \t]*\r?\n[ \t]*)?"
    words = [wrap.join(re.escape(char) for char in word) for word in phrase.split()]
    return re.compile(r"\s+".join(words) + wrap + r":\s*", re.IGNORECASE)


_MARKER = _marker_pattern("Encoded authorization failure message")
_SEGMENT = re.compile(r"[A-Za-z0-9+/=_-]+")
_LINE_BREAK = re.compile(r"[ \t]*\r?\n[ \t\r\n]*")
# After a continuation segment: end of line/text, closing punctuation, or spaces before a non-blob character
# (" (Service: ...)"). Spaces before another word ("status code: 403") mean the segment was prose.
_SEGMENT_END = re.compile(r"[ \t]*(?:\r?\n|$)|[\"'`.,;)\]}]|[ \t]+[^A-Za-z0-9+/=_\-\s]")


class DecodeInputError(StsdeskError):
    """The input holds no plausible encoded message, or the decoded message is not JSON."""


@dataclass(frozen=True)
class StatementInfo:
    """One policy statement the decoded message says matched the request."""

    statement_id: str | None
    effect: str | None
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    explicit_deny: bool
    principal_arn: str | None
    principal_id: str | None
    action: str | None
    resource: str | None
    statements: tuple[StatementInfo, ...]
    conditions: tuple[tuple[str, tuple[str, ...]], ...]
    raw: dict[str, Any]


def _read_blob(text: str, start: int) -> str:
    first = _SEGMENT.match(text, start)
    if first is None:
        return ""
    parts = [first.group(0)]
    end = first.end()
    # Terminals wrap a long blob over several lines (sometimes indenting the continuation): join segments
    # across line breaks as long as each continuation looks like the rest of a blob rather than prose.
    while (brk := _LINE_BREAK.match(text, end)) is not None:
        segment = _SEGMENT.match(text, brk.end())
        if segment is None or _SEGMENT_END.match(text, segment.end()) is None:
            break
        parts.append(segment.group(0))
        end = segment.end()
    return "".join(parts)


def _json_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _json_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def _checked(blob: str) -> str:
    if len(blob) > MAX_ENCODED_LENGTH:
        raise DecodeInputError(
            f"the encoded message is {len(blob)} characters, longer than the {MAX_ENCODED_LENGTH} that STS "
            "accepts; was more than the message pasted?"
        )
    return blob


def _from_marker(text: str) -> str | None:
    match = _MARKER.search(text)
    if match is None:
        return None
    blob = _read_blob(text, match.end())
    if not blob:
        raise DecodeInputError(
            "found 'Encoded authorization failure message:' but no message after it; was the text cut off?"
        )
    return _checked(blob)


def extract_encoded_message(text: str) -> str:
    """The encoded blob from a pasted error (AWS CLI, SDK exception, JSON error) or from the bare blob.

    Line wraps and indentation inserted by terminals are removed; surrounding quotes and trailing punctuation
    are dropped. Raises DecodeInputError (one line, saying what to paste) when nothing plausible is found.
    """
    found = _from_marker(text)
    if found is not None:
        return found
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        # A JSON error document: its string values are unescaped, so markers inside them become visible.
        try:
            strings = _json_strings(json.loads(stripped))
        except (ValueError, RecursionError):  # not JSON, or nested too deep to be an error document
            strings = []
        for value in strings:
            found = _from_marker(value)
            if found is not None:
                return found
    bare = re.sub(r"\s+", "", stripped.strip("\"'`").rstrip(".,;").strip("\"'`"))
    if len(bare) >= _MIN_BARE_BLOB and _SEGMENT.fullmatch(bare):
        return _checked(bare)
    raise DecodeInputError(
        "no encoded authorization failure message found; paste the whole error text or the part after "
        "'Encoded authorization failure message:'"
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _items(value: Any) -> list[Any]:
    """The list inside ``{"items": [...]}``, a plain list, or nothing (``""``, None, other shapes)."""
    if isinstance(value, dict):
        value = value.get("items")
    if not isinstance(value, list):
        return []
    # AWS's documented example wraps each entry as {"item": {...}}.
    return [item["item"] if isinstance(item, dict) and "item" in item else item for item in value]


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    out: list[str] = []
    for item in _items(value):
        if isinstance(item, dict):
            item = item.get("value")
        if isinstance(item, str | int | float | bool):
            out.append(str(item))
    return tuple(out)


def _conditions(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    pairs: list[tuple[str, tuple[str, ...]]] = []
    for item in _items(value):
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            pairs.append((item["key"], _strings(item.get("values"))))
    return tuple(pairs)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _statement(item: Any) -> StatementInfo | None:
    if not isinstance(item, dict):
        return None
    return StatementInfo(
        statement_id=_text(item.get("statementId")),
        effect=_text(item.get("effect")),
        principals=_strings(item.get("principals")),
        actions=_strings(item.get("actions")),
        resources=_strings(item.get("resources")),
        conditions=_conditions(item.get("conditions")),
    )


def parse_decoded_message(decoded: str) -> Verdict:
    """A Verdict from the JSON string DecodeAuthorizationMessage returns (missing parts become None/empty).

    Also accepts the AWS CLI's ``{"DecodedMessage": "..."}`` output. Raises DecodeInputError when the text is
    not a JSON object.
    """
    try:
        raw = json.loads(decoded)
        if isinstance(raw, dict) and isinstance(raw.get("DecodedMessage"), str):
            raw = json.loads(raw["DecodedMessage"])
    except (ValueError, RecursionError):
        raise DecodeInputError("the decoded authorization message is not JSON") from None
    if not isinstance(raw, dict):
        raise DecodeInputError("the decoded authorization message is not a JSON object")
    context = _mapping(raw.get("context"))
    principal = _mapping(context.get("principal"))
    statements = tuple(s for s in map(_statement, _items(raw.get("matchedStatements"))) if s is not None)
    return Verdict(
        allowed=_truthy(raw.get("allowed")),
        explicit_deny=_truthy(raw.get("explicitDeny")),
        principal_arn=_text(principal.get("arn")),
        principal_id=_text(principal.get("id")),
        action=_text(context.get("action")),
        resource=_text(context.get("resource")),
        statements=statements,
        conditions=_conditions(context.get("conditions")),
        raw=raw,
    )


def _qualified_action(v: Verdict) -> str | None:
    # Real messages give the bare operation ("RunInstances"); the service prefix comes from a matched
    # statement's action, else from the resource ARN's service field.
    action = v.action
    if action is None or ":" in action:
        return action
    for statement in v.statements:
        for pattern in statement.actions:
            service, _, name = pattern.partition(":")
            if name and fnmatch.fnmatchcase(action.lower(), name.lower()) and "*" not in service:
                return f"{service}:{action}"
    if v.resource and v.resource.startswith("arn:"):
        fields = v.resource.split(":")
        if len(fields) > 2 and fields[2]:
            return f"{fields[2]}:{action}"
    return action


def _join(values: tuple[str, ...]) -> str:
    return ", ".join(values) if values else "(none listed)"


def _statement_line(s: StatementInfo) -> str:
    name = f"Statement '{s.statement_id}'" if s.statement_id else "A statement without an Sid"
    effect = s.effect.capitalize() if s.effect else "effect not given"
    line = f"  {name} ({effect}) matched: actions {_join(s.actions)}, resources {_join(s.resources)}"
    if s.conditions:
        line += "; conditions " + "; ".join(f"{k} = {', '.join(vals)}" for k, vals in s.conditions)
    return line + "."


def _identity(principal_arn: str | None) -> str:
    # Permissions of an assumed-role session live on the role, not on the session ARN the message names.
    match = re.fullmatch(r"arn:([\w-]+):sts::(\d+):assumed-role/([^/]+)/.+", principal_arn or "")
    if match:
        partition, account, role = match.groups()
        return f"the role {role} (arn:{partition}:iam::{account}:role/{role})"
    match = re.fullmatch(r"arn:[\w-]+:iam::\d+:user/(?:.*/)?([^/]+)", principal_arn or "")
    if match:
        return f"the user {match.group(1)}"
    return "the caller's identity"


def render_verdict(v: Verdict) -> str:
    """Plain-language explanation: who was refused what on which resource, why, and what to change."""
    who = v.principal_arn or v.principal_id or "the caller"
    action = _qualified_action(v) or "the requested action"
    on = f" on {v.resource}" if v.resource else ""
    if v.allowed:
        lines = [f"Allowed: {who} may perform {action}{on}."]
    elif v.explicit_deny:
        lines = [f"Denied explicitly: {who} may not perform {action}{on}."]
    else:
        lines = [f"Denied implicitly: {who} may not perform {action}{on}: no statement allows it."]
    lines += [_statement_line(s) for s in v.statements]
    if v.principal_arn and v.principal_id:
        lines.append(f"  Principal id: {v.principal_id}.")
    if v.conditions:
        lines.append("  Request context:")
        lines += [f"    {key} = {', '.join(values) or '(empty)'}" for key, values in v.conditions]
    if not v.allowed:
        if v.explicit_deny:
            conditional = any(s.conditions for s in v.statements)
            lines.append(
                "  An explicit Deny overrides every Allow: change or remove the Deny statement"
                + (" (or make the request so its conditions no longer match)" if conditional else "")
                + "; adding an Allow will not help."
            )
        else:
            lines.append(
                f"  To permit it, add an Allow for {action}{on or ' on the resource'} to a policy of "
                f"{_identity(v.principal_arn)}; any permissions boundary, session policy or SCP must allow "
                "it too."
            )
    return "\n".join(lines)
