"""The .intunewin reader: generated packages (with the real wixl MSI inside), tampering, and
hostile archives. 7-Zip cross-checks the layout when it is installed."""

from __future__ import annotations

import base64
import io
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import EncryptedContent
from intune_step.artifacts.intunewin import read_intunewin, stored_data_offset
from intune_step.crypto import b64, decrypt_blob, encrypted_size
from intune_step.errors import ArtifactError
from intune_step.samples.windows import build_intunewin

from ..independent import needs_tool

MSI = Path(__file__).parents[1] / "fixtures" / "windows" / "demo.msi"
PRODUCT_CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"
PAYLOAD = "IntuneWinPackage/Contents/IntunePackage.intunewin"
DETECTION = "IntuneWinPackage/Metadata/Detection.xml"
MSI_INFO = {
    "MsiProductCode": PRODUCT_CODE,
    "MsiProductVersion": "1.4.2",
    "MsiPackageCode": "{73A8C18D-C3C7-448D-B352-1B3C0DD05BD8}",
    "MsiUpgradeCode": "{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}",
    "MsiExecutionContext": "System",
    "MsiRequiresLogon": "false",
    "MsiRequiresReboot": "true",
    "MsiIsMachineInstall": "true",
    "MsiIsUserInstall": "false",
    "MsiIncludesServices": "false",
    "MsiIncludesODBCDataSource": "false",
    "MsiContainsSystemRegistryKeys": "false",
    "MsiContainsSystemFolders": "false",
    "MsiPublisher": "Contoso Ltd",
}


