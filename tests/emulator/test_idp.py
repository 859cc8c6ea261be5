"""The demo identity provider: signed SAML responses and OIDC tokens, verified as STS does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml.algorithms import CanonicalizationMethod
from signxml.signer import XMLSigner

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.idp import (
    KeyStore,
    make_oidc_token,
    make_saml_response,
    oidc_provider_arn,
    saml_provider_arn,
    verify_oidc_token,
    verify_saml_response,
)
from stsdesk.emulator.idp_oidc import MSG_AUDIENCE, MSG_INVALID, MSG_NO_KEY
from stsdesk.emulator.idp_saml import (
    MSG_AUDIENCE as SAML_MSG_AUDIENCE,
)
from stsdesk.emulator.idp_saml import (
    MSG_EXPIRED,
    MSG_MALFORMED,
    MSG_NOT_AUTHORIZED,
    MSG_SESSION_NAME_MISSING,
    MSG_SESSION_NAME_PATTERN,
    MSG_SIGNATURE,
    NS_DS,
    NS_SAML,
    NS_SAMLP,
    ROLE_SESSION_NAME_ATTRIBUTE,
)

ACCOUNT = "222222222222"
PROVIDER = saml_provider_arn(ACCOUNT, "CorpIdP")
OTHER_PROVIDER = saml_provider_arn(ACCOUNT, "OtherIdP")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SamlDeveloper"
ISSUER = "https://token.example.test"
CLIENT = "sts.amazonaws.com"
KNOWN = {ISSUER: [CLIENT, "my-app"]}
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NS = {"saml": NS_SAML, "samlp": NS_SAMLP, "ds": NS_DS}


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore(None)


def _raises(code: str, message: str | None, call: Callable[[], object]) -> EmulatorError:
    with pytest.raises(EmulatorError) as info:
        call()
    assert info.value.code == code, info.value
    if message is not None:
        assert info.value.message == message
    return info.value


def _xml(saml_b64: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_b64))


def _b64(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def _resign(keys: KeyStore, saml_b64: str, mutate: Callable[[etree._Element], None]) -> str:
    """Change the assertion and sign it again with the provider's own key (a genuine but odd assertion)."""
    root = _xml(saml_b64)
    assertion = root.find("saml:Assertion", NS)
    assert assertion is not None
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None
    assertion.remove(signature)
    placeholder = etree.Element(f"{{{NS_DS}}}Signature", attrib={"Id": "placeholder"}, nsmap={"ds": NS_DS})
    assertion.insert(1, placeholder)
    mutate(assertion)
    key = keys.key_for(PROVIDER)
    signer = XMLSigner(c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    signed = signer.sign(assertion, key=key.private_key, cert=[key.certificate])
    root.replace(assertion, signed)
    return _b64(root)


# --- SAML --------------------------------------------------------------------------------------------


def test_saml_round_trip_reports_the_claims(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice@example.com", NOW, session_duration=7200)
    claims = verify_saml_response(keys, saml, PROVIDER, ROLE, NOW + timedelta(seconds=30))
    assert claims.subject == "alice@example.com"
    assert claims.subject_type == "persistent"
    assert claims.audience == "https://signin.aws.amazon.com/saml"
    assert claims.roles == ((ROLE, PROVIDER),)
    assert claims.role_session_name == "alice@example.com"
    assert claims.session_duration == 7200
    assert claims.not_on_or_after == NOW + timedelta(seconds=300)
    assert claims.assertion_id.startswith("_")
    # AWS: BASE64(SHA1(issuer + account id + "/" + provider name)).
    expected = base64.b64encode(hashlib.sha1(f"{claims.issuer}{ACCOUNT}/CorpIdP".encode()).digest()).decode()
    assert claims.name_qualifier == expected


def test_saml_custom_issuer_and_no_session_duration(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "bob", NOW, issuer="https://idp.example.com/saml")
    claims = verify_saml_response(keys, saml, PROVIDER, ROLE, NOW)
    assert claims.issuer == "https://idp.example.com/saml"
    assert claims.session_duration is None


def test_saml_accepts_base64_wrapped_in_lines(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW)
    wrapped = "\n".join(saml[i : i + 76] for i in range(0, len(saml), 76))
    assert verify_saml_response(keys, wrapped, PROVIDER, ROLE, NOW).subject == "alice"


def test_saml_tampered_subject_is_rejected(keys: KeyStore) -> None:
    root = _xml(make_saml_response(keys, PROVIDER, ROLE, "alice", NOW))
    name_id = root.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "admin"
    _raises(
        "InvalidIdentityToken",
        MSG_SIGNATURE,
        lambda: verify_saml_response(keys, _b64(root), PROVIDER, ROLE, NOW),
    )


def test_saml_signed_by_another_key_is_rejected(keys: KeyStore) -> None:
    other_role = f"arn:aws:iam::{ACCOUNT}:role/Other"
    saml = make_saml_response(keys, OTHER_PROVIDER, other_role, "alice", NOW)
    # Relabel the other provider's assertion as ours: the signature must still fail.
    relabelled = _b64(_xml(saml))
    _raises(
        "InvalidIdentityToken",
        MSG_SIGNATURE,
        lambda: verify_saml_response(keys, relabelled, PROVIDER, ROLE, NOW),
    )
    # Same provider ARN, but a different key store (another IdP's key).
    foreign = make_saml_response(KeyStore(None), PROVIDER, ROLE, "alice", NOW)
    _raises(
        "InvalidIdentityToken",
        MSG_SIGNATURE,
        lambda: verify_saml_response(keys, foreign, PROVIDER, ROLE, NOW),
    )


def test_saml_without_signature_is_rejected(keys: KeyStore) -> None:
    root = _xml(make_saml_response(keys, PROVIDER, ROLE, "alice", NOW))
    assertion = root.find("saml:Assertion", NS)
    assert assertion is not None
    signature = assertion.find("ds:Signature", NS)
    assert signature is not None
    assertion.remove(signature)
    _raises(
        "InvalidIdentityToken",
        MSG_SIGNATURE,
        lambda: verify_saml_response(keys, _b64(root), PROVIDER, ROLE, NOW),
    )


def test_saml_expiry(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW, lifetime=120)
    assert verify_saml_response(keys, saml, PROVIDER, ROLE, NOW + timedelta(seconds=119)).subject == "alice"
    _raises(
        "ExpiredTokenException",
        MSG_EXPIRED,
        lambda: verify_saml_response(keys, saml, PROVIDER, ROLE, NOW + timedelta(seconds=120)),
    )


def test_saml_must_be_redeemed_within_five_minutes_of_issue(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW, lifetime=3600)
    assert verify_saml_response(keys, saml, PROVIDER, ROLE, NOW + timedelta(seconds=299)).subject == "alice"
    err = _raises(
        "ExpiredTokenException",
        MSG_EXPIRED,
        lambda: verify_saml_response(keys, saml, PROVIDER, ROLE, NOW + timedelta(seconds=301)),
    )
    assert err.status == 400


def test_saml_issued_in_the_future_is_rejected(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW)
    assert verify_saml_response(keys, saml, PROVIDER, ROLE, NOW - timedelta(minutes=4)).subject == "alice"
    _raises(
        "InvalidIdentityToken",
        None,
        lambda: verify_saml_response(keys, saml, PROVIDER, ROLE, NOW - timedelta(hours=1)),
    )


def test_saml_role_not_granted_is_access_denied(keys: KeyStore) -> None:
    saml = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW)
    other_role = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    err = _raises(
        "AccessDenied",
        MSG_NOT_AUTHORIZED,
        lambda: verify_saml_response(keys, saml, PROVIDER, other_role, NOW),
    )
    assert err.status == 403


def test_saml_wrong_audience_is_rejected(keys: KeyStore) -> None:
    def retarget(assertion: etree._Element) -> None:
        audience = assertion.find("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS)
        assert audience is not None
        audience.text = "https://sp.example.com/"

    saml = _resign(keys, make_saml_response(keys, PROVIDER, ROLE, "alice", NOW), retarget)
    _raises(
        "InvalidIdentityToken",
        SAML_MSG_AUDIENCE,
        lambda: verify_saml_response(keys, saml, PROVIDER, ROLE, NOW),
    )


def _session_name_value(assertion: etree._Element) -> etree._Element:
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        if attribute.get("Name") == ROLE_SESSION_NAME_ATTRIBUTE:
            value = attribute.find("saml:AttributeValue", NS)
            assert value is not None
            return value
    raise AssertionError("no RoleSessionName attribute")


def test_saml_role_session_name_missing_or_malformed(keys: KeyStore) -> None:
    base = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW)

    def drop(assertion: etree._Element) -> None:
        value = _session_name_value(assertion)
        attribute = value.getparent()
        assert attribute is not None and attribute.getparent() is not None
        attribute.getparent().remove(attribute)

    def spaces(assertion: etree._Element) -> None:
        _session_name_value(assertion).text = "alice smith"

    missing = _resign(keys, base, drop)
    _raises(
        "InvalidIdentityToken",
        MSG_SESSION_NAME_MISSING,
        lambda: verify_saml_response(keys, missing, PROVIDER, ROLE, NOW),
    )
    bad = _resign(keys, base, spaces)
    _raises(
        "InvalidIdentityToken",
        MSG_SESSION_NAME_PATTERN,
        lambda: verify_saml_response(keys, bad, PROVIDER, ROLE, NOW),
    )


def test_saml_wrapping_attack_never_uses_the_unsigned_assertion(keys: KeyStore) -> None:
    genuine = make_saml_response(keys, PROVIDER, ROLE, "alice", NOW)
    root = _xml(genuine)
    signed = root.find("saml:Assertion", NS)
    assert signed is not None
    evil = etree.fromstring(etree.tostring(signed))
    evil.set("ID", "_evil")
    signature = evil.find("ds:Signature", NS)
    assert signature is not None
    evil.remove(signature)
    name_id = evil.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None
    name_id.text = "mallory"
    # The forged assertion first, the genuine signed one after it.
    root.insert(list(root).index(signed), evil)
    claims = verify_saml_response(keys, _b64(root), PROVIDER, ROLE, NOW)
    assert claims.subject == "alice"
    assert claims.assertion_id != "_evil"

    # The genuine assertion tucked away and the forged one in its place: rejected outright.
    root2 = _xml(genuine)
    signed2 = root2.find("saml:Assertion", NS)
    assert signed2 is not None
    root2.remove(signed2)
    extensions = etree.SubElement(root2, f"{{{NS_SAMLP}}}Extensions")
    extensions.append(signed2)
    root2.append(etree.fromstring(etree.tostring(evil)))
    _raises(
        "InvalidIdentityToken",
        MSG_SIGNATURE,
        lambda: verify_saml_response(keys, _b64(root2), PROVIDER, ROLE, NOW),
    )


def _b64_text(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "document",
    [
        # XXE: an external entity that would read a local file.
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<samlp:Response xmlns:samlp="{NS_SAMLP}">&x;</samlp:Response>',
        # Billion laughs.
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
            for i in range(1, 10)
        )
        + f']><samlp:Response xmlns:samlp="{NS_SAMLP}">&lol9;</samlp:Response>',
        # A DTD without entities is refused too.
        f'<!DOCTYPE samlp:Response><samlp:Response xmlns:samlp="{NS_SAMLP}"/>',
        "this is not xml",
        "<unclosed",
        f'<saml:Assertion xmlns:saml="{NS_SAML}"/>',
    ],
    ids=["xxe", "billion-laughs", "dtd", "text", "broken-xml", "not-a-response"],
)
def test_saml_hostile_xml_is_a_clean_error(keys: KeyStore, document: str) -> None:
    _raises(
        "InvalidIdentityToken",
        MSG_MALFORMED,
        lambda: verify_saml_response(keys, _b64_text(document), PROVIDER, ROLE, NOW),
    )


