"""The emulator's demo identity provider: signed SAML assertions and OIDC tokens, verified as STS does.

The code lives in three modules (keys, SAML, OIDC); this one is the name the rest of the emulator imports.
"""

from __future__ import annotations

from stsdesk.emulator.idp_keys import IdpKey, KeyStore, oidc_provider_arn, saml_provider_arn
from stsdesk.emulator.idp_oidc import OidcClaims, make_oidc_token, verify_oidc_token
from stsdesk.emulator.idp_saml import (
    SAML_AUDIENCE,
    SamlClaims,
    default_saml_issuer,
    make_saml_response,
    name_qualifier,
    verify_saml_response,
)

__all__ = [
    "SAML_AUDIENCE",
    "IdpKey",
    "KeyStore",
    "OidcClaims",
    "SamlClaims",
    "default_saml_issuer",
    "make_oidc_token",
    "make_saml_response",
    "name_qualifier",
    "oidc_provider_arn",
    "saml_provider_arn",
    "verify_oidc_token",
    "verify_saml_response",
]
