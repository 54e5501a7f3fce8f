"""The hostile-input corpus: files and inputs a careless or hostile pipeline may hand the step.

Each case writes its file into the workspace and names the inputs that differ from a good
run. Every one must end the same way: exit 2 (bad input), one error line that names the cause
(``expect``), and not one write request to Graph. Builders are deterministic, so the corpus
is the same on every machine; `python -m tests.corpus.cases DIR` writes the files out (the
fuzzer's seeds, or for a look by hand).
"""

from __future__ import annotations

import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa, build_mobileprovision
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import appx_manifest, build_intunewin

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
CENTRAL_HEADER = b"PK\x01\x02"
GOOD = "good.ipa"  # a valid artifact, for the cases about the other inputs
DEPTH = 50_000  # deep enough to overflow a recursive parser
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
              for i in range(1, 10))
    + "]>\n"
)


@dataclass(frozen=True)
class Case:
    id: str
    target: str  # which input or artifact type the case attacks
    build: Callable[[Path], str]  # writes into the workspace, returns the `file` input
    expect: str  # text the one error line must hold
    inputs: dict[str, str] = field(default_factory=dict)  # inputs that differ from a good run


# --- helpers -------------------------------------------------------------------------------

def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return path.name


def zip_with(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path.name


def claim_size(path: Path, member: str, size: int) -> None:
    """Make ``member`` claim ``size`` uncompressed bytes in the central directory."""
    data = bytearray(path.read_bytes())
    pos = data.find(CENTRAL_HEADER)
    while pos >= 0:
        name_length = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46: pos + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
            path.write_bytes(bytes(data))
            return
        pos = data.find(CENTRAL_HEADER, pos + 4)
    raise AssertionError(f"{member} not in {path}")


def truncate(path: Path, keep: float = 0.5) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path.name


def ipa_with_plist(ws: Path, name: str, plist: bytes) -> str:
    profile = build_mobileprovision(expires=datetime(2099, 1, 1, tzinfo=UTC))
    return zip_with(ws / name, {"Payload/Demo.app/Info.plist": plist,
                                "Payload/Demo.app/embedded.mobileprovision": profile})


def deep_plist() -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
            b"<key>CFBundleIdentifier</key><string>com.example.deep</string><key>x</key>"
            + b"<array>" * DEPTH + b"</array>" * DEPTH + b"</dict></plist>")


def deep_binary_plist(depth: int = 100_000) -> bytes:
    """A binary plist of arrays nested ``depth`` deep (plistlib reads these recursively)."""
    objects = [b"\xa1" + struct.pack(">I", i + 1) for i in range(depth - 1)] + [b"\xa0"]
    body, offsets = bytearray(b"bplist00"), []
    for obj in objects:
        offsets.append(len(body))
        body += obj
    table = len(body)
    for offset in offsets:
        body += struct.pack(">I", offset)
    return bytes(body) + struct.pack(">6xBBQQQ", 4, 4, len(objects), 0, table)


def non_utf8_plist() -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict>'
            b"<key>CFBundleIdentifier</key><string>com.example.bad</string>"
            b"<key>CFBundleDisplayName</key><string>Caf\xe9 \xff\xfe</string>"
            b"<key>CFBundleShortVersionString</key><string>1.0</string>"
            b"<key>CFBundleVersion</key><string>1</string></dict></plist>")


def msix_with_manifest(ws: Path, name: str, manifest: bytes) -> str:
    return zip_with(ws / name, {"AppxManifest.xml": manifest,
                                "[Content_Types].xml": b'<?xml version="1.0"?><Types/>'})


def good_manifest() -> bytes:
    return appx_manifest(name="Contoso.Demo", version="1.0.0.0", publisher="CN=Contoso",
                         arch="x64", min_version="10.0.17763.0", display="Demo")


def intunewin(ws: Path, name: str = "app.intunewin") -> Path:
    path = ws / name
    build_intunewin(path, setup_file="setup.exe", files={"setup.exe": b"MZ" + bytes(200)},
                    name="Demo")
    return path


