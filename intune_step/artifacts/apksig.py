"""The certificate an APK is signed with, for its publisher name (artifacts/signer.py).

The APK Signing Block (schemes v2, v3, v3.1) sits right before the ZIP central directory:
``u64 size, (u64 length, u32 id, value)*, u64 size, "APK Sig Block 42"``. A v2/v3 value is
a u32-length-prefixed sequence of signers; each signer starts with its length-prefixed
signed data, which starts with the digests and then the certificates (each
length-prefixed, the signer's own first). Older APKs carry only the v1 (JAR) signature, a
PKCS#7 ``META-INF/*.RSA|DSA|EC``. Newest scheme first, as Android verifies.
(docs/protocol.md, "Android signing certificate".)

Nothing is verified here: the name is a default for the publisher, which the user may
override, and a damaged block gives no name rather than an error.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

from intune_step.artifacts.safezip import central_directory_offset, read_member
from intune_step.artifacts.signer import (
    MAX_SIGNATURE_BYTES,
    Signer,
    from_der_certificates,
    from_pkcs7,
)
from intune_step.errors import ArtifactError

MAGIC = b"APK Sig Block 42"
# scheme ids, newest first (apksig's V3_1 / V3 / V2 block ids)
SCHEMES = ((0x1B93AD61, "v3.1"), (0xF05368C0, "v3"), (0x7109871A, "v2"))
MAX_BLOCK_BYTES = 16 * 1024 * 1024  # signers plus verity padding; real blocks are ~4-8 KiB
MAX_PAIRS = 1024
V1_SIGNATURE = re.compile(r"^META-INF/[^/]+\.(RSA|DSA|EC)$", re.IGNORECASE)


def apk_signer(archive: zipfile.ZipFile, path: Path) -> tuple[Signer, str] | None:
    """(the signer, which scheme named it), or None when no signature gives a name."""
    for scheme, certificates in _block_certificates(path):
        signer = from_der_certificates(certificates)
        if signer is not None:
            return signer, scheme
    for name in sorted(n for n in archive.namelist() if V1_SIGNATURE.match(n)):
        try:
            der = read_member(archive, name, path, MAX_SIGNATURE_BYTES)
        except ArtifactError:
            continue
        signer = from_pkcs7(der)
        if signer is not None:
            return signer, "v1"
    return None


def _block_certificates(path: Path) -> list[tuple[str, list[bytes]]]:
    """The first signer's certificates of each scheme in the signing block, newest first."""
    end = central_directory_offset(path)
    if end is None or end < 32:
        return []
    try:
        with path.open("rb") as fp:
            fp.seek(end - 24)
            footer = fp.read(24)
            if len(footer) < 24 or footer[8:] != MAGIC:
                return []
            size = struct.unpack_from("<Q", footer)[0]
            if size < 24 or size > MAX_BLOCK_BYTES or size + 8 > end:
                return []
            fp.seek(end - size - 8)
            block = fp.read(size + 8)
    except OSError:
        return []
    if len(block) != size + 8 or struct.unpack_from("<Q", block)[0] != size:
        return []
    values = _pairs(block[8 : len(block) - 24])
    found = []
    for scheme_id, scheme in SCHEMES:
        value = values.get(scheme_id)
        certificates = _first_signer_certificates(value) if value is not None else None
        if certificates:
            found.append((scheme, certificates))
    return found


def _pairs(data: bytes) -> dict[int, bytes]:
    """id → value of the block's ID-value pairs; stops at the first malformed one."""
    pairs: dict[int, bytes] = {}
    pos = 0
    while pos + 12 <= len(data) and len(pairs) < MAX_PAIRS:
        length = struct.unpack_from("<Q", data, pos)[0]
        if length < 4 or pos + 8 + length > len(data):
            break
        pair_id = struct.unpack_from("<I", data, pos + 8)[0]
        pairs.setdefault(pair_id, data[pos + 12 : pos + 8 + length])
        pos += 8 + length
    return pairs


def _prefixed(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The u32-length-prefixed slice at ``pos`` and the position after it."""
    if pos + 4 > len(data):
        return None
    length = struct.unpack_from("<I", data, pos)[0]
    if pos + 4 + length > len(data):
        return None
    return data[pos + 4 : pos + 4 + length], pos + 4 + length


def _first_signer_certificates(value: bytes) -> list[bytes] | None:
    signers = _prefixed(value, 0)
    signer = _prefixed(signers[0], 0) if signers else None
    signed_data = _prefixed(signer[0], 0) if signer else None
    digests = _prefixed(signed_data[0], 0) if signed_data else None
    if signed_data is None or digests is None:
        return None
    sequence = _prefixed(signed_data[0], digests[1])
    if sequence is None:
        return None
    certificates: list[bytes] = []
    pos = 0
    while pos < len(sequence[0]) and len(certificates) < 16:
        item = _prefixed(sequence[0], pos)
        if item is None:
            return None
        certificates.append(item[0])
        pos = item[1]
    return certificates
