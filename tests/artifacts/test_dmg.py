"""The DMG reader: a real hdiutil UDZO image (GPT + HFS+, no app), generated HFS+ and APFS
images with apps (cross-checked with 7-Zip), and damaged or unsupported images."""

from __future__ import annotations

import plistlib
import random
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.artifacts.dmg import FILE, FOLDER, HfsPlus, UdifDisk, _find_volume, read_dmg
from intune_step.artifacts.minos import minimum_os_flags
from intune_step.errors import ArtifactError
from intune_step.samples.apfs import build_apfs, build_apfs_dmg, fletcher64
from intune_step.samples.macos import build_dmg, info_plist, udif

from ..independent import needs_tool

REAL = Path(__file__).parents[1] / "fixtures" / "macos" / "hfsplus_zlib.dmg"
A_FILE = b"This is a text file.\n\nWe should be able to parse it.\n"
needs_7zz = needs_tool("7zz")


def open_volume(path: Path) -> tuple[object, HfsPlus]:
    fp = path.open("rb")
    disk = UdifDisk(fp, path)
    return fp, _find_volume(disk, path)


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


def test_blank_volume(tmp_path: Path) -> None:
    (tmp_path / "b.dmg").write_bytes(_raw_image(bytes(64 * 1024)))
    refused(tmp_path / "b.dmg", "no HFS\\+ or APFS volume was found")


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


# --- APFS (artifacts/apfs.py) and LZFSE chunks, on images from samples/apfs.py -------------

APP_ID, APP_PLIST = "com.contoso.viewer", info_plist("com.contoso.viewer", "3.2", "13.0", "Viewer")
APFS_BLOCK = 4096
COMPRESSIONS = ["zlib", "lzfse", "raw"]  # UDZO, ULFO, UDRO chunks


def apfs(tmp_path: Path, name: str = "viewer.dmg", **kw: object) -> Path:
    apps = kw.pop("apps", {"Viewer.app": APP_PLIST})
    files = kw.pop("files", {"ReadMe.txt": b"hello\n"})
    return build_apfs_dmg(tmp_path / name, apps=apps, files=files, **kw)  # type: ignore[arg-type]


def seven_zip(*args: str) -> bytes:
    return subprocess.run(["7zz", *args], capture_output=True, check=True).stdout


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_apfs_image_with_an_app(tmp_path: Path, compression: str) -> None:
    path = apfs(tmp_path, compression=compression)
    meta = read_dmg(path)
    assert (meta.identity, meta.version, meta.build) == (APP_ID, "3.2", "32")
    assert meta.display_name == "Viewer" and meta.details == {"apps": ["Viewer.app"],
                                                              "volume": "APFS"}
    assert meta.minimum_os is not None and meta.minimum_os.version == "13.0"
    assert meta.properties["includedApps"] == [{
        "@odata.type": "#microsoft.graph.macOSIncludedApp",
        "bundleId": APP_ID, "bundleVersion": "3.2"}]
    assert read_artifact(path).identity == APP_ID


@needs_7zz
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_seven_zip_reads_the_apfs_image(tmp_path: Path, compression: str) -> None:
    """7-Zip's own APFS reader lists the tree and extracts the same Info.plist we read."""
    path = apfs(tmp_path, compression=compression)
    listing = seven_zip("l", "-slt", str(path)).decode()
    assert "Type = APFS" in listing
    paths = {line[7:] for line in listing.splitlines() if line.startswith("Path = ")}
    assert {"Viewer.app", "Viewer.app/Contents", "Viewer.app/Contents/Info.plist",
            "ReadMe.txt"} <= paths
    assert "Error" not in listing and "Unsupported" not in listing
    plist = seven_zip("e", "-so", str(path), "Viewer.app/Contents/Info.plist")
    assert plist == APP_PLIST
    info = plistlib.loads(plist)
    meta = read_dmg(path)
    assert (meta.identity, meta.version) == (info["CFBundleIdentifier"],
                                             info["CFBundleShortVersionString"])
    assert seven_zip("e", "-so", str(path), "ReadMe.txt") == b"hello\n"


@needs_7zz
def test_lzfse_partition_matches_seven_zip(tmp_path: Path) -> None:
    """Our bounded LZFSE decoding gives the partition 7-Zip gives, which is what was built."""
    container = build_apfs(apps={"Viewer.app": APP_PLIST})
    path = tmp_path / "l.dmg"
    path.write_bytes(udif(container, 16, compression="lzfse", partition="Apple_APFS"))
    assert seven_zip("e", "-so", "-tdmg", str(path), "0.apfs") == container
    with path.open("rb") as fp:
        assert UdifDisk(fp, path).read(0, len(container)) == container


