"""Signing keys of the emulator's demo identity provider, and the ARNs of the providers they stand for.

Each provider (a SAML provider ARN or an OIDC issuer URL) gets its own RSA key and a self-signed
certificate, so that an assertion signed for one provider never verifies for another.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_KEY_BITS = 2048
# The certificates are only a carrier for the public key (signxml wants one); a fixed, wide validity
# keeps them usable whatever the emulator's clock says, time travel included.
_CERT_NOT_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
_CERT_NOT_AFTER = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class IdpKey:
    """One provider's signing material: RSA private key, self-signed certificate, JWT key id."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    kid: str

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def _kid_for(public_key: rsa.RSAPublicKey) -> str:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(spki).digest()[:16]).decode("ascii").rstrip("=")


def _self_signed(private_key: rsa.RSAPrivateKey, provider: str) -> x509.Certificate:
    # A CN is limited to 64 characters; the provider string can be longer, so name it by digest.
    digest = hashlib.sha256(provider.encode("utf-8")).hexdigest()[:16]
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stsdesk demo IdP"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"stsdesk-idp-{digest}"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_CERT_NOT_BEFORE)
        .not_valid_after(_CERT_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only, atomically (temp file + rename)."""
    from stsdesk._atomic import atomic_write  # the one atomic writer of core and emulator

    atomic_write(path, data)


class KeyStore:
    """RSA keys and self-signed certificates per provider (SAML provider ARN or OIDC issuer URL).

    With a ``state_dir`` the keys are kept as PEM files under ``<state_dir>/idp/`` (mode 0600) and reused
    by later instances, so assertions and tokens issued before an emulator restart still verify.
    With ``None`` they live in memory only. Keys are generated on first use (2048-bit RSA).
    Raises ``OSError`` when the state directory cannot be written, ``ValueError`` on a corrupt key file.
    """

    def __init__(self, state_dir: Path | None) -> None:
        self._dir = state_dir / "idp" if state_dir is not None else None
        self._keys: dict[str, IdpKey] = {}
        self._lock = threading.Lock()

    def key_for(self, provider: str) -> IdpKey:
        """The signing key of ``provider``, loaded from disk or generated (and saved) on first use."""
        with self._lock:
            key = self._keys.get(provider)
            if key is None:
                key = self._load(provider) or self._generate(provider)
                self._keys[provider] = key
            return key

    def _paths(self, provider: str) -> tuple[Path, Path]:
        assert self._dir is not None
        # Provider strings hold ':' and '/', so files are named by digest of the provider.
        stem = hashlib.sha256(provider.encode("utf-8")).hexdigest()[:32]
        return self._dir / f"{stem}.key.pem", self._dir / f"{stem}.crt.pem"

    def _load(self, provider: str) -> IdpKey | None:
        if self._dir is None:
            return None
        key_path, cert_path = self._paths(provider)
        if not key_path.exists() or not cert_path.exists():
            return None
        private_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path} does not hold an RSA private key")
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if certificate.public_key() != private_key.public_key():
            raise ValueError(f"{cert_path} does not belong to the key in {key_path}")
        return IdpKey(private_key, certificate, _kid_for(private_key.public_key()))

    def _generate(self, provider: str) -> IdpKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
        certificate = _self_signed(private_key, provider)
        if self._dir is not None:
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            key_path, cert_path = self._paths(provider)
            _write_private(
                key_path,
                private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            _write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        return IdpKey(private_key, certificate, _kid_for(private_key.public_key()))


def saml_provider_arn(account: str, name: str) -> str:
    """``arn:aws:iam::ACCOUNT:saml-provider/NAME``."""
    return f"arn:aws:iam::{account}:saml-provider/{name}"


def oidc_provider_arn(account: str, issuer_url: str) -> str:
    """``arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH``: the issuer URL without scheme and trailing slash."""
    parts = urlsplit(issuer_url)
    rest = (parts.netloc + parts.path) if parts.scheme else issuer_url
    return f"arn:aws:iam::{account}:oidc-provider/{rest.rstrip('/')}"