@pytest.mark.parametrize("junk", ["", "   ", "!!!not base64!!!", "YWJj=", "####"])
def test_saml_base64_junk_is_a_clean_error(keys: KeyStore, junk: str) -> None:
    _raises(
        "InvalidIdentityToken", MSG_MALFORMED, lambda: verify_saml_response(keys, junk, PROVIDER, ROLE, NOW)
    )


def test_saml_huge_input_is_a_validation_error(keys: KeyStore) -> None:
    huge = "A" * 200_000
    err = _raises("ValidationError", None, lambda: verify_saml_response(keys, huge, PROVIDER, ROLE, NOW))
    assert "sAMLAssertion" in err.message


# --- OIDC --------------------------------------------------------------------------------------------


def test_oidc_round_trip(keys: KeyStore) -> None:
    token = make_oidc_token(keys, ISSUER, "repo:octo/app", CLIENT, NOW, extra={"email": "a@example.com"})
    claims = verify_oidc_token(keys, token, KNOWN, NOW + timedelta(minutes=5))
    assert (claims.issuer, claims.subject, claims.audience) == (ISSUER, "repo:octo/app", CLIENT)
    assert claims.issued_at == NOW
    assert claims.expires == NOW + timedelta(hours=1)
    assert claims.claims["email"] == "a@example.com"
    assert jwt.get_unverified_header(token)["kid"] == keys.key_for(ISSUER).kid


