"""Intune's ProfileVersion1 content encryption, streamed.

Blob layout (spec §3.1): ``mac(32) ‖ iv(16) ‖ AES-256-CBC-PKCS7(plaintext)`` where
``mac = HMAC-SHA256(macKey, iv ‖ ciphertext)`` and ``fileDigest = SHA-256(plaintext)``.

The MAC sits at the front but is known only at the end, so the encryptor hands out the
ciphertext as it is produced and the 48-byte header last; the uploader places the header
first in the block list. Nothing is buffered beyond one chunk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PROFILE = "ProfileVersion1"
DIGEST_ALGORITHM = "SHA256"
HEADER_SIZE = 48  # mac(32) + iv(16)


def encrypted_size(plain_size: int) -> int:
    """Size of the uploaded blob for a plaintext of ``plain_size`` bytes (PKCS7 always pads)."""
    return HEADER_SIZE + 16 * (plain_size // 16 + 1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class FileEncryptionInfo:
    """The keys and digests committed with a content file."""

    encryption_key: bytes
    mac_key: bytes
    initialization_vector: bytes
    mac: bytes
    file_digest: bytes
    profile_identifier: str = PROFILE
    file_digest_algorithm: str = DIGEST_ALGORITHM

    def to_graph(self) -> dict[str, str]:
        return {
            "@odata.type": "#microsoft.graph.fileEncryptionInfo",
            "encryptionKey": b64(self.encryption_key),
            "macKey": b64(self.mac_key),
            "initializationVector": b64(self.initialization_vector),
            "mac": b64(self.mac),
            "profileIdentifier": self.profile_identifier,
            "fileDigest": b64(self.file_digest),
            "fileDigestAlgorithm": self.file_digest_algorithm,
        }

    def __repr__(self) -> str:  # keys never reach a log through repr()
        return f"FileEncryptionInfo(profile={self.profile_identifier!r}, keys=<hidden>)"


class StreamEncryptor:
    """Encrypts, MACs and digests a plaintext in one pass.

    Feed plaintext with :meth:`update` (returns ciphertext), then call :meth:`finalize`
    (returns the last ciphertext bytes). Afterwards :meth:`header` gives ``mac ‖ iv`` and
    :meth:`info` the FileEncryptionInfo.
    """

    def __init__(
        self,
        encryption_key: bytes | None = None,
        mac_key: bytes | None = None,
        iv: bytes | None = None,
    ) -> None:
        self._key = encryption_key or os.urandom(32)
        self._mac_key = mac_key or os.urandom(32)
        self._iv = iv or os.urandom(16)
        if len(self._key) != 32 or len(self._mac_key) != 32 or len(self._iv) != 16:
            raise ValueError("ProfileVersion1 needs a 32-byte key, 32-byte MAC key, 16-byte IV")
        self._cipher = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        self._padder = padding.PKCS7(128).padder()
        self._hmac = hmac.new(self._mac_key, self._iv, hashlib.sha256)
        self._digest = hashlib.sha256()
        self._mac: bytes | None = None

    def update(self, plaintext: bytes) -> bytes:
        self._digest.update(plaintext)
        ciphertext = self._cipher.update(self._padder.update(plaintext))
        self._hmac.update(ciphertext)
        return ciphertext

    def finalize(self) -> bytes:
        tail = self._cipher.update(self._padder.finalize()) + self._cipher.finalize()
        self._hmac.update(tail)
        self._mac = self._hmac.digest()
        return tail

    def header(self) -> bytes:
        if self._mac is None:
            raise RuntimeError("header() is known only after finalize()")
        return self._mac + self._iv

    def info(self) -> FileEncryptionInfo:
        return FileEncryptionInfo(
            encryption_key=self._key,
            mac_key=self._mac_key,
            initialization_vector=self._iv,
            mac=self.header()[:32],
            file_digest=self._digest.digest(),
        )


def encrypt_bytes(plaintext: bytes, **keys: bytes) -> tuple[bytes, FileEncryptionInfo]:
    """Whole-buffer helper for tests and small data: returns (blob, info)."""
    enc = StreamEncryptor(**keys)
    body = enc.update(plaintext) + enc.finalize()
    return enc.header() + body, enc.info()


def decrypt_blob(blob: bytes, info: FileEncryptionInfo) -> bytes:
    """Verify and decrypt a ProfileVersion1 blob; raises ValueError on any mismatch."""
    if len(blob) < HEADER_SIZE + 16 or (len(blob) - HEADER_SIZE) % 16:
        raise ValueError("blob length is not a ProfileVersion1 length")
    mac, iv, ciphertext = blob[:32], blob[32:48], blob[48:]
    expected = hmac.new(info.mac_key, iv + ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected) or not hmac.compare_digest(mac, info.mac):
        raise ValueError("MAC mismatch")
    if iv != info.initialization_vector:
        raise ValueError("IV mismatch")
    decryptor = Cipher(algorithms.AES(info.encryption_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    plaintext = unpadder.update(padded) + unpadder.finalize()
    if hashlib.sha256(plaintext).digest() != info.file_digest:
        raise ValueError("file digest mismatch")
    return plaintext
