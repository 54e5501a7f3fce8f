"""The checks Intune runs at commit, over a stream: memory stays at one chunk.

The checks are listed in docs/protocol.md, "Commit checks".

Any mismatch is a ``commitFileFailed`` reason, never an HTTP error: the commit POST itself
has already succeeded by the time this runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from intune_step.crypto import HEADER_SIZE, FileEncryptionInfo

_FIELDS = {
    "encryptionKey": "encryption_key",
    "macKey": "mac_key",
    "initializationVector": "initialization_vector",
    "mac": "mac",
    "fileDigest": "file_digest",
}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    reason: str = ""
    plaintext_sha256: str | None = None
    state: str | None = None  # the failure state to report; None: commitFileFailed


def parse_encryption_info(obj: Any) -> FileEncryptionInfo:
    """Graph's fileEncryptionInfo JSON → FileEncryptionInfo; ValueError if it cannot be read.

    Binary fields must be valid base64 (Edm.Binary); their lengths are checked later, at
    verification, because the live service reports those as commitFileFailed.
    """
    if not isinstance(obj, dict):
        raise ValueError("The 'fileEncryptionInfo' property is required.")
    values: dict[str, Any] = {}
    for wire, attr in _FIELDS.items():
        raw = obj.get(wire)
        if not isinstance(raw, str):
            raise ValueError(f"The 'fileEncryptionInfo.{wire}' property is required.")
        try:
            values[attr] = base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"'fileEncryptionInfo.{wire}' is not valid base64.") from exc
    values["profile_identifier"] = str(obj.get("profileIdentifier") or "")
    values["file_digest_algorithm"] = str(obj.get("fileDigestAlgorithm") or "")
    return FileEncryptionInfo(**values)


def verify_stream(
    chunks: Iterable[bytes],
    info: FileEncryptionInfo,
    *,
    size: int,
    size_encrypted: int,
    blob_length: int,
) -> VerifyResult:
    """Check a committed blob against its commit metadata, reading it exactly once."""
    if info.profile_identifier != "ProfileVersion1":
        return VerifyResult(False, f"profileIdentifier {info.profile_identifier!r} unsupported")
    if info.file_digest_algorithm.upper() != "SHA256":
        return VerifyResult(False, f"fileDigestAlgorithm {info.file_digest_algorithm!r}")
    for name, value, want in (
        ("encryptionKey", info.encryption_key, 32),
        ("macKey", info.mac_key, 32),
        ("initializationVector", info.initialization_vector, 16),
        ("mac", info.mac, 32),
        ("fileDigest", info.file_digest, 32),
    ):
        if len(value) != want:
            return VerifyResult(False, f"{name} is {len(value)} bytes, not {want}")
    if blob_length != size_encrypted:
        return VerifyResult(False, f"blob is {blob_length} bytes, sizeEncrypted={size_encrypted}")
    if blob_length < HEADER_SIZE + 16 or (blob_length - HEADER_SIZE) % 16:
        return VerifyResult(False, f"blob length {blob_length} is not a ProfileVersion1 length")

    header = bytearray()
    mac_calc = hmac.new(info.mac_key, digestmod=hashlib.sha256)
    decryptor = Cipher(
        algorithms.AES(info.encryption_key), modes.CBC(info.initialization_vector)
    ).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    digest = hashlib.sha256()
    plain_len = 0
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if len(header) < HEADER_SIZE:
            need = HEADER_SIZE - len(header)
            header += chunk[:need]
            chunk = chunk[need:]
            if len(header) == HEADER_SIZE:
                mac_calc.update(bytes(header[32:]))
        if not chunk:
            continue
        mac_calc.update(chunk)
        plain = unpadder.update(decryptor.update(chunk))
        digest.update(plain)
        plain_len += len(plain)
    if seen != blob_length:
        return VerifyResult(False, f"read {seen} bytes of a {blob_length}-byte blob")
    if not hmac.compare_digest(bytes(header[:32]), info.mac):
        return VerifyResult(False, "the MAC in the blob header differs from fileEncryptionInfo.mac")
    if bytes(header[32:]) != info.initialization_vector:
        return VerifyResult(False, "the IV in the blob header differs from initializationVector")
    if not hmac.compare_digest(mac_calc.digest(), info.mac):
        return VerifyResult(False, "HMAC-SHA256(macKey, iv ‖ ciphertext) does not match mac")
    try:
        tail = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        return VerifyResult(False, "bad PKCS7 padding (wrong encryptionKey?)")
    digest.update(tail)
    plain_len += len(tail)
    if plain_len != size:
        return VerifyResult(False, f"plaintext is {plain_len} bytes but size={size}")
    if not hmac.compare_digest(digest.digest(), info.file_digest):
        return VerifyResult(False, "SHA-256 of the plaintext does not match fileDigest")
    return VerifyResult(True, "", digest.hexdigest())