def test_oidc_audience_list_matches_any_client_id(keys: KeyStore) -> None:
    token = make_oidc_token(keys, ISSUER, "u", "ignored", NOW, extra={"aud": ["other", "my-app"]})
    assert verify_oidc_token(keys, token, KNOWN, NOW).audience == "my-app"


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims() -> dict[str, object]:
    issued = int(NOW.timestamp())
    return {"iss": ISSUER, "sub": "u", "aud": CLIENT, "iat": issued, "exp": issued + 3600}


def test_oidc_alg_none_is_rejected(keys: KeyStore) -> None:
    token = (
        f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': keys.key_for(ISSUER).kid})}.{_segment(_claims())}."
    )
    _raises("InvalidIdentityToken", MSG_INVALID, lambda: verify_oidc_token(keys, token, KNOWN, NOW))


def test_oidc_hs256_keyed_with_the_public_key_is_rejected(keys: KeyStore) -> None:
    public_pem = keys.key_for(ISSUER).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': keys.key_for(ISSUER).kid})}.{_segment(_claims())}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    _raises("InvalidIdentityToken", MSG_INVALID, lambda: verify_oidc_token(keys, token, KNOWN, NOW))


def test_oidc_wrong_kid_and_foreign_key_are_rejected(keys: KeyStore) -> None:
    wrong_kid = jwt.encode(
        _claims(), keys.key_for(ISSUER).private_key, algorithm="RS256", headers={"kid": "nope"}
    )
    _raises("InvalidIdentityToken", MSG_NO_KEY, lambda: verify_oidc_token(keys, wrong_kid, KNOWN, NOW))
    # Signed by another key but claiming our kid.
    foreign = jwt.encode(
        _claims(),
        KeyStore(None).key_for(ISSUER).private_key,
        algorithm="RS256",
        headers={"kid": keys.key_for(ISSUER).kid},
    )
    _raises("InvalidIdentityToken", MSG_INVALID, lambda: verify_oidc_token(keys, foreign, KNOWN, NOW))


