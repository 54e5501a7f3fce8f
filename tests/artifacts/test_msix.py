"""The MSIX/AppX reader: generated packages and bundles, cross-checked with zipfile and 7-Zip."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MinimumOs
from intune_step.artifacts.minos import minimum_os_flags
from intune_step.artifacts.msix import publisher_hash, read_msix
from intune_step.errors import ArtifactError
from intune_step.samples.windows import appx_manifest, build_msix

from ..independent import needs_tool

PUBLISHER = "CN=Contoso Software, O=Contoso Corporation, C=US"
BLOCKMAP_NS = "{http://schemas.microsoft.com/appx/2010/blockmap}"


def make(tmp_path: Path, name: str = "demo.msix", **overrides: object) -> Path:
    fields: dict[str, object] = {
        "name": "Contoso.Demo",
        "version": "1.2.3.0",
        "publisher": PUBLISHER,
        "arch": "x64",
        "min_version": "10.0.17763.0",
    }
    fields.update(overrides)
    return build_msix(tmp_path / name, **fields)  # type: ignore[arg-type]


def write_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def manifest(**overrides: str) -> bytes:
    fields = {
        "name": "Contoso.Demo",
        "version": "1.2.3.0",
        "publisher": PUBLISHER,
        "arch": "x64",
        "min_version": "10.0.17763.0",
        "display": "Demo",
    }
    fields.update(overrides)
    return appx_manifest(**fields)


@pytest.mark.parametrize(
    ("publisher", "expected"),
    [
        (
            "CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
            "8wekyb3d8bbwe",
        ),
        (
            "CN=Microsoft Windows, O=Microsoft Corporation, L=Redmond, S=Washington, C=US",
            "cw5n1h2txyewy",
        ),
    ],
)
def test_publisher_hash_matches_known_package_family_names(publisher: str, expected: str) -> None:
    assert publisher_hash(publisher) == expected


def test_single_package(tmp_path: Path) -> None:
    path = make(tmp_path)
    meta = read_msix(path)
    assert meta.app_type == "windowsUniversalAppX"
    assert (meta.identity, meta.version) == ("Contoso.Demo", "1.2.3.0")
    assert (meta.display_name, meta.publisher) == ("Demo", "Contoso Software")
    assert meta.properties == {
        "identityName": "Contoso.Demo",
        "identityVersion": "1.2.3.0",
        "identityPublisherHash": publisher_hash(PUBLISHER),
        "identityResourceIdentifier": "",
        "applicableArchitectures": "x64",
        "applicableDeviceTypes": "desktop",
        "isBundle": False,
    }
    assert meta.manifest == b"demo.msix"
    assert meta.to_json()["manifest"] == base64.b64encode(b"demo.msix").decode()
    assert meta.minimum_os is not None and meta.minimum_os.version == "10.0.17763.0"
    assert minimum_os_flags(meta.minimum_os) == {"v10_1809": True}
    assert read_artifact(path).identity == "Contoso.Demo"


def test_generated_package_is_a_conformant_zip(tmp_path: Path) -> None:
    """zipfile (independently of the reader) sees the OPC parts and a correct block map."""
    path = make(tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert {"AppxManifest.xml", "AppxBlockMap.xml", "[Content_Types].xml"} <= set(names)
        block_map = ET.fromstring(archive.read("AppxBlockMap.xml"))
        for file in block_map.iter(f"{BLOCKMAP_NS}File"):
            data = archive.read(file.get("Name", "").replace("\\", "/"))
            assert int(file.get("Size", "-1")) == len(data)
            hashes = [b.get("Hash") for b in file.iter(f"{BLOCKMAP_NS}Block")]
            assert hashes[0] == base64.b64encode(hashlib.sha256(data[:65536]).digest()).decode()


@needs_tool("7zz")
def test_seven_zip_lists_the_bundle(tmp_path: Path) -> None:
    path = make(tmp_path, "demo.msixbundle", arch="x64,arm64", bundle=True)
    listing = subprocess.run(
        ["7zz", "l", str(path)], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "Contoso.Demo_1.2.3.0_x64.msix",
        "Contoso.Demo_1.2.3.0_arm64.msix",
        "AppxMetadata/AppxBundleManifest.xml",
        "AppxBlockMap.xml",
    ):
        assert name in listing
    tested = subprocess.run(["7zz", "t", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout


def test_bundle(tmp_path: Path) -> None:
    path = make(
        tmp_path, "demo.msixbundle", arch="x64,arm64,x86", bundle=True, min_version="10.0.19041.0"
    )
    meta = read_msix(path)
    assert meta.properties["isBundle"] is True
    assert meta.properties["applicableArchitectures"] == "x86,x64,arm64"
    assert meta.properties["identityPublisherHash"] == publisher_hash(PUBLISHER)
    assert meta.properties["applicableDeviceTypes"] == "desktop"
    assert meta.minimum_os is not None and meta.minimum_os.version == "10.0.19041.0"
    assert meta.display_name == "Demo"
    assert meta.manifest == b"demo.msixbundle"


@pytest.mark.parametrize(
    "inner",
    ["Contoso Démo {version}_{arch}.msix", "Ω 😀 [x]%_{arch}.msix", "{name}_{version}_{arch}.msix"],
    ids=["space-and-accent", "greek-emoji-brackets-percent", "ascii"],
)
def test_bundle_inner_names_are_opc_part_names(tmp_path: Path, inner: str) -> None:
    path = make(tmp_path, "x.msixbundle", bundle=True, arch="x64,arm64", inner=inner)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not inner.isascii():  # what MakeAppx does: the ZIP holds the encoded name
        assert not any(n.endswith(".msix") and not n.isascii() for n in names)
        assert any("%20" in n or "%CE%A9" in n for n in names)
    meta = read_msix(path)
    assert meta.properties["applicableArchitectures"] == "x64,arm64"
    assert meta.display_name == "Demo"


def test_bundle_inner_names_compare_without_case(tmp_path: Path) -> None:
    stored = make(tmp_path, "s.msixbundle", bundle=True, inner="Démo_{arch}.msix")
    with zipfile.ZipFile(stored) as archive:
        members = {n.replace("D%C3%A9mo", "d%c3%a9MO"): archive.read(n) for n in archive.namelist()}
    assert "d%c3%a9MO_x64.msix" in members
    path = write_zip(tmp_path / "c.msixbundle", members, zipfile.ZIP_STORED)
    assert read_msix(path).properties["applicableArchitectures"] == "x64"


def test_a_resource_package_alone_is_refused(tmp_path: Path) -> None:
    resource = (
        b'<Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10">'
        b'<Identity Name="Contoso.Demo" Publisher="CN=Contoso" Version="1.0.0.0" '
        b'ResourceId="split.scale-200"/>'
        b"<Properties><DisplayName>Demo</DisplayName><PublisherDisplayName>Contoso"
        b"</PublisherDisplayName><ResourcePackage>true</ResourcePackage></Properties>"
        b'<Dependencies><TargetDeviceFamily Name="Windows.Desktop" MinVersion="10.0.17763.0"/>'
        b"</Dependencies></Package>"
    )
    path = write_zip(tmp_path / "res.msix", {"AppxManifest.xml": resource})
    refused(path, "this is a resource package .ResourcePackage, no Applications.")
    # a framework package has no Applications either, but is deployable: not refused
    framework = resource.replace(
        b"<ResourcePackage>true</ResourcePackage>", b"<Framework>true</Framework>"
    )
    meta = read_msix(write_zip(tmp_path / "fw.msix", {"AppxManifest.xml": framework}))
    assert meta.identity == "Contoso.Demo"


@pytest.mark.parametrize(
    ("dn", "display", "expected"),
    [
        (PUBLISHER, "Contoso Software", "Contoso Software"),  # PublisherDisplayName first
        (PUBLISHER, "ms-resource:Publisher", "Contoso Corporation"),  # then the DN's O
        ("CN=Fabrikam", "ms-resource:Publisher", "Fabrikam"),  # then its CN
        ('CN=X, O="Fabrikam, Inc.", C=US', "ms-resource:P", "Fabrikam, Inc."),
        ("CN=Unknown, O=Unknown", "ms-resource:P", None),  # keytool's placeholders
    ],
)
def test_publisher_comes_from_the_manifest(
    tmp_path: Path, dn: str, display: str, expected: str | None
) -> None:
    element = f"<PublisherDisplayName>{display}</PublisherDisplayName>".encode()
    text = re.sub(
        rb"<PublisherDisplayName>.*?</PublisherDisplayName>", element, manifest(publisher=dn)
    )
    meta = read_msix(write_zip(tmp_path / "p.msix", {"AppxManifest.xml": text}))
    assert meta.publisher == expected


def test_bundle_with_a_deflated_inner_package(tmp_path: Path) -> None:
    stored = make(tmp_path, "s.msixbundle", bundle=True)
    with zipfile.ZipFile(stored) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    path = write_zip(tmp_path / "d.appxbundle", members, zipfile.ZIP_DEFLATED)
    assert read_msix(path).properties["applicableArchitectures"] == "x64"


def test_windows8_manifest_and_universal_family(tmp_path: Path) -> None:
    win8 = (
        b'<Package xmlns="http://schemas.microsoft.com/appx/2010/manifest">'
        b'<Identity Name="Old.App" Publisher="CN=Old" Version="1.0.0.0"/>'
        b"<Properties><DisplayName>ms-resource:AppName</DisplayName></Properties>"
        b"<Prerequisites><OSMinVersion>6.3.0</OSMinVersion></Prerequisites></Package>"
    )
    meta = read_msix(write_zip(tmp_path / "old.appx", {"AppxManifest.xml": win8}))
    assert meta.properties["applicableArchitectures"] == "neutral"
    assert meta.properties["applicableDeviceTypes"] == "desktop"
    assert meta.display_name is None  # a resource reference is no display name
    assert meta.minimum_os is not None and minimum_os_flags(meta.minimum_os) == {"v8_1": True}
    universal = manifest().replace(b"Windows.Desktop", b"Windows.Universal")
    meta = read_msix(write_zip(tmp_path / "u.msix", {"AppxManifest.xml": universal}))
    assert meta.properties["applicableDeviceTypes"] == "desktop,mobile,holographic,team"


def test_resource_id_and_arm64(tmp_path: Path) -> None:
    data = manifest(arch="arm64").replace(
        b'ProcessorArchitecture="arm64"', b'ProcessorArchitecture="arm64" ResourceId="split"'
    )
    meta = read_msix(write_zip(tmp_path / "r.msix", {"AppxManifest.xml": data}))
    assert meta.properties["identityResourceIdentifier"] == "split"
    assert meta.properties["applicableArchitectures"] == "arm64"


# --- refusals ------------------------------------------------------------------------------


def refused(path: Path, match: str) -> None:
    with pytest.raises(ArtifactError, match=match) as info:
        read_msix(path)
    assert "\n" not in info.value.one_line()


def test_truncated_package(tmp_path: Path) -> None:
    data = make(tmp_path).read_bytes()
    (tmp_path / "t.msix").write_bytes(data[: len(data) // 2])
    refused(tmp_path / "t.msix", "not a readable ZIP")


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "x.msix").write_bytes(b"MZ" + bytes(100))
    refused(tmp_path / "x.msix", "not a valid MSIX")


def test_missing_manifest(tmp_path: Path) -> None:
    refused(write_zip(tmp_path / "m.msix", {"Demo.exe": b"MZ"}), "neither AppxManifest.xml")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ((b'Version="1.2.3.0"', b'Version="1.2.3"'), "not a four-part version"),
        ((b'Version="1.2.3.0"', b""), "Identity has no Version"),
        ((b"Windows.Desktop", b"Windows.Xbox"), "targets only Windows.Xbox"),
        ((b"<Identity", b"<Identityx"), "no <Package><Identity>"),
        ((b"</Package>", b"</Packag>"), "not well-formed XML"),
    ],
)
def test_bad_manifests(tmp_path: Path, change: tuple[bytes, bytes], match: str) -> None:
    data = manifest().replace(*change)
    refused(write_zip(tmp_path / "b.msix", {"AppxManifest.xml": data}), match)


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE Package [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Package>&b;</Package>'
    )
    refused(write_zip(tmp_path / "e.msix", {"AppxManifest.xml": bomb}), "DOCTYPE or ENTITY")
    utf16 = bomb.decode().replace('version="1.0"', 'version="1.0" encoding="utf-16"')
    refused(
        write_zip(tmp_path / "e16.msix", {"AppxManifest.xml": utf16.encode("utf-16")}),
        "DOCTYPE or ENTITY",
    )


def test_deeply_nested_manifest(tmp_path: Path) -> None:
    deep = b"<Package>" + b"<a>" * 500 + b"</a>" * 500 + b"</Package>"
    refused(write_zip(tmp_path / "d.msix", {"AppxManifest.xml": deep}), "nested deeper")


def test_oversized_manifest(tmp_path: Path) -> None:
    big = manifest().replace(b"</Package>", b"<!--" + b"x" * 3_000_000 + b"--></Package>")
    refused(write_zip(tmp_path / "o.msix", {"AppxManifest.xml": big}), "more than the")


def test_member_claiming_a_huge_size(
    tmp_path: Path, claim_size: Callable[[Path, str, int], None]
) -> None:
    path = make(tmp_path)
    claim_size(path, "AppxManifest.xml", 0xFFFFFFF0)
    refused(path, "claims 4294967280 bytes")


def test_path_traversal_member(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "p.msix", {"AppxManifest.xml": manifest(), "../../evil.dll": b"MZ"})
    refused(path, "path traversal")


def test_bundle_naming_a_missing_package(tmp_path: Path) -> None:
    stored = make(tmp_path, "s.msixbundle", bundle=True)
    with zipfile.ZipFile(stored) as archive:
        members = {
            name: archive.read(name) for name in archive.namelist() if not name.endswith(".msix")
        }
    refused(write_zip(tmp_path / "m.msixbundle", members), "which is not in the bundle")


def test_bundle_stub_packages_are_not_the_app(tmp_path: Path) -> None:
    # As MakeAppx writes them (winget-cli's Installer-Good-WithStub.msixbundle): b5:Package
    # IsStub="true", a backslash in FileName, a lower MinVersion and its own architecture.
    stored = make(tmp_path, "s.msixbundle", bundle=True, min_version="10.0.19041.0")
    stub = make(tmp_path, "stub.msix", arch="arm", min_version="10.0.10240.0").read_bytes()
    with zipfile.ZipFile(stored) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    entry = (
        '<b5:Package xmlns:b5="http://schemas.microsoft.com/appx/2019/bundle" '
        'Type="application" Version="1.2.3.0" Architecture="arm" '
        'FileName="AppxMetadata\\Stub\\Contoso.Demo_arm.msix" Offset="0" '
        f'Size="{len(stub)}" IsStub="true"/>'
    )
    bundle_manifest = members["AppxMetadata/AppxBundleManifest.xml"].decode()
    members["AppxMetadata/AppxBundleManifest.xml"] = bundle_manifest.replace(
        "  </Packages>", entry + "</Packages>"
    ).encode()
    members["AppxMetadata/Stub/Contoso.Demo_arm.msix"] = stub
    meta = read_artifact(write_zip(tmp_path / "w.msixbundle", members, zipfile.ZIP_STORED))
    assert meta.minimum_os == MinimumOs("windows", "10.0.19041.0")
    assert meta.properties["applicableArchitectures"] == "x64"


def test_bundle_package_without_type_is_a_resource_package(tmp_path: Path) -> None:
    # The bundle schema's default Type is "resource" (so the MSIX SDK reads it): a bundle
    # whose only package names no Type holds no application.
    stored = make(tmp_path, "s.msixbundle", bundle=True)
    with zipfile.ZipFile(stored) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    name = "AppxMetadata/AppxBundleManifest.xml"
    members[name] = members[name].replace(b'Type="application" ', b"")
    refused(write_zip(tmp_path / "t.msixbundle", members, zipfile.ZIP_STORED), "no application")


def test_bundle_whose_package_is_not_a_zip(tmp_path: Path) -> None:
    stored = make(tmp_path, "s.msixbundle", bundle=True)
    with zipfile.ZipFile(stored) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["Contoso.Demo_1.2.3.0_x64.msix"] = b"not a zip at all" * 10
    refused(write_zip(tmp_path / "n.msixbundle", members, zipfile.ZIP_STORED), "not a readable ZIP")


def test_mutated_packages_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    target = tmp_path / "fuzz.msix"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_msix(target)

    def read_manifest(data: bytes) -> object:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("AppxManifest.xml", data)
        return read(buffer.getvalue())

    assert fuzz(make(tmp_path).read_bytes(), read) > 10
    assert fuzz(make(tmp_path, "b.msixbundle", bundle=True).read_bytes(), read) > 10
    assert fuzz(manifest(), read_manifest) > 10
