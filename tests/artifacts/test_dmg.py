"""The DMG reader: a real hdiutil UDZO image (GPT + HFS+, no app), generated HFS+ images
with apps (cross-checked with 7-Zip), and damaged or unsupported images."""

from __future__ import annotations

import plistlib
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.artifacts.dmg import FILE, FOLDER, HfsPlus, UdifDisk, _find_hfs, read_dmg
from intune_step.artifacts.minos import minimum_os_flags
from intune_step.errors import ArtifactError
from intune_step.samples.macos import build_dmg, info_plist

from ..independent import needs_tool

REAL = Path(__file__).parents[1] / "fixtures" / "macos" / "hfsplus_zlib.dmg"
A_FILE = b"This is a text file.\n\nWe should be able to parse it.\n"
needs_7zz = needs_tool("7zz")


def open_volume(path: Path) -> tuple[object, HfsPlus]:
    fp = path.open("rb")
    disk = UdifDisk(fp, path)
    return fp, _find_hfs(disk, path)


def make(tmp_path: Path, name: str = "demo.dmg", **kw: object) -> Path:
    apps = kw.pop("apps", {"Demo.app": info_plist("com.contoso.demo", "2.1", "12.3")})
    return build_dmg(tmp_path / name, apps=apps, **kw)  # type: ignore[arg-type]


# --- the real image ------------------------------------------------------------------------


def test_real_image_has_no_app() -> None:
    with pytest.raises(MetadataUnreadableError, match=r"no \.app was found") as info:
        read_dmg(REAL)
    assert "--bundle-id" in (info.value.fix or "") and "--bundle-version" in (info.value.fix or "")
    assert "\n" not in info.value.one_line()


def test_real_image_volume_listing_and_file() -> None:
    """The same tree 7-Zip lists (tests/fixtures/macos/README.md)."""
    fp, volume = open_volume(REAL)
    with fp:  # type: ignore[attr-defined]
        root = {r.name: r.kind for r in volume.children(2)}
        assert root == {
            ".HFS+ Private Directory Data\r": FOLDER,
            "a_directory": FOLDER,
            "a_link": FILE,
            "passwords.txt": FILE,
            "\x00\x00\x00\x00HFS+ Private Data": FOLDER,
        }
        folder = volume.child(2, "a_directory")
        assert folder is not None
        files = {r.name: r for r in volume.children(folder.cnid)}
        assert sorted(files) == ["a_file", "a_resourcefork", "another_file"]
        assert volume.read_file(files["a_file"], 1000) == A_FILE
        assert len(volume.read_file(files["another_file"], 1000)) == 22
        assert volume.kind == "HFS+" and volume.block_size == 4096


@needs_7zz
def test_real_image_file_matches_seven_zip() -> None:
    out = subprocess.run(
        ["7zz", "e", "-so", str(REAL), "hfsplus_test/a_directory/a_file"],
        capture_output=True,
        check=True,
    ).stdout
    assert out.startswith(A_FILE)  # 7-Zip appends the file's extended attribute stream


# --- generated images ----------------------------------------------------------------------


def test_single_app(tmp_path: Path) -> None:
    path = make(tmp_path, files={"ReadMe.txt": b"hello\n"})
    meta = read_dmg(path)
    assert meta.app_type == "macOSDmgApp"
    assert (meta.identity, meta.version, meta.build) == ("com.contoso.demo", "2.1", "21")
    assert meta.display_name == "Demo" and meta.manifest is None
    assert meta.minimum_os is not None and meta.minimum_os.version == "12.3"
    assert minimum_os_flags(meta.minimum_os) == {"v12_0": True}
    assert meta.properties == {
        "primaryBundleId": "com.contoso.demo",
        "primaryBundleVersion": "2.1",
        "includedApps": [
            {
                "@odata.type": "#microsoft.graph.macOSIncludedApp",
                "bundleId": "com.contoso.demo",
                "bundleVersion": "2.1",
            }
        ],
    }
    assert read_artifact(path).identity == "com.contoso.demo"


