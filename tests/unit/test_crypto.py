"""ProfileVersion1 against a known-answer vector, and streaming == whole-buffer.

The format and the vector: docs/protocol.md, "ProfileVersion1 encryption".
"""

from __future__ import annotations

import base64
import os

import pytest

from intune_step.crypto import StreamEncryptor, decrypt_blob, encrypt_bytes, encrypted_size

KEY = bytes(range(0x00, 0x20))
MAC_KEY = bytes(range(0x20, 0x40))
IV = bytes(range(0x40, 0x50))


def test_known_answer_vector_from_the_spec() -> None:
    blob, info = encrypt_bytes(b"hello intune\n", encryption_key=KEY, mac_key=MAC_KEY, iv=IV)
    graph = info.to_graph()
    assert blob[48:].hex() == "854edbcb1227e5eba729266587f3baa7"
    assert graph["mac"] == "FBv4JeL39dU7m1rWMQRGDTpeopqoyvddFS3fUCwPnVk="
    assert graph["fileDigest"] == "g/p89rBI+aNBmygFE3rERWWlG4dF/8bSCidlvrrewpM="
    assert graph["encryptionKey"] == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    assert blob[:32] == base64.b64decode(graph["mac"]) and blob[32:48] == IV
    assert len(blob) == 64 == encrypted_size(13)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096, 100_003])
def test_streamed_chunks_equal_one_buffer_and_decrypt(size: int) -> None:
    plaintext = os.urandom(size)
    whole, info = encrypt_bytes(plaintext, encryption_key=KEY, mac_key=MAC_KEY, iv=IV)
    enc = StreamEncryptor(encryption_key=KEY, mac_key=MAC_KEY, iv=IV)
    pieces = [enc.update(plaintext[i:i + 777]) for i in range(0, size, 777)]
    body = b"".join(pieces) + enc.finalize()
    assert enc.header() + body == whole
    assert len(whole) == encrypted_size(size)
    assert decrypt_blob(whole, info) == plaintext


def test_tampered_blob_is_refused() -> None:
    blob, info = encrypt_bytes(b"payload" * 10)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ValueError, match="MAC"):
        decrypt_blob(tampered, info)


def test_repr_hides_keys() -> None:
    _, info = encrypt_bytes(b"x", encryption_key=KEY, mac_key=MAC_KEY, iv=IV)
    assert base64.b64encode(KEY).decode() not in repr(info)
    assert KEY.hex() not in repr(info)
