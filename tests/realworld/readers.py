"""Independent readings of the corpus files: other people's parsers and command-line tools.

None of this imports the project's readers. APKs go through pyaxmlparser (apkInspector where
pyaxmlparser cannot parse the file), MSIs through msiinfo (msitools), flat packages through
bsdtar (libarchive), disk images through 7-Zip, and IPAs, MSIX and .intunewin through zipfile,
plistlib and ElementTree read the way each format's documentation says.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import plistlib
import re
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from base64 import b64decode
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from ..independent import require_module, require_tool

ANDROID = "{http://schemas.android.com/apk/res/android}"
TIMEOUT = 60


class Unreadable(Exception):
    """The independent reader could not read the file either; the text says why."""


def zip_names(path: Path) -> list[str] | None:
    """The member names, or None when the file is not a ZIP zipfile can open."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except zipfile.BadZipFile:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, timeout=TIMEOUT, check=False)


# --- APK ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApkFacts:
    reader: str
    package: str | None
    version_code: str | None
    version_name: str | None
    min_sdk: str | None
    label: str | None  # a literal, or a reference as "@7F020000"


def apk(path: Path, *, reader: str = "pyaxmlparser") -> ApkFacts:
    """The manifest fields by pyaxmlparser, or by apkInspector when asked to."""
    if reader == "apkInspector":
        return _apk_by_apkinspector(path)
    module = require_module("pyaxmlparser")
    logging.getLogger("pyaxmlparser").setLevel(logging.CRITICAL)  # it logs a lot
    try:
        parsed = module.APK(str(path))
    except Exception as exc:  # its failures are of every kind: KeyError, struct.error...
        raise Unreadable(f"pyaxmlparser: {type(exc).__name__}: {exc}") from exc
    if not parsed.is_valid_APK():
        raise Unreadable("pyaxmlparser: not a valid APK")
    return ApkFacts(
        reader="pyaxmlparser",
        package=parsed.package,
        version_code=parsed.version_code,
        version_name=parsed.version_name,
        min_sdk=parsed.get_min_sdk_version(),
        label=parsed.get_attribute_value("application", "label"),
    )


def _apk_by_apkinspector(path: Path) -> ApkFacts:
    module = require_module("apkInspector.axml")
    try:
        root = ET.fromstring(module.parse_apk_for_manifest(str(path)))
    except Exception as exc:
        raise Unreadable(f"apkInspector: {type(exc).__name__}: {exc}") from exc
    sdk = root.find("uses-sdk")
    app = root.find("application")
    label = app.get(f"{ANDROID}label") if app is not None else None
    if label and re.fullmatch(r"@\d+", label):  # apkInspector prints references in decimal
        label = f"@{int(label[1:]):08X}"
    return ApkFacts(
        reader="apkInspector",
        package=root.get("package"),
        version_code=root.get(f"{ANDROID}versionCode"),
        version_name=root.get(f"{ANDROID}versionName"),
        min_sdk=sdk.get(f"{ANDROID}minSdkVersion") if sdk is not None else None,
        label=label,
    )


# --- IPA ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpaFacts:
    app: str | None  # "Payload/<Name>.app", where the IPA format puts it
    info: dict[str, Any] | None  # its Info.plist
    profile: dict[str, Any] | None  # the plist inside embedded.mobileprovision


def ipa(path: Path) -> IpaFacts:
    names = zip_names(path)
    if names is None:
        raise Unreadable("not a ZIP")
    apps = sorted(
        {
            "/".join(parts[:2])
            for parts in (PurePosixPath(n).parts for n in names)
            if len(parts) >= 2 and parts[0] == "Payload" and parts[1].endswith(".app")
        }
    )
    if not apps:
        return IpaFacts(None, None, None)
    app = apps[0]
    with zipfile.ZipFile(path) as archive:
        info = _plist(archive, f"{app}/Info.plist", names)
        profile = None
        if f"{app}/embedded.mobileprovision" in names:
            der = archive.read(f"{app}/embedded.mobileprovision")
            # The CMS envelope stores the plist as one unencrypted OCTET STRING.
            start, end = der.find(b"<?xml"), der.rfind(b"</plist>")
            profile = plistlib.loads(der[start : end + len(b"</plist>")]) if start >= 0 else None
    return IpaFacts(app, info, profile)


def _plist(archive: zipfile.ZipFile, name: str, names: list[str]) -> dict[str, Any] | None:
    if name not in names:
        return None
    value = plistlib.loads(archive.read(name))
    return value if isinstance(value, dict) else None


# --- MSI ------------------------------------------------------------------------------


