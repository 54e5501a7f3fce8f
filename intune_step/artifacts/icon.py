"""The app icon: from the `icon` input, else from inside the artifact where it carries one.

- `icon` input: a PNG, JPEG or GIF file (a CgBI PNG is converted too).
- IPA: the loose ``CFBundleIcons``/``CFBundleIconFiles`` PNGs of the app, the largest one,
  converted from Apple's CgBI form (png.py). An app whose icon lives only in Assets.car (no
  loose PNG) gets none: reading the compiled asset catalog is out of scope.
- MSIX/AppX: ``Square150x150Logo``, else ``Logo``, else ``Square44x44Logo``, with their
  ``.scale-N``/``.targetsize-N`` variants; the largest wins. In a bundle, the first app
  package (by name) that has one.
- APK: ``<application android:icon>`` is a resource id, resolved through resources.arsc
  (artifacts/arsc.py) to one file per density; the largest PNG wins. Adaptive-icon XML and
  WebP are skipped (Intune's largeIcon takes PNG/JPEG/GIF), so an app with only those gets none.
- The other types: none from the file; use the `icon` input.

Icons sent as ``largeIcon`` mimeContent (docs/protocol.md, "Common properties").
"""

from __future__ import annotations

import base64
import hashlib
import plistlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from intune_step.artifacts.base import AppMetadata
from intune_step.artifacts.png import PngError, header, normalise
from intune_step.artifacts.safezip import open_zip, read_member
from intune_step.artifacts.xmlguard import local_name, parse_untrusted_xml
from intune_step.errors import ArtifactError, BadInputError

MAX_ICON_BYTES = 8 * 1024 * 1024
MAX_INNER_PACKAGE = 512 * 1024 * 1024
_QUALIFIER = re.compile(r"\.(?:scale|targetsize|altform|contrast|theme|lang)-[^./]+", re.I)


@dataclass(frozen=True)
class Icon:
    mime: str
    data: bytes
    source: str  # where it came from, for the log and the plan

    def to_graph(self) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.mimeContent", "type": self.mime,
                "value": base64.b64encode(self.data).decode()}

    def describe(self) -> str:
        return f"{self.mime} {len(self.data):,} bytes from {self.source}"


def describe_graph(value: Any) -> str | None:
    """A short description of a largeIcon value for diffs (never the base64 itself)."""
    if not isinstance(value, dict) or not value.get("value"):
        return None
    try:
        raw = base64.b64decode(str(value["value"]))
    except ValueError:
        return f"{value.get('type')} (unreadable)"
    return f"{value.get('type')} {len(raw):,} bytes sha256 {hashlib.sha256(raw).hexdigest()[:12]}"


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def from_file(path: Path) -> Icon:
    """The `icon` input; every problem is a BadInputError that says what to change."""
    fix = "set icon to a PNG or JPEG file in the workspace (512x512 PNG works well)"
    if not path.is_file():
        raise BadInputError(f"icon {path} does not exist or is not a file", fix=fix)
    if path.stat().st_size > MAX_ICON_BYTES:
        raise BadInputError(f"icon {path.name} is over {MAX_ICON_BYTES // 1024 // 1024} MiB",
                            fix=fix)
    data = path.read_bytes()
    mime = sniff(data)
    if mime is None:
        raise BadInputError(f"icon {path.name} is not a PNG, JPEG or GIF image", fix=fix)
    if mime == "image/png":
        try:
            data = normalise(data)
        except PngError as exc:
            raise BadInputError(f"icon {path.name} is not a readable PNG ({exc})",
                                fix=fix) from exc
    return Icon(mime, data, path.name)


def from_artifact(meta: AppMetadata) -> tuple[Icon | None, str]:
    """The icon inside the artifact, and a line saying what was found (or why none)."""
    try:
        if meta.app_type == "iosLobApp":
            return _ipa_icon(meta)
        if meta.app_type == "windowsUniversalAppX":
            return _msix_icon(meta)
        if meta.app_type == "androidLobApp":
            return _apk_icon(meta)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, ArtifactError,
            plistlib.InvalidFileException) as exc:
        return None, f"no icon: could not read it from {meta.file_name} ({exc})"
    return None, (f"no icon: a {meta.app_type} carries none this step reads; set the icon "
                  "input to add one")


def _ipa_icon(meta: AppMetadata) -> tuple[Icon | None, str]:
    plist_name = str(meta.details.get("infoPlist") or "")
    folder = plist_name.rsplit("/", 1)[0] + "/" if "/" in plist_name else ""
    with zipfile.ZipFile(meta.content.path) as archive:
        info = plistlib.loads(_member(archive, plist_name))
        names = _ipa_icon_names(info)
        members = [n for n in archive.namelist()
                   if n.startswith(folder) and "/" not in n[len(folder):]
                   and n.lower().endswith(".png")
                   and any(n[len(folder):].startswith(stem) for stem in names)]
        best = _largest(archive, members)
    if best is None:
        return None, (f"no icon: {meta.file_name} has no loose icon PNG (only Assets.car, "
                      "which this step does not read); set the icon input")
    name, data = best
    return Icon("image/png", normalise(data), f"{meta.file_name}:{name}"), ""


