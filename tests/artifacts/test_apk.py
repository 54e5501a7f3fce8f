"""The APK reader and its AXML parser: real AOSP APKs, generated APKs, and hostile input.

Expected values of the real APKs were established with apkInspector 1.3.7 and pyaxmlparser
0.3.31 (tests/fixtures/third_party/README.md). They are hard-coded so the tests run without
those packages; when either is installed, the cross-check runs again.
"""

from __future__ import annotations

import contextlib
import logging
import random
import struct
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from intune_step.artifacts import axml, read_artifact
from intune_step.artifacts.apk import read_apk
from intune_step.artifacts.axml import AxmlError, parse_axml
from intune_step.artifacts.base import MinimumOs, PlainContent
from intune_step.errors import ArtifactError
from intune_step.samples import Ref, build_apk
from intune_step.samples.apk import icon_png
from intune_step.samples.axml_writer import Node, build_manifest, write_axml

from ..independent import require_module

FIXTURES = Path(__file__).parents[1] / "fixtures" / "third_party"
ANDROID = "{http://schemas.android.com/apk/res/android}"
TINY = "android.appsecurity.cts.tinyapp"
LABEL_REF = "@0x7f020000"

# file -> (package, versionCode, versionName, minSdk, targetSdk, Android release)
REAL_APKS: dict[str, tuple[str, int, str, int, int, str]] = {
    "v2-only-with-ecdsa-sha256-p256.apk": (TINY, 10, "1.0", 23, 23, "6.0"),
    "v1-only-with-rsa-pkcs1-sha1-1.2.840.113549.1.1.1-1024.apk": (TINY, 10, "1.0", 23, 23, "6.0"),
    "v2-only-targetSandboxVersion-2.apk": (TINY, 10, "1.0", 18, 26, "4.3"),
}
# file -> (signing scheme, certificate subject) as openssl names them (`pkcs7 -print_certs` on
# META-INF/CERT.RSA, `x509 -subject` on the signing block's certificate; fixtures README)
REAL_SIGNERS = {
    "v2-only-with-ecdsa-sha256-p256.apk": ("v2", "CN=ec-p256"),
    "v1-only-with-rsa-pkcs1-sha1-1.2.840.113549.1.1.1-1024.apk": ("v1", "CN=rsa-1024"),
    "v2-only-targetSandboxVersion-2.apk": ("v2", "CN=rsa-2048"),
}
APP_NAME = "Tiny App for CTS"  # @string/app_name in the default configuration

# The Android manifest (docs/protocol.md, "Content file and manifest") with the sample's bug
# fixed (versionName in PackageVersionName)
DOCUMENTED_ANDROID = (
    '<?xml version="1.0" encoding="utf-8"?><AndroidManifestProperties '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Package>{packageId}</Package>'
    "<PackageVersionCode>{versionCode}</PackageVersionCode>"
    "<PackageVersionName>{versionName}</PackageVersionName>"
    "<ApplicationName>{file}</ApplicationName><MinSdkVersion>{minSdk}</MinSdkVersion>"
    "<AWTVersion></AWTVersion></AndroidManifestProperties>"
)


def documented_android(package: str, code: int, name: str, file: str, min_sdk: int) -> bytes:
    text = DOCUMENTED_ANDROID.replace("{packageId}", package).replace("{versionCode}", str(code))
    text = text.replace("{versionName}", name).replace("{file}", file)
    return text.replace("{minSdk}", str(min_sdk)).encode("ascii")


def apkinspector_manifest(path: Path) -> dict[str, Any]:
    """The independent reading by apkInspector (matches by name), as plain values."""
    inspector = require_module("apkInspector.axml")
    root = ET.fromstring(inspector.parse_apk_for_manifest(str(path)))
    sdk = root.find("uses-sdk")
    app = root.find("application")
    return {
        "package": root.get("package"),
        "versionCode": int(root.get(f"{ANDROID}versionCode", "0")),
        "versionName": root.get(f"{ANDROID}versionName"),
        "minSdk": int(sdk.get(f"{ANDROID}minSdkVersion")) if sdk is not None else None,
        "targetSdk": int(sdk.get(f"{ANDROID}targetSdkVersion")) if sdk is not None else None,
        "label": app.get(f"{ANDROID}label") if app is not None else None,
    }


