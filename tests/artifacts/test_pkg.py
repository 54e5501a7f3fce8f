"""The flat .pkg reader and its xar layer: generated packages cross-checked with bsdtar and
7-Zip, packages as productbuild/pkgbuild shape them, and hostile archives."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.artifacts.minos import minimum_os_flags
from intune_step.artifacts.pkg import read_pkg
from intune_step.artifacts.xar import HEADER, XarArchive, write_xar
from intune_step.errors import ArtifactError
from intune_step.samples.macos import build_pkg
from tests.artifacts.signing import certificate, der

from ..independent import needs_tool

APP = "com.contoso.demo"
needs_bsdtar = needs_tool("bsdtar")


def make(tmp_path: Path, shape: str = "product", name: str = "demo.pkg") -> Path:
    return build_pkg(tmp_path / name, bundle_id=APP, version="2.5.1", min_os="12.0", shape=shape)  # type: ignore[arg-type]


def xar_file(tmp_path: Path, files: dict[str, bytes], name: str = "x.pkg", **kw: str) -> Path:
    path = tmp_path / name
    path.write_bytes(write_xar(files, **kw))
    return path


def distribution(body: str) -> bytes:
    head = '<?xml version="1.0"?><installer-gui-script minSpecVersion="2">'
    return f"{head}{body}</installer-gui-script>".encode()


def test_product_archive(tmp_path: Path) -> None:
    meta = read_pkg(make(tmp_path))
    assert meta.app_type == "macOSPkgApp"
    assert (meta.identity, meta.version, meta.build) == (APP, "2.5.1", "251")
    assert meta.display_name == "Demo"
    assert meta.manifest is None
    assert meta.minimum_os is not None and meta.minimum_os.version == "12.0"
    assert minimum_os_flags(meta.minimum_os) == {"v12_0": True}
    assert meta.properties == {
        "primaryBundleId": APP,
        "primaryBundleVersion": "2.5.1",
        "includedApps": [
            {
                "@odata.type": "#microsoft.graph.macOSIncludedApp",
                "bundleId": APP,
                "bundleVersion": "2.5.1",
            }
        ],
    }
    assert meta.details["hostArchitectures"] == "arm64,x86_64"
    assert meta.details["apps"] == [
        {"bundleId": APP, "shortVersion": "2.5.1", "version": "251", "path": "Demo.app"}
    ]
    assert read_artifact(tmp_path / "demo.pkg").identity == APP


def test_component_package(tmp_path: Path) -> None:
    meta = read_pkg(make(tmp_path, "component"))
    assert (meta.identity, meta.version) == (APP, "2.5.1")
    assert meta.minimum_os is None  # only a Distribution states one
    assert meta.details["kind"] == "component package"


def test_package_without_bundles_asks_for_overrides(tmp_path: Path) -> None:
    with pytest.raises(MetadataUnreadableError, match="records no app bundle") as info:
        read_pkg(make(tmp_path, "nobundle"))
    assert (
        info.value.fix and "--bundle-id" in info.value.fix and "--bundle-version" in info.value.fix
    )
    # what the Distribution still says travels with the refusal, for the overrides to use
    assert info.value.hints == {"minimum_os": "12.0", "display_name": "Demo"}


def _developer_id() -> list[bytes]:
    """A Developer ID Installer chain as productsign embeds it: the signer, then its CA."""
    ca_key, ca = certificate(CN="Developer ID Certification Authority", O="Apple Inc.")
    _, leaf = certificate(
        ca_key,
        ca.subject,
        CN="Developer ID Installer: Contoso Ltd (A1B2C3D4E5)",
        OU="A1B2C3D4E5",
        O="Contoso Ltd",
        C="US",
    )
    return [der(leaf), der(ca)]


@pytest.mark.parametrize("shape", ["product", "component"])
def test_a_signed_package_names_its_signer(tmp_path: Path, shape: str) -> None:
    path = build_pkg(
        tmp_path / "s.pkg",
        bundle_id=APP,
        version="2.5.1",
        min_os="12.0",
        shape=shape,
        certificates=_developer_id(),
    )  # type: ignore[arg-type]
    meta = read_pkg(path)
    assert meta.publisher == "Contoso Ltd"
    assert meta.details["signer"].startswith("C=US,O=Contoso Ltd,OU=A1B2C3D4E5,CN=Developer ID")
    assert read_pkg(make(tmp_path)).publisher is None  # unsigned: no publisher from the file


def test_a_signed_package_without_bundles_still_names_its_signer(tmp_path: Path) -> None:
    path = build_pkg(
        tmp_path / "s.pkg",
        bundle_id=APP,
        version="2.5.1",
        min_os="12.0",
        shape="nobundle",
        certificates=_developer_id(),
    )
    with pytest.raises(MetadataUnreadableError) as info:
        read_pkg(path)
    assert info.value.hints["publisher"] == "Contoso Ltd"


@pytest.mark.parametrize("text", ["not base64!", "QUJD", ""])
def test_unreadable_signature_certificates_name_nobody(tmp_path: Path, text: str) -> None:
    path = build_pkg(
        tmp_path / "s.pkg", bundle_id=APP, version="2.5.1", min_os="12.0", certificates=[b"\x00"]
    )
    data = path.read_bytes()
    with XarArchive(path) as archive:
        assert archive.certificates == [b"\x00"]
    header = HEADER.unpack_from(data)
    toc = zlib.decompress(data[header[1] : header[1] + header[3]])
    toc = toc.replace(b"AA==", text.encode())
    compressed = zlib.compress(toc)
    heap = bytearray(data[header[1] + header[3] :])
    heap[0:20] = hashlib.sha1(compressed).digest()
    fixed = HEADER.pack(b"xar!", HEADER.size, 1, len(compressed), len(toc), 1)
    path.write_bytes(fixed + compressed + bytes(heap))
    meta = read_pkg(path)
    assert meta.publisher is None and meta.identity == APP


@needs_bsdtar
def test_bsdtar_reads_a_signed_package(tmp_path: Path) -> None:
    path = build_pkg(
        tmp_path / "s.pkg",
        bundle_id=APP,
        version="2.5.1",
        min_os="12.0",
        certificates=_developer_id(),
    )
    listing = subprocess.run(
        ["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "Distribution" in listing


@needs_bsdtar
@pytest.mark.parametrize("shape", ["product", "component", "nobundle"])
def test_bsdtar_reads_the_generated_packages(tmp_path: Path, shape: str) -> None:
    path = make(tmp_path, shape)
    listing = subprocess.run(
        ["bsdtar", "-tf", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    with XarArchive(path) as archive:
        files = [name for name, e in archive.entries.items() if e.kind == "file"]
        assert sorted(listing) == sorted(files)
        for name in files:
            extracted = subprocess.run(
                ["bsdtar", "-xOf", str(path), name], capture_output=True, check=True
            ).stdout
            assert extracted == archive.read(name)


@needs_bsdtar
def test_payload_is_a_gzip_cpio_with_the_info_plist(tmp_path: Path) -> None:
    path = make(tmp_path)
    with XarArchive(path) as archive:
        payload = archive.read("demo.pkg/Payload")
    (tmp_path / "Payload").write_bytes(payload)
    listing = subprocess.run(
        ["bsdtar", "-tf", str(tmp_path / "Payload")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "./Demo.app/Contents/Info.plist" in listing


@needs_tool("7zz")
def test_seven_zip_tests_the_package(tmp_path: Path) -> None:
    out = subprocess.run(["7zz", "t", str(make(tmp_path))], capture_output=True, text=True)
    assert out.returncode == 0 and "Everything is Ok" in out.stdout


@pytest.mark.parametrize("encoding", ["application/x-bzip2", "application/octet-stream"])
def test_other_xar_encodings(tmp_path: Path, encoding: str) -> None:
    info = (
        b'<pkg-info identifier="p" version="1">'
        b'<bundle path="./A.app" id="a.b" CFBundleShortVersionString="1.0"/></pkg-info>'
    )
    path = xar_file(tmp_path, {"PackageInfo": info}, encoding=encoding)
    assert read_pkg(path).identity == "a.b"


def test_nested_bundles_and_references_are_not_apps(tmp_path: Path) -> None:
    info = (
        b'<pkg-info identifier="p" version="1">'
        b'<bundle path="./Main.app/Contents/Frameworks/X.framework" id="fw" '
        b'CFBundleShortVersionString="9"/>'
        b'<bundle path="./Main.app/Contents/Library/Helper.app" id="helper" '
        b'CFBundleShortVersionString="9"/>'
        b'<bundle path="./Main.app" id="main" CFBundleShortVersionString="3.1" '
        b'CFBundleVersion="310"/>'
        b'<bundle path="./Tool.app" id="tool" CFBundleVersion="7"/>'
        b'<bundle-version><bundle id="fw"/><bundle id="main"/></bundle-version>'
        b"</pkg-info>"
    )
    meta = read_pkg(xar_file(tmp_path, {"PackageInfo": info}))
    assert meta.identity == "main" and meta.build == "310"
    assert [(a["bundleId"], a["bundleVersion"]) for a in meta.properties["includedApps"]] == [
        ("main", "3.1"),
        ("tool", "7"),
    ]


def test_distribution_without_paths_and_lowest_os(tmp_path: Path) -> None:
    dist = distribution(
        "<allowed-os-versions><os-version min='13.1'/><os-version min='10.15.7'/>"
        "</allowed-os-versions><pkg-ref id='p'><bundle-version>"
        "<bundle id='x.y' CFBundleShortVersionString='5'/></bundle-version></pkg-ref>"
        "<title>SU_TITLE</title>"
    )
    meta = read_pkg(xar_file(tmp_path, {"Distribution": dist}))
    assert meta.identity == "x.y" and meta.display_name is None
    assert meta.minimum_os is not None and meta.minimum_os.version == "10.15.7"
    assert minimum_os_flags(meta.minimum_os) == {"v10_15": True}


def test_versions_completed_from_package_info(tmp_path: Path) -> None:
    dist = distribution(
        "<pkg-ref id='p'><bundle-version><bundle id='x.y' path='X.app'/></bundle-version></pkg-ref>"
    )
    info = (
        b'<pkg-info><bundle path="./X.app" id="x.y" CFBundleShortVersionString="4.2"/></pkg-info>'
    )
    meta = read_pkg(xar_file(tmp_path, {"Distribution": dist, "x.pkg/PackageInfo": info}))
    assert meta.version == "4.2"


def test_a_folder_named_package_info_is_no_document(tmp_path: Path) -> None:
    dist = distribution(
        "<pkg-ref id='p'><bundle-version><bundle id='x.y' CFBundleShortVersionString='5'/>"
        "</bundle-version></pkg-ref>"
    )
    meta = read_pkg(xar_file(tmp_path, {"Distribution": dist, "PackageInfo/notes": b"x"}))
    assert meta.identity == "x.y" and meta.details["packages"] == []


def test_app_without_any_version(tmp_path: Path) -> None:
    info = b'<pkg-info><bundle path="./X.app" id="x.y"/></pkg-info>'
    with pytest.raises(ArtifactError, match="but not its version") as info_error:
        read_pkg(xar_file(tmp_path, {"PackageInfo": info}))
    assert "--bundle-version" in (info_error.value.fix or "")


# --- refusals ------------------------------------------------------------------------------


def refused(path: Path, match: str) -> None:
    with pytest.raises(ArtifactError, match=match) as info:
        read_pkg(path)
    assert info.value.fix and "\n" not in info.value.one_line()


def test_wrong_magic(tmp_path: Path) -> None:
    (tmp_path / "w.pkg").write_bytes(b"PK\x03\x04" + bytes(100))
    refused(tmp_path / "w.pkg", "no xar header")


def test_truncated(tmp_path: Path) -> None:
    data = make(tmp_path).read_bytes()
    for cut in (10, 60, len(data) - 40):
        (tmp_path / "t.pkg").write_bytes(data[:cut])
        refused(tmp_path / "t.pkg", "truncated|no xar header|cannot be decompressed|declared size")


def test_no_metadata_files(tmp_path: Path) -> None:
    refused(xar_file(tmp_path, {"Payload": b"x"}), "neither a Distribution nor a PackageInfo")


def test_path_traversal_names(tmp_path: Path) -> None:
    data = write_xar({"PackageInfo": b"<pkg-info/>", "zzzz": b"x"})
    header = HEADER.unpack_from(data)
    toc = zlib.decompress(data[28 : 28 + header[3]]).replace(
        b"<name>zzzz</name>", b"<name>..</name>"
    )
    refused(_with_toc(tmp_path, data, toc), "path traversal")


def _with_toc(tmp_path: Path, data: bytes, toc: bytes, checksum: bool = True) -> Path:
    """Replace the TOC of a written xar, recomputing the sha1 the heap starts with."""
    _, size, version, length, _, alg = HEADER.unpack_from(data)
    heap = bytearray(data[size + length :])
    compressed = zlib.compress(toc)
    if checksum:
        heap[:20] = hashlib.sha1(compressed).digest()
    path = tmp_path / "toc.pkg"
    path.write_bytes(
        HEADER.pack(b"xar!", size, version, len(compressed), len(toc), alg) + compressed + heap
    )
    return path


def test_toc_checksum_mismatch(tmp_path: Path) -> None:
    data = write_xar({"PackageInfo": b"<pkg-info/>"})
    toc = zlib.decompress(data[28 : 28 + HEADER.unpack_from(data)[3]]) + b" "
    refused(_with_toc(tmp_path, data, toc, checksum=False), "checksum does not match")


def test_entry_checksum_mismatch(tmp_path: Path) -> None:
    data = bytearray(
        write_xar({"PackageInfo": b"<pkg-info/>"}, encoding="application/octet-stream")
    )
    data[-3] ^= 0xFF  # inside the stored PackageInfo bytes
    (tmp_path / "c.pkg").write_bytes(bytes(data))
    refused(tmp_path / "c.pkg", "checksum does not match")


def test_entry_claiming_a_huge_size(tmp_path: Path) -> None:
    data = write_xar({"PackageInfo": b"<pkg-info/>"})
    toc = zlib.decompress(data[28 : 28 + HEADER.unpack_from(data)[3]])
    toc = toc.replace(b"<size>11</size>", b"<size>99999999999</size>")
    refused(_with_toc(tmp_path, data, toc), "claims 99999999999 bytes")


def test_decompression_bomb_entry(tmp_path: Path) -> None:
    bomb = zlib.compress(bytes(40 * 1024 * 1024))  # 40 MiB of zeros in ~40 KB
    data = write_xar({"PackageInfo": b"<pkg-info/>"}, encoding="application/octet-stream")
    header = HEADER.unpack_from(data)
    toc = zlib.decompress(data[28 : 28 + header[3]])
    heap_end = len(data) - header[1] - header[3]
    toc = (
        toc.replace(b"<length>11</length>", f"<length>{len(bomb)}</length>".encode())
        .replace(b"<offset>20</offset>", f"<offset>{heap_end}</offset>".encode())
        .replace(b"application/octet-stream", b"application/x-gzip")
    )
    toc = toc.split(b"<archived-checksum")[0] + b"</data></file>\n </toc>\n</xar>\n"
    path = _with_toc(tmp_path, data + bomb, toc)
    refused(path, "inflates past")


def test_toc_too_large(tmp_path: Path) -> None:
    data = bytearray(write_xar({"PackageInfo": b"<pkg-info/>"}))
    struct.pack_into(">Q", data, 16, 1 << 40)  # uncompressed TOC length
    (tmp_path / "big.pkg").write_bytes(bytes(data))
    refused(tmp_path / "big.pkg", "table of contents is too large")


def test_entity_bomb_in_distribution(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        b"<installer-gui-script>&a;</installer-gui-script>"
    )
    refused(xar_file(tmp_path, {"Distribution": bomb}), "DOCTYPE or ENTITY")


def test_deeply_nested_distribution(tmp_path: Path) -> None:
    deep = b"<installer-gui-script>" + b"<a>" * 200 + b"</a>" * 200 + b"</installer-gui-script>"
    refused(xar_file(tmp_path, {"Distribution": deep}), "nested deeper")


def test_mutated_packages_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    target = tmp_path / "fuzz.pkg"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_pkg(target)

    def read_distribution(xml: bytes) -> object:
        target.write_bytes(write_xar({"Distribution": xml}))
        return read_pkg(target)

    seed = make(tmp_path).read_bytes()
    assert fuzz(seed, read) > 10
    app = "<pkg-ref id='p'><bundle-version><bundle id='x.y' path='X.app' "
    app += "CFBundleShortVersionString='5'/></bundle-version></pkg-ref>"
    stored = write_xar({"Distribution": distribution(app)}, encoding="application/octet-stream")
    assert fuzz(stored, read) > 10
    assert fuzz(distribution(app), read_distribution) > 10