def build(tmp_path: Path, name: str = "demo.intunewin", **overrides: object) -> Path:
    fields: dict[str, object] = {
        "setup_file": "demo.msi",
        "files": {"demo.msi": MSI.read_bytes(), "config/settings.ini": b"[x]\r\ny=1\r\n"},
        "name": "Contoso Demo",
        "msi_info": MSI_INFO,
    }
    fields.update(overrides)
    path = tmp_path / name
    build_intunewin(path, **fields)  # type: ignore[arg-type]
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(path: Path, content: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in content.items():
            archive.writestr(name, data)
    return path


def with_detection(
    tmp_path: Path, change: Callable[[bytes], bytes], name: str = "d.intunewin"
) -> Path:
    content = members(build(tmp_path))
    content[DETECTION] = change(content[DETECTION])
    return rezip(tmp_path / name, content)


def test_msi_setup(tmp_path: Path) -> None:
    path = build(tmp_path)
    meta = read_intunewin(path)
    assert meta.app_type == "win32LobApp"
    assert (meta.identity, meta.version) == (PRODUCT_CODE, "1.4.2")
    assert (meta.display_name, meta.publisher) == ("Contoso Demo", "Contoso Ltd")
    assert meta.file_name == "demo.intunewin"  # the name given, not the payload's
    assert meta.details["payloadName"] == "IntunePackage.intunewin"
    assert meta.manifest is None and meta.minimum_os is None
    assert meta.properties == {
        "fileName": "demo.intunewin",
        "setupFilePath": "demo.msi",
        "msiInformation": {
            "packageType": "PerMachine",
            "productCode": PRODUCT_CODE,
            "productName": "Contoso Demo",
            "productVersion": "1.4.2",
            "publisher": "Contoso Ltd",
            "requiresReboot": True,
            "upgradeCode": "{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}",
        },
    }
    assert meta.details["msiInfo"] == MSI_INFO
    assert meta.details["toolVersion"] == "1.8.6.0"
    assert read_artifact(path).identity == PRODUCT_CODE


def test_content_is_the_payload_byte_range(tmp_path: Path) -> None:
    """The range the uploader will send is exactly the stored member, and it decrypts to a
    ZIP holding the setup files (checked with zipfile, independently of the reader)."""
    path = build(tmp_path)
    content = read_intunewin(path).content
    assert isinstance(content, EncryptedContent)
    blob = members(path)[PAYLOAD]
    raw = path.read_bytes()
    assert raw[content.offset : content.offset + content.size_encrypted] == blob
    assert content.size_encrypted == encrypted_size(content.size)
    plaintext = decrypt_blob(blob, content.encryption_info)
    assert len(plaintext) == content.size
    with zipfile.ZipFile(io.BytesIO(plaintext)) as inner:
        assert inner.read("demo.msi") == MSI.read_bytes()
    assert content.encryption_info.to_graph()["profileIdentifier"] == "ProfileVersion1"


def test_detection_xml_has_bom_and_crlf(tmp_path: Path) -> None:
    detection = members(build(tmp_path))[DETECTION]
    assert detection.startswith(b"\xef\xbb\xbf<ApplicationInfo") and b"\r\n" in detection


@needs_tool("7zz")
def test_seven_zip_sees_two_stored_members(tmp_path: Path) -> None:
    path = build(tmp_path)
    out = subprocess.run(
        ["7zz", "l", "-slt", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert f"Path = {PAYLOAD}" in out and f"Path = {DETECTION}" in out
    assert out.count("Method = Store") == 2


@pytest.mark.parametrize(
    ("context", "package_type"),
    [("System", "PerMachine"), ("User", "PerUser"), ("Any", "DualPurpose"), ("", "DualPurpose")],
)
def test_package_type(tmp_path: Path, context: str, package_type: str) -> None:
    path = build(tmp_path, msi_info={**MSI_INFO, "MsiExecutionContext": context})
    assert read_intunewin(path).properties["msiInformation"]["packageType"] == package_type


def test_exe_setup_without_msi_info(tmp_path: Path) -> None:
    path = build(tmp_path, setup_file="setup.exe", files={"setup.exe": b"MZ"}, msi_info=None)
    meta = read_intunewin(path)
    assert meta.identity == "Contoso Demo"
    assert meta.version == ""
    assert meta.properties["msiInformation"] is None
    assert meta.properties["setupFilePath"] == "setup.exe"


def test_lower_case_entry_names_and_no_bom(tmp_path: Path) -> None:
    content = members(build(tmp_path))
    renamed = {
        PAYLOAD.lower(): content[PAYLOAD],
        DETECTION.lower(): content[DETECTION].removeprefix(b"\xef\xbb\xbf"),
    }
    meta = read_intunewin(rezip(tmp_path / "l.intunewin", renamed))
    assert meta.identity == PRODUCT_CODE


def test_elements_in_another_order_with_description(tmp_path: Path) -> None:
    def change(xml: bytes) -> bytes:
        xml = xml.replace(b"  <Name>Contoso Demo</Name>\r\n", b"")
        return xml.replace(
            b"</ApplicationInfo>",
            b"<Description>d</Description><Name>Contoso Demo</Name></ApplicationInfo>",
        )

    meta = read_intunewin(with_detection(tmp_path, change))
    assert meta.display_name == "Contoso Demo" and meta.details["description"] == "d"


# --- refusals ------------------------------------------------------------------------------


def refused(path: Path, match: str) -> None:
    with pytest.raises(ArtifactError, match=match) as info:
        read_intunewin(path)
    assert info.value.fix and "\n" not in info.value.one_line()


def test_hmac_mismatch_when_the_payload_is_altered(tmp_path: Path) -> None:
    path = build(tmp_path)
    content = read_intunewin(path).content
    assert isinstance(content, EncryptedContent)
    data = bytearray(path.read_bytes())
    data[content.offset + 100] ^= 0x01  # one ciphertext bit, in place (the ZIP CRC is not read)
    path.write_bytes(bytes(data))
    refused(path, "HMAC mismatch")


def test_hmac_mismatch_when_detection_has_another_mac(tmp_path: Path) -> None:
    def change(xml: bytes) -> bytes:
        start = xml.index(b"<Mac>") + 5
        end = xml.index(b"</Mac>")
        return xml[:start] + b64(bytes(32)).encode() + xml[end:]

    refused(with_detection(tmp_path, change), "HMAC mismatch")


def test_wrong_encryption_key(tmp_path: Path) -> None:
    def change(xml: bytes) -> bytes:
        start = xml.index(b"<EncryptionKey>") + 15
        end = xml.index(b"</EncryptionKey>")
        return xml[:start] + b64(bytes(range(32))).encode() + xml[end:]

    refused(with_detection(tmp_path, change), "does not (decrypt|match)")


def test_inconsistent_unencrypted_size(tmp_path: Path) -> None:
    def change(xml: bytes) -> bytes:
        start = xml.index(b"<UnencryptedContentSize>") + 24
        end = xml.index(b"</UnencryptedContentSize>")
        return xml[:start] + str(int(xml[start:end]) + 4096).encode() + xml[end:]

    refused(with_detection(tmp_path, change), "implies a")


def test_deflated_payload_is_refused(tmp_path: Path) -> None:
    content = members(build(tmp_path))
    refused(rezip(tmp_path / "z.intunewin", content, zipfile.ZIP_DEFLATED), "must be stored")


def test_missing_detection_xml(tmp_path: Path) -> None:
    content = members(build(tmp_path))
    del content[DETECTION]
    refused(rezip(tmp_path / "m.intunewin", content), "Detection.xml is missing")


def test_missing_payload(tmp_path: Path) -> None:
    content = members(build(tmp_path))
    del content[PAYLOAD]
    refused(rezip(tmp_path / "m.intunewin", content), "payload .* is missing")


def test_truncated_file(tmp_path: Path) -> None:
    path = build(tmp_path)
    data = path.read_bytes()
    (tmp_path / "t.intunewin").write_bytes(data[: len(data) - 700])
    refused(tmp_path / "t.intunewin", "not a valid .intunewin|truncated")


def test_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "x.intunewin").write_bytes(b"\x00" * 1000)
    refused(tmp_path / "x.intunewin", "not a valid .intunewin")


def test_path_traversal_member(tmp_path: Path) -> None:
    content = members(build(tmp_path))
    content["../../etc/cron.d/x"] = b"boom"
    refused(rezip(tmp_path / "p.intunewin", content), "path traversal")


def test_detection_claiming_a_huge_size(
    tmp_path: Path, claim_size: Callable[[Path, str, int], None]
) -> None:
    path = build(tmp_path)
    claim_size(path, DETECTION, 0x7FFFFFFF)
    refused(path, "claims 2147483647 bytes")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ((b"<SetupFile>demo.msi</SetupFile>", b""), "has no SetupFile"),
        ((b"ProfileVersion1", b"ProfileVersion2"), "accepts only ProfileVersion1"),
        ((b"<FileName>IntunePackage.intunewin", b"<FileName>../x"), "not a plain name"),
        ((b"<MacKey>", b"<MacKey>!!"), "MacKey is not base64"),
        ((b"<ApplicationInfo ", b"<Application "), "not well-formed"),
        ((b"<UnencryptedContentSize>", b"<UnencryptedContentSize>-"), "is not a size"),
    ],
)
def test_bad_detection_xml(tmp_path: Path, change: tuple[bytes, bytes], match: str) -> None:
    refused(with_detection(tmp_path, lambda xml: xml.replace(*change)), match)


