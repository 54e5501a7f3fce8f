r"""Read an iOS ``.ipa`` into an ``iosLobApp`` metadata record.

See docs/protocol.md, "iOS packages and provisioning profiles".

Only ``Payload/<Name>.app/Info.plist`` (``^Payload/[^/]+\.app/Info\.plist$``) is the app's own
plist: frameworks, app extensions and Watch apps carry Info.plists too, so nothing is searched
recursively.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any
from xml.sax.saxutils import escape

from intune_step.artifacts.base import AppMetadata, MinimumOs, PlainContent
from intune_step.artifacts.mobileprovision import (
    MAX_PROFILE_BYTES,
    ProvisioningProfile,
    load_plist,
    read_profile,
)
from intune_step.artifacts.safezip import open_zip, read_member
from intune_step.errors import ArtifactError

APP_DIR = re.compile(r"^Payload/([^/]+\.app)/")
MAX_PLIST_BYTES = 4 * 1024 * 1024
EXPIRY_WARNING = timedelta(days=30)
FAMILY_IPHONE, FAMILY_IPAD = 1, 2
# UIDeviceFamily numbers of the other Apple platforms (Apple's UIDeviceFamily reference)
OTHER_FAMILIES = {3: "Apple TV", 4: "Apple Watch", 6: "Mac", 7: "Apple Vision"}
IOS_PLATFORM = "iPhoneOS"  # CFBundleSupportedPlatforms of a device build for iPhone/iPad
PLATFORM_NAMES = {
    "iphonesimulator": "the iOS Simulator",
    "appletvos": "tvOS",
    "appletvsimulator": "the tvOS Simulator",
    "watchos": "watchOS",
    "watchsimulator": "the watchOS Simulator",
    "xros": "visionOS",
    "xrsimulator": "the visionOS Simulator",
    "macosx": "macOS",
}
GRAPH_DATETIME = "%Y-%m-%dT%H:%M:%SZ"

PROFILE_FIX = (
    "export the IPA signed for distribution (ad hoc or enterprise) so that it embeds "
    "embedded.mobileprovision"
)
EXPIRED_FIX = (
    "renew the provisioning profile in the Apple Developer portal, re-sign the app with it "
    "and publish the new IPA"
)

# The OTA manifest both Microsoft samples send (docs/protocol.md, "Content file and manifest"),
# on one line, with one literal space after </key> before the AppRestrictionPolicyTemplate
# string.
OTA_MANIFEST = Template(
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd"><plist version="1.0"><dict>'
    "<key>items</key><array><dict>"
    "<key>assets</key><array><dict><key>kind</key><string>software-package</string>"
    "<key>url</key><string>{UrlPlaceHolder}</string></dict></array>"
    "<key>metadata</key><dict>"
    "<key>AppRestrictionPolicyTemplate</key> "
    "<string>http://management.microsoft.com/PolicyTemplates/AppRestrictions/iOS/v1</string>"
    "<key>AppRestrictionTechnology</key>"
    "<string>Windows Intune Application Restrictions Technology for iOS</string>"
    "<key>IntuneMAMVersion</key><string></string>"
    "<key>CFBundleSupportedPlatforms</key><array><string>iPhoneOS</string></array>"
    "<key>MinimumOSVersion</key><string>9.0</string>"
    "<key>bundle-identifier</key><string>$bundle_id</string>"
    "<key>bundle-version</key><string>$version</string>"
    "<key>kind</key><string>software</string>"
    "<key>subtitle</key><string>LaunchMeSubtitle</string>"
    "<key>title</key><string>$title</string>"
    "</dict></dict></array></dict></plist>"
)


def ota_manifest(bundle_id: str, version: str, title: str) -> bytes:
    """The iOS content-file manifest: ASCII, with any other character as a character reference."""
    values = {"bundle_id": bundle_id, "version": version, "title": title}
    text = OTA_MANIFEST.substitute({key: escape(value) for key, value in values.items()})
    return text.encode("ascii", "xmlcharrefreplace")


def read_ipa(path: Path, *, now: datetime | None = None) -> AppMetadata:
    """Read ``path`` as an IPA; ``now`` (UTC) decides whether the profile has expired."""
    with open_zip(path, "IPA") as archive:
        names = set(archive.namelist())
        app = _the_app(path, names)
        plist_name = f"Payload/{app}/Info.plist"
        if plist_name not in names:
            raise ArtifactError(
                f"{path.name}: Payload/{app} has no Info.plist",
                fix="check that the IPA was exported by Xcode (xcodebuild -exportArchive)",
            )
        info = load_plist(
            read_member(archive, plist_name, path, MAX_PLIST_BYTES), f"{path.name}: {plist_name}"
        )
        profile_name = f"Payload/{app}/embedded.mobileprovision"
        if profile_name not in names:
            raise ArtifactError(
                f"{path.name}: {app} has no embedded.mobileprovision; Intune needs the "
                "profile's expiration date (expirationDateTime)",
                fix=PROFILE_FIX,
            )
        profile = _profile(path, read_member(archive, profile_name, path, MAX_PROFILE_BYTES))
    moment = datetime.now(UTC) if now is None else _as_utc(now)
    return _metadata(path, plist_name, info, profile, moment)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _the_app(path: Path, names: set[str]) -> str:
    apps = sorted({m.group(1) for m in map(APP_DIR.match, names) if m})
    if not apps:
        raise ArtifactError(
            f"{path.name}: no Payload/<Name>.app folder; this is not an iOS app archive",
            fix="publish the .ipa that Xcode exports, not the .xcarchive or a zipped folder",
        )
    if len(apps) > 1:
        raise ArtifactError(
            f"{path.name}: contains {len(apps)} apps ({', '.join(apps)}); an IPA holds exactly "
            "one top-level .app",
            fix="export each app as its own IPA",
        )
    return apps[0]


def _profile(path: Path, der: bytes) -> ProvisioningProfile:
    try:
        return read_profile(der)
    except ArtifactError as exc:
        raise ArtifactError(
            f"{path.name}: embedded.mobileprovision cannot be read: {exc.message}",
            fix="re-export the IPA; its provisioning profile is damaged",
        ) from exc


def _text(info: dict[str, Any], key: str) -> str | None:
    """A plist value as text; broken bundles store numbers where strings belong."""
    value = info.get(key)
    if value is None or isinstance(value, (dict, list, bytes)):
        return None
    return str(value).strip() or None


def _required(path: Path, info: dict[str, Any], key: str) -> str:
    value = _text(info, key)
    if value is None:
        raise ArtifactError(
            f"{path.name}: Info.plist has no {key}",
            fix=f"set {key} in the app target's Info.plist and rebuild",
        )
    return value


def _device_families(path: Path, raw: Any) -> list[int]:
    """UIDeviceFamily as a list of ints: it may be one int, or absent (iPhone only)."""
    if raw is None:
        return [FAMILY_IPHONE]
    items = raw if isinstance(raw, list) else [raw]
    families = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            families.append(item)
        elif isinstance(item, str) and item.strip().isdecimal() and len(item.strip()) < 4:
            families.append(int(item))
        else:
            raise ArtifactError(
                f"{path.name}: Info.plist UIDeviceFamily holds {item!r}, not a device family",
                fix="set UIDeviceFamily to 1 (iPhone), 2 (iPad) or both",
            )
    return families


def _check_platform(path: Path, info: dict[str, Any]) -> None:
    """A build for another Apple platform (or the Simulator) is refused: Intune's iosLobApp
    installs on iPhone and iPad only. An absent key is taken as iPhoneOS (older Xcodes)."""
    raw = info.get("CFBundleSupportedPlatforms")
    if raw is None:
        return
    platforms = [str(p).strip() for p in (raw if isinstance(raw, list) else [raw])]
    if any(p.lower() == IOS_PLATFORM.lower() for p in platforms):
        return
    names = ", ".join(PLATFORM_NAMES.get(p.lower(), repr(p)) for p in platforms) or "none"
    raise ArtifactError(
        f"{path.name}: CFBundleSupportedPlatforms is {platforms}, a build for {names}, not for "
        "iPhone or iPad; Intune's iOS line-of-business apps install on iPhone and iPad only",
        fix="publish the IPA of the iOS target built for devices (Any iOS Device, arm64)",
    )


def _check_families(path: Path, families: list[int]) -> None:
    if FAMILY_IPHONE in families or FAMILY_IPAD in families:
        return
    named = ", ".join(f"{f} ({OTHER_FAMILIES.get(f, 'unknown')})" for f in families) or "none"
    raise ArtifactError(
        f"{path.name}: Info.plist UIDeviceFamily names neither iPhone (1) nor iPad (2) but "
        f"{named}; Intune needs at least one of them as applicableDeviceType",
        fix="set Targeted Device Families (TARGETED_DEVICE_FAMILY) to iPhone, iPad or both "
        "and rebuild",
    )


def _check_expiry(path: Path, profile: ProvisioningProfile, now: datetime) -> None:
    if profile.expiration <= now:
        raise ArtifactError(
            f"{path.name}: its provisioning profile expired on "
            f"{profile.expiration.strftime(GRAPH_DATETIME)}; devices will refuse to install it",
            fix=EXPIRED_FIX,
        )


def _versions(path: Path, info: dict[str, Any], warnings: list[str]) -> tuple[str, str | None]:
    """(versionNumber, buildNumber); either stands in for the other when one is missing."""
    build = _text(info, "CFBundleVersion")
    version = _text(info, "CFBundleShortVersionString")
    if version is None:
        version = _required(path, info, "CFBundleVersion")
        warnings.append("CFBundleShortVersionString is absent; CFBundleVersion used as version")
    if build is None:
        warnings.append("CFBundleVersion is absent; the version is used as buildNumber")
    return version, build


def _metadata(
    path: Path,
    plist_name: str,
    info: dict[str, Any],
    profile: ProvisioningProfile,
    now: datetime,
) -> AppMetadata:
    bundle_id = _required(path, info, "CFBundleIdentifier")
    warnings: list[str] = []
    version, build = _versions(path, info, warnings)
    _check_expiry(path, profile, now)
    _check_platform(path, info)
    families = _device_families(path, info.get("UIDeviceFamily"))
    _check_families(path, families)
    # Xcode always writes MinimumOSVersion from the deployment target, and Apple documents no
    # default; guessing one could offer the app to devices it cannot run on, so it is refused
    # (docs/protocol.md, "iOS packages and provisioning profiles").
    min_os = _text(info, "MinimumOSVersion")
    if min_os is None:
        raise ArtifactError(
            f"{path.name}: Info.plist has no MinimumOSVersion; Intune needs the minimum iOS "
            "version (minimumSupportedOperatingSystem)",
            fix="set the iOS Deployment Target (IPHONEOS_DEPLOYMENT_TARGET) so Xcode writes "
            "MinimumOSVersion, and rebuild",
        )
    if profile.expiration - now < EXPIRY_WARNING:
        warnings.append("the provisioning profile expires within 30 days")
    display_name = _text(info, "CFBundleDisplayName") or _text(info, "CFBundleName")
    expiration = profile.expiration.strftime(GRAPH_DATETIME)
    details: dict[str, Any] = {
        "infoPlist": plist_name,
        "deviceFamilies": families,
        "minimumOsVersion": min_os,
        "expirationDateTime": expiration,
        "profileName": profile.name,
        "teamName": profile.team_name,
        "teamIdentifier": profile.team_id,
    }
    if warnings:
        details["warnings"] = warnings
    return AppMetadata(
        app_type="iosLobApp",
        file_name=path.name,
        identity=bundle_id,
        version=version,
        build=build,
        display_name=display_name,
        publisher=profile.team_name,
        minimum_os=MinimumOs("ios", min_os),
        properties={
            "bundleId": bundle_id,
            "versionNumber": version,
            "buildNumber": build if build is not None else version,
            "expirationDateTime": expiration,
            "applicableDeviceType": {
                "iPad": FAMILY_IPAD in families,
                "iPhoneAndIPod": FAMILY_IPHONE in families,
            },
        },
        manifest=ota_manifest(bundle_id, version, display_name or bundle_id),
        details=details,
        content=PlainContent(path, path.stat().st_size),
    )
