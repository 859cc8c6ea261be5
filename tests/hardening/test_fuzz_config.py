"""The AWS config loader (stsdesk.core.profiles.load_profiles) on random, plausible and truncated config and
credentials files: a one-line ConfigError without secrets, or a consistent tree; never a changed file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fuzz_counts import count, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from stsdesk.core.errors import ConfigError
from stsdesk.core.profiles import ProfileTree, load_profiles

pytestmark = pytest.mark.fuzz
AREA = "config"
SECRET = "SeCrEtVaLuE"  # every secret value in the generated files contains this marker
NAMES = ["default", "a", "b", "c", "dev", "prod", "user", "x y", "é"]

secret_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map(
    lambda s: SECRET + s.replace("%", "")
)
plain_values = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
    st.sampled_from(["", " ", "arn:aws:iam::222222222222:role/Dev", "arn:aws:iam::111111111111:mfa/alice",
                     "3600", "-1", "12.5", "999999999999999999999", "us-east-1", "${HOME}", "%(x)s", "\\"]),
)
settings_lines = st.one_of(
    st.tuples(st.sampled_from(["aws_secret_access_key", "aws_session_token", "aws_security_token"]),
              secret_values),
    st.tuples(st.just("source_profile"), st.sampled_from(NAMES)),  # links, including cycles and self-links
    st.tuples(st.sampled_from(["role_arn", "mfa_serial", "duration_seconds", "region", "external_id",
                               "role_session_name", "credential_source", "credential_process",
                               "web_identity_token_file", "aws_access_key_id", "stsdesk_access_key_id",
                               "stsdesk_federation_policy", "stsdesk_federation_name", "saml_principal_arn",
                               "endpoint_url", "sso_session", "s3", "Role_Arn", "junk key"]), plain_values),
).map(lambda kv: f"{kv[0]} = {kv[1]}")
junk_lines = st.one_of(
    st.sampled_from(["junk", "= value", "  indented = 1", "  indented", "# comment", "; comment", "[", "[]",
                     "[profile]", "[profile a b c]", "key", "s3 =\n  max_concurrent_requests = 10\n  bad",
                     "\t", "[default", "]"]),
    st.text(max_size=40).map(lambda s: s.replace("\n", " ")),
    secret_values.map(lambda v: f"  aws_secret_access_key = {v}"),  # a continuation line holding a secret
)
headers = st.one_of(
    st.sampled_from(NAMES).map(lambda n: "[default]" if n == "default" else f"[profile {n}]"),
    st.sampled_from(NAMES).map(lambda n: f"[{n}]"),
    st.sampled_from(["[sso-session s]", "[services x]", "[profile 'q x']", '[profile "a"]', "[plugins]"]),
)


@st.composite
def ini_files(draw: st.DrawFn) -> bytes:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        lines.append(draw(headers))
        lines += draw(st.lists(st.one_of(settings_lines, settings_lines, junk_lines), max_size=6))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(junk_lines))
    data = "\n".join(lines).encode("utf-8")
    mutation = draw(st.sampled_from(["none", "truncate", "bytes", "crlf"]))
    if mutation == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    elif mutation == "crlf":
        data = data.replace(b"\n", b"\r\n")
    return data


def check_tree(tree: ProfileTree) -> None:
    names = set(tree.profiles)
    listed = {p.name for p in tree.roots()} | {c.name for n in names for c in tree.children(n)}
    assert listed == names  # every profile is a root or some profile's child, exactly once overall
    for name, profile in tree.profiles.items():
        assert tree.get(name) is profile
        try:
            chain = tree.chain(name)
        except ConfigError as exc:
            assert profile.error is not None and "\n" not in str(exc)
        else:
            assert chain[-1] is profile and len({p.name for p in chain}) == len(chain)
            assert all(p.error is None for p in chain)
    for error in tree.errors:
        assert "\n" not in error and SECRET not in error
    for profile in tree.profiles.values():
        assert profile.error is None or SECRET not in profile.error


def load_and_check(tmp: Path, config: bytes, credentials: bytes | None) -> None:
    config_path, credentials_path = tmp / "config", tmp / "credentials"
    config_path.write_bytes(config)
    if credentials is None:
        credentials_path.unlink(missing_ok=True)
    else:
        credentials_path.write_bytes(credentials)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (config_path, credentials_path) if p.exists()}
    try:
        tree = load_profiles(config_path, credentials_path)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, message
        assert SECRET not in message, message
    else:
        check_tree(tree)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (config_path, credentials_path) if p.exists()}
    assert after == before


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-config")


@fuzz_settings()
@given(config=ini_files(), credentials=st.one_of(st.none(), ini_files()))
def test_plausible_and_truncated_config_files(scratch: Path, config: bytes, credentials: bytes | None) -> None:
    count(AREA)
    load_and_check(scratch, config, credentials)


@fuzz_settings(scale=0.5)
@given(config=st.binary(max_size=500), credentials=st.one_of(st.none(), st.binary(max_size=200)))
def test_random_bytes_as_config_files(scratch: Path, config: bytes, credentials: bytes | None) -> None:
    count(AREA)
    load_and_check(scratch, config, credentials)


def test_cycle_is_reported_not_raised_at_load(scratch: Path) -> None:
    config = (b"[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n"
              b"[profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n")
    (scratch / "config").write_bytes(config)
    tree = load_profiles(scratch / "config", scratch / "none")
    check_tree(tree)
    with pytest.raises(ConfigError, match="cycle"):
        tree.chain("a")


def test_continuation_line_secret_stays_out_of_errors(scratch: Path) -> None:
    # Regression (fixed in profiles._draft): an indented line after a value continues it, and the whole
    # multi-line value used to be echoed into the error, secret included, over two lines.
    config = (b"[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n"
              b"  aws_secret_access_key = " + SECRET.encode() + b"1\n"
              b"[profile c]\nduration_seconds = 1x\n  aws_secret_access_key = " + SECRET.encode() + b"2\n")
    (scratch / "config").write_bytes(config)
    tree = load_profiles(scratch / "config", scratch / "none")
    check_tree(tree)
    assert SECRET not in str(tree.errors)
    assert tree.errors == ["profile 'a': source_profile 'b' does not exist",
                           "profile 'c': duration_seconds has an indented continuation line; write it on one line"]


def test_continuation_line_secret_stays_out_of_profile_fields(scratch: Path) -> None:
    # botocore joins an indented line to the value above; a secret on a mis-indented line must not reach the
    # Profile fields the GUI and CLI show: only the first line is kept and the profile says what to fix.
    config = (b"[profile a]\nrole_arn = arn:aws:iam::1:role/A\n  aws_secret_access_key = " + SECRET.encode()
              + b"\nsource_profile = b\n  aws_secret_access_key = " + SECRET.encode() + b"\n[profile b]\n"
              b"aws_access_key_id = AKIAEXAMPLE\n")
    (scratch / "config").write_bytes(config)
    tree = load_profiles(scratch / "config", scratch / "none")
    assert SECRET not in repr(dict(tree.profiles))
    assert tree.profiles["a"].role_arn == "arn:aws:iam::1:role/A"
    assert "indented continuation line" in (tree.profiles["a"].error or "")
