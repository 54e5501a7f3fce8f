"""Who signed a disk image (``codesign`` on a .dmg), for its publisher name.

The UDIF trailer (``koly``, the file's last 512 bytes, big-endian) holds the offset and size
of an embedded code signature at bytes 296 and 304 (apple-codesign's ``KolyTrailer``; zero
when unsigned). The signature is a SuperBlob (magic 0xfade0cc0: length, count, then
``(type, offset)`` pairs); the slot of type 0x10000 is a BlobWrapper (magic 0xfade0b01)
around the CMS SignedData, whose certificates name the Developer ID (docs/protocol.md,
"Publisher and display name"). Nothing is verified; anything malformed gives no name.
"""

from __future__ import annotations

import struct
from pathlib import Path

from intune_step.artifacts.signer import Signer, from_pkcs7

TRAILER = 512
SIGNATURE_FIELDS = 296  # u64 offset, u64 size
SUPERBLOB = 0xFADE0CC0
BLOB_WRAPPER = 0xFADE0B01
CMS_SLOT = 0x10000
MAX_SIGNATURE_BYTES = 4 * 1024 * 1024  # the code directory, requirements and CMS: ~10 KB
MAX_SLOTS = 64


def dmg_signer(path: Path) -> Signer | None:
    try:
        size = path.stat().st_size
        if size < TRAILER:
            return None
        with path.open("rb") as fp:
            fp.seek(size - TRAILER)
            trailer = fp.read(TRAILER)
            if len(trailer) != TRAILER or trailer[:4] != b"koly":
                return None
            offset, length = struct.unpack_from(">QQ", trailer, SIGNATURE_FIELDS)
            if not 12 <= length <= MAX_SIGNATURE_BYTES or offset + length > size - TRAILER:
                return None
            fp.seek(offset)
            blob = fp.read(length)
    except OSError:
        return None
    der = _cms(blob)
    return from_pkcs7(der) if der else None


def _cms(blob: bytes) -> bytes | None:
    """The CMS bytes of the SuperBlob's signature slot, if every length fits."""
    if len(blob) < 12:
        return None
    magic, length, count = struct.unpack_from(">III", blob)
    if magic != SUPERBLOB or length > len(blob):
        return None
    for index in range(min(count, MAX_SLOTS)):
        at = 12 + 8 * index
        if at + 8 > length:
            return None
        slot, offset = struct.unpack_from(">II", blob, at)
        if slot != CMS_SLOT or offset + 8 > length:
            continue
        wrapper, size = struct.unpack_from(">II", blob, offset)
        if wrapper != BLOB_WRAPPER or size < 8 or offset + size > length:
            return None
        return blob[offset + 8 : offset + size]
    return None
