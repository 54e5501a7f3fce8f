"""macOS flat ``.pkg`` -> ``macOSPkgApp``.

A flat package is a xar archive. A product archive (productbuild) carries a ``Distribution``
script plus ``<component>.pkg/PackageInfo`` files; a component package (pkgbuild) carries a
top-level ``PackageInfo``. Both list the app bundles they install as ``<bundle>`` elements
(docs/protocol.md, "macOS packages and disk images"). The primary app is the first top-level
``.app``; ``includedApps`` lists every top-level app, starting with the primary, as Intune
expects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from intune_step.artifacts.base import (
    BUNDLE_OVERRIDE_FIX,
    AppMetadata,
    MetadataUnreadableError,
    MinimumOs,
    PlainContent,
)
from intune_step.artifacts.macos_apps import bundle_properties
from intune_step.artifacts.signer import from_der_certificates
from intune_step.artifacts.xar import XarArchive
from intune_step.artifacts.xmlguard import local_name, parse_untrusted_xml
from intune_step.errors import ArtifactError

MAX_INCLUDED_APPS = 500  # Graph's documented limit for includedApps
MAX_PACKAGE_INFOS = 200
NO_BUNDLE_FIX = (
    BUNDLE_OVERRIDE_FIX + ", or build the package with pkgbuild --component / productbuild so "
    "it records its bundles"
)


@dataclass(frozen=True)
class Bundle:
    """One ``<bundle>`` element: an app the package installs."""

    bundle_id: str
    short_version: str | None
    version: str | None
    path: str | None

    @property
    def display_version(self) -> str:
        return self.short_version or self.version or ""


def read_pkg(path: Path) -> AppMetadata:
    """Read a flat .pkg; raise ArtifactError when it is unreadable or names no app."""
    with XarArchive(path) as archive:
        distribution = _read_xml(archive, "Distribution")
        # a PackageInfo name can be a folder or a link: only files are documents
        infos = [
            info
            for name in _package_info_names(archive)
            if (info := _read_xml(archive, name)) is not None
        ]
        signer = from_der_certificates(archive.certificates)  # productsign's Developer ID
    if distribution is None and not infos:
        raise ArtifactError(
            f"{path.name}: neither a Distribution nor a PackageInfo is in the package",
            fix="publish a flat package made by productbuild or pkgbuild",
        )
    documents = [doc for doc in (distribution, *infos) if doc is not None]
    apps = _top_level_apps(documents)
    minimum = _minimum_os(distribution)
    # What is known without a bundle, for the user's bundle-id/bundle-version to complete.
    hints = {k: v for k, v in (("minimum_os", minimum), ("display_name", _title(distribution)),
                               ("publisher", signer.name if signer else None)) if v}
    if not apps:
        raise MetadataUnreadableError(
            f"{path.name}: the package records no app bundle (.app), so Intune's bundle id and "
            "version cannot be read from it",
            fix=NO_BUNDLE_FIX,
            hints=hints,
        )
    if len(apps) > MAX_INCLUDED_APPS:
        raise ArtifactError(
            f"{path.name}: the package lists {len(apps)} apps; Intune accepts at most "
            f"{MAX_INCLUDED_APPS} included apps",
            fix="split the package",
        )
    primary = apps[0]
    if not primary.display_version:
        raise MetadataUnreadableError(
            f"{path.name}: the package names the app {primary.bundle_id} but not its version",
            fix=NO_BUNDLE_FIX,
            hints=hints,
        )
    return AppMetadata(
        app_type="macOSPkgApp",
        file_name=path.name,
        identity=primary.bundle_id,
        version=primary.display_version,
        build=primary.version,
        display_name=_title(distribution),
        publisher=signer.name if signer else None,
        minimum_os=MinimumOs("macos", minimum) if minimum else None,
        content=PlainContent(path=path, size=path.stat().st_size),
        properties=bundle_properties(apps),
        manifest=None,
        details={**_details(distribution, infos, primary, apps),
                 **({"signer": signer.subject} if signer else {})},
    )


def _package_info_names(archive: XarArchive) -> list[str]:
    """The top-level PackageInfo, then each ``<component>.pkg/PackageInfo``."""
    names = [
        name
        for name in archive.names()
        if name == "PackageInfo" or (name.endswith(".pkg/PackageInfo") and name.count("/") == 1)
    ]
    return names[:MAX_PACKAGE_INFOS]


def _read_xml(archive: XarArchive, name: str) -> ET.Element | None:
    entry = archive.entries.get(name)
    if entry is None or entry.kind != "file":
        return None
    return parse_untrusted_xml(archive.read(name), f"{archive.path.name}: {name}")


def _bundles(document: ET.Element) -> list[Bundle]:
    """Every ``<bundle id=…>`` in document order (Distribution or PackageInfo)."""
    found: list[Bundle] = []
    for elem in document.iter():
        if local_name(elem.tag) != "bundle":
            continue
        bundle_id = (elem.get("id") or "").strip()
        if bundle_id:
            found.append(
                Bundle(
                    bundle_id=bundle_id,
                    short_version=_attr(elem, "CFBundleShortVersionString"),
                    version=_attr(elem, "CFBundleVersion"),
                    path=_attr(elem, "path"),
                )
            )
    return found


def _attr(elem: ET.Element, name: str) -> str | None:
    value = elem.get(name)
    return value.strip() if value and value.strip() else None


def _is_top_level_app(path: str) -> bool:
    """An .app not inside another .app."""
    parts = [p for p in PurePosixPath(path).parts if p not in (".", "/")]
    if not parts or not parts[-1].lower().endswith(".app"):
        return False
    return not any(part.lower().endswith(".app") for part in parts[:-1])


def _top_level_apps(documents: list[ET.Element]) -> list[Bundle]:
    """Top-level apps, unique by id, in document order.

    PackageInfo repeats bundles without a path inside ``bundle-version``, ``upgrade-bundle``
    and the like; those are references, so a path-less bundle counts only when no document
    gives that id a path (a hand-written Distribution may omit paths altogether).
    """
    bundles = [bundle for document in documents for bundle in _bundles(document)]
    located = {bundle.bundle_id for bundle in bundles if bundle.path is not None}
    seen: set[str] = set()
    apps: list[Bundle] = []
    for bundle in bundles:
        if bundle.path is None:
            wanted = bundle.bundle_id not in located
        else:
            wanted = _is_top_level_app(bundle.path)
        if wanted and bundle.bundle_id not in seen:
            seen.add(bundle.bundle_id)
            apps.append(_with_versions(bundle, bundles))
    return apps


def _with_versions(app: Bundle, bundles: list[Bundle]) -> Bundle:
    """Fill a missing version from another element naming the same id (Distribution vs
    PackageInfo often differ in which attributes they carry)."""
    same = [b for b in bundles if b.bundle_id == app.bundle_id]
    short = app.short_version or next((b.short_version for b in same if b.short_version), None)
    version = app.version or next((b.version for b in same if b.version), None)
    return Bundle(app.bundle_id, short, version, app.path)


def _minimum_os(distribution: ET.Element | None) -> str | None:
    """The lowest ``allowed-os-versions/os-version@min`` of the Distribution, if any."""
    if distribution is None:
        return None
    versions = [
        (elem.get("min") or "").strip()
        for elem in distribution.iter()
        if local_name(elem.tag) == "os-version"
    ]
    versions = [v for v in versions if v and v[0].isdigit()]
    return min(versions, key=_version_key) if versions else None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _title(distribution: ET.Element | None) -> str | None:
    if distribution is None:
        return None
    title = (distribution.findtext("title") or "").strip()
    # productbuild writes "SU_TITLE"-style localisation keys; those are no display name
    return title if title and not title.isupper() else None


def _details(
    distribution: ET.Element | None, infos: list[ET.Element], primary: Bundle, apps: list[Bundle]
) -> dict[str, Any]:
    details: dict[str, Any] = {
        "kind": "product archive" if distribution is not None else "component package",
        "primaryBundlePath": primary.path,
        "primaryBundleBuild": primary.version,
        # both versions of every app: macOSLobApp's childApps need CFBundleVersion too
        "apps": [
            {"bundleId": a.bundle_id, "shortVersion": a.short_version, "version": a.version,
             "path": a.path}
            for a in apps
        ],
    }
    if distribution is not None:
        product = distribution.find("product")
        if product is not None:
            details["productId"] = product.get("id")
            details["productVersion"] = product.get("version")
        options = distribution.find("options")
        if options is not None and options.get("hostArchitectures"):
            details["hostArchitectures"] = options.get("hostArchitectures")
    details["packages"] = [
        {"identifier": info.get("identifier"), "version": info.get("version")} for info in infos
    ]
    return details
