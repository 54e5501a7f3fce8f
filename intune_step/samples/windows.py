"""Small but real Windows artifacts for the demo, the benchmarks and the tests.

- ``build_msix``: an unsigned .msix (or a .msixbundle of one package per architecture) with
  AppxManifest.xml, [Content_Types].xml and a real AppxBlockMap.xml (SHA-256 per 64 KiB block).
- ``build_intunewin``: the Win32 content prep layout: a ZIP of the source files, encrypted
  ProfileVersion1, Detection.xml (UTF-8 with BOM, CRLF), all in a stored outer ZIP.
- ``build_msi_with_wixl``: a real MSI from Debian's ``wixl`` (apt package ``wixl``).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
import uuid
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from intune_step.crypto import FileEncryptionInfo, b64, encrypt_bytes

BLOCK = 64 * 1024
_DATE = (2024, 1, 1, 0, 0, 0)  # fixed timestamps keep builds reproducible


class ToolMissingError(RuntimeError):
    """An external tool a builder needs is not installed."""


# --- MSIX ----------------------------------------------------------------------------------


def appx_manifest(
    *, name: str, version: str, publisher: str, arch: str, min_version: str, display: str
) -> bytes:
    """A Windows 10 AppxManifest.xml for a full-trust desktop app."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\r\n'
        '<Package xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10" '
        'xmlns:uap="http://schemas.microsoft.com/appx/manifest/uap/windows10" '
        'xmlns:rescap="http://schemas.microsoft.com/appx/manifest/foundation/windows10/'
        'restrictedcapabilities" IgnorableNamespaces="uap rescap">\r\n'
        f"  <Identity Name={quoteattr(name)} Publisher={quoteattr(publisher)} "
        f"Version={quoteattr(version)} ProcessorArchitecture={quoteattr(arch)}/>\r\n"
        "  <Properties>\r\n"
        f"    <DisplayName>{escape(display)}</DisplayName>\r\n"
        f"    <PublisherDisplayName>{escape(_common_name(publisher))}</PublisherDisplayName>\r\n"
        "    <Logo>Assets\\StoreLogo.png</Logo>\r\n"
        "  </Properties>\r\n"
        "  <Dependencies>\r\n"
        f'    <TargetDeviceFamily Name="Windows.Desktop" MinVersion={quoteattr(min_version)} '
        'MaxVersionTested="10.0.22621.0"/>\r\n'
        "  </Dependencies>\r\n"
        '  <Resources><Resource Language="en-us"/></Resources>\r\n'
        "  <Applications>\r\n"
        '    <Application Id="App" Executable="Demo.exe" '
        'EntryPoint="Windows.FullTrustApplication">\r\n'
        f"      <uap:VisualElements DisplayName={quoteattr(display)} Description="
        f'{quoteattr(display)} BackgroundColor="transparent" '
        'Square150x150Logo="Assets\\Square150x150Logo.png" '
        'Square44x44Logo="Assets\\Square44x44Logo.png"/>\r\n'
        "    </Application>\r\n"
        "  </Applications>\r\n"
        '  <Capabilities><rescap:Capability Name="runFullTrust"/></Capabilities>\r\n'
        "</Package>\r\n"
    ).encode()


def _common_name(publisher: str) -> str:
    for part in publisher.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN" and value:
            return value
    return publisher


def build_msix(
    path: Path,
    *,
    name: str,
    version: str,
    publisher: str,
    arch: str,
    min_version: str,
    bundle: bool = False,
    display: str = "Demo",
    inner: str = "{name}_{version}_{arch}.msix",
) -> Path:
    """Write an .msix, or with ``bundle=True`` an .msixbundle holding one package per
    architecture of the comma-separated ``arch``, each named by the ``inner`` template
    (which must end in ``_{arch}.msix``)."""
    if not bundle:
        path.write_bytes(_package_bytes(name, version, publisher, arch, min_version, display))
        return path
    packages = {
        inner.format(name=name, version=version, arch=one): _package_bytes(
            name, version, publisher, one, min_version, display
        )
        for one in (a.strip() for a in arch.split(","))
    }
    path.write_bytes(_bundle_bytes(name, version, publisher, packages))
    return path


