"""A disk image's signer as publisher (artifacts/dmgsign.py): images built by samples/macos.py
and the real hdiutil image, signed here as codesign lays a signature out (a SuperBlob whose
0x10000 slot wraps the CMS, located by the koly trailer)."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.artifacts.dmgsign import dmg_signer
from intune_step.config.options import build_options
from intune_step.publish.prepare import prepare
from intune_step.samples.macos import build_dmg, info_plist
from tests.artifacts.signing import certificate, v1_signature

REAL = Path(__file__).parents[1] / "fixtures" / "macos" / "hfsplus_zlib.dmg"


def superblob(cms: bytes) -> bytes:
    """A code directory stand-in in slot 0 and the CMS wrapper in slot 0x10000."""
    directory = struct.pack(">II", 0xFADE0C02, 8 + 12) + bytes(12)
    wrapper = struct.pack(">II", 0xFADE0B01, 8 + len(cms)) + cms
    header = 12 + 2 * 8
    index = struct.pack(">IIII", 0, header, 0x10000, header + len(directory))
    total = header + len(directory) + len(wrapper)
    return struct.pack(">III", 0xFADE0CC0, total, 2) + index + directory + wrapper


def signed(path: Path, blob: bytes) -> Path:
    """Put ``blob`` before the trailer and point the trailer's signature fields at it."""
    data = path.read_bytes()
    body, trailer = data[:-512], bytearray(data[-512:])
    struct.pack_into(">QQ", trailer, 296, len(body), len(blob))
    path.write_bytes(body + blob + bytes(trailer))
    return path


def developer_id() -> bytes:
    key, cert = certificate(
        CN="Developer ID Application: Contoso Ltd (A1B2C3D4E5)",
        OU="A1B2C3D4E5",
        O="Contoso Ltd",
        C="US",
    )
    return v1_signature(key, cert)


def test_a_signed_image_names_its_signer(tmp_path: Path) -> None:
    path = build_dmg(
        tmp_path / "Demo.dmg", apps={"Demo.app": info_plist("com.contoso.demo", "2.1", "12.3")}
    )
    assert read_artifact(path).publisher is None  # unsigned
    meta = read_artifact(signed(path, superblob(developer_id())))
    assert meta.identity == "com.contoso.demo"  # the volume still reads
    assert meta.publisher == "Contoso Ltd"
    assert meta.details["signer"].startswith("C=US,O=Contoso Ltd,OU=A1B2C3D4E5")


def test_an_image_whose_app_is_unreadable_carries_its_signer(tmp_path: Path) -> None:
    path = signed(shutil.copy(REAL, tmp_path / "real.dmg"), superblob(developer_id()))
    with pytest.raises(MetadataUnreadableError) as info:
        read_artifact(path)
    assert info.value.hints["publisher"] == "Contoso Ltd"
    # and the app the user's bundle-id names is published under that signer
    raw = {"file": str(path), "bundle-id": "com.contoso.tools", "bundle-version": "1.0"}
    meta = prepare(build_options(raw, tmp_path))
    assert (meta.identity, meta.publisher) == ("com.contoso.tools", "Contoso Ltd")


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\xfa\xde\x0c\xc0",
        superblob(b"not cms"),
        bytes(64),
        struct.pack(">III", 0xFADE0CC0, 0xFFFF, 0xFFFFFFFF),
    ],
    ids=["empty", "short", "bad-cms", "zeros", "huge-claims"],
)
def test_a_damaged_signature_names_nobody(tmp_path: Path, blob: bytes) -> None:
    path = build_dmg(
        tmp_path / "Demo.dmg", apps={"Demo.app": info_plist("com.contoso.demo", "2.1", "12.3")}
    )
    assert dmg_signer(signed(path, blob)) is None
    assert read_artifact(path).identity == "com.contoso.demo"


def test_fuzzed_signatures_never_escape(tmp_path: Path, fuzz: Callable[..., int]) -> None:
    blob = superblob(developer_id())
    path = tmp_path / "f.dmg"
    base = build_dmg(
        tmp_path / "base.dmg", apps={"Demo.app": info_plist("com.contoso.demo", "2.1", "12.3")}
    )

    def read(data: bytes) -> None:
        shutil.copy(base, path)
        dmg_signer(signed(path, data))

    assert fuzz(blob, read) > 10
