"""Query-protocol XML responses, built from string templates (fast, and the shapes are fixed).

Every value goes through ``text()``: characters XML 1.0 forbids are replaced, then ``&<>`` are escaped;
element names come from this code only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from xml.sax.saxutils import escape

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# Characters XML 1.0 cannot carry even escaped (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF): a request
# may echo them into a message, and the error document must still parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Anything text() would change: the forbidden characters and the three it escapes.
_NEEDS_WORK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff&<>]")


# Printable ASCII but &<> maps to itself, every other byte (NUL included) to NUL: what text() returns as is.
_AS_IS = bytes(b if 0x20 <= b < 0x7F and b not in b"&<>" else 0 for b in range(256))
# From about this length on the table (its set-up copies 256 entries) is cheaper than isprintable() and three
# searches.
_LONG = 128


def text(value: str) -> str:
    """``value`` as XML character data: forbidden characters become U+FFFD, ``&<>`` are escaped."""
    # The usual case (ids, ARNs, keys, tokens, dates): printable ASCII without &<>, which holds nothing
    # _NEEDS_WORK matches. isascii() reads a flag; the other scans are C loops several times cheaper per
    # character than the pattern's character-class search (callgrind: 36K -> 4K instructions an AssumeRole).
    if value.isascii():
        if len(value) < _LONG:
            if value.isprintable() and "&" not in value and "<" not in value and ">" not in value:
                return value
        # A long value (a session token: ~500 characters) is judged a byte at a time by table: str.isprintable
        # asks the Unicode database for each character (~30 instructions each, ~6 this way).
        elif b"\0" not in value.encode("ascii").translate(_AS_IS):
            return value
    if _NEEDS_WORK.search(value) is None:
        return value
    return escape(_NOT_XML.sub("\ufffd", value))

Element = tuple[str, "str | Iterable[Element] | None"]
"""(name, text) or (name, children); None values are left out."""


# Version 4 in the high nibble of byte 6, the RFC 4122 variant (10) in the top bits of byte 8.
_UUID_CLEAR = ~((0xF0 << 72) | (0xC0 << 56)) & ((1 << 128) - 1)
_UUID_SET = (0x40 << 72) | (0x80 << 56)


_IDS = random.Random()


def new_request_id() -> str:
    """A random version-4 UUID in its usual 8-4-4-4-12 spelling, as AWS request ids look.

    Request ids are not secrets: drawn from a private ``random.Random`` (no system call, unlike ``os.urandom`` or
    ``uuid.uuid4``), once per request. Private, so the emulator never touches (or depends on) the global random
    state of a program that embeds it (hypothesis, for one, checks that nothing else draws from it).
    """
    bits = _IDS.getrandbits(128) & _UUID_CLEAR | _UUID_SET
    h = bits.to_bytes(16, "big").hex()  # f"{bits:032x}" parses its format spec on every call
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso8601(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z`` and whole seconds, as STS writes Expiration."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad these on every platform; say what it says
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    # Cheaper than strftime, and than :02d formats (each parses its spec: ~2K instructions; this runs more
    # than once per request).
    two = TWO_DIGITS
    return f"{utc.year}-{two[utc.month]}-{two[utc.day]}T{two[utc.hour]}:{two[utc.minute]}:{two[utc.second]}Z"


TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))
"""``f"{n:02d}"`` for 0 to 99, by index."""


def render(elements: Iterable[Element]) -> str:
    """Serialise (name, value) pairs; nested iterables become child elements; None is skipped."""
    parts: list[str] = []
    for name, value in elements:
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f"<{name}>{text(value)}</{name}>")
        else:
            parts.append(f"<{name}>{render(value)}</{name}>")
    return "".join(parts)


def success(action: str, result: Iterable[Element], request_id: str, namespace: str = STS_NAMESPACE) -> bytes:
    """``<{Action}Response>`` with its ``<{Action}Result>`` and ResponseMetadata."""
    return (
        f'<{action}Response xmlns="{namespace}">\n'
        f"  <{action}Result>{render(result)}</{action}Result>\n"
        f"  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n"
        f"</{action}Response>\n"
    ).encode()


def error(
    code: str, message: str, request_id: str, sender: bool = True, namespace: str = STS_NAMESPACE
) -> bytes:
    """The STS ``<ErrorResponse>`` document."""
    kind = "Sender" if sender else "Receiver"
    return (
        f'<ErrorResponse xmlns="{namespace}">\n'
        f"  <Error><Type>{kind}</Type><Code>{text(code)}</Code>"
        f"<Message>{text(message)}</Message></Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        f"</ErrorResponse>\n"
    ).encode()
