"""Signing certificates for the reader tests: real keys and X.509 certificates made with
cryptography, and a PKCS#7 signature as jarsigner (APK v1) or codesign (CMS) writes one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID


def certificate(
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
    issuer: x509.Name | None = None,
    **fields: str,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    oids = {
        "CN": NameOID.COMMON_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "C": NameOID.COUNTRY_NAME,
    }
    name = x509.Name([x509.NameAttribute(oids[k], v) for k, v in fields.items()])
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=9))
        .sign(issuer_key or key, hashes.SHA256())
    )
    return key, cert


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def v1_signature(
    key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, *extra: x509.Certificate
) -> bytes:
    builder = pkcs7.PKCS7SignatureBuilder().set_data(b"Signature-Version: 1.0\r\n")
    builder = builder.add_signer(cert, key, hashes.SHA256())
    for other in extra:
        builder = builder.add_certificate(other)
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
