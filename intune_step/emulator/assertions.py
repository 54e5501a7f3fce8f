"""Certificate client assertions as Entra checks them: the signing certificate is found by
thumbprint among the app's registered certificates (keyCredentials), or, for subject name +
issuer auth, taken from the x5c chain when its subject is trusted; then the signature must
verify with that certificate's key.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .tokens import b64url, b64url_decode

NOT_REGISTERED = (
    "The certificate with identifier used to sign the client assertion is not registered on "
    "application. [Reason - The key was not found.]"
)
BAD_SIGNATURE = "Client assertion failed signature validation."


def load_certificates(pems: tuple[str, ...]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for pem in pems:
        certs.extend(x509.load_pem_x509_certificates(pem.encode()))
    return certs


def _thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    return (b64url(cert.fingerprint(hashes.SHA1())), b64url(cert.fingerprint(hashes.SHA256())))


def _matches(cert: x509.Certificate, header: dict[str, Any]) -> bool:
    # MSAL Python keeps base64url padding ('=') in x5t; Entra accepts it.
    sha1, sha256 = _thumbprints(cert)
    x5t, x5t256 = (str(header.get(name) or "").rstrip("=") for name in ("x5t", "x5t#S256"))
    return x5t == sha1 or x5t256 == sha256


def _x5c_leaf(header: dict[str, Any], trusted_subjects: tuple[str, ...]) -> x509.Certificate | None:
    """The leaf of a well-formed x5c chain whose subject is trusted, else None."""
    chain_text = header.get("x5c")
    if not trusted_subjects or not isinstance(chain_text, list) or not chain_text:
        return None
    try:
        chain = [
            x509.load_der_x509_certificate(base64.b64decode("".join(str(c).split())))
            for c in chain_text
        ]
    except (ValueError, binascii.Error):
        return None
    for child, issuer in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return None
    leaf = chain[0]
    if leaf.subject.rfc4514_string() not in trusted_subjects or not _matches(leaf, header):
        return None
    return leaf


def check_signed_assertion(
    assertion: str,
    header: dict[str, Any],
    registered: list[x509.Certificate],
    trusted_subjects: tuple[str, ...],
) -> str | None:
    """None when the assertion is signed by an accepted certificate, else Entra's reason."""
    cert = next((c for c in registered if _matches(c, header)), None)
    if cert is None:
        cert = _x5c_leaf(header, trusted_subjects)
    if cert is None:
        return NOT_REGISTERED
    key = cert.public_key()
    alg = header.get("alg")
    if not isinstance(key, rsa.RSAPublicKey) or alg not in ("RS256", "PS256"):
        return BAD_SIGNATURE
    signing_input, _, signature = assertion.rpartition(".")
    pad: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if alg == "RS256"
        else padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    )
    try:
        key.verify(b64url_decode(signature), signing_input.encode(), pad, hashes.SHA256())
    except (InvalidSignature, ValueError, binascii.Error):
        return BAD_SIGNATURE
    return None
