"""Pieces of the emulator on their own: the $filter parser and the streaming verifier."""

from __future__ import annotations

import hashlib
import os

import pytest

from intune_step.crypto import StreamEncryptor, encrypt_bytes
from intune_step.emulator.odata_filter import FilterError, Schema, compile_filter
from intune_step.emulator.verify import verify_stream

SCHEMA = Schema(
    has_property=lambda p: p in {"displayName", "notes", "isAssigned", "size"},
    lookup=lambda e, p: e.get(p),
    is_of=lambda e, t: e.get("type") == t.rsplit(".", 1)[-1],
)
APP = {"displayName": "Contoso O'Field", "notes": None, "isAssigned": True, "size": 5,
       "type": "iosLobApp"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("displayName eq 'Contoso O''Field'", True),
        ("displayName ne 'x' and isAssigned eq true", True),
        ("not (isAssigned eq true) or size gt 4", True),
        ("size ge 6", False),
        ("contains(tolower(displayName), 'o''field')", True),
        ("startswith(displayName, 'Contoso') and endswith(displayName, 'Field')", True),
        ("contains(notes, 'x')", False),
        ("notes eq null", True),
        ("isof('microsoft.graph.iosLobApp') and (isof('a') or isof('b') or size lt 10)", True),
        ("isof('microsoft.graph.win32LobApp')", False),
    ],
)
def test_filter_evaluates(text: str, expected: bool) -> None:
    assert compile_filter(text, SCHEMA)(APP) is expected


@pytest.mark.parametrize(
    "text", ["bundleId eq 'x'", "displayName eq", "(size eq 1", "frob(displayName)", "size eq ~"]
)
def test_filter_rejects(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text, SCHEMA)


def test_verify_streams_in_small_chunks() -> None:
    plaintext = os.urandom(1_000_003)
    enc = StreamEncryptor()
    body = enc.update(plaintext) + enc.finalize()
    blob = enc.header() + body
    chunks = (blob[i : i + 4097] for i in range(0, len(blob), 4097))  # odd sizes, split header
    result = verify_stream(
        chunks, enc.info(), size=len(plaintext), size_encrypted=len(blob), blob_length=len(blob)
    )
    assert result.ok, result.reason
    assert result.plaintext_sha256 == hashlib.sha256(plaintext).hexdigest()


def test_verify_empty_file_and_truncation() -> None:
    blob, info = encrypt_bytes(b"")
    assert len(blob) == 64
    assert verify_stream([blob], info, size=0, size_encrypted=64, blob_length=64).ok
    short = verify_stream([blob[:40]], info, size=0, size_encrypted=64, blob_length=64)
    assert not short.ok and "read 40" in short.reason
