"""The MSI reader against a real wixl-built MSI, cross-checked with msitools, plus bad input."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import olefile
import pytest

from intune_step.artifacts import msi, read_artifact
from intune_step.artifacts.base import PlainContent
from intune_step.artifacts.msi import install_context, read_msi, table_stream_name
from intune_step.errors import ArtifactError
from intune_step.samples.windows import build_msi_with_wixl

from ..independent import needs_tool

FIXTURE = Path(__file__).parents[1] / "fixtures" / "windows" / "demo.msi"
PRODUCT_CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"
UPGRADE_CODE = "{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}"
EXPECTED_PROPERTIES = {
    "ALLUSERS": "1",
    "REBOOT": "Force",
    "Manufacturer": "Contoso Ltd",
    "ProductLanguage": "1033",
    "ProductCode": PRODUCT_CODE,
    "ProductName": "Contoso Demo",
    "ProductVersion": "1.4.2",
    "UpgradeCode": UPGRADE_CODE,
}
needs_wixl = needs_tool("wixl")


def copy(tmp_path: Path, data: bytes, name: str = "x.msi") -> Path:
    target = tmp_path / name
    target.write_bytes(data)
    return target


def test_real_msi_fields() -> None:
    meta = read_msi(FIXTURE)
    assert meta.app_type == "windowsMobileMSI"
    assert meta.odata_type == "#microsoft.graph.windowsMobileMSI"
    assert (meta.identity, meta.version, meta.file_name) == (PRODUCT_CODE, "1.4.2", "demo.msi")
    assert (meta.display_name, meta.publisher) == ("Contoso Demo", "Contoso Ltd")
    assert meta.minimum_os is None
    assert meta.content == PlainContent(path=FIXTURE, size=FIXTURE.stat().st_size)
    assert meta.properties == {
        "productCode": PRODUCT_CODE,
        "productVersion": "1.4.2",
        "identityVersion": "1.4.2",
        "useDeviceContext": True,
        "ignoreVersionDetection": False,
    }
    assert meta.details["upgradeCode"] == UPGRADE_CODE
    assert meta.details["packageType"] == "perMachine"
    assert meta.details["requiresReboot"] is True
    assert meta.details["template"] == "x64;1033"
    assert meta.details["architecture"] == "x64"


def test_manifest_is_mobile_msi_data_with_the_real_upgrade_code() -> None:
    manifest = read_msi(FIXTURE).manifest
    assert (
        manifest
        == (
            f'<MobileMsiData MsiExecutionContext="System" MsiRequiresReboot="true" '
            f'MsiUpgradeCode="{UPGRADE_CODE}" MsiIsMachineInstall="true" MsiIsUserInstall="false" '
            'MsiIncludesServices="false" MsiContainsSystemRegistryKeys="false" '
            'MsiContainsSystemFolders="false"></MobileMsiData>'
        ).encode()
    )


def test_registry_dispatches_msi() -> None:
    assert read_artifact(FIXTURE).identity == PRODUCT_CODE


def test_property_table_matches_the_hard_coded_values() -> None:
    properties, summary = msi._read_tables(FIXTURE)
    assert properties == EXPECTED_PROPERTIES
    assert summary["subject"] == "Contoso Demo" and summary["author"] == "Contoso Ltd"


@needs_tool("msiinfo")
def test_property_table_matches_msiinfo() -> None:
    out = subprocess.run(
        ["msiinfo", "export", str(FIXTURE), "Property"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t", 1) for line in out.splitlines()[3:] if line]
    assert dict(rows) == msi._read_tables(FIXTURE)[0]


def test_table_stream_names_exist_in_the_compound_file() -> None:
    with olefile.OleFileIO(str(FIXTURE)) as ole:
        names = {entry[0] for entry in ole.listdir()}
    for table in ("Property", "_StringPool", "_StringData", "File", "Component"):
        assert table_stream_name(table) in names
    assert table_stream_name("Property") == "\u4840" + "".join(_pack("Property"))


def _pack(name: str) -> list[str]:
    chars = msi._NAME_CHARS
    pairs = [name[i : i + 2] for i in range(0, len(name), 2)]
    return [
        chr(0x3800 + chars.index(p[0]) + (chars.index(p[1]) << 6))
        if len(p) == 2
        else chr(0x4800 + chars.index(p))
        for p in pairs
    ]


@pytest.mark.parametrize(
    ("all_users", "per_user", "expected"),
    [
        ("1", "", ("perMachine", "System", True, False)),
        ("", "", ("perUser", "User", False, True)),
        ("2", "", ("dualPurpose", "Any", True, True)),
        ("2", "1", ("dualPurpose", "Any", False, True)),
        ("7", "", ("dualPurpose", "Any", True, True)),
    ],
)
def test_install_context(all_users: str, per_user: str, expected: tuple[object, ...]) -> None:
    context = install_context(all_users, per_user)
    assert (
        context.package_type,
        context.execution_context,
        context.machine_install,
        context.user_install,
    ) == expected


@needs_wixl
def test_per_user_msi_built_by_wixl(tmp_path: Path) -> None:
    path = build_msi_with_wixl(
        tmp_path / "user.msi", name="User App", version="3.0.0", scope="perUser"
    )
    meta = read_msi(path)
    assert meta.properties["useDeviceContext"] is False
    assert meta.details["packageType"] == "perUser"
    assert b'MsiExecutionContext="User"' in (meta.manifest or b"")
    assert b'MsiRequiresReboot="false"' in (meta.manifest or b"")
    assert (tmp_path / "user.wxs").is_file()


@needs_wixl
def test_dual_purpose_msi_built_by_wixl(tmp_path: Path) -> None:
    path = build_msi_with_wixl(
        tmp_path / "dual.msi",
        name="Dual",
        version="1.0.0",
        scope="perUser",
        properties={"ALLUSERS": "2", "MSIINSTALLPERUSER": "1"},
    )
    meta = read_msi(path)
    assert meta.details["packageType"] == "dualPurpose"
    assert meta.properties["useDeviceContext"] is False
    assert b'MsiExecutionContext="Any"' in (meta.manifest or b"")


def test_wixl_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from intune_step.samples import windows

    monkeypatch.setattr(windows.shutil, "which", lambda _name: None)
    with pytest.raises(windows.ToolMissingError, match="apt-get install wixl"):
        build_msi_with_wixl(tmp_path / "x.msi")


# --- refusals ------------------------------------------------------------------------------


def refused(path: Path, match: str) -> ArtifactError:
    with pytest.raises(ArtifactError, match=match) as info:
        read_msi(path)
    assert info.value.fix
    assert "\n" not in info.value.one_line()
    return info.value


def test_truncated_msi(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    refused(copy(tmp_path, data[: len(data) // 3]), "not a readable MSI")


def test_wrong_magic(tmp_path: Path) -> None:
    refused(copy(tmp_path, b"PK\x03\x04" + bytes(600)), "not an MSI")


def test_empty_file(tmp_path: Path) -> None:
    refused(copy(tmp_path, b""), "not an MSI")


def test_a_claimed_allocation_table_past_the_cap_is_refused_before_olefile(
        tmp_path: Path) -> None:
    data = bytearray(FIXTURE.read_bytes())
    struct.pack_into("<I", data, 0x2C, 200_000)  # 200k FAT sectors: a 100 MB table
    refused(copy(tmp_path, bytes(data)), "claims a 102400000-byte allocation table")
    struct.pack_into("<H", data, 0x1E, 30)
    refused(copy(tmp_path, bytes(data), "s.msi"), "sector size 2\\^30 is invalid")


def test_missing_property_table(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    name = table_stream_name("Property").encode("utf-16-le")
    assert data.count(name) == 1
    renamed = name[:-2] + "\u4801".encode("utf-16-le")  # another table name, same length
    refused(copy(tmp_path, data.replace(name, renamed)), "has no Property table")


def test_invalid_product_code(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    assert data.count(PRODUCT_CODE.encode()) == 1  # _StringData is stored contiguously
    broken = data.replace(PRODUCT_CODE.encode(), b"X" * len(PRODUCT_CODE))
    refused(copy(tmp_path, broken), "no valid ProductCode")


def test_stream_larger_than_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(msi, "MAX_STREAM_BYTES", 16)
    refused(FIXTURE, "more than the 16 allowed")


def test_string_pool_pointing_past_the_data() -> None:
    pool = struct.pack("<IHH", 1252, 500, 1)  # one string of 500 bytes, no data
    with pytest.raises(ArtifactError, match="points past"):
        msi._string_pool(pool, b"short", FIXTURE)


def test_string_pool_long_strings_and_three_byte_refs() -> None:
    long_text = b"x" * 70000
    pool = struct.pack("<IHH", 0x80000000 | 65001, 0, 1) + struct.pack("<I", len(long_text))
    pool += struct.pack("<HH", 2, 1)
    strings, ref_size = msi._string_pool(pool, long_text + "é".encode(), FIXTURE)
    assert ref_size == 3 and strings == ["", "x" * 70000, "é"]
    table = (1).to_bytes(3, "little") + (2).to_bytes(3, "little")
    assert msi._property_table(table, strings, 3, FIXTURE) == {"x" * 70000: "é"}


def test_property_table_with_a_partial_row() -> None:
    with pytest.raises(ArtifactError, match="Property table is malformed"):
        msi._property_table(b"\x01\x00\x02", ["", "a", "b"], 2, FIXTURE)


def test_property_table_referring_to_a_missing_string() -> None:
    with pytest.raises(ArtifactError, match="missing string"):
        msi._property_table(struct.pack("<HH", 1, 9), ["", "a"], 2, FIXTURE)


def test_mutated_msis_raise_only_artifact_error(
    tmp_path: Path, fuzz: Callable[[bytes, Callable[[bytes], object]], int]
) -> None:
    target = tmp_path / "fuzz.msi"

    def read(data: bytes) -> object:
        target.write_bytes(data)
        return read_msi(target)

    seed = FIXTURE.read_bytes()
    assert fuzz(seed, read) > 10
    assert fuzz(seed[:4096], read) > 10