def test_oidc_tampered_payload_is_rejected(keys: KeyStore) -> None:
    header, _, signature = make_oidc_token(keys, ISSUER, "u", CLIENT, NOW).split(".")
    forged = f"{header}.{_segment({**_claims(), 'sub': 'admin'})}.{signature}"
    _raises("InvalidIdentityToken", MSG_INVALID, lambda: verify_oidc_token(keys, forged, KNOWN, NOW))


def test_oidc_unknown_issuer(keys: KeyStore) -> None:
    token = make_oidc_token(keys, "https://evil.example.test", "u", CLIENT, NOW)
    _raises(
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://evil.example.test",
        lambda: verify_oidc_token(keys, token, KNOWN, NOW),
    )


def test_oidc_wrong_or_missing_audience(keys: KeyStore) -> None:
    token = make_oidc_token(keys, ISSUER, "u", "someone-else", NOW)
    _raises("InvalidIdentityToken", MSG_AUDIENCE, lambda: verify_oidc_token(keys, token, KNOWN, NOW))
    no_aud = make_oidc_token(keys, ISSUER, "u", CLIENT, NOW, extra={"aud": None})
    _raises(
        "InvalidIdentityToken",
        "Missing a required claim: aud",
        lambda: verify_oidc_token(keys, no_aud, KNOWN, NOW),
    )