def _package_bytes(
    name: str, version: str, publisher: str, arch: str, min_version: str, display: str
) -> bytes:
    files = {
        "AppxManifest.xml": appx_manifest(
            name=name,
            version=version,
            publisher=publisher,
            arch=arch,
            min_version=min_version,
            display=display,
        ),
        "Demo.exe": b"MZ" + bytes(126),  # a stub; nothing runs it
        "Assets/StoreLogo.png": b"\x89PNG\r\n\x1a\n",
    }
    types = {"exe": "application/x-msdownload", "png": "image/png"}
    return _opc_zip(files, types, {"/AppxManifest.xml": "application/vnd.ms-appx.manifest+xml"})


def part_name(file_name: str) -> str:
    """The ZIP member name MakeAppx gives a file: an OPC part name, percent-encoded (RFC 3986
    pchar: non-ASCII as UTF-8 bytes, a space as %20); manifests keep the plain name."""
    return quote(file_name, safe="/!$&'()*+,;=:@")


def _bundle_bytes(name: str, version: str, publisher: str, packages: Mapping[str, bytes]) -> bytes:
    """Packages first (stored), so their offsets are known when the manifest is written."""
    buffer = io.BytesIO()
    entries: list[str] = []
    with zipfile.ZipFile(buffer, "w") as archive:
        for file_name, data in packages.items():
            offset = _write(archive, part_name(file_name), data, zipfile.ZIP_STORED)
            arch = file_name.rsplit("_", 1)[-1].removesuffix(".msix")
            entries.append(
                f'    <Package Type="application" Version={quoteattr(version)} '
                f"Architecture={quoteattr(arch)} FileName={quoteattr(file_name)} "
                f'Offset="{offset}" Size="{len(data)}">\r\n'
                '      <Resources><Resource Language="en-us"/></Resources>\r\n'
                "    </Package>\r\n"
            )
        manifest = (
            '<?xml version="1.0" encoding="UTF-8"?>\r\n'
            '<Bundle xmlns="http://schemas.microsoft.com/appx/2013/bundle" '
            'SchemaVersion="5.0">\r\n'
            f"  <Identity Name={quoteattr(name)} Publisher={quoteattr(publisher)} "
            f"Version={quoteattr(version)}/>\r\n"
            f"  <Packages>\r\n{''.join(entries)}  </Packages>\r\n"
            "</Bundle>\r\n"
        ).encode()
        files = {
            **{part_name(n): d for n, d in packages.items()},
            "AppxMetadata/AppxBundleManifest.xml": manifest,
        }
        _write(archive, "AppxMetadata/AppxBundleManifest.xml", manifest, zipfile.ZIP_DEFLATED)
        _write_opc_parts(
            archive,
            files,
            {"msix": "application/vnd.ms-appx"},
            {"/AppxMetadata/AppxBundleManifest.xml": "application/vnd.ms-appx.bundlemanifest+xml"},
        )
    return buffer.getvalue()


def _opc_zip(
    files: Mapping[str, bytes], defaults: Mapping[str, str], overrides: Mapping[str, str]
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file_name, data in files.items():
            _write(archive, file_name, data, zipfile.ZIP_DEFLATED)
        _write_opc_parts(archive, files, defaults, overrides)
    return buffer.getvalue()


def _write(archive: zipfile.ZipFile, name: str, data: bytes, method: int) -> int:
    """Add one member; return the offset of its data in the archive."""
    info = zipfile.ZipInfo(name, _DATE)
    info.compress_type = method
    archive.writestr(info, data)
    return info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)


