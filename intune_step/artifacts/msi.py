"""Windows Installer ``.msi`` -> ``windowsMobileMSI``.

An MSI is an OLE compound file. Its tables are streams whose names are packed into CJK code
points; the ``Property`` table is two string columns stored column-major as references into
the string pool (``_StringPool`` lengths + ``_StringData`` bytes). See docs/protocol.md,
"MSI tables".
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import olefile

from intune_step.artifacts.base import AppMetadata, PlainContent
from intune_step.config.text import BRACED_GUID
from intune_step.errors import ArtifactError

MAX_STREAM_BYTES = 16 * 1024 * 1024  # string pools of real MSIs are well under this
MAX_STRINGS = 1_000_000
# olefile keeps the whole FAT in memory: 1/128 of the file with 512-byte sectors, so this
# allows 8 GiB MSIs (Intune's ceiling) and refuses a header that claims more.
MAX_FAT_BYTES = 64 * 1024 * 1024
_NAME_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
FIX = "check that the build produced a complete .msi (e.g. `msiinfo export x.msi Property`)"

# ALLUSERS -> (Graph packageType, MobileMsiData MsiExecutionContext); IntuneAppBuilder's map
CONTEXTS = {"": ("perUser", "User"), "1": ("perMachine", "System"), "2": ("dualPurpose", "Any")}


def table_stream_name(table: str) -> str:
    """The OLE stream name of an MSI table: pairs of base-64 characters packed into one
    code point from U+3800, a leftover one from U+4800, all after the U+4840 table marker."""
    out = ["\u4840"]
    i = 0
    while i < len(table):
        first = _NAME_CHARS.find(table[i])
        second = _NAME_CHARS.find(table[i + 1]) if i + 1 < len(table) else -1
        if first < 0:
            out.append(table[i])
            i += 1
        elif second >= 0:
            out.append(chr(0x3800 + first + (second << 6)))
            i += 2
        else:
            out.append(chr(0x4800 + first))
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class InstallContext:
    package_type: str  # perUser | perMachine | dualPurpose
    execution_context: str  # User | System | Any
    machine_install: bool
    user_install: bool


def install_context(all_users: str, per_user: str) -> InstallContext:
    """From ALLUSERS and MSIINSTALLPERUSER. Unknown ALLUSERS values count as dual purpose,
    the same fallback Win32's packageType uses."""
    package_type, execution = CONTEXTS.get(all_users.strip(), ("dualPurpose", "Any"))
    if package_type == "perMachine":
        return InstallContext(package_type, execution, True, False)
    if package_type == "perUser":
        return InstallContext(package_type, execution, False, True)
    # dual purpose installs per user when MSIINSTALLPERUSER=1, else per machine when elevated
    prefers_user = per_user.strip() == "1"
    return InstallContext(package_type, execution, not prefers_user, True)


def read_msi(path: Path) -> AppMetadata:
    """Read ProductCode, ProductVersion and friends from an .msi's Property table."""
    properties, summary = _read_tables(path)
    code = properties.get("ProductCode", "").strip()
    version = properties.get("ProductVersion", "").strip()
    if not BRACED_GUID.match(code):
        raise ArtifactError(
            f"{path.name}: the Property table has no valid ProductCode ({code[:40]!r})",
            fix="set a ProductCode GUID ({XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}) in the MSI",
        )
    if not version:
        raise ArtifactError(
            f"{path.name}: the Property table has no ProductVersion",
            fix="set ProductVersion in the MSI",
        )
    context = install_context(
        properties.get("ALLUSERS", ""), properties.get("MSIINSTALLPERUSER", "")
    )
    upgrade_code = properties.get("UpgradeCode", "").strip()
    reboot = properties.get("REBOOT", "").strip().upper().startswith("F")  # Force
    return AppMetadata(
        app_type="windowsMobileMSI",
        file_name=path.name,
        identity=code,
        version=version,
        display_name=properties.get("ProductName") or summary.get("subject") or None,
        publisher=properties.get("Manufacturer") or summary.get("author") or None,
        minimum_os=None,  # windowsMobileMSI has no minimumSupportedOperatingSystem
        content=PlainContent(path=path, size=path.stat().st_size),
        properties={
            "productCode": code,
            "productVersion": version,
            "identityVersion": version,
            "useDeviceContext": context.machine_install,
            "ignoreVersionDetection": False,
        },
        manifest=mobile_msi_data(context, upgrade_code, reboot),
        details={
            "upgradeCode": upgrade_code or None,
            "packageType": context.package_type,
            "requiresReboot": reboot,
            **summary,
        },
    )


