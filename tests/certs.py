"""Real client certificates for tests: RSA keys, self-signed or issued by a small CA, as PEM
and PFX bytes exactly as openssl or the Entra docs' PowerShell would export them."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CertKit:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    issuer: CertKit | None = None

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def encrypted_key_pem(self, password: str) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(password.encode()))

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return self.cert_pem + (self.issuer.cert_pem if self.issuer else b"")

    def pfx(self, password: str | None) -> bytes:
        encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                      else serialization.NoEncryption())
        extra = [self.issuer.cert] if self.issuer else None
        return pkcs12.serialize_key_and_certificates(b"intune-step", self.key, self.cert, extra,
                                                     encryption)

    @property
    def sha1_hex(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()


@cache
def rsa_key(seed: int = 0) -> rsa.RSAPrivateKey:
    """One key per seed for the whole session (RSA generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_cert(cn: str = "intune-step CI", *, seed: int = 0, issuer: CertKit | None = None,
              not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
              key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
              ca: bool = False) -> CertKit:
    key = key or rsa_key(seed)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(not_after or NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    signer = issuer.key if issuer else key
    return CertKit(key, builder.sign(signer, hashes.SHA256()), issuer)


def fake_jwt(claims: dict, header: dict | None = None) -> str:
    """A JWT-shaped token with a dummy signature (for federated tokens the emulator does not
    verify, and for the token guards)."""
    def enc(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc(header or {'alg': 'RS256', 'typ': 'JWT'})}.{enc(claims)}.c2lnbmF0dXJl"


def github_claims(subject: str, audience: str = "api://AzureADTokenExchange",
                  lifetime: int = 300) -> dict:
    now = int(time.time())
    return {"iss": "https://token.actions.githubusercontent.com", "sub": subject, "aud": audience,
            "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + lifetime,
            "repository": subject.split(":")[1] if ":" in subject else subject}