def pyaxmlparser_apk(path: Path) -> Any:
    module = require_module("pyaxmlparser")
    logging.getLogger("pyaxmlparser").setLevel(logging.CRITICAL)  # it logs a lot
    return module.APK(str(path))


# --- real APKs from AOSP apksig ---------------------------------------------------------


@pytest.mark.parametrize("name", REAL_APKS)
def test_real_apk(name: str) -> None:
    package, code, version, min_sdk, target_sdk, release = REAL_APKS[name]
    path = FIXTURES / name
    meta = read_artifact(path)
    assert meta.app_type == "androidLobApp"
    assert meta.odata_type == "#microsoft.graph.androidLobApp"
    assert (meta.identity, meta.version, meta.build) == (package, version, str(code))
    assert meta.minimum_os == MinimumOs("android", release)
    assert meta.display_name == APP_NAME  # the label, resolved through resources.arsc
    scheme, subject = REAL_SIGNERS[name]
    assert meta.publisher == subject.removeprefix("CN=")
    assert meta.properties == {"packageId": package, "versionCode": "10", "versionName": "1.0"}
    assert meta.details == {
        "minSdk": min_sdk,
        "targetSdk": target_sdk,
        "label": LABEL_REF,
        "labelResource": int(LABEL_REF[1:], 16),
        "signer": subject,
        "signatureScheme": scheme,
    }
    assert meta.manifest == documented_android(package, code, version, name, min_sdk)
    assert meta.content == PlainContent(path, path.stat().st_size)


@pytest.mark.parametrize("name", REAL_APKS)
def test_real_apk_cross_check_apkinspector(name: str) -> None:
    package, code, version, min_sdk, target_sdk, _ = REAL_APKS[name]
    theirs = apkinspector_manifest(FIXTURES / name)
    assert theirs == {
        "package": package,
        "versionCode": code,
        "versionName": version,
        "minSdk": min_sdk,
        "targetSdk": target_sdk,
        "label": "@2130837504",  # apkInspector prints references in decimal
    }
    assert int(LABEL_REF[1:], 16) == 2130837504


@pytest.mark.parametrize("name", REAL_APKS)
def test_real_apk_cross_check_pyaxmlparser(name: str) -> None:
    package, code, version, min_sdk, target_sdk, _ = REAL_APKS[name]
    theirs = pyaxmlparser_apk(FIXTURES / name)
    assert (theirs.package, theirs.version_code, theirs.version_name) == (
        package,
        str(code),
        version,
    )
    assert (int(theirs.get_min_sdk_version()), int(theirs.get_target_sdk_version())) == (
        min_sdk,
        target_sdk,
    )
    assert theirs.application == APP_NAME  # its own resources.arsc resolution


def test_real_manifests_use_utf16_pools() -> None:
    """So the generated UTF-8 variants below are what covers the UTF-8 decoder."""
    for name in REAL_APKS:
        with zipfile.ZipFile(FIXTURES / name) as archive:
            data = archive.read("AndroidManifest.xml")
        assert struct.unpack_from("<I", data, 8 + 16)[0] & axml.UTF8_FLAG == 0


# --- generated APKs ---------------------------------------------------------------------


def test_generated_apk_round_trip(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "demo.apk")
    meta = read_apk(path)
    assert (meta.identity, meta.version, meta.build) == ("com.example.demo", "1.0", "1")
    assert meta.display_name == "Demo"
    assert meta.minimum_os == MinimumOs("android", "7.0")
    assert meta.properties == {
        "packageId": "com.example.demo",
        "versionCode": "1",
        "versionName": "1.0",
    }
    assert meta.details == {"minSdk": 24, "targetSdk": 34, "label": "Demo"}
    assert meta.manifest == documented_android("com.example.demo", 1, "1.0", "demo.apk", 24)


GENERATED_VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "utf8-pool": {"utf8": True},
    "non-ascii": {"label": "Démo ✓ 日本", "version_name": "2.0-β"},
    "utf8-long-strings": {"utf8": True, "version_name": "v" * 300, "label": "é" * 200},
    "big-version-code": {"version_code": 2_100_000_000, "min_sdk": 21, "target_sdk": 35},
    "other-package": {"package": "com.contoso.app", "version_code": 10, "version_name": "1.0.5.4"},
}