def test_many_apps_span_several_fs_tree_leaves(tmp_path: Path) -> None:
    extra = {f"Extra{i:03d}.app": info_plist(f"com.x.e{i}", "1.0", "11.0") for i in range(60)}
    apps = {"Alpha.app": info_plist("com.x.alpha", "3.0", "13.0"), **extra}
    files = {f"docs/file{i}.txt": b"x" * 5000 for i in range(40)}
    container = build_apfs(apps=apps, files=files)
    assert len(_blocks_of(container, 0x3)) > 1  # non-root B-tree nodes: leaves under an index
    meta = read_dmg(apfs(tmp_path, apps=apps, files=files))
    assert meta.identity == "com.x.alpha"  # sorted by name, as for HFS+
    included = meta.properties["includedApps"]
    assert len(included) == 61 and included[-1]["bundleId"] == "com.x.e59"


@needs_7zz
def test_seven_zip_reads_a_two_level_fs_tree(tmp_path: Path) -> None:
    apps = {f"App{i:03d}.app": info_plist(f"com.x.a{i}", "1.0", "11.0") for i in range(40)}
    path = apfs(tmp_path, apps=apps)
    plist = seven_zip("e", "-so", str(path), "App039.app/Contents/Info.plist")
    assert plistlib.loads(plist)["CFBundleIdentifier"] == "com.x.a39"


def test_decmpfs_compressed_info_plist(tmp_path: Path) -> None:
    """An Info.plist under transparent compression (decmpfs method 3, zlib in the attribute)."""
    path = apfs(tmp_path, decmpfs={"Viewer.app/Contents/Info.plist"})
    assert read_dmg(path).identity == APP_ID


@needs_7zz
def test_seven_zip_reads_the_decmpfs_info_plist(tmp_path: Path) -> None:
    """7-Zip decompresses the attribute to the same plist: the builder's decmpfs is real."""
    path = apfs(tmp_path, decmpfs={"Viewer.app/Contents/Info.plist"})
    assert b"fpmc" in udif_partition(path)  # stored compressed, not as a plain data stream
    assert seven_zip("e", "-so", str(path), "Viewer.app/Contents/Info.plist") == APP_PLIST


def udif_partition(path: Path) -> bytes:
    with path.open("rb") as fp:
        disk = UdifDisk(fp, path)
        return disk.read(0, max(c.start + c.count for c in disk._chunks) * 512)


def test_an_info_plist_compressed_with_a_method_libfsapfs_lacks(tmp_path: Path) -> None:
    """Method 13 (LZBITMAP): said as such, so bundle-id/bundle-version can stand in."""
    path = apfs(tmp_path, decmpfs={"Viewer.app/Contents/Info.plist"}, decmpfs_method=13)
    error = refused(path, "Info.plist is stored compressed \\(decmpfs method 13\\)")
    assert isinstance(error, MetadataUnreadableError)


def test_apfs_image_without_an_app(tmp_path: Path) -> None:
    path = apfs(tmp_path, apps={}, files={"dir/nested/deep.txt": b"deep\n"})
    with pytest.raises(MetadataUnreadableError, match=r"no \.app was found"):
        read_dmg(path)


def test_lzfse_chunks_of_an_hfs_image(tmp_path: Path) -> None:
    import lzfse

    data = make(tmp_path).read_bytes()
    (tmp_path / "l.dmg").write_bytes(_recode(data, 0x80000007, lzfse.compress, zlib.decompress))
    assert read_dmg(tmp_path / "l.dmg").identity == "com.contoso.demo"