def _write_opc_parts(
    archive: zipfile.ZipFile,
    files: Mapping[str, bytes],
    defaults: Mapping[str, str],
    overrides: Mapping[str, str],
) -> None:
    """AppxBlockMap.xml (hashes of the parts) and [Content_Types].xml, written last."""
    blocks = []
    for file_name, data in files.items():
        hashes = "".join(
            f'<Block Hash="{b64(hashlib.sha256(data[i : i + BLOCK]).digest())}"/>'
            for i in range(0, len(data), BLOCK)
        )
        windows_name = file_name.replace("/", "\\")
        blocks.append(
            f'  <File Name={quoteattr(windows_name)} Size="{len(data)}" '
            f'LfhSize="{30 + len(file_name.encode())}">{hashes}</File>\r\n'
        )
    block_map = (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        '<BlockMap xmlns="http://schemas.microsoft.com/appx/2010/blockmap" '
        'HashMethod="http://www.w3.org/2001/04/xmlenc#sha256">\r\n'
        f"{''.join(blocks)}</BlockMap>\r\n"
    ).encode()
    _write(archive, "AppxBlockMap.xml", block_map, zipfile.ZIP_DEFLATED)
    all_overrides = {**overrides, "/AppxBlockMap.xml": "application/vnd.ms-appx.blockmap+xml"}
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>\r\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        + "".join(
            f"<Default Extension={quoteattr(ext)} ContentType={quoteattr(kind)}/>"
            for ext, kind in defaults.items()
        )
        + "".join(
            f"<Override PartName={quoteattr(part)} ContentType={quoteattr(kind)}/>"
            for part, kind in all_overrides.items()
        )
        + "</Types>\r\n"
    ).encode()
    _write(archive, "[Content_Types].xml", types, zipfile.ZIP_DEFLATED)


# --- .intunewin ----------------------------------------------------------------------------

MSI_INFO_ORDER = [
    "MsiProductCode",
    "MsiProductVersion",
    "MsiPackageCode",
    "MsiUpgradeCode",
    "MsiExecutionContext",
    "MsiRequiresLogon",
    "MsiRequiresReboot",
    "MsiIsMachineInstall",
    "MsiIsUserInstall",
    "MsiIncludesServices",
    "MsiIncludesODBCDataSource",
    "MsiContainsSystemRegistryKeys",
    "MsiContainsSystemFolders",
    "MsiPublisher",
]


