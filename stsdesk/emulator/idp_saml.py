"""The demo SAML identity provider: signed SAMLResponses, and their verification as AssumeRoleWithSAML does.

Signing and verification are signxml's (XML-DSig is a known source of bypasses when written by hand).
Verification reads claims only from the element the signature covers, which blocks signature wrapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from signxml.algorithms import CanonicalizationMethod
from signxml.exceptions import SignXMLException
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from stsdesk.emulator.errors import EmulatorError, access_denied, validation_error
from stsdesk.emulator.idp_keys import KeyStore

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"saml": NS_SAML, "samlp": NS_SAMLP}

SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
ROLE_SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
_NAMEID_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"
_PERSISTENT = _NAMEID_PREFIX + "persistent"

# STS's SAMLAssertion parameter limit (STS_FACTS.md, "Parameters").
MAX_SAML_ASSERTION_CHARS = 100_000
# "Token must be redeemed within 5 minutes of issuance" (real STS, ExpiredTokenException).
_REDEEM_WINDOW = timedelta(minutes=5)
# How far ahead of the emulator's clock an IdP's IssueInstant/NotBefore may be. AWS does not document its
# tolerance; five minutes is what SAML service providers commonly allow.
_FUTURE_SKEW = timedelta(minutes=5)
_SESSION_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")
_ACCEPTED_AUDIENCES = (SAML_AUDIENCE, "urn:amazon:webservices")
_REGIONAL_AUDIENCE = re.compile(r"https://[a-z]{2}(?:-[a-z]+)+-\d\.signin\.aws\.amazon\.com/saml")

# Real STS messages (IAM user guide "Troubleshoot SAML federation", recorded errors).
MSG_MALFORMED = "Invalid base64 SAMLResponse"
MSG_SIGNATURE = "Response signature invalid"
MSG_EXPIRED = "Token must be redeemed within 5 minutes of issuance"
MSG_AUDIENCE = "Response does not contain the required audience."
MSG_NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"
MSG_SESSION_NAME_MISSING = "RoleSessionName is required in AuthnResponse"
MSG_SESSION_NAME_PATTERN = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"


@dataclass(frozen=True)
class SamlClaims:
    """What a verified assertion says, as AssumeRoleWithSAML reports and evaluates it."""

    subject: str
    subject_type: str
    issuer: str
    audience: str
    not_on_or_after: datetime
    roles: tuple[tuple[str, str], ...]  # (role_arn, provider_arn) pairs from the Role attribute
    role_session_name: str | None
    session_duration: int | None
    name_qualifier: str
    assertion_id: str


def _invalid(message: str) -> EmulatorError:
    return EmulatorError("InvalidIdentityToken", message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _provider_parts(provider_arn: str) -> tuple[str, str]:
    """(account, provider name) of ``arn:aws:iam::ACCOUNT:saml-provider/NAME``; ValueError otherwise."""
    match = re.fullmatch(r"arn:aws[\w-]*:iam::(\d{12}):saml-provider/(.+)", provider_arn)
    if match is None:
        raise ValueError(f"not a SAML provider ARN: {provider_arn}")
    return match.group(1), match.group(2)


def default_saml_issuer(provider_arn: str) -> str:
    """The entity id the demo IdP uses for ``provider_arn`` when no issuer is given."""
    account, name = _provider_parts(provider_arn)
    return f"https://idp.stsdesk.test/saml/{account}/{name}"


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """NameQualifier as STS computes it: BASE64(SHA1(issuer + account id + "/" + provider name))."""
    digest = hashlib.sha1(
        f"{issuer}{account}/{provider_name}".encode()
    ).digest()  # SHA-1 is AWS's definition, not a choice
    return base64.b64encode(digest).decode("ascii")


def _el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib=attrs)
    if text is not None:
        element.text = text
    return element


def _attribute(statement: etree._Element, name: str, values: Sequence[str]) -> None:
    attribute = _el(statement, NS_SAML, "Attribute", Name=name)
    for value in values:
        _el(attribute, NS_SAML, "AttributeValue", value)


def make_saml_response(
    keys: KeyStore,
    provider_arn: str,
    role_arn: str,
    subject: str,
    now: datetime,
    lifetime: int = 300,
    session_duration: int | None = None,
    issuer: str | None = None,
) -> str:
    """A base64 SAMLResponse whose assertion, signed with ``provider_arn``'s key, maps ``subject`` to a role.

    The assertion is valid from ``now`` for ``lifetime`` seconds, for the audience
    https://signin.aws.amazon.com/saml; its RoleSessionName attribute is ``subject``. Raises ValueError
    if ``provider_arn`` is not a SAML provider ARN.
    """
    issuer = issuer if issuer is not None else default_saml_issuer(provider_arn)
    now = _utc(now)
    expires = now + timedelta(seconds=lifetime)
    assertion_id = f"_{uuid.uuid4().hex}"

    assertion = etree.Element(
        f"{{{NS_SAML}}}Assertion",
        nsmap={"saml": NS_SAML},
        attrib={"ID": assertion_id, "Version": "2.0", "IssueInstant": _iso(now)},
    )
    _el(assertion, NS_SAML, "Issuer", issuer)
    # signxml replaces this placeholder, which keeps ds:Signature right after Issuer as the SAML schema wants.
    etree.SubElement(assertion, f"{{{NS_DS}}}Signature", attrib={"Id": "placeholder"}, nsmap={"ds": NS_DS})
    subject_el = _el(assertion, NS_SAML, "Subject")
    _el(subject_el, NS_SAML, "NameID", subject, Format=_PERSISTENT)
    confirmation = _el(
        subject_el, NS_SAML, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    _el(confirmation, NS_SAML, "SubjectConfirmationData", NotOnOrAfter=_iso(expires), Recipient=SAML_AUDIENCE)
    conditions = _el(assertion, NS_SAML, "Conditions", NotBefore=_iso(now), NotOnOrAfter=_iso(expires))
    _el(_el(conditions, NS_SAML, "AudienceRestriction"), NS_SAML, "Audience", SAML_AUDIENCE)
    authn = _el(assertion, NS_SAML, "AuthnStatement", AuthnInstant=_iso(now), SessionIndex=assertion_id)
    _el(
        _el(authn, NS_SAML, "AuthnContext"),
        NS_SAML,
        "AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    )
    statement = _el(assertion, NS_SAML, "AttributeStatement")
    _attribute(statement, ROLE_ATTRIBUTE, [f"{role_arn},{provider_arn}"])
    _attribute(statement, ROLE_SESSION_NAME_ATTRIBUTE, [subject])
    if session_duration is not None:
        _attribute(statement, SESSION_DURATION_ATTRIBUTE, [str(session_duration)])

    key = keys.key_for(provider_arn)
    signer = XMLSigner(c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)
    signed_assertion = signer.sign(assertion, key=key.private_key, cert=[key.certificate])

    response = etree.Element(
        f"{{{NS_SAMLP}}}Response",
        nsmap={"samlp": NS_SAMLP, "saml": NS_SAML},
        attrib={
            "ID": f"_{uuid.uuid4().hex}",
            "Version": "2.0",
            "IssueInstant": _iso(now),
            "Destination": SAML_AUDIENCE,
        },
    )
    _el(response, NS_SAML, "Issuer", issuer)
    status = _el(response, NS_SAMLP, "Status")
    _el(status, NS_SAMLP, "StatusCode", Value="urn:oasis:names:tc:SAML:2.0:status:Success")
    # Exclusive c14n makes the signature independent of the namespaces the new parent declares.
    response.append(signed_assertion)
    return base64.b64encode(etree.tostring(response, xml_declaration=True, encoding="UTF-8")).decode("ascii")


def _hardened_parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network, no huge-tree mode: XXE and entity bombs stay inert.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _parse_response(saml_b64: str) -> etree._Element:
    if len(saml_b64) > MAX_SAML_ASSERTION_CHARS:
        raise validation_error(
            saml_b64,
            "sAMLAssertion",
            f"Member must have length less than or equal to {MAX_SAML_ASSERTION_CHARS}",
        )
    try:
        # IdPs wrap base64 at 76 columns; whitespace is not part of the data.
        raw = base64.b64decode("".join(saml_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid(MSG_MALFORMED) from exc
    if not raw.strip():
        raise _invalid(MSG_MALFORMED)
    try:
        root = etree.fromstring(raw, parser=_hardened_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _invalid(MSG_MALFORMED) from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise _invalid(MSG_MALFORMED)
    if root.tag != f"{{{NS_SAMLP}}}Response":
        raise _invalid(MSG_MALFORMED)
    return root


def _signed_assertion(keys: KeyStore, root: etree._Element, provider_arn: str) -> etree._Element:
    """The assertion the provider's signature covers, as signxml returns it; nothing else is trusted."""
    config = SignatureConfiguration(expect_references=1, location=f"./{{{NS_SAML}}}Assertion/")
    try:
        result = XMLVerifier().verify(
            root,
            x509_cert=keys.key_for(provider_arn).certificate,
            parser=_hardened_parser(),
            expect_config=config,
        )
    except (SignXMLException, ValueError, etree.LxmlError) as exc:
        raise _invalid(MSG_SIGNATURE) from exc
    assert not isinstance(result, list)  # expect_references=1 gives one result
    signed = result.signed_xml
    if signed is None or signed.tag != f"{{{NS_SAML}}}Assertion":
        raise _invalid(MSG_SIGNATURE)
    return signed