@pytest.mark.parametrize("variant", GENERATED_VARIANTS)
def test_generated_apk_matches_options(tmp_path: Path, variant: str) -> None:
    options = {
        "package": "com.example.demo",
        "version_code": 1,
        "version_name": "1.0",
        "min_sdk": 24,
        "target_sdk": 34,
        "label": "Demo",
        **GENERATED_VARIANTS[variant],
    }
    meta = read_apk(build_apk(tmp_path / "x.apk", **options))
    assert meta.identity == options["package"]
    assert meta.build == str(options["version_code"])
    assert meta.version == options["version_name"]
    assert meta.display_name == options["label"]
    assert (meta.details["minSdk"], meta.details["targetSdk"]) == (
        options["min_sdk"],
        options["target_sdk"],
    )


APKINSPECTOR_UTF8_LIMIT = {"utf8-long-strings"}


@pytest.mark.parametrize("variant", GENERATED_VARIANTS)
def test_generated_apk_cross_check_apkinspector(tmp_path: Path, variant: str) -> None:
    path = build_apk(tmp_path / "x.apk", **GENERATED_VARIANTS[variant])
    ours = read_apk(path)
    theirs = apkinspector_manifest(path)
    expected = {
        "package": ours.identity,
        "versionCode": int(ours.build or "0"),
        "versionName": ours.version,
        "minSdk": ours.details["minSdk"],
        "targetSdk": ours.details["targetSdk"],
        "label": ours.display_name,
    }
    if variant in APKINSPECTOR_UTF8_LIMIT:
        # apkInspector 1.3.7 reads a UTF-8 length as one byte (its "TODO: fixup" in
        # decode_stringpool_mixed_string), so it garbles strings of 128+ bytes; pyaxmlparser
        # decodes them as we do (the test below).
        for key in ("versionName", "label"):
            del theirs[key], expected[key]
    assert theirs == expected


@pytest.mark.parametrize("variant", GENERATED_VARIANTS)
def test_generated_apk_cross_check_pyaxmlparser(tmp_path: Path, variant: str) -> None:
    path = build_apk(tmp_path / "x.apk", **GENERATED_VARIANTS[variant])
    ours = read_apk(path)
    theirs = pyaxmlparser_apk(path)
    assert (theirs.package, theirs.version_code, theirs.version_name) == (
        ours.identity,
        ours.build,
        ours.version,
    )
    assert int(theirs.get_min_sdk_version()) == ours.details["minSdk"]
    assert int(theirs.get_target_sdk_version()) == ours.details["targetSdk"]
    assert theirs.application == ours.display_name


def test_utf16_string_with_a_two_unit_length(tmp_path: Path) -> None:
    name = "x" * 0x8001  # lengths from 0x8000 take two u16s
    assert read_apk(build_apk(tmp_path / "x.apk", version_name=name)).version == name