def build_intunewin(
    path: Path,
    *,
    setup_file: str,
    files: Mapping[str, bytes],
    name: str,
    msi_info: Mapping[str, str] | None = None,
    file_name: str = "IntunePackage.intunewin",
) -> FileEncryptionInfo:
    """Write a .intunewin of ``files`` and return the payload's encryption info.

    ``msi_info`` uses Detection.xml's element names (MsiProductCode, MsiExecutionContext...).
    """
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(zipfile.ZipInfo(member, _DATE), data, zipfile.ZIP_DEFLATED)
    plaintext = inner.getvalue()
    blob, info = encrypt_bytes(plaintext)
    detection = detection_xml(
        name=name,
        unencrypted_size=len(plaintext),
        file_name=file_name,
        setup_file=setup_file,
        info=info,
        msi_info=msi_info,
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as outer:
        _write(outer, f"IntuneWinPackage/Contents/{file_name}", blob, zipfile.ZIP_STORED)
        _write(outer, "IntuneWinPackage/Metadata/Detection.xml", detection, zipfile.ZIP_STORED)
    return info


def detection_xml(
    *,
    name: str,
    unencrypted_size: int,
    file_name: str,
    setup_file: str,
    info: FileEncryptionInfo,
    msi_info: Mapping[str, str] | None = None,
) -> bytes:
    """Detection.xml as IntuneWinAppUtil 1.8 writes it: UTF-8 with a BOM, CRLF lines."""
    lines = [
        '<ApplicationInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ToolVersion="1.8.6.0">',
        f"  <Name>{escape(name)}</Name>",
        f"  <UnencryptedContentSize>{unencrypted_size}</UnencryptedContentSize>",
        f"  <FileName>{escape(file_name)}</FileName>",
        f"  <SetupFile>{escape(setup_file)}</SetupFile>",
        "  <EncryptionInfo>",
        f"    <EncryptionKey>{b64(info.encryption_key)}</EncryptionKey>",
        f"    <MacKey>{b64(info.mac_key)}</MacKey>",
        f"    <InitializationVector>{b64(info.initialization_vector)}</InitializationVector>",
        f"    <Mac>{b64(info.mac)}</Mac>",
        f"    <ProfileIdentifier>{info.profile_identifier}</ProfileIdentifier>",
        f"    <FileDigest>{b64(info.file_digest)}</FileDigest>",
        f"    <FileDigestAlgorithm>{info.file_digest_algorithm}</FileDigestAlgorithm>",
        "  </EncryptionInfo>",
    ]
    if msi_info is not None:
        keys = [k for k in MSI_INFO_ORDER if k in msi_info]
        keys += [k for k in msi_info if k not in MSI_INFO_ORDER]
        lines.append("  <MsiInfo>")
        lines += [f"    <{key}>{escape(str(msi_info[key]))}</{key}>" for key in keys]
        lines.append("  </MsiInfo>")
    lines.append("</ApplicationInfo>")
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode()


# --- MSI via wixl --------------------------------------------------------------------------


def wxs_source(
    *,
    name: str = "Demo App",
    version: str = "1.0.0",
    manufacturer: str = "Contoso Ltd",
    product_code: str | None = None,
    upgrade_code: str | None = None,
    scope: str = "perMachine",
    reboot: str | None = None,
    platform: str = "x86",
    properties: Mapping[str, str] | None = None,
) -> str:
    """A minimal WiX 3 source that wixl compiles: one file, one component, one feature.

    ``properties`` adds Property rows (e.g. {"ALLUSERS": "2", "MSIINSTALLPERUSER": "1"}).
    """
    product_code = product_code or f"{{{str(uuid.uuid4()).upper()}}}"
    upgrade_code = upgrade_code or f"{{{str(uuid.uuid4()).upper()}}}"
    folder = "ProgramFiles64Folder" if platform == "x64" else "ProgramFilesFolder"
    extra = {**({"REBOOT": reboot} if reboot else {}), **(properties or {})}
    property_rows = "".join(
        f"    <Property Id={quoteattr(key)} Value={quoteattr(value)}/>\n"
        for key, value in extra.items()
    )
    win64 = ' Win64="yes"' if platform == "x64" else ""
    component_guid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, product_code)).upper() + "}"
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">\n'
        f'  <Product Id={quoteattr(product_code)} Name={quoteattr(name)} Language="1033" '
        f"Version={quoteattr(version)} Manufacturer={quoteattr(manufacturer)} "
        f"UpgradeCode={quoteattr(upgrade_code)}>\n"
        f'    <Package InstallerVersion="200" Compressed="yes" InstallScope={quoteattr(scope)}/>\n'
        '    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>\n'
        f"{property_rows}"
        '    <Directory Id="TARGETDIR" Name="SourceDir">\n'
        f"      <Directory Id={quoteattr(folder)}>\n"
        '        <Directory Id="INSTALLDIR" Name="Demo">\n'
        f'          <Component Id="MainFile" Guid="{component_guid}"{win64}>\n'
        '            <File Id="readme" Name="readme.txt" Source="readme.txt"/>\n'
        "          </Component>\n"
        "        </Directory>\n"
        "      </Directory>\n"
        "    </Directory>\n"
        '    <Feature Id="Main" Level="1"><ComponentRef Id="MainFile"/></Feature>\n'
        "  </Product>\n"
        "</Wix>\n"
    )


def build_msi_with_wixl(path: Path, **fields: Any) -> Path:
    """Compile ``wxs_source(**fields)`` with wixl into ``path`` (the .wxs is written beside
    it as ``<path>.wxs``, so a vendored MSI keeps its source).

    Raises ToolMissingError when wixl is not installed (``apt-get install wixl``).
    """
    wixl = shutil.which("wixl")
    if wixl is None:
        raise ToolMissingError("wixl is not installed; install it with `apt-get install wixl`")
    source = wxs_source(**fields)
    path.with_suffix(".wxs").write_text(source, encoding="utf-8")
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "app.wxs").write_text(source, encoding="utf-8")
        readme = "Demo app built by intune-step's samples.\n"
        (folder / "readme.txt").write_text(readme, encoding="utf-8")
        arch = "x64" if fields.get("platform") == "x64" else "x86"
        result = subprocess.run(
            [wixl, "--arch", arch, "-o", str(path.resolve()), "app.wxs"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"wixl failed ({result.returncode}): {result.stderr.strip()}")
    return path