def test_oidc_expired(keys: KeyStore) -> None:
    token = make_oidc_token(keys, ISSUER, "u", CLIENT, NOW, lifetime=600)
    assert verify_oidc_token(keys, token, KNOWN, NOW + timedelta(seconds=599)).subject == "u"
    later = NOW + timedelta(seconds=700)
    err = _raises("ExpiredTokenException", None, lambda: verify_oidc_token(keys, token, KNOWN, later))
    expires = int(NOW.timestamp()) + 600
    assert err.message == (
        f"Token expired: current date/time {int(later.timestamp())} "
        f"must be before the expiration date/time {expires}"
    )
    assert err.status == 400


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "e30.e30.", "...."])
def test_oidc_malformed_is_a_clean_error(keys: KeyStore, junk: str) -> None:
    _raises("InvalidIdentityToken", None, lambda: verify_oidc_token(keys, junk, KNOWN, NOW))


def test_oidc_huge_token_is_a_validation_error(keys: KeyStore) -> None:
    err = _raises("ValidationError", None, lambda: verify_oidc_token(keys, "a" * 30_000, KNOWN, NOW))
    assert "webIdentityToken" in err.message


# --- keys and ARNs -----------------------------------------------------------------------------------


def test_persisted_keys_are_reused_across_instances(tmp_path: Path) -> None:
    first = KeyStore(tmp_path)
    saml = make_saml_response(first, PROVIDER, ROLE, "alice", NOW)
    token = make_oidc_token(first, ISSUER, "u", CLIENT, NOW)
    files = sorted((tmp_path / "idp").iterdir())
    assert len(files) == 4  # key + certificate for each provider
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    second = KeyStore(tmp_path)
    assert second.key_for(ISSUER).kid == first.key_for(ISSUER).kid
    assert verify_saml_response(second, saml, PROVIDER, ROLE, NOW).subject == "alice"
    assert verify_oidc_token(second, token, KNOWN, NOW).subject == "u"
    # An in-memory store has keys of its own: nothing carries over.
    assert KeyStore(None).key_for(ISSUER).kid != first.key_for(ISSUER).kid


def test_keys_are_per_provider_and_stable(keys: KeyStore) -> None:
    assert keys.key_for(PROVIDER) is keys.key_for(PROVIDER)
    assert keys.key_for(PROVIDER).kid != keys.key_for(OTHER_PROVIDER).kid


def test_provider_arns() -> None:
    assert saml_provider_arn("111111111111", "CorpIdP") == "arn:aws:iam::111111111111:saml-provider/CorpIdP"
    assert oidc_provider_arn(ACCOUNT, "https://token.example.test") == (
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.test"
    )
    assert oidc_provider_arn(ACCOUNT, "https://oidc.eks.us-east-1.amazonaws.com/id/ABC/") == (
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    )