def _text(element: etree._Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _utc(datetime.fromisoformat(value.strip()))
    except ValueError as exc:
        raise _invalid(MSG_MALFORMED) from exc


def _attribute_values(assertion: etree._Element, name: str) -> list[str]:
    values: list[str] = []
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", _NS):
        if attribute.get("Name") == name:
            values.extend(_text(v) for v in attribute.iterfind("saml:AttributeValue", _NS))
    return values


def _role_pairs(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        # AWS accepts the two ARNs in either order.
        first, second = parts
        if ":saml-provider/" in first and ":role/" in second:
            first, second = second, first
        if ":role/" in first and ":saml-provider/" in second:
            pairs.append((first, second))
    return tuple(pairs)


def _check_time(assertion: etree._Element, now: datetime) -> datetime:
    """The assertion's effective NotOnOrAfter; ExpiredTokenException once passed or 5 minutes after issue."""
    issued = _instant(assertion.get("IssueInstant"))
    if issued is None:
        raise _invalid(MSG_MALFORMED)
    conditions = assertion.find("saml:Conditions", _NS)
    stated = [
        deadline
        for element in (
            assertion.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", _NS),
            conditions,
        )
        if element is not None and (deadline := _instant(element.get("NotOnOrAfter"))) is not None
    ]
    not_on_or_after = min(stated) if stated else issued + _REDEEM_WINDOW
    if now >= not_on_or_after or now >= issued + _REDEEM_WINDOW:
        raise EmulatorError("ExpiredTokenException", MSG_EXPIRED)
    not_before = _instant(conditions.get("NotBefore")) if conditions is not None else None
    if issued > now + _FUTURE_SKEW or (not_before is not None and not_before > now + _FUTURE_SKEW):
        raise _invalid(MSG_MALFORMED)
    return not_on_or_after


def _audience(assertion: etree._Element) -> str:
    audiences = [
        _text(a) for a in assertion.iterfind("saml:Conditions/saml:AudienceRestriction/saml:Audience", _NS)
    ]
    for audience in audiences:
        if audience in _ACCEPTED_AUDIENCES or _REGIONAL_AUDIENCE.fullmatch(audience):
            return audience
    raise _invalid(MSG_AUDIENCE)


def _session_duration(assertion: etree._Element) -> int | None:
    values = _attribute_values(assertion, SESSION_DURATION_ATTRIBUTE)
    if not values:
        return None
    try:
        duration = int(values[0])
    except ValueError as exc:
        raise _invalid("SessionDuration in AuthnResponse must be an integer between 900 and 43200") from exc
    if not 900 <= duration <= 43200:
        raise _invalid("SessionDuration in AuthnResponse must be an integer between 900 and 43200")
    return duration


def verify_saml_response(
    keys: KeyStore, saml_b64: str, provider_arn: str, role_arn: str, now: datetime
) -> SamlClaims:
    """Verify a base64 SAMLResponse for AssumeRoleWithSAML(``role_arn``, ``provider_arn``) at ``now``.

    Raises EmulatorError as real STS answers: ValidationError when longer than 100000 characters;
    InvalidIdentityToken for undecodable or unparsable input, DTDs/entities ("Invalid base64 SAMLResponse"),
    a missing or bad signature or one not made with the provider's key ("Response signature invalid"),
    a wrong audience, a missing or malformed RoleSessionName; ExpiredTokenException once NotOnOrAfter has
    passed or 5 minutes after IssueInstant; AccessDenied when the Role attribute does not name this
    role and provider pair. Only the signed assertion is read: unsigned siblings are ignored.
    """
    now = _utc(now)
    try:
        account, provider_name = _provider_parts(provider_arn)
    except ValueError as exc:
        raise _invalid(MSG_SIGNATURE) from exc
    root = _parse_response(saml_b64)
    assertion = _signed_assertion(keys, root, provider_arn)

    not_on_or_after = _check_time(assertion, now)
    audience = _audience(assertion)
    issuer = _text(assertion.find("saml:Issuer", _NS))
    name_id = assertion.find("saml:Subject/saml:NameID", _NS)
    subject = _text(name_id)
    if not issuer or not subject or name_id is None:
        raise _invalid(MSG_MALFORMED)

    roles = _role_pairs(_attribute_values(assertion, ROLE_ATTRIBUTE))
    if (role_arn, provider_arn) not in roles:
        raise access_denied(MSG_NOT_AUTHORIZED)

    session_names = _attribute_values(assertion, ROLE_SESSION_NAME_ATTRIBUTE)
    if not session_names or not session_names[0]:
        raise _invalid(MSG_SESSION_NAME_MISSING)
    if not _SESSION_NAME.fullmatch(session_names[0]):
        raise _invalid(MSG_SESSION_NAME_PATTERN)

    name_format = name_id.get("Format") or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    # STS reports the format with the SAML 2.0 nameid-format prefix removed, any other format as is.
    subject_type = name_format.removeprefix(_NAMEID_PREFIX)
    return SamlClaims(
        subject=subject,
        subject_type=subject_type,
        issuer=issuer,
        audience=audience,
        not_on_or_after=not_on_or_after,
        roles=roles,
        role_session_name=session_names[0],
        session_duration=_session_duration(assertion),
        name_qualifier=name_qualifier(issuer, account, provider_name),
        assertion_id=assertion.get("ID") or "",
    )
