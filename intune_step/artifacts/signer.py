"""Who signed a file, as a publisher name: the subject of its signing certificate.

APKs (v1 PKCS#7 and the APK Signing Block), flat packages (the xar signature) and disk images
(the code signature's CMS blob) name their signer in an X.509 certificate. The publisher is
the subject's organisation (O), else its common name (CN); placeholders are skipped: keytool
writes "Unknown" into every field left blank, and the Android SDK's debug key says
"Android Debug" / "Android", which names no publisher. The input is untrusted: whatever
cannot be parsed gives no name, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

MAX_SIGNATURE_BYTES = 1024 * 1024  # a signature with its chain is a few KB
MAX_NAME_CHARS = 256
PLACEHOLDERS = frozenset({"unknown", "android debug", "android"})
# one RDN of a Windows-style DN string: KEY=value or KEY="value, with commas"
_RDN = re.compile(r'\s*([A-Za-z][\w.]*)\s*=\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)')


@dataclass(frozen=True)
class Signer:
    """The signing certificate's subject as a publisher name, and the full subject."""

    name: str
    subject: str


def from_pkcs7(der: bytes) -> Signer | None:
    """The signer of a DER PKCS#7/CMS SignedData (a v1 APK ``.RSA``, a code signature)."""
    if len(der) > MAX_SIGNATURE_BYTES:
        return None
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(der)
    except (ValueError, UnsupportedAlgorithm):  # malformed, or PKCS#7 that is not SignedData
        return None
    return from_certificates(certificates)


def from_der_certificates(ders: Sequence[bytes]) -> Signer | None:
    """The signer among DER X.509 certificates (leaf first, as APK v2/v3 and xar list them)."""
    certificates = []
    for der in ders[:16]:
        if len(der) > MAX_SIGNATURE_BYTES:
            return None
        try:
            certificates.append(x509.load_der_x509_certificate(der))
        except ValueError:
            return None
    return from_certificates(certificates)


def from_certificates(certificates: Sequence[x509.Certificate]) -> Signer | None:
    """The leaf's subject: the certificate that issued none of the others."""
    if not certificates:
        return None
    try:
        issuers = {c.issuer.rfc4514_string() for c in certificates}
        leaves = [c for c in certificates if c.subject.rfc4514_string() not in issuers]
        leaf = (leaves or list(certificates))[0]
        subject = leaf.subject.rfc4514_string()
        for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
            for attribute in leaf.subject.get_attributes_for_oid(oid):
                value = attribute.value
                text = (value if isinstance(value, str) else "").strip()
                if text and text.lower() not in PLACEHOLDERS:
                    return Signer(text[:MAX_NAME_CHARS], subject)
    except ValueError:  # an undecodable name
        return None
    return None


def name_from_dn(dn: str) -> str | None:
    """O, else CN, of a distinguished name as MSIX writes it ("CN=Contoso, O=Contoso Ltd,
    C=US", values with commas in double quotes); None when neither names a publisher."""
    fields: dict[str, str] = {}
    for match in _RDN.finditer(dn[:4096]):
        value = match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('""', '"')
        fields.setdefault(match.group(1).upper(), value.strip())
    for key in ("O", "CN"):
        text = fields.get(key, "")
        if text and text.lower() not in PLACEHOLDERS:
            return text[:MAX_NAME_CHARS]
    return None
