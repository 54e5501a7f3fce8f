"""What the project must do with each corpus file it does not simply read, and why.

Every other file must be read, and read as the independent reader reads it. A file listed here
is refused with exit 2 and a one-line message containing one of ``says``; ``witness`` is the
independent reader's own view of the same fact, so a refusal for the wrong reason (or a file
the other reader sees differently) still fails. ``Pending`` marks a file that another part of
issue 18 changes: it may be refused as listed, or read, and then it must agree like any other.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from . import readers

Witness = Callable[[Path], bool]


@dataclass(frozen=True)
class Refused:
    says: tuple[str, ...]  # one of these is in the message
    why: str  # why refusing is right
    witness: Witness  # the independent reader agrees on the reason
    unreadable: bool = False  # MetadataUnreadableError: the user's bundle-id/version may stand in


@dataclass(frozen=True)
class Pending(Refused):
    by: str = ""  # the part of issue 18 that makes it readable (or refuses it)


@dataclass(frozen=True)
class Expired(Refused):
    """An IPA whose profile has expired since it was made: refused today, and read as of the
    profile's CreationDate to compare the rest."""


# --- witnesses: each asks only the independent readers ---------------------------------


def no_android_manifest(path: Path) -> bool:
    names = readers.zip_names(path)
    return names is not None and "AndroidManifest.xml" not in names


def min_sdk_codename(path: Path) -> bool:
    min_sdk = readers.apk(path).min_sdk
    return min_sdk is not None and not min_sdk.isdigit()


def not_a_zip(path: Path) -> bool:
    return readers.zip_names(path) is None


def payload_not_at_root(path: Path) -> bool:
    return readers.ipa(path).app is None


def app_without_info_plist(path: Path) -> bool:
    facts = readers.ipa(path)
    return facts.app is not None and facts.info is None


def profile_expired(path: Path) -> bool:
    profile = readers.ipa(path).profile
    return profile is not None and profile["ExpirationDate"].replace(tzinfo=UTC) < datetime.now(UTC)


def targets_no_windows_family(path: Path) -> bool:
    families = readers.msix(path).families
    return bool(families) and not any(n.lower().startswith("windows.") for n, _ in families)


def only_resource_packages(path: Path) -> bool:
    packages = readers.msix(path).packages
    return bool(packages) and all(p.get("Type", "").lower() == "resource" for p in packages)


def bundled_package_outside(path: Path) -> bool:
    """A flat bundle: its manifest names packages that are files beside it, not members."""
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = archive.read("AppxMetadata/AppxBundleManifest.xml").decode()
    listed = re.findall(r'FileName="([^"]+)"', manifest)
    return any(name not in names for name in listed)


def resource_package(path: Path) -> bool:
    return readers.msix(path).resource_package


def non_ascii_inner_name(path: Path) -> bool:
    return any(not p["FileName"].isascii() for p in readers.msix(path).packages)


def no_top_level_app(path: Path) -> bool:
    return readers.dmg(path).apps == {}


def apfs_volume(path: Path) -> bool:
    return "APFS" in readers.dmg(path).types


def fat_volume_with_app(path: Path) -> bool:
    facts = readers.dmg(path)
    return "FAT" in facts.types and bool(facts.apps)


def app_without_version(path: Path) -> bool:
    apps = readers.dmg(path).apps
    return bool(apps) and all(
        "CFBundleShortVersionString" not in i and "CFBundleVersion" not in i for i in apps.values()
    )


def encrypted_image(path: Path) -> bool:
    # FileVault-style encrypted images start with this magic; 7-Zip cannot open them either.
    with path.open("rb") as handle:
        return handle.read(8) == b"encrcdsa"


def no_package_documents(path: Path) -> bool:
    return readers.pkg(path).documents == []


def bundle_without_version(path: Path) -> bool:
    bundles = readers.pkg(path).bundles
    return bool(bundles) and not any(
        "CFBundleShortVersionString" in b or "CFBundleVersion" in b for b in bundles
    )


# --- the list --------------------------------------------------------------------------