def test_version_name_reference_uses_version_code(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", version_code=42, version_name=Ref(0x7F0B0001)))
    assert meta.version == "42"
    assert meta.properties["versionName"] == "42"
    assert meta.details["versionNameRaw"] == "@0x7f0b0001"
    (warning,) = meta.details["warnings"]
    assert "resource reference (@0x7f0b0001)" in warning
    assert "versionCode 42 is used as the version instead" in warning
    assert meta.manifest is not None and b"<PackageVersionName>42<" in meta.manifest


def test_version_name_absent_uses_version_code(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", version_code=7, version_name=None))
    assert meta.version == "7"
    assert "versionName is absent" in meta.details["warnings"][0]


def test_no_uses_sdk_means_min_sdk_1(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", min_sdk=None, target_sdk=None))
    assert meta.details["minSdk"] == 1
    assert meta.details["targetSdk"] == 1  # Android defaults targetSdk to minSdk
    assert meta.minimum_os == MinimumOs("android", "4.0")
    assert meta.manifest is not None and b"<MinSdkVersion>1</MinSdkVersion>" in meta.manifest


def test_label_reference_without_a_table_gives_no_display_name(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", label=Ref(0x7F020000)))
    assert meta.display_name is None
    assert meta.details["label"] == LABEL_REF
    (warning,) = meta.details["warnings"]
    assert "the label @0x7f020000 cannot be resolved: the APK has no resources.arsc" in warning
    assert "display-name" in warning


@pytest.mark.parametrize(
    ("app_name", "expected"),
    [
        ({"": "Field Service", "fr": "Service terrain"}, "Field Service"),
        ({"de": "Außendienst", "en": "Field Service", "ja": "フィールド"}, "Field Service"),
        ({"ja": "フィールド", "de": "Außendienst"}, "Außendienst"),  # first in the table
    ],
)
def test_string_label_resolves_through_resources_arsc(
    tmp_path: Path, app_name: dict[str, str | Ref], expected: str
) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", app_name=app_name, icon=None))
    assert meta.display_name == expected and "warnings" not in meta.details
    assert meta.details["label"] == f"@0x{meta.details['labelResource']:08x}"


def test_string_label_beside_an_icon(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", app_name={"": "Notes"}, icon=icon_png(48)))
    assert meta.display_name == "Notes" and meta.details["iconResource"] == 0x7F010000


def test_independent_reader_resolves_the_same_label(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "x.apk", app_name={"fr": "Bonjour", "": "Hello"})
    assert pyaxmlparser_apk(path).application == read_apk(path).display_name == "Hello"


def test_a_damaged_table_leaves_the_label_unresolved_not_the_apk(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "x.apk", app_name={"": "Hello"})
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["resources.arsc"] = members["resources.arsc"][:40]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    meta = read_apk(path)
    assert meta.display_name is None and meta.identity == "com.example.demo"
    assert "resources.arsc cannot be read" in meta.details["warnings"][0]


def test_trailing_nuls_are_stripped(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", version_name="1.0\x00\x00\x00", label="D\x00"))
    assert (meta.version, meta.display_name) == ("1.0", "D")


def test_attributes_found_by_resource_id_when_names_are_blanked(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "x.apk", names="stripped", version_code=5))
    assert (meta.build, meta.version, meta.details["minSdk"]) == ("5", "1.0", 24)


def test_attributes_found_by_prefixed_name_without_resource_map(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "x.apk", resource_map=False, names="prefixed", version_code=5)
    meta = read_apk(path)
    assert (meta.build, meta.version, meta.details["minSdk"]) == ("5", "1.0", 24)


def test_manifest_escapes_xml(tmp_path: Path) -> None:
    meta = read_apk(build_apk(tmp_path / "a&b.apk", version_name="1.0 <beta> & more é"))
    assert meta.manifest is not None
    root = ET.fromstring(meta.manifest.decode("ascii"))
    assert root.findtext("PackageVersionName") == "1.0 <beta> & more é"
    assert root.findtext("ApplicationName") == "a&b.apk"
    assert root.findtext("PackageVersionCode") == "1"


def write_manifest(tmp_path: Path, root: Node) -> Path:
    return build_apk(tmp_path / "x.apk", manifest=write_axml(root))


def test_min_sdk_as_digit_string(tmp_path: Path) -> None:
    manifest = Node("manifest", {"package": "p.q", "versionCode": 3, "versionName": "3"})
    manifest.children.append(Node("uses-sdk", {"minSdkVersion": "21"}))
    meta = read_apk(write_manifest(tmp_path, manifest))
    assert meta.details["minSdk"] == 21


def test_min_sdk_codename_refused(tmp_path: Path) -> None:
    manifest = Node("manifest", {"package": "p.q", "versionCode": 3, "versionName": "3"})
    manifest.children.append(Node("uses-sdk", {"minSdkVersion": "Tiramisu"}))
    with pytest.raises(ArtifactError, match="preview SDK codename"):
        read_apk(write_manifest(tmp_path, manifest))


def test_version_code_reference_refused(tmp_path: Path) -> None:
    manifest = Node("manifest", {"package": "p.q", "versionCode": Ref(0x7F0C0000)})
    with pytest.raises(ArtifactError, match="versionCode is @0x7f0c0000, not a number"):
        read_apk(write_manifest(tmp_path, manifest))


def test_version_code_absent_is_zero(tmp_path: Path) -> None:
    meta = read_apk(write_manifest(tmp_path, Node("manifest", {"package": "p.q"})))
    assert (meta.build, meta.properties["versionCode"]) == ("0", "0")
    assert "versionCode is absent" in meta.details["warnings"][0]


def test_version_code_major_is_reported(tmp_path: Path) -> None:
    attrs: dict[str, Any] = {"package": "p.q", "versionCode": 9, "versionCodeMajor": 1}
    meta = read_apk(write_manifest(tmp_path, Node("manifest", {**attrs, "versionName": "9"})))
    assert meta.build == "9"
    assert "versionCodeMajor 1" in meta.details["warnings"][0]


def test_negative_version_code_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="negative"):
        read_apk(build_apk(tmp_path / "x.apk", version_code=-5))


def test_uses_sdk_outside_manifest_is_ignored(tmp_path: Path) -> None:
    inner = Node("uses-sdk", {"minSdkVersion": 30})
    manifest = Node("manifest", {"package": "p.q", "versionCode": 3, "versionName": "3"})
    manifest.children.append(Node("application", {}, [inner]))
    assert read_apk(write_manifest(tmp_path, manifest)).details["minSdk"] == 1


def test_wrong_root_element_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no <manifest> root"):
        read_apk(write_manifest(tmp_path, Node("resources", {"package": "p.q"})))


def test_missing_package_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no package name"):
        read_apk(write_manifest(tmp_path, Node("manifest", {"versionCode": 1})))


def test_registry_routes_apk_here(tmp_path: Path) -> None:
    assert read_artifact(build_apk(tmp_path / "x.apk")).app_type == "androidLobApp"


# --- hostile and broken input -----------------------------------------------------------


def demo_manifest() -> bytes:
    return build_manifest("com.example.demo", 1, "1.0", 24, 34, "Demo")


def test_missing_android_manifest_refused(tmp_path: Path, write_zip: Callable[..., Path]) -> None:
    path = write_zip(tmp_path / "x.apk", {"classes.dex": b"dex\n035\x00"})
    with pytest.raises(ArtifactError, match=r"AndroidManifest\.xml is missing") as caught:
        read_apk(path)
    assert caught.value.fix is not None


def test_renamed_app_bundle_refused(tmp_path: Path, write_zip: Callable[..., Path]) -> None:
    path = write_zip(tmp_path / "x.apk", {"base/manifest/AndroidManifest.xml": b"\x08\x00"})
    with pytest.raises(ArtifactError, match="Android App Bundle") as caught:
        read_apk(path)
    assert caught.value.fix is not None and "bundletool" in caught.value.fix


def test_plain_text_manifest_refused(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "x.apk", manifest=b'<?xml version="1.0"?><manifest/>')
    with pytest.raises(ArtifactError, match="plain-text XML"):
        read_apk(path)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x03", b"\x03\x00\x08\x00", b"\xff" * 64, bytes(range(256))],
    ids=["empty", "one-byte", "header-only", "ff", "ramp"],
)
def test_garbage_axml_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ArtifactError, match=r"AndroidManifest\.xml cannot be read") as caught:
        read_apk(build_apk(tmp_path / "x.apk", manifest=data))
    assert caught.value.fix is not None


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


POOL = 8  # the string pool chunk follows the 8-byte file header


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (0, "<H", 0x0002, "not binary XML"),  # wrong magic
        (2, "<H", 0xFFFF, "file header is invalid"),
        (POOL + 4, "<I", 0xFFFFFFF0, "invalid size"),  # a chunk with a huge size
        (POOL + 4, "<I", 0, "invalid size"),  # a chunk that would not advance
        (POOL + 2, "<H", 4, "invalid size"),  # header smaller than a chunk header
        (POOL + 8, "<I", 0x7FFFFFFF, "string pool header is invalid"),  # huge string count
        (POOL + 20, "<I", 0x7FFFFFF0, "runs past its pool"),  # strings start far away
    ],
)
def test_malformed_axml_refused(offset: int, fmt: str, value: int, message: str) -> None:
    with pytest.raises(AxmlError, match=message):
        elements = parse_axml(patched(demo_manifest(), offset, fmt, value))
        [a.text() for e in elements for a in e.attributes]  # strings are decoded lazily