def replace_member(path: Path, member: str, data: bytes) -> str:
    """Rewrite the ZIP at ``path`` with ``member``'s content replaced."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members[member] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for name, content in members.items():
            target.writestr(name, content)
    return path.name


def non_utf8_flagged_name(ws: Path) -> str:
    """A member name that is not UTF-8 although the entry's UTF-8 flag says it is."""
    path = ws / "badname.ipa"
    ipa_with_plist(ws, path.name, info_plist("com.example.n", "1.0", "15.0"))
    data = bytearray(path.read_bytes())
    old = b"Payload/Demo.app/Info.plist"
    new = b"Payload/D\xffmo.app/Info.plist"
    data = bytearray(bytes(data).replace(old, new))
    pos = data.find(CENTRAL_HEADER)
    while pos >= 0:  # general-purpose flag bit 11: the name is UTF-8
        flags = struct.unpack_from("<H", data, pos + 8)[0]
        struct.pack_into("<H", data, pos + 8, flags | 0x800)
        pos = data.find(CENTRAL_HEADER, pos + 4)
    path.write_bytes(bytes(data))
    return path.name


def resource_manifest() -> bytes:
    """A standalone resource package (split.scale-200): ResourcePackage, no Applications."""
    return (b'<?xml version="1.0" encoding="utf-8"?><Package '
            b'xmlns="http://schemas.microsoft.com/appx/manifest/foundation/windows10">'
            b'<Identity Name="Contoso.Demo" Publisher="CN=Contoso" Version="1.0.0.0" '
            b'ResourceId="split.scale-200"/><Properties><DisplayName>Demo</DisplayName>'
            b"<PublisherDisplayName>Contoso</PublisherDisplayName>"
            b"<ResourcePackage>true</ResourcePackage></Properties><Dependencies>"
            b'<TargetDeviceFamily Name="Windows.Desktop" MinVersion="10.0.17763.0"/>'
            b"</Dependencies></Package>")


def good(ws: Path) -> str:
    build_ipa(ws / GOOD)
    return GOOD


# --- the corpus ----------------------------------------------------------------------------

