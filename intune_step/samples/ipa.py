"""Build a small, real IPA (docs/protocol.md, "Test fixtures").

``Payload/Demo.app`` holds the Info.plist (binary like Xcode writes, or XML), a stub
executable, decoy Info.plists in a framework, an app extension and a Watch app (a reader that
searches recursively picks those up), and ``embedded.mobileprovision``: a real CMS SignedData
made with ``cryptography`` and a self-signed EC certificate, the same shape as Apple's.
"""

from __future__ import annotations

import os
import plistlib
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

APP = "Payload/Demo.app"
STUB_EXECUTABLE = b"\xcf\xfa\xed\xfe" + bytes(28)  # Mach-O 64 magic and an empty header
PADDING_CHUNK = 1024 * 1024
# How Xcode names a loose iPhone app icon: the file, and the Info.plist entry that lists it.
ICON_FILE = "AppIcon60x60@2x.png"
ICON_KEYS = ("CFBundleIcons", {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"]}})


def _plist_date(moment: datetime) -> datetime:
    """plistlib writes naive datetimes as UTC and ignores tzinfo, so convert first."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _certificate(
    common_name: str, expires: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, expires) - timedelta(days=1))
        .not_valid_after(max(now, expires) + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def build_mobileprovision(
    expires: datetime,
    *,
    bundle_id: str = "com.example.demo",
    name: str = "Demo Ad Hoc",
    team_id: str = "ABCDE12345",
    team_name: str = "Example Corp",
) -> bytes:
    """A provisioning profile: CMS SignedData (DER) around an XML plist, as Apple ships it."""
    created = datetime.now(UTC)
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    key, cert = _certificate(f"iPhone Distribution: {team_name} ({team_id})", expires)
    profile = {
        "AppIDName": "Demo",
        "ApplicationIdentifierPrefix": [team_id],
        "CreationDate": _plist_date(min(created, expires)),
        "DeveloperCertificates": [cert.public_bytes(serialization.Encoding.DER)],
        "Entitlements": {"application-identifier": f"{team_id}.{bundle_id}"},
        "ExpirationDate": _plist_date(expires),
        "Name": name,
        "Platform": ["iOS"],
        "ProvisionsAllDevices": True,
        "TeamIdentifier": [team_id],
        "TeamName": team_name,
        "TimeToLive": max(1, (expires - created).days),
        "UUID": str(uuid.uuid4()),
        "Version": 1,
    }
    # no options: the content stays embedded (not detached), in a primitive OCTET STRING
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(plistlib.dumps(profile, fmt=plistlib.FMT_XML))
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [])
    )


def _info_plist(
    bundle_id: str,
    version: str,
    build: str,
    min_os: str,
    device_family: int | Sequence[int] | None,
    display_name: str | None,
    extra_info: Mapping[str, Any] | None,
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "CFBundleIdentifier": bundle_id,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": build,
        "CFBundleName": "Demo",
        "CFBundleExecutable": "Demo",
        "CFBundlePackageType": "APPL",
        "CFBundleSupportedPlatforms": ["iPhoneOS"],
        "MinimumOSVersion": min_os,
    }
    if display_name is not None:
        info["CFBundleDisplayName"] = display_name
    if device_family is not None:
        info["UIDeviceFamily"] = (
            device_family if isinstance(device_family, int) else list(device_family)
        )
    for key, value in (extra_info or {}).items():  # None removes a key
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    return info


def _decoys(bundle_id: str) -> dict[str, dict[str, Any]]:
    """Nested bundles with their own Info.plist, all different from the app's."""

    def plist(ident: str, version: str, kind: str) -> dict[str, Any]:
        return {
            "CFBundleIdentifier": ident,
            "CFBundleShortVersionString": version,
            "CFBundleVersion": version.replace(".", ""),
            "CFBundlePackageType": kind,
            "MinimumOSVersion": "12.0",
            "UIDeviceFamily": [4],
        }

    return {
        f"{APP}/Frameworks/X.framework/Info.plist": plist("com.example.decoy.x", "9.9.9", "FMWK"),
        f"{APP}/PlugIns/W.appex/Info.plist": plist(f"{bundle_id}.widget", "8.8.8", "XPC!"),
        f"{APP}/Watch/WatchDemo.app/Info.plist": plist(f"{bundle_id}.watch", "7.7.7", "APPL"),
    }


def _write_padding(archive: zipfile.ZipFile, size: int) -> None:
    """Random bytes, stored: incompressible, so the IPA really grows by ``size``."""
    info = zipfile.ZipInfo(f"{APP}/Padding.bin", date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    with archive.open(info, "w", force_zip64=size >= 2**31) as member:
        left = size
        while left > 0:
            chunk = min(left, PADDING_CHUNK)
            member.write(os.urandom(chunk))
            left -= chunk


def build_ipa(
    path: Path,
    *,
    bundle_id: str = "com.example.demo",
    version: str = "1.0.0",
    build: str = "1",
    min_os: str = "15.0",
    device_family: int | Sequence[int] | None = (1, 2),
    display_name: str | None = "Demo",
    expires: datetime | None = None,
    binary_plist: bool = True,
    profile: bool = True,
    padding_bytes: int = 0,
    extra_info: Mapping[str, Any] | None = None,
    icon: bytes | None = None,
) -> Path:
    """Write an IPA at ``path``. ``device_family=None`` omits UIDeviceFamily; ``extra_info``
    adds or (with None) removes Info.plist keys; ``padding_bytes`` adds an incompressible file;
    ``icon`` (PNG bytes) becomes the app's loose ``AppIcon60x60@2x.png``, named in Info.plist."""
    if icon is not None:
        extra_info = {ICON_KEYS[0]: ICON_KEYS[1], **(extra_info or {})}
    info = _info_plist(bundle_id, version, build, min_os, device_family, display_name, extra_info)
    fmt = plistlib.FMT_BINARY if binary_plist else plistlib.FMT_XML
    expires = expires or datetime.now(UTC) + timedelta(days=365)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{APP}/Info.plist", plistlib.dumps(info, fmt=fmt))
        archive.writestr(f"{APP}/Demo", STUB_EXECUTABLE)
        for name, decoy in _decoys(bundle_id).items():
            archive.writestr(name, plistlib.dumps(decoy, fmt=fmt))
        if profile:
            der = build_mobileprovision(expires, bundle_id=bundle_id)
            archive.writestr(f"{APP}/embedded.mobileprovision", der)
        if icon is not None:
            archive.writestr(f"{APP}/{ICON_FILE}", icon)
        if padding_bytes > 0:
            _write_padding(archive, padding_bytes)
    return path