def test_lzfse_stream_longer_than_its_chunk(tmp_path: Path) -> None:
    """A stream that decodes past the chunk's sectors is refused, not followed."""
    import lzfse

    volume = bytes(64 * 1024)
    image = _raw_image(lzfse.compress(volume + bytes(4096)) + bytes(64 * 1024 - 100),
                       kind=0x80000007, claimed=len(volume) // 512)
    (tmp_path / "o.dmg").write_bytes(image)
    error = refused(tmp_path / "o.dmg", "decodes to more than 65536 bytes")
    assert not isinstance(error, MetadataUnreadableError)


def test_corrupt_lzfse_chunk(tmp_path: Path) -> None:
    image = _raw_image(b"bvx2" + bytes(64 * 1024 - 4), kind=0x80000007)
    (tmp_path / "c.dmg").write_bytes(image)
    refused(tmp_path / "c.dmg", "a compressed chunk is corrupt \\(the LZFSE stream is corrupt\\)")


def test_lzfse_without_a_bounded_decoder_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intune_step.artifacts import lzfse_bounded

    monkeypatch.setattr(lzfse_bounded, "_decoder", lambda: None)
    path = apfs(tmp_path, compression="lzfse")
    assert isinstance(refused(path, "LZFSE \\(ULFO\\)"), MetadataUnreadableError)


# malformed APFS, made by corrupting the builder's container: one line, never a crash; the
# user's bundle-id/bundle-version may stand in


def _container() -> bytearray:
    return bytearray(build_apfs(apps={"Viewer.app": APP_PLIST}, files={"ReadMe.txt": b"hi\n"}))


def _blocks_of(volume: bytes | bytearray, kind: int) -> list[int]:
    """The blocks whose object header has type ``kind`` (storage-class bits ignored)."""
    return [b for b in range(len(volume) // APFS_BLOCK)
            if volume[b * APFS_BLOCK : b * APFS_BLOCK + 8] != bytes(8)
            and struct.unpack_from("<I", volume, b * APFS_BLOCK + 24)[0] & 0xFFFF == kind]


def _reseal(volume: bytearray, block: int) -> None:
    at = block * APFS_BLOCK
    volume[at : at + 8] = fletcher64(volume[at : at + APFS_BLOCK])


def _image(tmp_path: Path, volume: bytes | bytearray) -> Path:
    path = tmp_path / "bad.dmg"
    path.write_bytes(udif(bytes(volume), compression="raw", partition="Apple_APFS"))
    return path


def _bad_checksum(volume: bytearray) -> None:
    (block,) = _blocks_of(volume, 0xD)  # the volume superblock, not resealed
    volume[block * APFS_BLOCK + 704] ^= 0xFF


def _volume_not_in_the_object_map(volume: bytearray) -> None:
    (omap,) = [b for b in _blocks_of(volume, 0x2)
               if struct.unpack_from("<I", volume, b * APFS_BLOCK + 28)[0] == 0xB
               and b == min(_blocks_of(volume, 0x2))]  # the container's omap tree comes first
    at = omap * APFS_BLOCK + 56 + 4  # the first key after the one-entry table of contents
    struct.pack_into("<Q", volume, at, 9999)
    _reseal(volume, omap)


def _fs_tree_claims_more_keys(volume: bytearray) -> None:
    (root,) = [b for b in _blocks_of(volume, 0x2)
               if struct.unpack_from("<I", volume, b * APFS_BLOCK + 28)[0] == 0xE]
    struct.pack_into("<I", volume, root * APFS_BLOCK + 36, 0xFFFF)
    _reseal(volume, root)


def _no_checkpoint_map(volume: bytearray) -> None:
    (cpm,) = _blocks_of(volume, 0xC)
    volume[cpm * APFS_BLOCK : (cpm + 1) * APFS_BLOCK] = bytes(APFS_BLOCK)


def _extent_past_the_end(volume: bytearray) -> None:
    (root,) = [b for b in _blocks_of(volume, 0x2)
               if struct.unpack_from("<I", volume, b * APFS_BLOCK + 28)[0] == 0xE]
    node = root * APFS_BLOCK
    count, toc = struct.unpack_from("<I2xH", volume, node + 36)
    for i in range(count):  # kvloc_t: key (offset, length), value (offset from the end, length)
        k, _, v, _ = struct.unpack_from("<HHHH", volume, node + 56 + 8 * i)
        if struct.unpack_from("<Q", volume, node + 56 + toc + k)[0] >> 60 == 8:  # an extent
            end = node + APFS_BLOCK - 40  # a root node's values end at its btree_info_t
            struct.pack_into("<Q", volume, end - v + 8, 1 << 40)  # its phys_block_num
    _reseal(volume, root)


def _block_size_not_a_power_of_two(volume: bytearray) -> None:
    struct.pack_into("<I", volume, 36, 5000)


@pytest.mark.parametrize(("damage", "why"), [
    (_bad_checksum, "mismatch in checksum"),
    (_volume_not_in_the_object_map, "object map descriptor for volume object identifier: 1026"),
    (_fs_tree_claims_more_keys, "number of keys"),
    (_no_checkpoint_map, "missing checkpoint map"),
    (_extent_past_the_end, "unable to read data block"),
    (_block_size_not_a_power_of_two, "invalid block size 5000"),
])
def test_damaged_apfs_container(
    tmp_path: Path, damage: Callable[[bytearray], None], why: str
) -> None:
    volume = _container()
    assert read_dmg(_image(tmp_path, volume)).identity == APP_ID  # undamaged, it reads
    damage(volume)
    error = refused(_image(tmp_path, volume), f"the APFS volume looks corrupt \\(.*{why}")
    assert isinstance(error, MetadataUnreadableError)


def test_apfs_container_of_noise(tmp_path: Path) -> None:
    volume = bytearray(random.Random(5).randbytes(256 * 1024))
    volume[:40] = bytes(32) + b"NXSB" + struct.pack("<I", 4096)
    struct.pack_into("<Q", volume, 40, 1 << 40)  # and a block count far past the image
    (tmp_path / "n.dmg").write_bytes(_raw_image(bytes(volume)))
    refused(tmp_path / "n.dmg", "the APFS volume looks corrupt")


def test_apfs_reads_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from intune_step.artifacts import apfs as apfs_reader

    monkeypatch.setattr(apfs_reader, "MAX_TOTAL_READ", 5 * APFS_BLOCK)
    error = refused(apfs(tmp_path),
                    "APFS volume looks corrupt \\(reading it needs more than 20480 bytes")
    assert isinstance(error, MetadataUnreadableError)


def test_an_apfs_info_plist_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intune_step.artifacts import dmg

    monkeypatch.setattr(dmg, "MAX_INFO_PLIST", 100)
    error = refused(apfs(tmp_path), "Viewer.app/Contents/Info.plist is empty or too large "
                    f"\\({len(APP_PLIST)} bytes")
    assert isinstance(error, MetadataUnreadableError)


def test_one_apfs_read_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from intune_step.artifacts import apfs as apfs_reader

    monkeypatch.setattr(apfs_reader, "MAX_READ", 1024)  # libfsapfs reads whole 4 KiB blocks
    refused(apfs(tmp_path), "APFS volume looks corrupt \\(a read of 4096 bytes at once\\)")


def test_apfs_over_a_corrupt_chunk_keeps_the_disk_error(tmp_path: Path) -> None:
    """A chunk that fails under libfsapfs surfaces as the disk's error, not as 'corrupt APFS'."""
    path = apfs(tmp_path, chunk_sectors=8)  # one 4 KiB block a chunk
    data = bytearray(path.read_bytes())
    with path.open("rb") as fp:
        chunks = [c for c in UdifDisk(fp, path)._chunks if c.kind == 0x80000005]
    assert len(chunks) > 5
    for chunk in chunks[1:]:  # the first holds the superblock, read before libfsapfs starts
        data[chunk.offset + 2 : chunk.offset + chunk.length] = bytes(chunk.length - 2)
    path.write_bytes(bytes(data))
    error = refused(path, "a compressed chunk is corrupt")
    assert not isinstance(error, MetadataUnreadableError)


def test_mutated_apfs_objects_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    """Mutants of the container's objects, checksums made good, so libfsapfs parses them."""
    volume = bytes(_container())
    blocks = [b for b in range(len(volume) // APFS_BLOCK)
              if volume[b * APFS_BLOCK : b * APFS_BLOCK + 8] != bytes(8)
              and fletcher64(volume[b * APFS_BLOCK : (b + 1) * APFS_BLOCK])
              == volume[b * APFS_BLOCK : b * APFS_BLOCK + 8]]
    assert len(blocks) >= 8  # superblocks, checkpoint map, omaps and their trees, fs tree
    objects = b"".join(volume[b * APFS_BLOCK : (b + 1) * APFS_BLOCK] for b in blocks)

    def read(mutant: bytes) -> object:
        out = bytearray(volume)  # the mutated objects written over their blocks
        for index, block in enumerate(blocks):
            piece = bytearray(mutant[index * APFS_BLOCK : (index + 1) * APFS_BLOCK])
            piece += bytes(APFS_BLOCK - len(piece))
            piece[:8] = fletcher64(piece)
            out[block * APFS_BLOCK : (block + 1) * APFS_BLOCK] = piece
        return read_dmg(_image(tmp_path, out))

    assert read(objects) is not None
    assert fuzz(objects, read) > 10
    lzfse_image = apfs(tmp_path, "l.dmg", compression="lzfse").read_bytes()
    assert fuzz(lzfse_image, lambda d: read_dmg(_write(tmp_path / "u.dmg", d))) > 10


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_an_apfs_image_whose_volumes_are_all_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused as encrypted (libfsapfs says locked): a device could not install it either."""
    import sys
    import types

    class Volume:
        def is_locked(self) -> bool:
            return True

    class Container:
        number_of_volumes = 2

        def open_file_object(self, window: object) -> None:
            assert window.read(4)  # type: ignore[attr-defined]

        def get_volume(self, index: int) -> Volume:
            return Volume()

        def close(self) -> None:
            pass

    path = apfs(tmp_path)
    monkeypatch.setitem(sys.modules, "pyfsapfs", types.SimpleNamespace(container=Container))
    error = refused(path, "APFS volume is encrypted; Intune cannot install it")
    assert not isinstance(error, MetadataUnreadableError)
    assert "unencrypted" in (error.fix or "")