@needs_7zz
def test_seven_zip_reads_the_generated_image(tmp_path: Path) -> None:
    path = make(tmp_path, files={"ReadMe.txt": b"hello\n"})
    listing = subprocess.run(
        ["7zz", "l", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Demo/Demo.app/Contents/Info.plist" in listing and "Demo/ReadMe.txt" in listing
    plist = subprocess.run(
        ["7zz", "e", "-so", str(path), "Demo/Demo.app/Contents/Info.plist"],
        capture_output=True,
        check=True,
    ).stdout
    assert plistlib.loads(plist)["CFBundleIdentifier"] == "com.contoso.demo"


def test_many_apps_span_several_catalog_leaves(tmp_path: Path) -> None:
    extra = {f"Extra{i:03d}.app": info_plist(f"com.x.e{i}", "1.0", "11.0") for i in range(60)}
    apps = {"Alpha.app": info_plist("com.x.alpha", "3.0", "13.0"), **extra}
    files = {f"docs/file{i}.txt": b"x" * 5000 for i in range(40)}
    path = make(tmp_path, apps=apps, files=files)
    fp, volume = open_volume(path)
    with fp:  # type: ignore[attr-defined]
        assert volume._depth == 2  # an index node over several leaves
    meta = read_dmg(path)
    assert meta.identity == "com.x.alpha"  # catalog order: the first app by name
    included = meta.properties["includedApps"]
    assert len(included) == 61 and included[0]["bundleId"] == "com.x.alpha"


@pytest.mark.parametrize(
    ("image", "primary"),
    [("Suite.dmg", "com.x.suite"), ("Suite 4.0.2.dmg", "com.x.suite"),
     ("Suite-Helper-1.1.dmg", "com.x.helper"), ("Suitecase.dmg", "com.x.helper"),
     ("installer.dmg", "com.x.helper")],
)
def test_the_app_the_image_is_named_after_is_primary(
        tmp_path: Path, image: str, primary: str) -> None:
    apps = {"Suite.app": info_plist("com.x.suite", "4.0.2", "12.0"),
            "Suite-Helper.app": info_plist("com.x.helper", "1.1", "11.0")}
    meta = read_dmg(build_dmg(tmp_path / image, apps=apps))
    ids = [app["bundleId"] for app in meta.properties["includedApps"]]
    assert meta.identity == ids[0] == primary  # else the catalog's order: by name
    assert sorted(ids) == ["com.x.helper", "com.x.suite"]


def test_binary_plist_and_numeric_version(tmp_path: Path) -> None:
    plist = plistlib.dumps(
        {"CFBundleIdentifier": "com.b", "CFBundleVersion": 42, "CFBundleName": "B"},
        fmt=plistlib.FMT_BINARY,
    )
    meta = read_dmg(make(tmp_path, apps={"B.app": plist}))
    assert (meta.identity, meta.version, meta.build) == ("com.b", "42", "42")
    assert meta.minimum_os is None


def test_bzip2_and_raw_chunks(tmp_path: Path) -> None:
    """Rewrite the zlib chunks of a generated image as bzip2 (UDBZ) and raw (UDRO) ones."""
    import bz2

    path = make(tmp_path)
    data = path.read_bytes()
    for kind, encode in ((0x80000006, bz2.compress), (0x00000001, lambda b: b)):
        rebuilt = _recode(data, kind, encode, zlib.decompress)
        (tmp_path / "r.dmg").write_bytes(rebuilt)
        assert read_dmg(tmp_path / "r.dmg").identity == "com.contoso.demo"


def _recode(
    data: bytes, kind: int, encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes]
) -> bytes:
    koly = data[-512:]
    xml_offset, xml_length = struct.unpack_from(">QQ", koly, 216)
    plist = plistlib.loads(data[xml_offset : xml_offset + xml_length])
    entry = plist["resource-fork"]["blkx"][0]
    mish = bytearray(entry["Data"])
    count = struct.unpack_from(">I", mish, 200)[0]
    fork = bytearray()
    for i in range(count):
        at = 204 + 40 * i
        old_kind, _, _, _, offset, length = struct.unpack_from(">IIQQQQ", mish, at)
        if old_kind == 0x80000005:
            piece = encode(decode(data[offset : offset + length]))
            struct.pack_into(">I", mish, at, kind)
            struct.pack_into(">QQ", mish, at + 24, len(fork), len(piece))
            fork += piece
    entry["Data"] = bytes(mish)
    xml = plistlib.dumps(plist)
    new_koly = bytearray(koly)
    struct.pack_into(">QQ", new_koly, 24, 0, len(fork))
    struct.pack_into(">QQ", new_koly, 216, len(fork), len(xml))
    return bytes(fork) + xml + bytes(new_koly)


# --- refusals ------------------------------------------------------------------------------


def refused(path: Path, match: str) -> ArtifactError:
    with pytest.raises(ArtifactError, match=match) as info:
        read_dmg(path)
    assert info.value.fix and "\n" not in info.value.one_line()
    return info.value


def test_not_a_disk_image(tmp_path: Path) -> None:
    (tmp_path / "n.dmg").write_bytes(b"\x00" * 4096)
    error = refused(tmp_path / "n.dmg", "no koly trailer")
    assert not isinstance(error, MetadataUnreadableError)  # not a disk image: never publishable
    (tmp_path / "s.dmg").write_bytes(b"koly")
    refused(tmp_path / "s.dmg", "too short")


def test_truncated_image(tmp_path: Path) -> None:
    data = REAL.read_bytes()
    (tmp_path / "t.dmg").write_bytes(data[:6000] + data[-512:])
    refused(tmp_path / "t.dmg", "truncated|past the end")


def test_encrypted_image(tmp_path: Path) -> None:
    (tmp_path / "e.dmg").write_bytes(b"encrcdsa" + bytes(2000))
    error = refused(tmp_path / "e.dmg", "the disk image is encrypted; Intune cannot install it")
    # a device cannot mount it either, so bundle-id/bundle-version must not make it publishable
    assert not isinstance(error, MetadataUnreadableError)
    assert "unencrypted" in (error.fix or "")


def test_lzfse_chunks_are_explained(tmp_path: Path) -> None:
    data = (make(tmp_path)).read_bytes()
    rebuilt = _recode(data, 0x80000007, lambda b: b, lambda b: b)
    (tmp_path / "l.dmg").write_bytes(rebuilt)
    assert isinstance(refused(tmp_path / "l.dmg", "LZFSE"), MetadataUnreadableError)


def test_app_without_info_plist(tmp_path: Path) -> None:
    path = build_dmg(tmp_path / "x.dmg", apps={}, files={"Broken.app/Contents/MacOS/x": b"\x00"})
    refused(path, "Broken.app has no Contents/Info.plist")


def test_info_plist_without_identifier(tmp_path: Path) -> None:
    path = make(tmp_path, apps={"X.app": plistlib.dumps({"CFBundleVersion": "1"})})
    refused(path, "has no CFBundleIdentifier")


def test_info_plist_with_entities(tmp_path: Path) -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaa">]><plist><dict/></plist>'
    refused(make(tmp_path, apps={"X.app": bomb}), "declares entities")


def test_hfs_compressed_info_plist(tmp_path: Path) -> None:
    # flip UF_COMPRESSED in the Info.plist file record, then rebuild the image around it
    volume = _volume_bytes(make(tmp_path))
    at = volume.find("Info.plist".encode("utf-16-be") + struct.pack(">h", 2))
    assert at > 0
    record = at + len("Info.plist".encode("utf-16-be"))
    volume[record + 41] |= 0x20
    (tmp_path / "c.dmg").write_bytes(_raw_image(bytes(volume)))
    refused(tmp_path / "c.dmg", "HFS\\+-compressed")


def _volume_bytes(path: Path) -> bytearray:
    """The whole virtual disk of a (single-partition) image, decompressed."""
    with path.open("rb") as fp:
        disk = UdifDisk(fp, path)
        sectors = max(c.start + c.count for c in disk._chunks)
        return bytearray(disk.read(0, sectors * 512))


def _raw_image(volume: bytes, kind: int = 1, claimed: int | None = None) -> bytes:
    """A UDIF image with one chunk (raw unless ``kind`` says otherwise) holding ``volume``."""
    sectors = len(volume) // 512
    chunk = struct.pack(">IIQQQQ", kind, 0, 0, claimed or sectors, 0, len(volume))
    end = struct.pack(">IIQQQQ", 0xFFFFFFFF, 0, sectors, 0, 0, 0)
    mish = struct.pack(
        ">4sIQQQII24sII128sI", b"mish", 1, 0, sectors, 0, 0, 0, bytes(24), 0, 0, bytes(128), 2
    )
    plist = plistlib.dumps({"resource-fork": {"blkx": [{"Data": mish + chunk + end, "Name": "x"}]}})
    koly = bytearray(512)
    koly[:4] = b"koly"
    struct.pack_into(">II", koly, 4, 4, 512)
    struct.pack_into(">QQ", koly, 24, 0, len(volume))
    struct.pack_into(">QQ", koly, 216, len(volume), len(plist))
    return volume + plist + bytes(koly)


def test_apfs_volume_is_explained(tmp_path: Path) -> None:
    volume = bytearray(64 * 1024)
    volume[32:36] = b"NXSB"
    (tmp_path / "a.dmg").write_bytes(_raw_image(bytes(volume)))
    assert isinstance(refused(tmp_path / "a.dmg", "APFS"), MetadataUnreadableError)


def test_blank_volume(tmp_path: Path) -> None:
    (tmp_path / "b.dmg").write_bytes(_raw_image(bytes(64 * 1024)))
    refused(tmp_path / "b.dmg", "no HFS\\+ volume was found")


def test_oversized_chunk_claim(tmp_path: Path) -> None:
    image = _raw_image(zlib.compress(bytes(8192)) + bytes(500), kind=0x80000005, claimed=1 << 40)
    (tmp_path / "o.dmg").write_bytes(image)
    refused(tmp_path / "o.dmg", "larger than the")


def test_mutated_images_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    target = tmp_path / "fuzz.dmg"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_dmg(target)

    assert fuzz(make(tmp_path).read_bytes(), read) > 10
    assert fuzz(REAL.read_bytes(), read) > 10
    volume = bytes(_volume_bytes(make(tmp_path, "v.dmg")))
    assert fuzz(volume, lambda v: read(_raw_image(v + bytes(-len(v) % 512)))) > 10
