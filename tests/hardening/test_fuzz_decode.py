"""The decode parser (stsdesk.core.decode) on random text and random JSON shapes: DecodeInputError is the only
exception it may raise, and every Verdict it returns can be rendered."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from fuzz_counts import count, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.core.decode import (
    DecodeInputError,
    extract_encoded_message,
    parse_decoded_message,
    render_verdict,
)

pytestmark = pytest.mark.fuzz
AREA = "decode"
MARKER = "Encoded authorization failure message: "
BLOB_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"

pasted = st.one_of(
    st.text(max_size=500),
    st.sampled_from(["[" * 100_000, '{"a":' * 3000 + '"' + MARKER + 'x"' + "}" * 3000, MARKER, MARKER * 3]),
    st.text(BLOB_CHARS + " \n\t\r\"'.,;", max_size=12_000),
    st.builds(
        lambda pre, mid, blob, post: pre + mid + blob + post,
        st.text(max_size=80),
        st.sampled_from([MARKER, "encoded authorization\nfailure message:", "Encoded authorization failure message:",
                         "Encoded autho\nrization failure message:  ", "\"" + MARKER]),
        st.text(BLOB_CHARS + "\n ", max_size=11_000),
        st.sampled_from(["", ".", "\" (Service: AmazonEC2; Status Code: 403)", "\n", " status code: 403"]),
    ),
)

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                   st.sampled_from(["true", "false", "True", " TRUE ", "", "arn:aws:sts::1:assumed-role/R/s",
                                    "arn:aws:iam::1:user/a/b", "RunInstances", "ec2:*", "*"]))
KEYS = ["allowed", "explicitDeny", "matchedStatements", "items", "item", "value", "values", "key", "context",
        "principal", "arn", "id", "action", "resource", "conditions", "statementId", "effect", "principals",
        "actions", "resources", "failures", "DecodedMessage"]
json_shapes = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=30,
)


@fuzz_settings()
@given(text=pasted)
def test_extract_raises_only_decode_input_error(text: str) -> None:
    count(AREA)
    try:
        blob = extract_encoded_message(text)
    except DecodeInputError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert blob and len(blob) <= 10240 and not any(ch.isspace() for ch in blob)


@fuzz_settings()
@given(shape=json_shapes, wrap=st.sampled_from(["plain", "cli", "json-error"]))
def test_json_error_documents_raise_only_decode_input_error(shape: Any, wrap: str) -> None:
    count(AREA)
    if wrap == "cli":
        shape = {"Error": {"Message": shape if not isinstance(shape, str) else MARKER + shape}}
    with contextlib.suppress(DecodeInputError):
        extract_encoded_message(json.dumps(shape))


@fuzz_settings()
@given(shape=json_shapes, wrap=st.booleans())
def test_parse_and_render_any_json_shape(shape: Any, wrap: bool) -> None:
    count(AREA)
    text = json.dumps({"DecodedMessage": json.dumps(shape)}) if wrap else json.dumps(shape)
    try:
        verdict = parse_decoded_message(text)
    except DecodeInputError:
        # only a non-object, or the CLI's {"DecodedMessage": "..."} wrapping a non-object, is refused
        assert not isinstance(shape, dict) or isinstance(shape.get("DecodedMessage"), str)
        return
    rendered = render_verdict(verdict)
    assert rendered.startswith(("Allowed:", "Denied explicitly:", "Denied implicitly:"))


@fuzz_settings(scale=0.5)
@given(text=st.one_of(st.text(max_size=300), st.just("[" * 100_000), st.just('{"a":' * 5000 + "1" + "}" * 5000)))
def test_parse_random_text(text: str) -> None:
    count(AREA)
    try:
        verdict = parse_decoded_message(text)
    except DecodeInputError:
        return
    assert isinstance(render_verdict(verdict), str)