_NO_MANIFEST = Refused(
    ("AndroidManifest.xml is missing",),
    "an APK test archive with no manifest at all (empty or signed-but-empty): not an app",
    no_android_manifest,
)
_PREVIEW_SDK = Refused(
    ("not a number (a preview SDK codename)",),
    "built against the Android 15 preview: minSdkVersion is the codename VanillaIceCream, which "
    "only that preview installs; Intune needs a released API level",
    min_sdk_codename,
)
_FINDER_ZIP = Refused(
    ("no Payload/<Name>.app folder",),
    "a Finder-zipped folder: Payload/ is one level down (fastlane's own reader searches for it); "
    "iOS installs an IPA only with Payload/ at the root",
    payload_not_at_root,
)
_EXPIRED = Expired(
    ("provisioning profile expired on",),
    "a real, once-valid IPA whose embedded profile has since expired; devices refuse it",
    profile_expired,
)
_NOT_ZIP = Refused(("not a readable ZIP archive",), "not a ZIP file at all", not_a_zip)
_NOT_WINDOWS = Refused(
    ("which Intune does not deploy to",),
    "the MSIX SDK's cross-platform test packages: no Windows.* device family",
    targets_no_windows_family,
)
_APFS = Pending(
    ("its volume is APFS", "no .app was found at the top level"),
    "an APFS disk image (7-Zip reads it)",
    apfs_volume,
    unreadable=True,
    by="issue 18 point 3 (the APFS reader)",
)

