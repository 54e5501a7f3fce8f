"""Build a small, real APK: a binary AndroidManifest.xml and a stub classes.dex.

Unsigned: Intune reads the manifest, and tests need no signing key. Good enough for the
readers, the demo command and benchmarks; not installable on a device.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from intune_step.samples.axml_writer import NameStyle, Ref, build_manifest

# "dex\n035\0" magic followed by a zeroed header: enough for tools that sniff the file
STUB_DEX = b"dex\n035\x00" + bytes(104)


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
) -> Path:
    """Write an APK at ``path``. None leaves an attribute out (both SDKs None: no <uses-sdk>);
    ``Ref(0x7F...)`` makes a resource reference; ``manifest`` replaces the AXML bytes."""
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
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AndroidManifest.xml", manifest)
        archive.writestr("classes.dex", STUB_DEX)
    return path
