"""Read an Android ``.apk`` into an ``androidLobApp`` metadata record.

See docs/protocol.md, "Android binary XML".

Everything comes from the binary AndroidManifest.xml, except two things: the application
label, which real apps give as ``@string/app_name``, is resolved through resources.arsc
(artifacts/arsc.py: default configuration, then English, then the first), and the publisher
is the signing certificate's subject (artifacts/apksig.py). Other resource references
(``@0x7f...``) are reported, not resolved. The launcher icon's reference is kept as
``details["iconResource"]`` for icon.py, which resolves it through the same table.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from intune_step.artifacts.apksig import apk_signer
from intune_step.artifacts.arsc import MAX_ARSC_BYTES, resolve_string
from intune_step.artifacts.axml import MAX_AXML_BYTES, Attribute, AxmlError, Element, parse_axml
from intune_step.artifacts.base import AppMetadata, MinimumOs, PlainContent
from intune_step.artifacts.minos import android_release
from intune_step.artifacts.safezip import open_zip, read_member
from intune_step.errors import ArtifactError

MANIFEST = "AndroidManifest.xml"
RESOURCES = "resources.arsc"
BUNDLE_MANIFEST = "base/manifest/AndroidManifest.xml"  # what an .aab holds instead

# android: attribute resource ids (framework public.xml)
ATTR_LABEL = 0x01010001
ATTR_ICON = 0x01010002
ATTR_MIN_SDK = 0x0101020C
ATTR_VERSION_CODE = 0x0101021B
ATTR_VERSION_NAME = 0x0101021C
ATTR_TARGET_SDK = 0x01010270
ATTR_VERSION_CODE_MAJOR = 0x01010576

DEFAULT_MIN_SDK = 1  # Android's default when <uses-sdk> or minSdkVersion is absent


def android_manifest(
    package: str, version_code: int, version_name: str, file_name: str, min_sdk: int
) -> bytes:
    """The Android content-file manifest, with the sample's bug fixed: versionName goes into
    PackageVersionName, and PackageVersionCode is the integer (docs/protocol.md, "Content file
    and manifest")."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><AndroidManifestProperties '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<Package>{escape(package)}</Package>"
        f"<PackageVersionCode>{int(version_code)}</PackageVersionCode>"
        f"<PackageVersionName>{escape(version_name)}</PackageVersionName>"
        f"<ApplicationName>{escape(file_name)}</ApplicationName>"
        f"<MinSdkVersion>{int(min_sdk)}</MinSdkVersion>"
        "<AWTVersion></AWTVersion></AndroidManifestProperties>"
    ).encode("ascii", "xmlcharrefreplace")


def read_apk(path: Path) -> AppMetadata:
    with open_zip(path, "APK") as archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise _missing_manifest(path, names)
        data = read_member(archive, MANIFEST, path, MAX_AXML_BYTES)
        if data.lstrip()[:1] == b"<":
            raise ArtifactError(
                f"{path.name}: AndroidManifest.xml is plain-text XML, not compiled; this is "
                "not a built APK",
                fix="publish the APK that Gradle/aapt2 produced",
            )
        try:
            meta = _metadata(path, parse_axml(data))
        except AxmlError as exc:
            raise ArtifactError(
                f"{path.name}: AndroidManifest.xml cannot be read: {exc.message}",
                fix="rebuild the APK; its binary manifest is damaged",
            ) from exc
        return _named(meta, archive, path)


def _named(meta: AppMetadata, archive: zipfile.ZipFile, path: Path) -> AppMetadata:
    """The label resolved through resources.arsc and the signer as publisher."""
    details = dict(meta.details)
    warnings = list(details.pop("warnings", []))
    name = meta.display_name
    res_id = details.get("labelResource")
    if isinstance(res_id, int):
        name = _label(archive, path, res_id, str(details.get("label")), warnings)
    found = apk_signer(archive, path)
    if found is not None:
        details["signer"], details["signatureScheme"] = found[0].subject, found[1]
    if warnings:
        details["warnings"] = warnings
    return replace(
        meta, display_name=name, publisher=found[0].name if found else None, details=details
    )


def _label(
    archive: zipfile.ZipFile, path: Path, res_id: int, raw: str, warnings: list[str]
) -> str | None:
    """The label's text, or None with a warning: an unresolved label never refuses the APK,
    whose name the display-name input can give."""
    if RESOURCES not in archive.namelist():
        why = "the APK has no resources.arsc"
    else:
        try:
            text = resolve_string(read_member(archive, RESOURCES, path, MAX_ARSC_BYTES), res_id)
        except ArtifactError as exc:
            text, why = None, f"resources.arsc cannot be read ({exc.message})"
        else:
            why = "resources.arsc holds no text for it"
        if text is not None:
            return text
    warnings.append(
        f"the label {raw} cannot be resolved: {why}; the app is named after the file unless "
        "the display-name input is set"
    )
    return None