def test_short_initialization_vector(tmp_path: Path) -> None:
    def change(xml: bytes) -> bytes:
        start = xml.index(b"<InitializationVector>") + 22
        end = xml.index(b"</InitializationVector>")
        return xml[:start] + base64.b64encode(bytes(8)) + xml[end:]

    refused(with_detection(tmp_path, change), "InitializationVector is 8 bytes")


def test_entity_bomb_in_detection_xml(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxx">]>'
        b"<ApplicationInfo>&x;</ApplicationInfo>"
    )
    refused(with_detection(tmp_path, lambda _xml: bomb), "DOCTYPE or ENTITY")


def test_stored_data_offset_checks_the_local_header(tmp_path: Path) -> None:
    path = build(tmp_path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(PAYLOAD)
    data = bytearray(path.read_bytes())
    data[info.header_offset : info.header_offset + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="local header"):
        stored_data_offset(path, info)


def test_mutated_packages_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    small = build(tmp_path, files={"setup.exe": b"MZ" * 50}, setup_file="setup.exe")
    target = tmp_path / "fuzz.intunewin"
    content = members(small)

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_intunewin(target)

    def read_detection(xml: bytes) -> object:
        rezip(target, {**content, DETECTION: xml})
        return read_intunewin(target)

    assert fuzz(small.read_bytes(), read) > 10
    assert fuzz(content[DETECTION], read_detection) > 10