def _ipa_icon_names(info: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in ("CFBundleIcons", "CFBundleIcons~ipad"):
        primary = (info.get(key) or {}).get("CFBundlePrimaryIcon") or {}
        if isinstance(primary, dict):
            names += [str(n) for n in primary.get("CFBundleIconFiles") or []]
            if primary.get("CFBundleIconName"):
                names.append(str(primary["CFBundleIconName"]))
    names += [str(n) for n in info.get("CFBundleIconFiles") or []]
    if info.get("CFBundleIconFile"):
        names.append(str(info["CFBundleIconFile"]))
    # "AppIcon60x60" matches AppIcon60x60@2x.png; an explicit ".png" is dropped to match too.
    return [n.removesuffix(".png") for n in names if n]


def _apk_icon(meta: AppMetadata) -> tuple[Icon | None, str]:
    # The resource table's reader only for an APK: other runs do not pay for importing it.
    from intune_step.artifacts.arsc import MAX_ARSC_BYTES, resolve_file_paths

    res_id = meta.details.get("iconResource")
    if not isinstance(res_id, int):
        return None, (f"no icon: {meta.file_name} names no launcher icon (android:icon); "
                      "set the icon input")
    path = meta.content.path
    with open_zip(path, "APK") as archive:
        members = set(archive.namelist())
        arsc = read_member(archive, "resources.arsc", path, MAX_ARSC_BYTES)
        # paths come from the untrusted table: only members that exist, PNG by name and bytes
        files = [p for _, p in resolve_file_paths(arsc, res_id)
                 if p in members and p.lower().endswith(".png")]
        best = _largest(archive, files)
    if best is None:
        return None, (f"no icon: the launcher icon of {meta.file_name} has no PNG (only "
                      "adaptive-icon XML or WebP, which Intune cannot show); set the icon input")
    name, data = best
    return Icon("image/png", normalise(data), f"{meta.file_name}:{name}"), ""


def _msix_icon(meta: AppMetadata) -> tuple[Icon | None, str]:
    with zipfile.ZipFile(meta.content.path) as outer:
        names = outer.namelist()
        if "AppxManifest.xml" in names:
            found = _package_logo(outer, meta.file_name)
        else:  # a bundle: the first app package (not a resource pack) that has a logo
            found = None
            for inner in sorted(n for n in names if n.lower().endswith((".msix", ".appx"))
                                and "/" not in n and _QUALIFIER.search(n) is None
                                and outer.getinfo(n).file_size <= MAX_INNER_PACKAGE):
                with outer.open(inner) as handle, zipfile.ZipFile(handle) as package:
                    found = _package_logo(package, f"{meta.file_name}:{inner}")
                if found is not None:
                    break
    if found is None:
        return None, f"no icon: the logo files named in {meta.file_name} are not PNGs it holds"
    source, data = found
    return Icon("image/png", normalise(data), source), ""


def _package_logo(archive: zipfile.ZipFile, label: str) -> tuple[str, bytes] | None:
    root = parse_untrusted_xml(_member(archive, "AppxManifest.xml"), f"{label}: manifest")
    large, store, small = [], [], []
    for elem in root.iter():
        if local_name(elem.tag) == "VisualElements":
            large.append(elem.get("Square150x150Logo") or "")
            small.append(elem.get("Square44x44Logo") or "")
        elif local_name(elem.tag) == "Logo" and elem.text:
            store.append(elem.text)
    wanted = large + store + small  # biggest artwork first
    members = archive.namelist()
    for logo in (w.strip().replace("\\", "/") for w in wanted if w.strip()):
        target = _unqualified(logo)
        matches = [m for m in members if _unqualified(m) == target]
        best = _largest(archive, matches)
        if best is not None:
            return f"{label}:{best[0]}", best[1]
    return None


def _unqualified(name: str) -> str:
    """``Assets/scale-200/Logo.targetsize-48.png`` → ``assets/logo.png``."""
    parts = [p for p in PurePosixPath(name.lower()).parts if not _QUALIFIER.fullmatch("." + p)]
    return _QUALIFIER.sub("", "/".join(parts))


def _largest(archive: zipfile.ZipFile, names: list[str]) -> tuple[str, bytes] | None:
    best: tuple[int, str, bytes] | None = None
    for name in names:
        data = _member(archive, name)
        try:
            area = header(data).area
        except PngError:
            continue
        if best is None or area > best[0]:
            best = (area, name, data)
    return (best[1], best[2]) if best else None


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_ICON_BYTES:
        raise ValueError(f"{name} is {info.file_size} bytes")
    with archive.open(info) as handle:
        return handle.read(MAX_ICON_BYTES + 1)[:MAX_ICON_BYTES]
