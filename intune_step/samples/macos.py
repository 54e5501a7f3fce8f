"""Small but real macOS artifacts for the demo, the benchmarks and the tests.

``build_pkg`` writes a flat package the way productbuild/pkgbuild lay it out (xar with zlib
entries, a gzip cpio Payload holding the app's Info.plist). bsdtar and 7-Zip read it.
"""

from __future__ import annotations

import gzip
import plistlib
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

from intune_step.artifacts.xar import write_xar

PkgShape = Literal["product", "component", "nobundle"]


def info_plist(bundle_id: str, version: str, min_os: str, name: str = "Demo") -> bytes:
    """An app's Contents/Info.plist (XML form, as Xcode writes for macOS apps)."""
    return plistlib.dumps(
        {
            "CFBundleIdentifier": bundle_id,
            "CFBundleShortVersionString": version,
            "CFBundleVersion": _build_of(version),
            "CFBundleName": name,
            "CFBundlePackageType": "APPL",
            "CFBundleExecutable": name,
            "LSMinimumSystemVersion": min_os,
        }
    )


def _build_of(version: str) -> str:
    return version.replace(".", "") or "1"


def build_pkg(
    path: Path,
    *,
    bundle_id: str,
    version: str,
    min_os: str,
    shape: PkgShape = "product",
    app_name: str = "Demo",
) -> Path:
    """Write a flat .pkg installing ``<app_name>.app`` to /Applications.

    ``product``: Distribution + ``<id>.pkg/PackageInfo`` (productbuild);
    ``component``: a top-level PackageInfo (pkgbuild);
    ``nobundle``: a product archive whose Distribution and PackageInfo name no bundle.
    """
    component = f"{app_name.lower()}.pkg"
    with_bundle = shape != "nobundle"
    package_info = _package_info(bundle_id, version, app_name, with_bundle)
    payload = _payload(app_name, info_plist(bundle_id, version, min_os, app_name))
    if shape == "component":
        files = {"Bom": b"", "PackageInfo": package_info, "Payload": payload}
    else:
        files = {
            "Distribution": _distribution(
                bundle_id, version, min_os, app_name, component, with_bundle
            ),
            f"{component}/Bom": b"",
            f"{component}/PackageInfo": package_info,
            f"{component}/Payload": payload,
        }
    path.write_bytes(write_xar(files))
    return path


def _distribution(
    bundle_id: str, version: str, min_os: str, app: str, component: str, with_bundle: bool
) -> bytes:
    pkg_id = quoteattr(f"{bundle_id}.pkg")
    bundle = (
        f"<pkg-ref id={pkg_id}><bundle-version>"
        f"<bundle CFBundleShortVersionString={quoteattr(version)} "
        f"CFBundleVersion={quoteattr(_build_of(version))} id={quoteattr(bundle_id)} "
        f'path="{app}.app"/></bundle-version></pkg-ref>\n'
        if with_bundle
        else ""
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<installer-gui-script minSpecVersion="2">\n'
        f"    <title>{app}</title>\n"
        '    <options customize="never" require-scripts="false" '
        'hostArchitectures="arm64,x86_64"/>\n'
        "    <volume-check><allowed-os-versions>"
        f"<os-version min={quoteattr(min_os)}/></allowed-os-versions></volume-check>\n"
        '    <choices-outline><line choice="default">'
        f"<line choice={pkg_id}/></line></choices-outline>\n"
        '    <choice id="default"/>\n'
        f'    <choice id={pkg_id} visible="false"><pkg-ref id={pkg_id}/></choice>\n'
        f'    <pkg-ref id={pkg_id} version={quoteattr(version)} onConclusion="none">'
        f"#{component}</pkg-ref>\n"
        f"    {bundle}"
        f"    <product id={quoteattr(bundle_id)} version={quoteattr(version)}/>\n"
        "</installer-gui-script>\n"
    ).encode()


def _package_info(bundle_id: str, version: str, app: str, with_bundle: bool) -> bytes:
    ident = quoteattr(bundle_id)
    bundles = (
        f'    <bundle path="./{app}.app" id={ident} '
        f"CFBundleShortVersionString={quoteattr(version)} "
        f"CFBundleVersion={quoteattr(_build_of(version))}/>\n"
        f"    <bundle-version><bundle id={ident}/></bundle-version>\n"
        f"    <upgrade-bundle><bundle id={ident}/></upgrade-bundle>\n"
        f"    <relocate><bundle id={ident}/></relocate>\n"
        if with_bundle
        else "    <bundle-version/>\n"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<pkg-info overwrite-permissions="true" relocatable="false" '
        f'identifier={quoteattr(bundle_id + ".pkg")} postinstall-action="none" '
        f'version={quoteattr(version)} format-version="2" install-location="/Applications" '
        'auth="root">\n'
        '    <payload numberOfFiles="4" installKBytes="4"/>\n'
        f"{bundles}"
        "</pkg-info>\n"
    ).encode()


def _payload(app: str, plist: bytes) -> bytes:
    """A gzip'd odc cpio archive, the Payload format pkgbuild writes (without pbzx)."""
    members = [
        (f"./{app}.app", 0o40755, b""),
        (f"./{app}.app/Contents", 0o40755, b""),
        (f"./{app}.app/Contents/Info.plist", 0o100644, plist),
    ]
    out = bytearray()
    for ino, (name, mode, data) in enumerate(members, start=1):
        out += _cpio_header(name, mode, len(data), ino) + data
    out += _cpio_header("TRAILER!!!", 0, 0, 0)
    return gzip.compress(bytes(out), mtime=0)


def _cpio_header(name: str, mode: int, size: int, ino: int) -> bytes:
    encoded = name.encode() + b"\x00"
    fields = (
        f"070707{0:06o}{ino:06o}{mode:06o}{0:06o}{80:06o}{1:06o}{0:06o}"
        f"{0:011o}{len(encoded):06o}{size:011o}"
    )
    return fields.encode() + encoded