def msi_properties(path: Path) -> dict[str, str]:
    """The Property table, as `msiinfo export` prints it (tab-separated, after 3 header rows)."""
    done = _run(require_tool("msiinfo"), "export", str(path), "Property")
    if done.returncode != 0:
        raise Unreadable(f"msiinfo: {done.stderr.decode(errors='replace').strip()}")
    rows = done.stdout.decode("utf-8", errors="replace").splitlines()[3:]
    return dict(row.split("\t", 1) for row in rows if "\t" in row)


def msi_summary(path: Path) -> dict[str, str]:
    """The summary information stream, as `msiinfo suminfo` names it."""
    done = _run(require_tool("msiinfo"), "suminfo", str(path))
    if done.returncode != 0:
        raise Unreadable(f"msiinfo: {done.stderr.decode(errors='replace').strip()}")
    lines = done.stdout.decode("utf-8", errors="replace").splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


# --- MSIX -----------------------------------------------------------------------------


@dataclass
class MsixFacts:
    name: str
    publisher: str
    version: str
    is_bundle: bool
    display_name: str | None = None
    publisher_display_name: str | None = None
    resource_package: bool = False
    families: list[tuple[str, str]] = field(default_factory=list)  # (Name, MinVersion)
    architectures: list[str] = field(default_factory=list)
    packages: list[dict[str, str]] = field(default_factory=list)  # a bundle's <Package>s


def msix(path: Path) -> MsixFacts:
    names = zip_names(path)
    if names is None:
        raise Unreadable("not a ZIP")
    with zipfile.ZipFile(path) as archive:
        if "AppxMetadata/AppxBundleManifest.xml" in names:
            root = ET.fromstring(archive.read("AppxMetadata/AppxBundleManifest.xml"))
            return _bundle(archive, root)
        if "AppxManifest.xml" in names:
            return _package(ET.fromstring(archive.read("AppxManifest.xml")))
    raise Unreadable("no AppxManifest.xml or AppxMetadata/AppxBundleManifest.xml")


