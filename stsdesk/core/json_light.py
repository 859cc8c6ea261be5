"""``json.loads`` and a flat ``json.dumps`` on CPython's C accelerator ``_json`` alone, for the cached
credential-process / assume answer.

``import json`` costs a cached answer ~5.6M instructions (callgrind; a bare interpreter's whole start is ~91M):
the package imports json.decoder, json.scanner and json.encoder, which compile six regular expressions. The
parsing and the escaping are done by ``_json`` in both cases; this module calls it the way the json package does
with its default settings, for the documents stsdesk itself writes (objects, UTF-8), and hands everything else
to the json package, so every answer is json's: the same values, and a ValueError wherever json raises one
(json's own JSONDecodeError, or a plain ValueError where json would raise that subclass).

Without ``_json`` (another Python implementation) everything goes to the json package.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: ~2 ms of import on a path that must cost little more than Python's start
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_WHITESPACE = " \t\n\r"  # json.decoder.WHITESPACE's characters


class _Defaults:
    """What ``json.JSONDecoder()`` gives the C scanner (``_json.make_scanner`` reads these attributes)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_scanner: Callable[[str, int], tuple[Any, int]] | None = None
_escape: Callable[[str], str] | None = None
try:
    from _json import encode_basestring_ascii as _c_escape
    from _json import make_scanner as _c_scanner
except ImportError:  # not CPython: the json package does all of it
    pass
else:
    _scanner = _c_scanner(_Defaults)  # type: ignore[arg-type]  # typeshed: "a make_scanner"; the C code reads these attributes
    _escape = _c_escape


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``: the same value, or a ValueError where json raises one."""
    if _scanner is None or not isinstance(data, (str, bytes)):
        return _json_loads(data)
    if isinstance(data, bytes):
        # json.detect_encoding says UTF-8 for a document that starts with "{" followed by a byte other than NUL
        # (no byte-order mark can start with "{"); anything else is left to it.
        if data[:1] != b"{" or data[1:2] == b"\0":
            return _json_loads(data)
        text = data.decode("utf-8", "surrogatepass")
    else:
        if data[:1] != "{":
            return _json_loads(data)  # (json refuses a leading byte-order mark in its own words)
        text = data
    try:
        value, end = _scanner(text, 0)
    except StopIteration:
        raise ValueError("Expecting value") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError("Extra data")
    return value


def dumps_flat(document: Mapping[str, str | int]) -> str:
    """``json.dumps(document)`` for an object whose values are strings and integers (not bools): the same text
    (default separators, ASCII escapes, keys in their order)."""
    if _escape is None or not all(
        type(key) is str and (type(value) is str or type(value) is int) for key, value in document.items()
    ):
        import json

        return json.dumps(document)
    escape = _escape
    items = (
        f"{escape(key)}: {escape(value) if type(value) is str else int.__repr__(value)}"
        for key, value in document.items()
    )
    return "{" + ", ".join(items) + "}"


def _json_loads(data: Any) -> Any:
    import json

    return json.loads(data)
