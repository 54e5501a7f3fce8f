"""Intune's ProfileVersion1 content encryption, streamed.

Blob layout (docs/protocol.md, "ProfileVersion1 encryption"):
``mac(32) ‖ iv(16) ‖ AES-256-CBC-PKCS7(plaintext)`` where
``mac = HMAC-SHA256(macKey, iv ‖ ciphertext)`` and ``fileDigest = SHA-256(plaintext)``.

The MAC sits at the front but is known only at the end, so the encryptor hands out the
ciphertext as it is produced and the 48-byte header last; the uploader places the header
first in the block list. Nothing is buffered beyond one chunk.

Speed: AES-CBC encryption is sequential and cryptography keeps the GIL while it runs, but
hashlib releases the GIL while it hashes a large buffer. :class:`PipelineEncryptor` therefore
runs AES on the caller's thread and SHA-256 and HMAC-SHA256 on two threads of their own, so
on a machine with two or more cores the three passes overlap instead of adding up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PROFILE = "ProfileVersion1"
DIGEST_ALGORITHM = "SHA256"
HEADER_SIZE = 48  # mac(32) + iv(16)
AES_BLOCK = 16
# update_into needs room for len(data) + 15 bytes; the padding block adds up to 16 more.
OUT_SLACK = 2 * AES_BLOCK

Done = Callable[[], None]


class Hasher(Protocol):
    """What :class:`HashThread` needs of a hash: ``hashlib`` and ``hmac`` objects both fit."""

    def update(self, data: memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


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


def _keys(encryption_key: bytes | None, mac_key: bytes | None,
          iv: bytes | None) -> tuple[bytes, bytes, bytes]:
    keys = (encryption_key or os.urandom(32), mac_key or os.urandom(32), iv or os.urandom(16))
    if len(keys[0]) != 32 or len(keys[1]) != 32 or len(keys[2]) != 16:
        raise ValueError("ProfileVersion1 needs a 32-byte key, 32-byte MAC key, 16-byte IV")
    return keys


class CbcEncryptor:
    """AES-256-CBC with PKCS#7 padding over a stream.

    Only the last block needs padding, so it is added by hand at the end: cryptography's
    padder would copy every byte once more on the way.
    """

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        self._length = 0

    def update(self, plaintext: bytes | memoryview) -> bytes:
        self._length += len(plaintext)
        return self._cipher.update(plaintext)

    def update_into(self, plaintext: bytes | memoryview, out: bytearray | memoryview) -> int:
        """Encrypt into ``out`` (at least ``len(plaintext) + 15`` bytes); returns bytes written.

        With 16-byte aligned input, as the uploader feeds it, output length == input length.
        """
        self._length += len(plaintext)
        return self._cipher.update_into(plaintext, out)

    def _padding(self) -> bytes:
        pad = AES_BLOCK - self._length % AES_BLOCK
        return bytes([pad]) * pad

    def finalize(self) -> bytes:
        return self._cipher.update(self._padding()) + self._cipher.finalize()

    def finalize_into(self, out: bytearray | memoryview) -> int:
        """Write the last (padded) block into ``out`` (at least 31 bytes); returns 16."""
        written = self._cipher.update_into(self._padding(), out)
        self._cipher.finalize()  # nothing left: the padding completed the last block
        return written


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
        self._key, self._mac_key, self._iv = _keys(encryption_key, mac_key, iv)
        self._cipher = CbcEncryptor(self._key, self._iv)
        self._hmac = hmac.new(self._mac_key, self._iv, "sha256")
        self._digest = hashlib.sha256()
        self._mac: bytes | None = None

    def update(self, plaintext: bytes) -> bytes:
        self._digest.update(plaintext)
        ciphertext = self._cipher.update(plaintext)
        self._hmac.update(ciphertext)
        return ciphertext

    def finalize(self) -> bytes:
        tail = self._cipher.finalize()
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


class HashThread:
    """One hash object fed in order on a thread of its own.

    :meth:`feed` hands over a view and returns at once; ``done`` runs once the view has been
    hashed (or skipped after an error), so the caller knows when it may reuse the buffer.
    """

    def __init__(self, hasher: Hasher, name: str) -> None:
        self._hasher = hasher
        self._queue: queue.SimpleQueue[tuple[memoryview, Done | None] | None] = (
            queue.SimpleQueue())
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def feed(self, data: memoryview, done: Done | None = None) -> None:
        if self._error is not None:
            if done is not None:
                done()
            raise self._error
        self._queue.put((data, done))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            data, done = item
            try:
                if self._error is None:
                    self._hasher.update(data)
            except BaseException as exc:  # surfaced to the feeder by feed() or digest()
                self._error = exc
            finally:
                if done is not None:
                    done()

    def digest(self) -> bytes:
        """Wait for everything fed so far and return the digest."""
        self.close()
        if self._error is not None:
            raise self._error
        return self._hasher.digest()

    def close(self) -> None:
        """Stop the thread once it has drained the queue (every ``done`` still runs)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class PipelineEncryptor:
    """ProfileVersion1 over a stream, with SHA-256 and HMAC on their own threads.

    The caller owns the buffers. :meth:`update_into` encrypts ``plaintext`` into ``out``
    here (AES) and queues the plaintext for SHA-256 and the ciphertext for HMAC; neither
    buffer may change until its ``done`` callback has run. Call :meth:`finalize_into` once,
    then :meth:`info` (which waits for the hashes), or :meth:`close` to give up.
    """

    def __init__(
        self,
        encryption_key: bytes | None = None,
        mac_key: bytes | None = None,
        iv: bytes | None = None,
    ) -> None:
        self._key, self._mac_key, self._iv = _keys(encryption_key, mac_key, iv)
        self._cipher = CbcEncryptor(self._key, self._iv)
        self._sha = HashThread(hashlib.sha256(), "sha256")
        self._hmac = HashThread(hmac.new(self._mac_key, self._iv, "sha256"), "hmac")
        self._info: FileEncryptionInfo | None = None

    def update_into(self, plaintext: memoryview, out: memoryview,
                    plain_done: Done | None = None, out_done: Done | None = None) -> int:
        """Encrypt ``plaintext`` into ``out`` (``len(plaintext) + 15`` bytes at least)."""
        try:
            self._sha.feed(plaintext, plain_done)
            written = self._cipher.update_into(plaintext, out)
        except BaseException:
            if out_done is not None:
                out_done()
            raise
        self._hmac.feed(out[:written], out_done)
        return written

    def finalize_into(self, out: memoryview, out_done: Done | None = None) -> int:
        """Write the padded last block into ``out`` (31 bytes at least); returns 16."""
        written = self._cipher.finalize_into(out)
        self._hmac.feed(out[:written], out_done)
        return written

    def info(self) -> FileEncryptionInfo:
        if self._info is None:
            self._info = FileEncryptionInfo(
                encryption_key=self._key,
                mac_key=self._mac_key,
                initialization_vector=self._iv,
                mac=self._hmac.digest(),
                file_digest=self._sha.digest(),
            )
        return self._info

    def header(self) -> bytes:
        """``mac ‖ iv``, the blob's first 48 bytes (after :meth:`finalize_into`)."""
        return self.info().mac + self._iv

    def close(self) -> None:
        self._sha.close()
        self._hmac.close()


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
