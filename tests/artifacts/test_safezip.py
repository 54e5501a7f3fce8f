"""safezip: every damaged-archive error becomes an ArtifactError with a fix, and nothing
unbounded is read (the central directory is sized from the end records first)."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest

from intune_step.artifacts.safezip import (
    MAX_CENTRAL_DIRECTORY,
    central_directory_size,
    open_zip,
    read_member,
)
from intune_step.errors import ArtifactError


def make(path: Path, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("meta.xml", b"<a>" + b"x" * 4000 + b"</a>")
        archive.writestr("other.bin", b"y" * 100)
    return path


def refused(call, match: str) -> ArtifactError:
    with pytest.raises(ArtifactError, match=match) as caught:
        call()
    assert caught.value.fix and "\n" not in caught.value.one_line()
    return caught.value


def test_a_damaged_deflate_stream_is_an_artifact_error(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip")
    data = bytearray(path.read_bytes())
    start = 30 + len("meta.xml")  # the first member's data follows its local header
    data[start : start + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    with open_zip(path, "IPA") as archive:
        error = refused(lambda: read_member(archive, "meta.xml", path), "meta.xml cannot be read")
    assert "error" in error.message.lower()  # zlib.error or BadZipFile (CRC), never raw


def test_an_unknown_compression_method_is_an_artifact_error(tmp_path: Path) -> None:
    path = make(tmp_path / "m.zip")
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)  # AE-x / unknown method
    struct.pack_into("<H", data, 8, 99)
    path.write_bytes(bytes(data))
    with open_zip(path, "APK") as archive:
        refused(lambda: read_member(archive, "meta.xml", path), "NotImplementedError")


def test_a_missing_member_names_a_fix(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip")
    with open_zip(path, "IPA") as archive:
        refused(lambda: read_member(archive, "nope", path), "nope is missing")


def test_the_central_directory_is_sized_before_zipfile_reads_it(tmp_path: Path) -> None:
    path = make(tmp_path / "a.zip")
    with zipfile.ZipFile(path) as archive:
        real = path.stat().st_size - archive.start_dir - 22
    assert central_directory_size(path) == real
    data = bytearray(path.read_bytes())
    struct.pack_into("<L", data, data.rfind(b"PK\x05\x06") + 12, MAX_CENTRAL_DIRECTORY + 1)
    path.write_bytes(bytes(data))
    refused(lambda: open_zip(path, "MSIX package"), "central directory claims")
    (tmp_path / "junk.zip").write_bytes(b"no end record here")
    assert central_directory_size(tmp_path / "junk.zip") is None
    refused(lambda: open_zip(tmp_path / "junk.zip", "IPA"), "not a readable ZIP")


def test_zip64_end_records_are_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # zipfile then writes zip64 records
    path = make(tmp_path / "z64.zip")
    monkeypatch.undo()
    data = path.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data
    with zipfile.ZipFile(path) as archive:
        assert central_directory_size(path) == data.find(b"PK\x06\x06") - archive.start_dir
    with open_zip(path, "IPA") as archive:
        assert read_member(archive, "other.bin", path) == b"y" * 100