def _find(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _package(root: ET.Element) -> MsixFacts:
    identity = _find(root, "Identity")[0]
    props = {_local(e.tag): (e.text or "").strip() for e in _find(root, "Properties")[0]}
    return MsixFacts(
        name=identity.get("Name", ""),
        publisher=identity.get("Publisher", ""),
        version=identity.get("Version", ""),
        is_bundle=False,
        display_name=props.get("DisplayName"),
        publisher_display_name=props.get("PublisherDisplayName"),
        resource_package=props.get("ResourcePackage", "").lower() == "true",
        families=[
            (e.get("Name", ""), e.get("MinVersion", "")) for e in _find(root, "TargetDeviceFamily")
        ]
        # Windows 8 manifests name no device family, only Prerequisites/OSMinVersion.
        or [("Windows8.Prerequisites", e.text or "") for e in _find(root, "OSMinVersion")],
        architectures=[identity.get("ProcessorArchitecture", "neutral").lower()],
    )


def _bundle(archive: zipfile.ZipFile, root: ET.Element) -> MsixFacts:
    identity = next(e for e in root if _local(e.tag) == "Identity")
    packages = [dict(p.attrib) for p in _find(root, "Package")]
    apps = [
        p
        for p in packages
        if p.get("Type", "").lower() == "application" and p.get("IsStub", "").lower() != "true"
    ]
    facts = MsixFacts(
        name=identity.get("Name", ""),
        publisher=identity.get("Publisher", ""),
        version=identity.get("Version", ""),
        is_bundle=True,
        architectures=[p.get("Architecture", "neutral").lower() for p in apps],
        packages=packages,
    )
    for index, package in enumerate(apps):
        inner = _package(_manifest_of(archive, package["FileName"]))
        if index == 0:  # the display names are the first app package's
            facts.display_name = inner.display_name
            facts.publisher_display_name = inner.publisher_display_name
        facts.families.extend(inner.families)
    return facts


def _manifest_of(archive: zipfile.ZipFile, file_name: str) -> ET.Element:
    """A bundled package's manifest. The ZIP holds OPC part names: "/" for "\\" and
    percent-encoded UTF-8 (ECMA-376 Part 2), which the bundle manifest's FileName is not."""
    wanted = file_name.replace("\\", "/")
    member = next(n for n in archive.namelist() if unquote(n) == wanted)
    with zipfile.ZipFile(archive.open(member)) as inner:
        return ET.fromstring(inner.read("AppxManifest.xml"))


def package_family_publisher_id(publisher: str) -> str:
    """The publisher id in a package family name, computed from its definition: the first
    8 bytes of SHA-256 over the UTF-16LE publisher, as 13 five-bit groups (padded with a zero
    bit) in the alphabet 0-9a-z without i, l, o, u."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    bits = "".join(f"{b:08b}" for b in hashlib.sha256(publisher.encode("utf-16-le")).digest()[:8])
    bits += "0"
    return "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, 65, 5))


# --- .intunewin -----------------------------------------------------------------------


def intunewin(path: Path) -> dict[str, Any]:
    """Detection.xml's fields, and the inner content decrypted and checked against them."""
    names = zip_names(path)
    if names is None:
        raise Unreadable("not a ZIP")
    with zipfile.ZipFile(path) as archive:
        root = ET.fromstring(archive.read("IntuneWinPackage/Metadata/Detection.xml"))
        info = root.find("EncryptionInfo")
        assert info is not None
        facts: dict[str, Any] = {e.tag: (e.text or "") for e in root if e.tag != "EncryptionInfo"}
        facts.update({e.tag: (e.text or "") for e in info})
        blob = archive.read(f"IntuneWinPackage/Contents/{facts['FileName']}")
    facts["encrypted_size"] = len(blob)
    # ProfileVersion1: HMAC-SHA256(macKey, IV || ciphertext) || IV || AES-256-CBC, PKCS#7.
    mac, iv, body = blob[:32], blob[32:48], blob[48:]
    facts["mac_ok"] = hmac.compare_digest(
        mac, hmac.new(b64decode(facts["MacKey"]), iv + body, hashlib.sha256).digest()
    )
    ciphers = require_module("cryptography.hazmat.primitives.ciphers")
    decryptor = ciphers.Cipher(
        ciphers.algorithms.AES(b64decode(facts["EncryptionKey"])), ciphers.modes.CBC(iv)
    ).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    plain = padded[: -padded[-1]]
    facts["plain_size"] = len(plain)
    facts["digest_ok"] = hashlib.sha256(plain).digest() == b64decode(facts["FileDigest"])
    return facts


# --- PKG ------------------------------------------------------------------------------


def xar_members(path: Path) -> list[str]:
    done = _run(require_tool("bsdtar"), "-tf", str(path))
    if done.returncode != 0:
        raise Unreadable(f"bsdtar: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8", errors="replace").splitlines()


def xar_read(path: Path, member: str) -> bytes:
    done = _run(require_tool("bsdtar"), "-xOf", str(path), member)
    if done.returncode != 0:
        raise Unreadable(f"bsdtar: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


@dataclass
class PkgFacts:
    documents: list[str]  # Distribution and/or PackageInfo members
    bundles: list[dict[str, str]]  # <bundle> attributes, in document order
    min_os: str | None
    title: str | None


def pkg(path: Path) -> PkgFacts:
    members = xar_members(path)
    documents = [m for m in members if m == "Distribution" or m.endswith("PackageInfo")]
    bundles: list[dict[str, str]] = []
    min_os = title = None
    for member in documents:
        root = ET.fromstring(xar_read(path, member))
        bundles.extend(dict(b.attrib) for b in root.iter("bundle") if b.get("id"))
        versions = [o.get("min") for o in root.iter("os-version") if o.get("min")]
        min_os = min_os or (versions[0] if versions else None)
        found = root.find("title")
        title = title or (found.text if found is not None else None)
    return PkgFacts(documents, bundles, min_os, title)


# --- DMG ------------------------------------------------------------------------------


@dataclass
class DmgFacts:
    types: list[str]  # what 7-Zip found, outermost first: Dmg, HFS, APFS, FAT...
    paths: list[str]
    apps: dict[str, dict[str, Any]]  # top-level "<Name>.app" -> its Info.plist


def dmg(path: Path) -> DmgFacts:
    seven = require_tool("7zz")
    done = _run(seven, "l", "-slt", str(path))
    text = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0 and "Path = " not in text.split("----------", 1)[-1]:
        raise Unreadable(f"7zz: {(text + done.stderr.decode(errors='replace')).strip()[-300:]}")
    head, _, body = text.partition("----------")
    types = re.findall(r"^Type = (.+)$", head, re.M)
    paths = re.findall(r"^Path = (.+)$", body, re.M)
    # 7-Zip roots an HFS+ listing in a folder named after the volume (APFS and FAT: no).
    volume_root = 1 if "HFS" in types else 0
    apps: dict[str, dict[str, Any]] = {}
    for entry in paths:
        parts = PurePosixPath(entry).parts
        if (
            len(parts) == volume_root + 3
            and parts[volume_root].endswith(".app")
            and parts[volume_root + 1 :] == ("Contents", "Info.plist")
        ):
            # -sns-: without it 7-Zip appends the extended attributes' streams to the file.
            data = _run(seven, "e", "-so", "-sns-", str(path), entry).stdout
            value = plistlib.loads(data)
            apps[parts[volume_root]] = value if isinstance(value, dict) else {}
    return DmgFacts(types, paths, apps)
