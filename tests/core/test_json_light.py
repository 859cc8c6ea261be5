"""json_light gives json's answers: the same values where json.loads parses, a ValueError wherever it raises
one, json.dumps's text for a flat object; and the cached answer's modules load it without the json package."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from typing import Any

import pytest
from helpers import unmeasured_env

from stsdesk.core import json_light

DOCUMENTS = [
    '{"version": 1, "sessions": {"profile:dev": {"kind": "assumed-role", "expiration": "2030-01-01T00:00:00+00:00"}}}',
    '{"access_key_id": "ASIA", "secret_access_key": "wJalr/\\u00fc+=", "session_token": null}',
    '  {"a": [1, 2.5, -3e10, 1E-2, 123456789012345678901234567890, true, false, null]}  \n\t',
    '{"nan": NaN, "inf": Infinity, "minus": -Infinity}',
    '{"escapes": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\ud83d\\ude00\\ud800"}',
    '{"ü": "日本", "emoji": "😀"}',
    '{"same": 1, "same": 2}',
    "{}",
    '{"deep": ' + "[" * 50 + "]" * 50 + "}",
    '[1, 2]',  # not an object: json's own way
    '"text"',
    "1",
    "",
    " ",
    "{",
    '{"a": 1',
    '{"a": 1}}',
    '{"a": 1} x',
    '{"a": 1}\x00',
    '{"a": "line\nbreak"}',  # a raw control character: refused in strict mode
    '{"a": tru}',
    "{'a': 1}",
    '{"a": 01}',
    '{"a": .5}',
    '{"a": 1,}',
    "\ufeff{}",
    '{"a": "\\ud800"}',
]


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _outcome(loads: Any, data: str | bytes) -> tuple[str, Any]:
    try:
        return "value", loads(data)
    except ValueError:
        return "ValueError", None


def _check(data: str | bytes) -> None:
    expected = _outcome(json.loads, data)
    got = _outcome(json_light.loads, data)
    assert got[0] == expected[0], data
    assert _same(got[1], expected[1]), data


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_answers_as_json_does(text: str) -> None:
    _check(text)
    _check(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_loads_of_other_encodings_is_jsons(encoding: str) -> None:
    _check('{"a": "ü"}'.encode(encoding))
    _check(b"{\x00")
    _check(b'{"a": "\xff"}')  # not UTF-8: a UnicodeDecodeError (a ValueError) from both
    _check(b'{"a": "\xed\xa0\x80"}')  # an encoded lone surrogate: json reads it (surrogatepass)


def test_loads_of_mutated_documents_answers_as_json_does() -> None:
    rng = random.Random(20261204)
    alphabet = '{}[]":,\\ntrufalsNIfiy0123456789.eE+- \t\r\nüa\x00\x1f'
    for _ in range(3000):
        text = rng.choice(DOCUMENTS[:7])
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            kept = at + 1 if rng.random() < 0.5 else at  # drop a character, or insert one
            text = text[:at] + ("" if kept > at else rng.choice(alphabet)) + text[kept:]
        _check(text)
        _check(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize(
    "document",
    [
        {"Version": 1, "AccessKeyId": "ASIA", "SecretAccessKey": "wJalr/ü+=\"\\\n\x00😀", "SessionToken": "t" * 900,
         "Expiration": "2030-01-01T00:00:00Z"},
        {},
        {"n": -(2**70), "zero": 0},
        {"bool": True, "none": None, "float": 1.5},  # not strings and integers: json.dumps itself
        {"nested": {"a": 1}},
    ],
)
def test_dumps_flat_is_json_dumps(document: dict[str, Any]) -> None:
    assert json_light.dumps_flat(document) == json.dumps(document)


def test_the_cached_answers_modules_do_not_import_the_json_package() -> None:
    code = (
        "import sys, stsdesk.cli, stsdesk.cli.fast_assume, stsdesk.core.cache_index, stsdesk.core.fast_secret,"
        " stsdesk.core.exports; from stsdesk.core.json_light import loads, dumps_flat;"
        " value = loads(b'{\"a\": [1, \"x\"]}'); text = dumps_flat({'a': 'b', 'n': 1});"
        " print(value, text, sorted(m for m in ('json', 'json.decoder', 'datetime') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=unmeasured_env())
    assert done.stdout.strip() == "{'a': [1, 'x']} {\"a\": \"b\", \"n\": 1} []"