def mobile_msi_data(context: InstallContext, upgrade_code: str, reboot: bool) -> bytes:
    """The MobileMsiData content manifest, with the real UpgradeCode.

    See docs/protocol.md, "Content file and manifest". No public tool derives the
    services/registry/folders flags; they stay false.
    """
    flag = {True: '"true"', False: '"false"'}
    return (
        f"<MobileMsiData MsiExecutionContext={quoteattr(context.execution_context)} "
        f"MsiRequiresReboot={flag[reboot]} MsiUpgradeCode={quoteattr(upgrade_code)} "
        f"MsiIsMachineInstall={flag[context.machine_install]} "
        f"MsiIsUserInstall={flag[context.user_install]} "
        'MsiIncludesServices="false" MsiContainsSystemRegistryKeys="false" '
        'MsiContainsSystemFolders="false"></MobileMsiData>'
    ).encode()


# --- the compound file ---------------------------------------------------------------------


def _read_tables(path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The Property table as a dict, and a few SummaryInformation fields."""
    try:
        if not olefile.isOleFile(str(path)):
            raise ArtifactError(f"{path.name}: not an MSI (no OLE compound-file header)", fix=FIX)
        _check_fat_size(path)
        with olefile.OleFileIO(str(path)) as ole:
            pool = _stream(ole, "_StringPool", path)
            data = _stream(ole, "_StringData", path)
            table = _stream(ole, "Property", path)
            summary = _summary(ole)
    except ArtifactError:
        raise
    except Exception as exc:  # olefile raises many kinds on corrupt input; all mean "bad file"
        raise ArtifactError(
            f"{path.name}: not a readable MSI ({type(exc).__name__}: {exc})", fix=FIX
        ) from exc
    strings, ref_size = _string_pool(pool, data, path)
    return _property_table(table, strings, ref_size, path), summary


def _check_fat_size(path: Path) -> None:
    """Refuse before olefile loads a FAT larger than MAX_FAT_BYTES (header: sector shift at
    0x1E, number of FAT sectors at 0x2C)."""
    with path.open("rb") as fp:
        header = fp.read(0x30)
    shift = struct.unpack_from("<H", header, 0x1E)[0]
    fat_sectors = struct.unpack_from("<I", header, 0x2C)[0]
    if shift not in (9, 12):
        raise ArtifactError(f"{path.name}: the MSI's sector size 2^{shift} is invalid", fix=FIX)
    if fat_sectors << shift > MAX_FAT_BYTES:
        raise ArtifactError(
            f"{path.name}: the MSI claims a {fat_sectors << shift}-byte allocation table, more "
            f"than the {MAX_FAT_BYTES} allowed",
            fix=FIX,
        )


def _stream(ole: olefile.OleFileIO[str], table: str, path: Path) -> bytes:
    name = table_stream_name(table)
    if not ole.exists(name):
        raise ArtifactError(f"{path.name}: the MSI has no {table} table", fix=FIX)
    size = ole.get_size(name)
    if size > MAX_STREAM_BYTES:
        raise ArtifactError(
            f"{path.name}: the {table} stream is {size} bytes, more than the "
            f"{MAX_STREAM_BYTES} allowed",
            fix=FIX,
        )
    with ole.openstream(name) as stream:
        return stream.read(MAX_STREAM_BYTES + 1)


SUMMARY_STREAM = "\x05SummaryInformation"
MAX_SUMMARY_BYTES = 256 * 1024
VT_LPSTR = 30
# SummaryInformation property ids (MSI's meanings): subject, author, template, package code
SUMMARY_IDS = {3: "subject", 4: "author", 7: "template", 9: "packageCode"}


def _summary(ole: olefile.OleFileIO[str]) -> dict[str, Any]:
    """Subject, Author, Template ("x64;1033") and PackageCode from SummaryInformation.

    Parsed here rather than with olefile.get_metadata(), which can loop for minutes on a
    damaged property set; only string properties are read, each bounds-checked.
    """
    if not ole.exists(SUMMARY_STREAM) or ole.get_size(SUMMARY_STREAM) > MAX_SUMMARY_BYTES:
        return {}
    with ole.openstream(SUMMARY_STREAM) as stream:
        values = _summary_strings(stream.read(MAX_SUMMARY_BYTES))
    template = values.get("template") or ""
    return {
        "packageCode": values.get("packageCode"),
        "template": template or None,
        "architecture": (template.split(";", 1)[0] or None) if template else None,
        "subject": values.get("subject"),
        "author": values.get("author"),
    }


def _summary_strings(data: bytes) -> dict[str, str]:
    """The VT_LPSTR values of the first property section, by SUMMARY_IDS name."""
    if len(data) < 48 or data[:2] != b"\xfe\xff":
        return {}
    section = struct.unpack_from("<I", data, 44)[0]
    if section + 8 > len(data):
        return {}
    count = struct.unpack_from("<I", data, section + 4)[0]
    values: dict[str, str] = {}
    for i in range(min(count, 64)):
        entry = section + 8 + 8 * i
        if entry + 8 > len(data):
            break
        pid, offset = struct.unpack_from("<II", data, entry)
        at = section + offset
        if pid not in SUMMARY_IDS or at + 8 > len(data):
            continue
        kind, length = struct.unpack_from("<II", data, at)
        if kind == VT_LPSTR and at + 8 + length <= len(data):
            raw = data[at + 8 : at + 8 + length]
            text = raw.decode("cp1252", errors="replace").strip("\x00 ")
            if text:
                values[SUMMARY_IDS[pid]] = text
    return values


def _codec(codepage: int) -> str:
    if codepage == 65001:
        return "utf-8"
    if codepage in (0, 1252):
        return "cp1252"
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        return "cp1252"


def _string_pool(pool: bytes, data: bytes, path: Path) -> tuple[list[str], int]:
    """Decode the string pool; index 0 is the null string. Returns (strings, ref size)."""
    if len(pool) < 4 or len(pool) % 4:
        raise ArtifactError(f"{path.name}: the MSI string pool is malformed", fix=FIX)
    header = struct.unpack_from("<I", pool)[0]
    ref_size = 3 if header & 0x80000000 else 2
    codec = _codec(header & 0x7FFFFFFF)
    entries = struct.unpack_from(f"<{len(pool) // 2}H", pool)
    strings = [""]
    offset = 0
    i = 2  # (u16 length, u16 refcount) pairs follow the 4-byte header
    while i + 1 < len(entries):
        length, refs = entries[i], entries[i + 1]
        i += 2
        if length == 0 and refs != 0:  # a long string: its length is the next u32
            if i + 1 >= len(entries):
                break
            length = entries[i] | (entries[i + 1] << 16)
            i += 2
        if offset + length > len(data) or len(strings) > MAX_STRINGS:
            raise ArtifactError(
                f"{path.name}: the MSI string pool points past its string data", fix=FIX
            )
        strings.append(data[offset : offset + length].decode(codec, errors="replace"))
        offset += length
    return strings, ref_size


def _property_table(table: bytes, strings: list[str], ref_size: int, path: Path) -> dict[str, str]:
    """Column-major: n key references, then n value references."""
    row_size = 2 * ref_size
    if len(table) % row_size:
        raise ArtifactError(f"{path.name}: the MSI Property table is malformed", fix=FIX)
    rows = len(table) // row_size
    refs = [
        int.from_bytes(table[i : i + ref_size], "little") for i in range(0, len(table), ref_size)
    ]
    result: dict[str, str] = {}
    for key_ref, value_ref in zip(refs[:rows], refs[rows:], strict=True):
        if key_ref >= len(strings) or value_ref >= len(strings):
            raise ArtifactError(
                f"{path.name}: the MSI Property table refers to a missing string", fix=FIX
            )
        result[strings[key_ref]] = strings[value_ref]
    return result