EXPECTED: dict[str, Refused] = {
    "realworld/apk/empty-unsigned.apk": _NO_MANIFEST,
    "realworld/apk/v1-only-empty.apk": _NO_MANIFEST,
    "realworld/apk/multidex.apk": _NO_MANIFEST,
    "realworld/apk/client.apk": _PREVIEW_SDK,
    "realworld/apk/framework.apk": _PREVIEW_SDK,
    "realworld/apk/library.apk": _PREVIEW_SDK,
    "realworld/ipa/ContainsWatchApp.ipa": _FINDER_ZIP,
    "realworld/ipa/IncorrectlySigned.ipa": _FINDER_ZIP,
    "realworld/ipa/iOSAppOnly.ipa": _FINDER_ZIP,
    "realworld/ipa/no-app-bundle.ipa": Refused(
        ("no Payload/<Name>.app folder",), "fastlane's IPA with no .app in it", payload_not_at_root
    ),
    "realworld/ipa/not-an-ipa.ipa": _NOT_ZIP,
    "realworld/ipa/with_no_swift.ipa": Refused(
        ("has no Info.plist",),
        "gym's fixture: an .app of empty Swift libraries only",
        app_without_info_plist,
    ),
    "realworld/ipa/with_swift_twice.ipa": Refused(
        ("has no Info.plist",),
        "gym's fixture: an .app of empty Swift libraries only",
        app_without_info_plist,
    ),
    "realworld/ipa/ios-simple-objc.ipa": _EXPIRED,
    "realworld/ipa/very-capable-app.ipa": _EXPIRED,
    "realworld/ipa/embedded.ipa": _EXPIRED,
    "realworld/ipa/ipad.ipa": _EXPIRED,
    "realworld/ipa/iphone.ipa": _EXPIRED,
    "realworld/msix/Empty.appx": _NOT_ZIP,
    "realworld/msix/OPC_E_ZIP_CORRUPTED_ARCHIVE.appx": _NOT_ZIP,
    "realworld/msix/TestAosp.msix": _NOT_WINDOWS,
    "realworld/msix/TestAppleIos.msix": _NOT_WINDOWS,
    "realworld/msix/TestPlatformAll.msix": _NOT_WINDOWS,
    "realworld/msix/Installer-Bad-NoSupportedPlatforms.msix": Refused(
        ("which Intune does not deploy to",),
        "winget's negative test: its only device family is 'Mock'",
        targets_no_windows_family,
    ),
    "realworld/msix/ContainsOnlyResourcePackages.appxbundle": Refused(
        ("lists no application package",),
        "a bundle of language resource packages only: nothing to run",
        only_resource_packages,
    ),
    "realworld/msix/FlatBundleWithAsset.appxbundle": Refused(
        ("which is not in the bundle",),
        "a flat bundle: its packages are files beside it, so the .appxbundle alone installs "
        "nothing",
        bundled_package_outside,
    ),
    "realworld/msix/BundleWithIntlPackage.appxbundle": Pending(
        ("which is not in the bundle",),
        "the inner package is 'महसुस.appx'; the ZIP stores its OPC part name percent-encoded",
        non_ascii_inner_name,
        by="issue 18 point 2 (percent-encoded inner names)",
    ),
    "realworld/msix/language-en.appx": Pending(
        ("resource package",),
        "a language resource package (ResourcePackage, no Applications)",
        resource_package,
        by="issue 18 point 2 (resource-only MSIX is refused)",
    ),
    "realworld/msix/scale-140.appx": Pending(
        ("resource package",),
        "a scale resource package (ResourcePackage, no Applications)",
        resource_package,
        by="issue 18 point 2 (resource-only MSIX is refused)",
    ),
    "macos/hfsplus_zlib.dmg": Refused(
        ("no .app was found at the top level",),
        "dfvfs's file-system test image: a file, no app",
        no_top_level_app,
        unreadable=True,
    ),
    "realworld/dmg/container.dmg": Refused(
        ("no .app was found at the top level",),
        "Homebrew's container fixture: one plain file, no app",
        no_top_level_app,
        unreadable=True,
    ),
    "realworld/dmg/hfs-basic-lzma.dmg": Refused(
        ("no .app was found at the top level",),
        "go-apfs's HFS+ test image: files, no app",
        no_top_level_app,
        unreadable=True,
    ),
    "realworld/dmg/hfs-basic-adc.dmg": Refused(
        ("ADC (UDCO) compression", "no .app was found at the top level"),
        "ADC (UDCO) chunks, an old Apple compression the reader does not decompress; 7-Zip "
        "reads it and finds no app in it either",
        no_top_level_app,
        unreadable=True,
    ),
    "realworld/dmg/transmission-2.61.dmg": Refused(
        ("has no version",),
        "Homebrew's stand-in for Transmission: its Info.plist has a bundle id and no version",
        app_without_version,
        unreadable=True,
    ),
    "realworld/dmg/example.dmg": Refused(
        ("no HFS+ volume was found",),
        "apple-dmg's example holds a FAT32 volume; 7-Zip finds raqote-winit.app 0.1.0 on it. The "
        "reader reads HFS+ (and APFS) volumes only, so the user's bundle-id/bundle-version stand "
        "in: a real difference, kept",
        fat_volume_with_app,
        unreadable=True,
    ),
    "realworld/dmg/SparkleTestCodeSignApp.enc.nolicense.dmg": Refused(
        ("the disk image is encrypted",),
        "an encrypted image (encrcdsa): neither Intune nor 7-Zip can open it without the password",
        encrypted_image,
    ),
    "realworld/dmg/container-apfs.dmg": _APFS,
    "realworld/dmg/SparkleTestCodeSign_pkg.dmg": _APFS,
    "realworld/dmg/SparkleTestCodeSign_apfs.dmg": Pending(
        ("its volume is APFS",),
        "an APFS disk image holding a signed app (7-Zip reads it)",
        apfs_volume,
        unreadable=True,
        by="issue 18 point 3 (the APFS reader)",
    ),
    "realworld/dmg/basic-lzfse.dmg": Pending(
        ("LZFSE (ULFO) compression", "its volume is APFS", "no .app was found at the top level"),
        "an LZFSE-compressed APFS image of plain files",
        apfs_volume,
        unreadable=True,
        by="issue 18 point 3 (the APFS reader, LZFSE)",
    ),
    "realworld/pkg/container.pkg": Refused(
        ("neither a Distribution nor a PackageInfo",),
        "Homebrew's container fixture: a bare xar archive, not an installer package",
        no_package_documents,
    ),
    "realworld/pkg/test.pkg": Refused(
        ("but not its version",),
        "Sparkle's test package: PackageInfo names the app's bundle id and no version",
        bundle_without_version,
        unreadable=True,
    ),
}

# pyaxmlparser is the APK cross-check; where it cannot parse a file, apkInspector stands in.
APK_READER: dict[str, tuple[str, str]] = {
    "realworld/apk/compact-entry.apk": (
        "apkInspector",
        "pyaxmlparser 0.3.31 stops with struct.error on this manifest (androguard's test of "
        "compact resource entries); apkInspector and the project read it",
    ),
}