def _missing_manifest(path: Path, names: set[str]) -> ArtifactError:
    if BUNDLE_MANIFEST in names:
        return ArtifactError(
            f"{path.name}: this is an Android App Bundle (.aab) with an .apk name; Intune "
            "installs only APKs",
            fix="build a universal APK (`bundletool build-apks --mode=universal`) and publish it",
        )
    return ArtifactError(
        f"{path.name}: AndroidManifest.xml is missing; this is not an Android app",
        fix="check that the build produced a complete, signed .apk",
    )


def _child(elements: list[Element], name: str) -> Element | None:
    """The first direct child of <manifest> named ``name`` (Android reads only those)."""
    return next((e for e in elements if e.depth == 1 and e.name == name), None)


def _int_attr(path: Path, element: Element | None, res_id: int, name: str) -> int | None:
    attr = element.attribute(res_id, name) if element else None
    if attr is None:
        return None
    if attr.is_int:
        return attr.int_value()
    if attr.is_string and _is_small_number(attr.string()):
        return int(attr.string())
    raise ArtifactError(
        f"{path.name}: android:{name} is {attr.text()}, not a number"
        + (" (a preview SDK codename)" if attr.is_string else ""),
        fix=f"build with a literal, released android:{name}",
    )


def _is_small_number(text: str) -> bool:
    # int() refuses very long digit strings, and str.isdigit() accepts "²"
    return text.strip().isdecimal() and len(text.strip()) <= 10


def _plain_string(attr: Attribute | None) -> str | None:
    return attr.string() if attr is not None and attr.is_string else None


def _version_name(
    path: Path, manifest: Element, version_code: int, warnings: list[str]
) -> tuple[str, str | None]:
    """(the version to use, the raw versionName when it is not a plain string)."""
    attr = manifest.attribute(ATTR_VERSION_NAME, "versionName")
    if attr is not None and attr.is_string and attr.string():
        return attr.string(), None
    if attr is not None and attr.is_int:
        return str(attr.int_value()), None
    raw = attr.text() if attr is not None else None
    if attr is None:
        why = "is absent"
    elif attr.is_reference:
        why = f"is a resource reference ({raw}) that only resources.arsc resolves"
    else:
        why = f"is {raw!r}, not a usable string"
    warnings.append(
        f"versionName {why}; the versionCode {version_code} is used as the version instead. "
        "To publish the real versionName, set it as a literal string in the build"
    )
    return str(version_code), raw


def _version_code(path: Path, manifest: Element, warnings: list[str]) -> int:
    version_code = _int_attr(path, manifest, ATTR_VERSION_CODE, "versionCode")
    if version_code is None:
        warnings.append("versionCode is absent; Android treats it as 0")
        return 0
    if version_code < 0:
        raise ArtifactError(f"{path.name}: android:versionCode is negative ({version_code})")
    major = _int_attr(path, manifest, ATTR_VERSION_CODE_MAJOR, "versionCodeMajor")
    if major:  # Android compares (major << 32) | versionCode; Intune sees versionCode only
        warnings.append(f"versionCodeMajor {major} is set; Intune compares versionCode only")
    return version_code


def _metadata(path: Path, elements: list[Element]) -> AppMetadata:
    manifest = elements[0] if elements else None
    if manifest is None or manifest.name != "manifest" or manifest.depth != 0:
        raise ArtifactError(f"{path.name}: AndroidManifest.xml has no <manifest> root element")
    package = _plain_string(manifest.attribute(None, "package"))
    if not package:
        raise ArtifactError(
            f"{path.name}: <manifest> has no package name", fix="rebuild the APK with aapt2"
        )
    warnings: list[str] = []
    version_code = _version_code(path, manifest, warnings)
    version, raw_version_name = _version_name(path, manifest, version_code, warnings)
    uses_sdk = _child(elements, "uses-sdk")
    min_sdk = _int_attr(path, uses_sdk, ATTR_MIN_SDK, "minSdkVersion")
    min_sdk = DEFAULT_MIN_SDK if min_sdk is None else min_sdk
    target_sdk = _int_attr(path, uses_sdk, ATTR_TARGET_SDK, "targetSdkVersion") or min_sdk
    application = _child(elements, "application")
    label = application.attribute(ATTR_LABEL, "label") if application else None
    details: dict[str, Any] = {
        "minSdk": min_sdk,
        "targetSdk": target_sdk,
        "label": label.text() if label is not None else None,
    }
    if raw_version_name is not None:
        details["versionNameRaw"] = raw_version_name
    if label is not None and label.is_reference:
        details["labelResource"] = label.data
    icon = application.attribute(ATTR_ICON, "icon") if application else None
    if icon is not None and icon.is_reference:
        details["iconResource"] = icon.data
    if warnings:
        details["warnings"] = warnings
    return AppMetadata(
        app_type="androidLobApp",
        file_name=path.name,
        identity=package,
        version=version,
        build=str(version_code),
        display_name=_plain_string(label) or None,
        minimum_os=MinimumOs("android", android_release(min_sdk)),
        properties={
            "packageId": package,
            "versionCode": str(version_code),
            "versionName": version,
        },
        manifest=android_manifest(package, version_code, version, path.name, min_sdk),
        details=details,
        content=PlainContent(path, path.stat().st_size),
    )
