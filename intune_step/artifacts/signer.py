"""Who signed a file, as a publisher name: the subject of its signing certificate.

APKs (v1 PKCS#7 and the APK Signing Block), flat packages (the xar signature) and disk images
(the code signature's CMS blob) name their signer in an X.509 certificate. The publisher is
the subject's organisation (O), else its common name (CN); placeholders are skipped: keytool
writes "Unknown" into every field left blank, openssl's prompt offers "Internet Widgits Pty
Ltd", and the Android SDK's debug key says "Android Debug" / "Android": none names a
publisher. The input is untrusted: whatever
cannot be parsed gives no name, never an exception.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

MAX_SIGNATURE_BYTES = 1024 * 1024  # a signature with its chain is a few KB
MAX_NAME_CHARS = 256
PLACEHOLDERS = frozenset({"unknown", "android debug", "android", "internet widgits pty ltd"})
# one RDN of a Windows-style DN string: KEY=value or KEY="value, with commas"
_RDN = re.compile(r'\s*([A-Za-z][\w.]*)\s*=\s*("(?:[^"]|"")*"|[^,]*)\s*(?:,|$)')


@dataclass(frozen=True)
class Signer:
    """The signing certificate's subject as a publisher name, and the full subject."""

    name: str
    subject: str


def from_pkcs7(der: bytes) -> Signer | None:
    """The signer of a DER PKCS#7/CMS SignedData (a v1 APK ``.RSA``, a code signature): the
    certificate its first SignerInfo names by issuer and serial number, since the certificate
    set may carry others (AOSP's v1-only-pkcs7-cert-bag-first-cert-not-used.apk); without
    that, the leaf of the set."""
    if len(der) > MAX_SIGNATURE_BYTES:
        return None
    try:
        with warnings.catch_warnings():  # a BER-ordered set: cryptography warns, then reads it
            warnings.simplefilter("ignore", UserWarning)
            certificates = pkcs7.load_der_pkcs7_certificates(der)
    except (ValueError, UnsupportedAlgorithm):  # malformed, or PKCS#7 that is not SignedData
        return None
    serial = _signer_serial(der)
    named = [c for c in certificates if serial is not None and c.serial_number == serial]
    return from_certificates(named[:1] or certificates)


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


def _tlv(data: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at ``pos``; None if it does not
    fit (BER indefinite lengths included: the caller then falls back to the leaf)."""
    if pos + 2 > end:
        return None
    tag, first = data[pos], data[pos + 1]
    pos += 2
    length = first
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            return None
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return (tag, pos, pos + length) if pos + length <= end else None


def _items(data: bytes, element: tuple[int, int, int] | None) -> list[tuple[int, int, int]]:
    """The children of a constructed element, or [] when one does not fit."""
    if element is None:
        return []
    found: list[tuple[int, int, int]] = []
    pos, end = element[1], element[2]
    while pos < end and len(found) < 64:
        child = _tlv(data, pos, end)
        if child is None:
            return []
        found.append(child)
        pos = child[2]
    return found


def _signer_serial(der: bytes) -> int | None:
    """The serial number the first SignerInfo's issuerAndSerialNumber names (RFC 5652 5.3):
    ContentInfo → [0] → SignedData → signerInfos (its last SET) → SignerInfo → sid."""
    content = _items(der, _tlv(der, 0, len(der)))
    if len(content) < 2 or content[1][0] != 0xA0:
        return None
    signed_data = _items(der, next(iter(_items(der, content[1])), None))
    sets = [item for item in signed_data[1:] if item[0] == 0x31]
    signer_infos = _items(der, sets[-1]) if len(sets) >= 2 else []
    signer_info = _items(der, signer_infos[0]) if signer_infos else []
    sid = _items(der, signer_info[1]) if len(signer_info) > 1 and signer_info[1][0] == 0x30 else []
    if len(sid) != 2 or sid[1][0] != 0x02:
        return None  # a subjectKeyIdentifier sid, or no signer
    return int.from_bytes(der[sid[1][1] : sid[1][2]], "big", signed=True)


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
