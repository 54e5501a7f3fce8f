"""Build a small, real APK: a binary AndroidManifest.xml and a stub classes.dex.

Unsigned: Intune reads the manifest, and tests need no signing key. Good enough for the
readers, the demo command and benchmarks; not installable on a device.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

from intune_step.samples.arsc_writer import Resources, Strings, resource_id, string_id, write_arsc
from intune_step.samples.axml_writer import NameStyle, Ref, build_manifest

# "dex\n035\0" magic followed by a zeroed header: enough for tools that sniff the file
STUB_DEX = b"dex\n035\x00" + bytes(104)
MDPI, XXXHDPI, ANYDPI = 160, 640, 0xFFFE
ADAPTIVE_ICON = b"\x03\x00\x08\x00\x08\x00\x00\x00"  # an empty RES_XML stand-in


def icon_png(size: int, rgb: tuple[int, int, int] = (0x20, 0x60, 0xC0)) -> bytes:
    """A solid ``size``x``size`` RGB PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
    rows = (b"\x00" + bytes(rgb) * size) * size
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def icon_files(icon: bytes) -> dict[str, bytes]:
    """The files of a launcher icon as aapt2 lays them out: ``icon`` at xxxhdpi, a 48px PNG at
    mdpi and an adaptive-icon XML at anydpi-v26 (which readers must skip)."""
    return {
        "res/mipmap-mdpi-v4/ic_launcher.png": icon_png(48),
        "res/mipmap-xxxhdpi-v4/ic_launcher.png": icon,
        "res/mipmap-anydpi-v26/ic_launcher.xml": ADAPTIVE_ICON,
    }


def icon_resources(files: dict[str, bytes]) -> Resources:
    """mipmap/ic_launcher mapped to ``files`` by their density folder."""
    density = {"mdpi": MDPI, "xxxhdpi": XXXHDPI, "anydpi": ANYDPI}
    configs = {density[name.split("/")[1].split("-")[1]]: name for name in files}
    return {"mipmap": {"ic_launcher": dict(configs)}}


def build_apk(
    path: Path,
    *,
    package: str = "com.example.demo",
    version_code: int = 1,
    version_name: str | Ref | None = "1.0",
    min_sdk: int | None = 24,
    target_sdk: int | None = 34,
    label: str | Ref | None = "Demo",
    utf8: bool = False,
    resource_map: bool = True,
    names: NameStyle = "plain",
    manifest: bytes | None = None,
    icon: bytes | None = None,
    app_name: dict[str, str | Ref] | None = None,
) -> Path:
    """Write an APK at ``path``. None leaves an attribute out (both SDKs None: no <uses-sdk>);
    ``Ref(0x7F...)`` makes a resource reference; ``manifest`` replaces the AXML bytes;
    ``icon`` (PNG bytes) adds android:icon, resources.arsc and the files of icon_files();
    ``app_name`` ({locale qualifier: text}, "" the default) adds @string/app_name to
    resources.arsc and makes it the label, as Android Studio's template does."""
    extra: dict[str, bytes] = icon_files(icon) if icon is not None else {}
    resources: Resources = icon_resources(extra) if icon is not None else {}
    strings: Strings = {"app_name": app_name} if app_name is not None else {}
    icon_ref = Ref(resource_id(resources, "mipmap", "ic_launcher")) if icon is not None else None
    if strings:
        label = Ref(string_id(resources, "app_name", strings))
    if resources or strings:
        extra["resources.arsc"] = write_arsc(resources, package, strings=strings)
    if manifest is None:
        manifest = build_manifest(
            package,
            version_code,
            version_name,
            min_sdk,
            target_sdk,
            label,
            utf8=utf8,
            resource_map=resource_map,
            names=names,
            icon=icon_ref,
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AndroidManifest.xml", manifest)
        archive.writestr("classes.dex", STUB_DEX)
        for name, data in extra.items():
            archive.writestr(name, data)
    return path