def start_element_offset(data: bytes) -> int:
    pos = struct.unpack_from("<H", data, 2)[0]
    while struct.unpack_from("<H", data, pos)[0] != axml.START_ELEMENT:
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return pos


def test_bad_element_name_index_refused() -> None:
    data = demo_manifest()
    ext = start_element_offset(data) + 16
    with pytest.raises(AxmlError, match="outside the pool"):
        parse_axml(patched(data, ext + 4, "<I", 0xFFFF))


def test_short_attribute_size_refused() -> None:
    data = demo_manifest()
    ext = start_element_offset(data) + 16
    with pytest.raises(AxmlError, match="invalid attribute table"):
        parse_axml(patched(data, ext + 10, "<H", 8))


def test_too_many_attributes_for_the_chunk_refused() -> None:
    data = demo_manifest()
    ext = start_element_offset(data) + 16
    with pytest.raises(AxmlError, match="invalid attribute table"):
        parse_axml(patched(data, ext + 12, "<H", 0xFFFF))


def test_overstated_file_size_is_tolerated() -> None:
    """Packers overstate the RES_XML size; Android reads what is there, and so do we."""
    elements = parse_axml(patched(demo_manifest(), 4, "<I", 0xFFFFFFFF))
    assert elements[0].name == "manifest"