CASES: list[Case] = [
    # files that are not there or not files
    Case("missing-file", "file", lambda ws: "nowhere/app.ipa", "artifact not found"),
    Case("directory-not-file", "file", lambda ws: (ws / "app.ipa").mkdir() or "app.ipa",
         "is not a file"),
    Case("empty-file", "file", lambda ws: write(ws / "app.ipa", b""),
         "not a valid IPA"),
    Case("unsupported-type", "file",
         lambda ws: write(ws / "setup.exe", b"MZ" + bytes(64)),
         "unsupported file type"),
    Case("android-app-bundle", "apk",
         lambda ws: zip_with(ws / "app.aab", {"base/manifest/AndroidManifest.xml": b"\x00"}),
         "Android App Bundle"),
    # IPA
    Case("ipa-truncated", "ipa", lambda ws: truncate(build_ipa(ws / "app.ipa")),
         "not a valid IPA"),
    Case("ipa-wrong-magic", "ipa",
         lambda ws: write(ws / "app.ipa", b"\x89PNG\r\n\x1a\n" + bytes(4000)), "not a valid IPA"),
    Case("ipa-path-traversal", "ipa",
         lambda ws: zip_with(ws / "app.ipa", {"Payload/../../etc/Demo.app/Info.plist": b"x"}),
         "path traversal"),
    Case("ipa-member-claims-4-gib", "ipa",
         lambda ws: (claim_size(build_ipa(ws / "app.ipa"), "Payload/Demo.app/Info.plist",
                                0xFFFFFFF0), "app.ipa")[1], "claims 4294967280 bytes"),
    Case("ipa-expired-profile", "ipa",
         lambda ws: build_ipa(ws / "app.ipa", expires=datetime(2020, 1, 1, tzinfo=UTC)).name,
         "expired"),
    # sound files that cannot become a valid iosLobApp body: refused before sign-in
    Case("ipa-tvos-build", "ipa",
         lambda ws: build_ipa(ws / "app.ipa", device_family=3,
                              extra_info={"CFBundleSupportedPlatforms": ["AppleTVOS"]}).name,
         "a build for tvOS, not for iPhone or iPad"),
    Case("ipa-simulator-build", "ipa",
         lambda ws: build_ipa(ws / "app.ipa",
                              extra_info={"CFBundleSupportedPlatforms": ["iPhoneSimulator"]}).name,
         "a build for the iOS Simulator"),
    Case("ipa-watch-only-family", "ipa",
         lambda ws: build_ipa(ws / "app.ipa", device_family=4).name,
         "UIDeviceFamily names neither iPhone (1) nor iPad (2)"),
    Case("ipa-no-minimum-os", "ipa",
         lambda ws: build_ipa(ws / "app.ipa", extra_info={"MinimumOSVersion": None}).name,
         "Info.plist has no MinimumOSVersion"),
    # read without a crash, then refused for what it lacks
    Case("ipa-deeply-nested-plist", "ipa",
         lambda ws: ipa_with_plist(ws, "deep.ipa", deep_plist()), "has no CFBundleVersion"),
    Case("ipa-deeply-nested-binary-plist", "ipa",
         lambda ws: ipa_with_plist(ws, "deepbin.ipa", deep_binary_plist()),
         "Info.plist is not a readable property list"),
    Case("ipa-oversized-plist", "ipa",
         lambda ws: ipa_with_plist(ws, "big.ipa", b"<!--" + b" " * (5 << 20) + b"-->"),
         "more than the 4194304 allowed"),
    Case("ipa-entity-expansion-plist", "ipa",
         lambda ws: ipa_with_plist(ws, "laughs.ipa", (BILLION_LAUGHS.replace("lolz", "plist")
                                                      + "<plist>&lol9;</plist>").encode()),
         "entity declarations are not supported"),
    Case("ipa-non-utf8-plist", "ipa",
         lambda ws: ipa_with_plist(ws, "latin1.ipa", non_utf8_plist()),
         "Info.plist is not a readable property list"),
    Case("ipa-non-utf8-member-name", "ipa", non_utf8_flagged_name, "UnicodeDecodeError"),
    # APK
    Case("apk-truncated", "apk", lambda ws: truncate(build_apk(ws / "app.apk")),
         "not a valid APK"),
    Case("apk-corrupt-manifest", "apk",
         lambda ws: zip_with(ws / "app.apk", {"AndroidManifest.xml": b"\x03\x00\x08\x00"
                                              + bytes(range(256)) * 4, "classes.dex": b"dex"}),
         "AndroidManifest.xml cannot be read"),
    Case("apk-manifest-claims-4-gib", "apk",
         lambda ws: (claim_size(build_apk(ws / "app.apk"), "AndroidManifest.xml", 0xFFFFFFF0),
                     "app.apk")[1], "claims 4294967280 bytes"),
    Case("apk-text-manifest", "apk",
         lambda ws: zip_with(ws / "app.apk", {"AndroidManifest.xml": b'<?xml version="1.0"?>'
                                              b"<manifest package='x'/>"}),
         "plain-text XML, not compiled"),
    # MSI
    Case("msi-wrong-magic", "msi",
         lambda ws: write(ws / "setup.msi", b"PK\x03\x04" + bytes(2000)),
         "not an MSI"),
    Case("msi-truncated", "msi",
         lambda ws: write(ws / "demo.msi",
                          (FIXTURES / "windows" / "demo.msi").read_bytes()[:3000]),
         "not a readable MSI"),
    # MSIX / AppX
    Case("msix-deeply-nested-manifest", "msix",
         lambda ws: msix_with_manifest(ws, "deep.msix", b"<Package>" + b"<a>" * DEPTH
                                       + b"</a>" * DEPTH + b"</Package>"), "nested deeper than"),
    Case("msix-entity-expansion", "msix",
         lambda ws: msix_with_manifest(ws, "laughs.msix", (BILLION_LAUGHS.replace(
             "lolz", "Package") + "<Package>&lol9;</Package>").encode()),
         "refused (entity expansion risk)"),
    Case("msix-non-utf8-manifest", "msix",
         lambda ws: msix_with_manifest(ws, "latin1.msix", good_manifest().replace(
             b"<DisplayName>Demo", b"<DisplayName>D\xe9mo\xff")), "not well-formed XML"),
    Case("msix-resource-package", "msix",
         lambda ws: msix_with_manifest(ws, "app.scale-200.msix", resource_manifest()),
         "this is a resource package"),
    Case("msixbundle-wrong-magic", "msix",
         lambda ws: write(ws / "app.msixbundle", b"MSCF" + bytes(500)),
         "not a valid MSIX/AppX package"),
    # .intunewin
    Case("intunewin-truncated", "intunewin", lambda ws: truncate(intunewin(ws), 0.6),
         "not a valid .intunewin package"),
    Case("intunewin-external-entity", "intunewin",
         lambda ws: replace_member(intunewin(ws), "IntuneWinPackage/Metadata/Detection.xml",
                                   b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
                                   b'"file:///etc/passwd">]><ApplicationInfo>&x;'
                                   b"</ApplicationInfo>"),
         "Detection.xml declares a DOCTYPE or ENTITY"),
    Case("intunewin-detection-claims-4-gib", "intunewin",
         lambda ws: (claim_size(intunewin(ws), "IntuneWinPackage/Metadata/Detection.xml",
                                0xFFFFFFF0), "app.intunewin")[1], "claims 4294967280 bytes"),
    # macOS
    Case("pkg-wrong-magic", "pkg",
         lambda ws: write(ws / "app.pkg", b"xar?" + bytes(100)), "no xar header"),
    Case("pkg-truncated", "pkg",
         lambda ws: truncate(build_pkg(ws / "app.pkg", bundle_id="com.example.pkg",
                                       version="1.0", min_os="12.0"), 0.3), "truncated"),
    Case("dmg-truncated", "dmg",
         lambda ws: truncate(build_dmg(ws / "app.dmg", apps={
             "Demo.app": info_plist("com.example.dmg", "1.0", "12.0")}), 0.5),
         "not a UDIF disk image"),
    Case("dmg-wrong-magic", "dmg",
         lambda ws: write(ws / "app.dmg", bytes(4096)), "not a UDIF disk image"),
    # the other inputs (the file is good)
    Case("auth-url-http", "auth-url", good, "auth-url must use https",
         {"auth-url": "http://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"
                      "token"}),
    Case("auth-url-malformed", "auth-url", good, "auth-url must not carry a query",
         {"auth-url": "https://login.microsoftonline.com/oauth2/v2.0/token?x=1"}),
    Case("auth-url-not-a-url", "auth-url", good, "auth-url must use https",
         {"auth-url": "login please"}),
    Case("client-id-not-a-guid", "client-id", good, "client-id is not a GUID",
         {"client-id": "my-app-registration"}),
    Case("client-secret-empty", "client-secret", good, "missing client-secret",
         {"client-secret": ""}),
    Case("graph-url-http", "graph-url", good, "graph-url must be an https URL",
         {"graph-url": "http://graph.example"}),
    Case("graph-url-with-version", "graph-url", good, "graph-url must not include the API "
         "version", {"graph-url": "https://graph.microsoft.com/v1.0"}),
    Case("graph-version-unknown", "graph-version", good, "graph-version must be beta or v1.0",
         {"graph-version": "v2.0"}),
    Case("app-id-not-a-guid", "app-id", good, "is not a GUID", {"app-id": "../../mobileApps"}),
    Case("dry-run-not-a-boolean", "dry-run", good, "dry-run must be true or false",
         {"dry-run": "yes please"}),
    Case("non-ascii-client-id", "client-id", good, "client-id is not a GUID",
         {"client-id": "１２３４５６７８-1234-1234-1234-123456789abc"}),
]


def write_all(directory: Path) -> list[Path]:
    """Write every case's file under ``directory``/<case id>/; returns the files made."""
    made = []
    for case in CASES:
        workspace = directory / case.id
        workspace.mkdir(parents=True, exist_ok=True)
        path = workspace / case.build(workspace)
        if path.is_file():
            made.append(path)
    return made


if __name__ == "__main__":
    for made in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "corpus-out")):
        print(made)
