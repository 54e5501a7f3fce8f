"""MSIX/AppX packages and bundles -> ``windowsUniversalAppX``.

A package is a ZIP with ``AppxManifest.xml`` at its root; a bundle has
``AppxMetadata/AppxBundleManifest.xml`` and carries its packages as members
(docs/protocol.md, "MSIX packages and bundles"). Namespaces differ between Windows 8 and 10
manifests, so elements are matched by local name. The content-file manifest Intune wants is
the file name itself (docs/protocol.md, "Content file and manifest").
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from intune_step.artifacts.base import AppMetadata, MinimumOs, PlainContent
from intune_step.artifacts.intunewin import open_stored_member
from intune_step.artifacts.safezip import DECODE_ERRORS, open_zip, read_member
from intune_step.artifacts.signer import name_from_dn
from intune_step.artifacts.xmlguard import local_name, parse_untrusted_xml
from intune_step.errors import ArtifactError

PACKAGE_MANIFEST = "AppxManifest.xml"
BUNDLE_MANIFEST = "AppxMetadata/AppxBundleManifest.xml"
MAX_MANIFEST_BYTES = 2 * 1024 * 1024
MAX_INNER_PACKAGES = 32  # bundles hold one package per architecture, plus resources

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Graph's applicableArchitectures flags; anything else counts as neutral (as Microsoft's
# sample does), e.g. x86a64.
_ARCHITECTURES = {"x86": "x86", "x64": "x64", "arm": "arm", "arm64": "arm64"}
_ORDER = ["x86", "x64", "arm", "arm64", "neutral"]
_DEVICE_FAMILIES = {
    "windows.desktop": ["desktop"],
    "windows.mobile": ["mobile"],
    "windows.holographic": ["holographic"],
    "windows.team": ["team"],
    "windows.universal": ["desktop", "mobile", "holographic", "team"],
}
_DEVICE_ORDER = ["desktop", "mobile", "holographic", "team"]


def publisher_hash(publisher: str) -> str:
    """The 13-character publisher id of a package family name.

    SHA-256 of the UTF-16LE publisher DN, first 8 bytes, one 0 bit appended (65 bits), written
    as 13 Crockford base32 digits. "CN=Microsoft Corporation, O=Microsoft Corporation,
    L=Redmond, S=Washington, C=US" gives "8wekyb3d8bbwe".
    """
    digest = hashlib.sha256(publisher.encode("utf-16-le")).digest()
    bits = int.from_bytes(digest[:8], "big") << 1
    return "".join(_CROCKFORD[(bits >> (60 - 5 * i)) & 31] for i in range(13))


@dataclass(frozen=True)
class PackageFacts:
    """What one AppxManifest.xml says."""

    name: str
    publisher: str
    version: str
    architecture: str
    resource_id: str
    device_types: list[str]
    min_version: str | None
    display_name: str | None
    publisher_display_name: str | None
    resource_only: bool = False  # <ResourcePackage>true</ResourcePackage> and no Applications


def read_msix(path: Path) -> AppMetadata:
    """Read an .msix/.appx or .msixbundle/.appxbundle."""
    with open_zip(path, "MSIX/AppX package") as archive:
        names = set(archive.namelist())
        if BUNDLE_MANIFEST in names:
            facts, architectures, is_bundle = _read_bundle(archive, path)
        elif PACKAGE_MANIFEST in names:
            facts = _package_facts(_manifest(archive, PACKAGE_MANIFEST, path), path)
            architectures, is_bundle = [facts.architecture], False
            if facts.resource_only:
                raise ArtifactError(
                    f"{path.name}: this is a resource package (ResourcePackage, no "
                    "Applications); it installs only beside its main package, and Intune "
                    "deploys apps",
                    fix="publish the app's main .msix, or the .msixbundle that holds it and "
                    "its resource packages",
                )
        else:
            raise ArtifactError(
                f"{path.name}: neither {PACKAGE_MANIFEST} nor {BUNDLE_MANIFEST} is in the package",
                fix="publish the .msix/.appx (or bundle) produced by MakeAppx or Visual Studio",
            )
    return AppMetadata(
        app_type="windowsUniversalAppX",
        file_name=path.name,
        identity=facts.name,
        version=facts.version,
        display_name=facts.display_name,
        # PublisherDisplayName, else the O or CN of the signing publisher's DN
        publisher=facts.publisher_display_name or name_from_dn(facts.publisher),
        minimum_os=MinimumOs("windows", facts.min_version) if facts.min_version else None,
        content=PlainContent(path=path, size=path.stat().st_size),
        properties={
            "identityName": facts.name,
            "identityVersion": facts.version,
            "identityPublisherHash": publisher_hash(facts.publisher),
            "identityResourceIdentifier": facts.resource_id,
            "applicableArchitectures": ",".join(_sorted(architectures, _ORDER)),
            "applicableDeviceTypes": ",".join(facts.device_types),
            "isBundle": is_bundle,
        },
        # Intune wants a non-null manifest for AppX: the file name's ASCII bytes (the
        # Microsoft sample's Encoding.ASCII, which turns other characters into "?")
        manifest=path.name.encode("ascii", errors="replace"),
        details={"publisherDn": facts.publisher, "minVersion": facts.min_version},
    )


def _manifest(archive: zipfile.ZipFile, name: str, path: Path) -> ET.Element:
    data = read_member(archive, name, path, limit=MAX_MANIFEST_BYTES)
    return parse_untrusted_xml(data, f"{path.name}: {name}", limit=MAX_MANIFEST_BYTES)


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in elem if local_name(c.tag) == name), None)


def _children(elem: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if elem is None else [c for c in elem if local_name(c.tag) == name]


def _identity(root: ET.Element, expected_root: str, path: Path, what: str) -> ET.Element:
    identity = _child(root, "Identity")
    if local_name(root.tag) != expected_root or identity is None:
        raise ArtifactError(
            f"{path.name}: {what} has no <{expected_root}><Identity>",
            fix="check that the package manifest is complete",
        )
    for attribute in ("Name", "Publisher", "Version"):
        if not (identity.get(attribute) or "").strip():
            raise ArtifactError(
                f"{path.name}: {what} Identity has no {attribute}",
                fix="set Identity/@Name, @Publisher and @Version in the manifest",
            )
    version = identity.get("Version", "")
    parts = version.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 5 for p in parts):
        raise ArtifactError(
            f"{path.name}: {what} Identity Version {version!r} is not a four-part version",
            fix="use a version like 1.2.3.0",
        )
    return identity


def _package_facts(root: ET.Element, path: Path, what: str = PACKAGE_MANIFEST) -> PackageFacts:
    identity = _identity(root, "Package", path, what)
    devices, min_version = _targets(root, path, what)
    properties = _child(root, "Properties")
    resource = (_literal(properties, "ResourcePackage") or "").lower() == "true"
    arch = (identity.get("ProcessorArchitecture") or "neutral").lower()
    return PackageFacts(
        name=identity.get("Name", "").strip(),
        publisher=identity.get("Publisher", "").strip(),
        version=identity.get("Version", "").strip(),
        architecture=_ARCHITECTURES.get(arch, "neutral"),
        resource_id=(identity.get("ResourceId") or "").strip(),
        device_types=devices,
        min_version=min_version,
        display_name=_literal(properties, "DisplayName"),
        publisher_display_name=_literal(properties, "PublisherDisplayName"),
        resource_only=resource and _child(root, "Applications") is None,
    )


def _literal(properties: ET.Element | None, name: str) -> str | None:
    """A Properties text, unless it is an ``ms-resource:`` reference into resources.pri."""
    elem = None if properties is None else _child(properties, name)
    text = (elem.text or "").strip() if elem is not None else ""
    return text if text and not text.lower().startswith("ms-resource:") else None


def _targets(root: ET.Element, path: Path, what: str) -> tuple[list[str], str | None]:
    """Device types and the lowest MinVersion from Dependencies/TargetDeviceFamily.

    Windows 8 manifests have no TargetDeviceFamily but Prerequisites/OSMinVersion (desktop).
    """
    families = _children(_child(root, "Dependencies"), "TargetDeviceFamily")
    if not families:
        prerequisites = _child(root, "Prerequisites")
        legacy = _child(prerequisites, "OSMinVersion") if prerequisites is not None else None
        text = (legacy.text or "").strip() if legacy is not None else ""
        return ["desktop"], text or None
    devices: list[str] = []
    versions: list[str] = []
    for family in families:
        devices.extend(_DEVICE_FAMILIES.get((family.get("Name") or "").lower(), []))
        if (family.get("MinVersion") or "").strip():
            versions.append(family.get("MinVersion", "").strip())
    if not devices:
        names = ", ".join(sorted({f.get("Name") or "?" for f in families}))
        raise ArtifactError(
            f"{path.name}: {what} targets only {names}, which Intune does not deploy to",
            fix="target Windows.Desktop (or Windows.Universal) in the manifest",
        )
    minimum = min(versions, key=_version_key) if versions else None
    return _sorted(devices, _DEVICE_ORDER), minimum


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _sorted(values: list[str], order: list[str]) -> list[str]:
    return sorted(set(values), key=order.index)


def _read_bundle(archive: zipfile.ZipFile, path: Path) -> tuple[PackageFacts, list[str], bool]:
    root = _manifest(archive, BUNDLE_MANIFEST, path)
    identity = _identity(root, "Bundle", path, "AppxBundleManifest.xml")
    packages = [
        p
        for p in _children(_child(root, "Packages"), "Package")
        # An absent Type means a resource package (the bundle schema's default)
        if (p.get("Type") or "resource").strip().lower() == "application" and not _is_stub(p)
    ]
    if not packages:
        raise ArtifactError(
            f"{path.name}: the bundle manifest lists no application package",
            fix="rebuild the bundle with MakeAppx bundle",
        )
    architectures = [
        _ARCHITECTURES.get((p.get("Architecture") or "neutral").lower(), "neutral")
        for p in packages
    ]
    inner = [_inner_facts(archive, p, path) for p in packages[:MAX_INNER_PACKAGES]]
    first = inner[0]
    versions = [f.min_version for f in inner if f.min_version]
    devices = [d for f in inner for d in f.device_types]
    facts = PackageFacts(
        name=identity.get("Name", "").strip(),
        publisher=identity.get("Publisher", "").strip(),
        version=identity.get("Version", "").strip(),
        architecture="neutral",
        resource_id=(identity.get("ResourceId") or "").strip(),
        device_types=_sorted(devices, _DEVICE_ORDER),
        min_version=min(versions, key=_version_key) if versions else None,
        display_name=first.display_name,
        publisher_display_name=first.publisher_display_name,
    )
    return facts, architectures, True


def _is_stub(package: ET.Element) -> bool:
    """A stub (IsStub="true", under AppxMetadata/Stub/) stands in for the app on older Windows;
    its lower MinVersion and duplicate architecture must not describe the bundle."""
    return (package.get("IsStub") or "").strip().lower() in ("true", "1")


def _inner_facts(archive: zipfile.ZipFile, package: ET.Element, path: Path) -> PackageFacts:
    """Open the bundle's package ``FileName`` in place and read its manifest."""
    name = (package.get("FileName") or "").strip()
    info = _bundled(archive, name)
    if info is None:
        raise ArtifactError(
            f"{path.name}: the bundle lists {name!r}, which is not in the bundle",
            fix="rebuild the bundle with MakeAppx bundle",
        )
    what = f"{name}/{PACKAGE_MANIFEST}"
    try:
        with _open_inner(archive, info, path) as raw, zipfile.ZipFile(raw) as inner:
            if PACKAGE_MANIFEST not in inner.namelist():
                raise ArtifactError(
                    f"{path.name}: {what} is missing",
                    fix="rebuild the bundle with MakeAppx bundle",
                )
            root = _manifest(inner, PACKAGE_MANIFEST, path)
    except DECODE_ERRORS as exc:
        raise ArtifactError(
            f"{path.name}: the bundled package {name!r} is not a readable ZIP ({exc})",
            fix="rebuild the bundle with MakeAppx bundle",
        ) from exc
    return _package_facts(root, path, what)


def _bundled(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    """The member for a manifest FileName. The ZIP holds OPC part names, percent-encoded
    (non-ASCII as UTF-8 bytes, a space as %20), case-insensitive; the manifest does not
    encode (docs/protocol.md, "MSIX packages and bundles")."""
    try:
        return archive.getinfo(name)
    except KeyError:
        pass
    wanted = name.replace("\\", "/")
    decoded = [(unquote(info.filename), info) for info in archive.infolist()]
    exact = next((info for text, info in decoded if text == wanted), None)
    if exact is not None:
        return exact
    folded = wanted.casefold()
    return next((info for text, info in decoded if text.casefold() == folded), None)


def _open_inner(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> IO[bytes]:
    """A seekable view of a bundled package without loading it into memory.

    Stored members (the usual case) are windows onto the bundle file; compressed ones go
    through zipfile's seekable member reader.
    """
    if info.compress_type == zipfile.ZIP_STORED:
        return open_stored_member(path, info)
    return archive.open(info)