def test_chunk_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(axml, "MAX_CHUNKS", 4)
    with pytest.raises(AxmlError, match="more than 4 chunks"):
        parse_axml(demo_manifest())


def test_oversized_axml_refused() -> None:
    with pytest.raises(AxmlError, match="more than"):
        parse_axml(b"\x03\x00\x08\x00" + bytes(axml.MAX_AXML_BYTES))


def test_every_truncation_fails_cleanly() -> None:
    data = demo_manifest()
    for size in range(len(data)):
        try:
            elements = parse_axml(data[:size])
            [a.text() for e in elements for a in e.attributes]
        except AxmlError:
            continue


def test_truncated_zip_refused(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "x.apk")
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ArtifactError, match="not a valid APK"):
        read_apk(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04", b"MZ\x90\x00 not a zip"])
def test_wrong_zip_magic_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.apk"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match="not a valid APK"):
        read_apk(path)


@pytest.mark.parametrize("name", ["../evil.so", "/etc/passwd", "lib/../../x", "C:/win.ini"])
def test_path_traversal_refused(tmp_path: Path, write_zip: Callable[..., Path], name: str) -> None:
    path = write_zip(tmp_path / "x.apk", {"AndroidManifest.xml": demo_manifest(), name: b"x"})
    with pytest.raises(ArtifactError, match="path traversal"):
        read_apk(path)


def test_member_claiming_a_huge_size_refused(
    tmp_path: Path, claim_size: Callable[[Path, str, int], None]
) -> None:
    path = build_apk(tmp_path / "x.apk")
    claim_size(path, "AndroidManifest.xml", 0xFFFFFFF0)
    with pytest.raises(ArtifactError, match="claims 4294967280 bytes"):
        read_apk(path)


def test_axml_fuzz(tmp_path: Path, fuzz: Callable[..., int]) -> None:
    def parse(data: bytes) -> None:
        for element in parse_axml(data):
            for attr in element.attributes:
                _ = attr.name, attr.text()  # names and strings decode lazily

    path = tmp_path / "fuzz.apk"

    def read(data: bytes) -> None:
        read_apk(build_apk(path, manifest=data))

    utf8 = build_manifest("com.example.demo", 1, "1.0", 24, 34, "Démo", utf8=True)
    with zipfile.ZipFile(FIXTURES / "v2-only-targetSandboxVersion-2.apk") as archive:
        real = archive.read("AndroidManifest.xml")  # aapt-built: more chunk kinds and depth
    assert fuzz(demo_manifest(), read) + fuzz(utf8, parse) + fuzz(real, parse) > 100


def test_random_noise_never_escapes() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        data = b"\x03\x00\x08\x00" + rng.randbytes(rng.randrange(4, 200))
        with contextlib.suppress(AxmlError):
            parse_axml(data)
