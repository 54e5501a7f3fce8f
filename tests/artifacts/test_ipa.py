"""The IPA reader and the provisioning-profile walker, on IPAs built by intune_step.samples."""

from __future__ import annotations

import plistlib
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import MinimumOs, PlainContent
from intune_step.artifacts.ipa import read_ipa
from intune_step.artifacts.minos import minimum_os_flags
from intune_step.artifacts.mobileprovision import (
    MAX_NESTING,
    ProfileError,
    read_profile,
    signed_content,
)
from intune_step.errors import ArtifactError
from intune_step.samples import build_ipa, build_mobileprovision

NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = datetime(2027, 6, 30, 12, 0, 0, tzinfo=UTC)
APP = "Payload/Demo.app"

# The OTA manifest template, printed over several lines (docs/protocol.md, "Content file and
# manifest"); the real payload has no newlines (leading indentation goes, the one space after
# </key> inside a line stays).
DOCUMENTED_OTA = """\
<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"><plist version="1.0"><dict>
  <key>items</key><array><dict>
    <key>assets</key><array><dict><key>kind</key><string>software-package</string><key>url</key><string>{UrlPlaceHolder}</string></dict></array>
    <key>metadata</key><dict>
      <key>AppRestrictionPolicyTemplate</key> <string>http://management.microsoft.com/PolicyTemplates/AppRestrictions/iOS/v1</string>
      <key>AppRestrictionTechnology</key><string>Windows Intune Application Restrictions Technology for iOS</string>
      <key>IntuneMAMVersion</key><string></string>
      <key>CFBundleSupportedPlatforms</key><array><string>iPhoneOS</string></array>
      <key>MinimumOSVersion</key><string>9.0</string>
      <key>bundle-identifier</key><string>{bundleId}</string>
      <key>bundle-version</key><string>{version}</string>
      <key>kind</key><string>software</string>
      <key>subtitle</key><string>LaunchMeSubtitle</string>
      <key>title</key><string>{displayName}</string>
    </dict></dict></array></dict></plist>"""  # noqa: E501


def documented_ota(bundle_id: str, version: str, title: str) -> bytes:
    one_line = "".join(line.lstrip() for line in DOCUMENTED_OTA.splitlines())
    filled = one_line.replace("{bundleId}", bundle_id).replace("{version}", version)
    return filled.replace("{displayName}", title).encode("ascii")


def make(tmp_path: Path, name: str = "Demo.ipa", **options: Any) -> Path:
    options.setdefault("expires", EXPIRES)
    return build_ipa(tmp_path / name, **options)


def info_plist_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"{APP}/Info.plist")


# --- the happy path --------------------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False], ids=["binary-plist", "xml-plist"])
def test_reads_every_field(tmp_path: Path, binary: bool) -> None:
    path = make(
        tmp_path,
        binary_plist=binary,
        bundle_id="com.contoso.myapp",
        version="3.0.0",
        build="1234",
        min_os="16.4",
    )
    assert info_plist_bytes(path).startswith(b"bplist00") is binary  # both forms really made

    meta = read_ipa(path, now=NOW)

    assert meta.app_type == "iosLobApp"
    assert meta.odata_type == "#microsoft.graph.iosLobApp"
    assert meta.file_name == "Demo.ipa"
    assert (meta.identity, meta.version, meta.build) == ("com.contoso.myapp", "3.0.0", "1234")
    assert meta.display_name == "Demo"
    assert meta.minimum_os == MinimumOs("ios", "16.4")
    assert minimum_os_flags(meta.minimum_os) == {"v16_0": True}
    assert meta.properties == {
        "bundleId": "com.contoso.myapp",
        "versionNumber": "3.0.0",
        "buildNumber": "1234",
        "expirationDateTime": "2027-06-30T12:00:00Z",
        "applicableDeviceType": {"iPad": True, "iPhoneAndIPod": True},
    }
    assert meta.content == PlainContent(path, path.stat().st_size)
    assert meta.details == {
        "infoPlist": "Payload/Demo.app/Info.plist",
        "deviceFamilies": [1, 2],
        "minimumOsVersion": "16.4",
        "expirationDateTime": "2027-06-30T12:00:00Z",
        "profileName": "Demo Ad Hoc",
        "teamName": "Example Corp",
        "teamIdentifier": "ABCDE12345",
    }


def test_registry_routes_ipa_here(tmp_path: Path) -> None:
    meta = read_artifact(make(tmp_path, expires=datetime.now(UTC) + timedelta(days=90)))
    assert meta.app_type == "iosLobApp"
    assert "warnings" not in meta.details


def test_decoy_plists_are_ignored(tmp_path: Path) -> None:
    path = make(tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    decoys = [n for n in names if n.endswith("/Info.plist") and n != f"{APP}/Info.plist"]
    assert len(decoys) == 3  # framework, app extension, Watch app: all nested in the .app
    meta = read_ipa(path, now=NOW)
    assert meta.identity == "com.example.demo"
    assert meta.version == "1.0.0"
    assert meta.details["deviceFamilies"] == [1, 2]  # decoys say [4]


@pytest.mark.parametrize(
    ("family", "ipad", "iphone"),
    [
        (1, False, True),
        (2, True, False),
        ((1, 2), True, True),
        ((2,), True, False),
        (None, False, True),  # absent: iPhone only
    ],
    ids=["int-1", "int-2", "list-1-2", "list-2", "absent"],
)
def test_device_family(tmp_path: Path, family: Any, ipad: bool, iphone: bool) -> None:
    meta = read_ipa(make(tmp_path, device_family=family), now=NOW)
    assert meta.properties["applicableDeviceType"] == {"iPad": ipad, "iPhoneAndIPod": iphone}


def test_device_family_as_digit_strings(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path, extra_info={"UIDeviceFamily": ["1", "2"]}), now=NOW)
    assert meta.properties["applicableDeviceType"] == {"iPad": True, "iPhoneAndIPod": True}


@pytest.mark.parametrize(
    "family", [3, 4, (3, 4), 7, ()], ids=["tv", "watch", "tv-watch", "vision", "empty"]
)
def test_a_family_without_iphone_or_ipad_is_refused(tmp_path: Path, family: Any) -> None:
    # Graph's applicableDeviceType would have no device: refused before anything is sent
    with pytest.raises(ArtifactError, match=r"names neither iPhone \(1\) nor iPad \(2\)") as caught:
        read_ipa(make(tmp_path, device_family=family), now=NOW)
    assert caught.value.exit_code == 2 and "TARGETED_DEVICE_FAMILY" in str(caught.value.fix)


@pytest.mark.parametrize(
    ("platforms", "named"),
    [
        (["AppleTVOS"], "tvOS"),
        (["WatchOS"], "watchOS"),
        (["XROS"], "visionOS"),
        (["iPhoneSimulator"], "the iOS Simulator"),
        (["MacOSX"], "macOS"),
        ([], "none"),
    ],
)
def test_a_build_for_another_apple_platform_is_refused(
    tmp_path: Path, platforms: list[str], named: str
) -> None:
    # a tvOS app carries UIDeviceFamily 3, but the platform alone already decides
    path = make(tmp_path, extra_info={"CFBundleSupportedPlatforms": platforms})
    with pytest.raises(ArtifactError, match=f"a build for {named}, not for iPhone or iPad"):
        read_ipa(path, now=NOW)


def test_ios_among_the_platforms_is_accepted(tmp_path: Path) -> None:
    both = make(tmp_path, extra_info={"CFBundleSupportedPlatforms": ["iPhoneOS", "XROS"]})
    assert read_ipa(both, now=NOW).identity == "com.example.demo"
    absent = make(tmp_path, "b.ipa", extra_info={"CFBundleSupportedPlatforms": None})
    assert read_ipa(absent, now=NOW).identity == "com.example.demo"


def test_publisher_is_the_profile_team_name(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path), now=NOW)
    assert meta.publisher == "Example Corp" == meta.details["teamName"]


def test_bad_device_family_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="UIDeviceFamily"):
        read_ipa(make(tmp_path, extra_info={"UIDeviceFamily": {"1": True}}), now=NOW)


def test_non_string_values_are_coerced(tmp_path: Path) -> None:
    path = make(tmp_path, extra_info={"CFBundleVersion": 1234, "CFBundleShortVersionString": 2.5})
    meta = read_ipa(path, now=NOW)
    assert (meta.version, meta.build) == ("2.5", "1234")
    assert meta.properties["buildNumber"] == "1234"


def test_missing_short_version_falls_back_to_build(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path, extra_info={"CFBundleShortVersionString": None}), now=NOW)
    assert (meta.version, meta.build) == ("1", "1")
    assert any("CFBundleShortVersionString" in w for w in meta.details["warnings"])


def test_display_name_falls_back_to_bundle_name(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path, display_name=None), now=NOW)
    assert meta.display_name == "Demo"  # CFBundleName


def test_no_display_name_titles_the_manifest_with_the_bundle_id(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path, display_name=None, extra_info={"CFBundleName": None}), now=NOW)
    assert meta.display_name is None
    assert meta.manifest == documented_ota("com.example.demo", "1.0.0", "com.example.demo")


@pytest.mark.parametrize("value", [None, "", "  "], ids=["absent", "empty", "blank"])
def test_missing_minimum_os_is_refused(tmp_path: Path, value: str | None) -> None:
    with pytest.raises(ArtifactError, match="no MinimumOSVersion") as caught:
        read_ipa(make(tmp_path, extra_info={"MinimumOSVersion": value}), now=NOW)
    assert "IPHONEOS_DEPLOYMENT_TARGET" in str(caught.value.fix)


def test_big_ipa_with_padding(tmp_path: Path) -> None:
    path = make(tmp_path, padding_bytes=3 * 1024 * 1024)
    assert path.stat().st_size > 3 * 1024 * 1024  # the padding did not compress away
    meta = read_ipa(path, now=NOW)
    assert meta.content.size == path.stat().st_size
    assert meta.identity == "com.example.demo"


# --- the content-file manifest ---------------------------------------------------------


def test_manifest_is_the_documented_template(tmp_path: Path) -> None:
    path = make(tmp_path, bundle_id="com.contoso.myapp", version="3.0.0", build="77")
    meta = read_ipa(path, now=NOW)
    assert meta.manifest == documented_ota("com.contoso.myapp", "3.0.0", "Demo")
    assert b"\n" not in meta.manifest
    assert b"</key> <string>http://management.microsoft.com" in meta.manifest
    ota = plistlib.loads(meta.manifest)
    metadata = ota["items"][0]["metadata"]
    assert metadata["bundle-identifier"] == "com.contoso.myapp"
    assert metadata["bundle-version"] == "3.0.0"
    assert metadata["title"] == "Demo"
    assert ota["items"][0]["assets"][0]["url"] == "{UrlPlaceHolder}"


def test_manifest_escapes_xml_and_stays_ascii(tmp_path: Path) -> None:
    title = "Tom & Jerry <Pro> 日本"
    meta = read_ipa(make(tmp_path, display_name=title, version="1.0 <beta>"), now=NOW)
    assert meta.manifest is not None
    meta.manifest.decode("ascii")  # non-ASCII went in as character references
    metadata = plistlib.loads(meta.manifest)["items"][0]["metadata"]
    assert metadata["title"] == title
    assert metadata["bundle-version"] == "1.0 <beta>"


# --- refusals --------------------------------------------------------------------------


def test_expired_profile_refused(tmp_path: Path) -> None:
    path = make(tmp_path, expires=datetime(2025, 12, 31, tzinfo=UTC))
    with pytest.raises(ArtifactError, match="expired on 2025-12-31T00:00:00Z") as caught:
        read_ipa(path, now=NOW)
    assert caught.value.fix is not None and "renew the provisioning profile" in caught.value.fix
    assert "re-sign" in caught.value.fix


def test_expired_against_the_real_clock(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="expired"):
        read_artifact(make(tmp_path, expires=datetime(2020, 1, 1, tzinfo=UTC)))


def test_profile_expiring_soon_warns(tmp_path: Path) -> None:
    meta = read_ipa(make(tmp_path, expires=NOW + timedelta(days=10)), now=NOW)
    assert any("30 days" in w for w in meta.details["warnings"])


def test_missing_profile_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="expirationDateTime") as caught:
        read_ipa(make(tmp_path, profile=False), now=NOW)
    assert caught.value.fix is not None and "embedded.mobileprovision" in caught.value.fix


def test_damaged_profile_refused(tmp_path: Path) -> None:
    path = make(tmp_path, profile=False)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(f"{APP}/embedded.mobileprovision", b"\x30\x82\xff\xff garbage")
    with pytest.raises(ArtifactError, match=r"embedded\.mobileprovision cannot be read"):
        read_ipa(path, now=NOW)


def test_two_apps_refused(tmp_path: Path) -> None:
    path = make(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("Payload/Other.app/Info.plist", info_plist_bytes(path))
    with pytest.raises(ArtifactError, match=r"2 apps \(Demo\.app, Other\.app\)"):
        read_ipa(path, now=NOW)


def test_no_app_refused(tmp_path: Path, write_zip: Callable[..., Path]) -> None:
    path = write_zip(tmp_path / "x.ipa", {"Payload/readme.txt": b"hi", "Demo.app/Info.plist": b""})
    with pytest.raises(ArtifactError, match=r"no Payload/<Name>\.app"):
        read_ipa(path, now=NOW)


def test_missing_info_plist_refused(tmp_path: Path, write_zip: Callable[..., Path]) -> None:
    path = write_zip(
        tmp_path / "x.ipa",
        {f"{APP}/Demo": b"\xcf\xfa\xed\xfe", f"{APP}/Frameworks/X.framework/Info.plist": b""},
    )
    with pytest.raises(ArtifactError, match=r"has no Info\.plist"):
        read_ipa(path, now=NOW)


def test_missing_bundle_id_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="no CFBundleIdentifier"):
        read_ipa(make(tmp_path, extra_info={"CFBundleIdentifier": None}), now=NOW)


@pytest.mark.parametrize(
    "plist", [b"not a plist", b"bplist00\xff\xff", b"<plist><array/></plist>", b""]
)
def test_unreadable_info_plist_refused(
    tmp_path: Path, write_zip: Callable[..., Path], plist: bytes
) -> None:
    path = write_zip(tmp_path / "x.ipa", {f"{APP}/Info.plist": plist})
    with pytest.raises(ArtifactError, match=r"Info\.plist"):
        read_ipa(path, now=NOW)


def test_truncated_zip_refused(tmp_path: Path) -> None:
    path = make(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="not a valid IPA"):
        read_ipa(path, now=NOW)


@pytest.mark.parametrize("content", [b"", b"\x00" * 64, b"%PDF-1.7 not a zip"])
def test_wrong_magic_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.ipa"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match="not a valid IPA"):
        read_ipa(path, now=NOW)


def test_path_traversal_refused(tmp_path: Path) -> None:
    path = make(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("Payload/../../etc/evil", b"x")
    with pytest.raises(ArtifactError, match="path traversal"):
        read_ipa(path, now=NOW)


def test_member_claiming_a_huge_size_refused(
    tmp_path: Path, claim_size: Callable[[Path, str, int], None]
) -> None:
    path = make(tmp_path)
    claim_size(path, f"{APP}/Info.plist", 0xFFFFFFF0)
    with pytest.raises(ArtifactError, match="claims 4294967280 bytes"):
        read_ipa(path, now=NOW)


# --- the provisioning-profile DER walker ------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    """DER: definite length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def ber(tag: int, *children: bytes) -> bytes:
    """BER: indefinite length, closed by end-of-contents."""
    return bytes([tag, 0x80]) + b"".join(children) + b"\x00\x00"


SIGNED_DATA = tlv(0x06, bytes.fromhex("2a864886f70d010702"))
DATA_OID = tlv(0x06, bytes.fromhex("2a864886f70d010701"))


def content_info(encap: bytes, oid: bytes = SIGNED_DATA) -> bytes:
    signed = ber(0x30, tlv(0x02, b"\x01"), tlv(0x31, b""), encap, tlv(0x31, b""))
    return ber(0x30, oid, ber(0xA0, signed))


def profile_plist(expires: datetime) -> bytes:
    naive = expires.astimezone(UTC).replace(tzinfo=None)
    return plistlib.dumps({"ExpirationDate": naive, "Name": "BER", "TeamIdentifier": ["T1"]})


def test_generated_profile_is_real_signed_data() -> None:
    der = build_mobileprovision(EXPIRES)
    assert der[:2] == b"\x30\x82"  # definite-length DER, like Apple's
    content = signed_content(der)
    assert content.startswith(b"<?xml") and content.rstrip().endswith(b"</plist>")
    profile = read_profile(der)
    assert profile.expiration == EXPIRES
    assert (profile.name, profile.team_name, profile.team_id) == (
        "Demo Ad Hoc",
        "Example Corp",
        "ABCDE12345",
    )


def test_ber_constructed_octet_string() -> None:
    plist = profile_plist(EXPIRES)
    chunks = [plist[i : i + 100] for i in range(0, len(plist), 100)]
    nested = ber(0x24, tlv(0x04, chunks[0]), ber(0x24, *(tlv(0x04, c) for c in chunks[1:])))
    der = content_info(ber(0x30, DATA_OID, ber(0xA0, nested)))
    assert signed_content(der) == plist
    assert read_profile(der).expiration == EXPIRES


def test_definite_constructed_octet_string() -> None:
    plist = profile_plist(EXPIRES)
    octets = tlv(0x24, tlv(0x04, plist[:7]) + tlv(0x04, plist[7:]))
    encap = tlv(0x30, DATA_OID + tlv(0xA0, octets))
    signed = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x31, b"") + encap)
    der = tlv(0x30, SIGNED_DATA + tlv(0xA0, signed))
    assert signed_content(der) == plist


def test_other_cms_type_refused() -> None:
    enveloped = tlv(0x06, bytes.fromhex("2a864886f70d010703"))
    der = content_info(ber(0x30, DATA_OID, ber(0xA0, tlv(0x04, b"x"))), oid=enveloped)
    with pytest.raises(ProfileError, match="not SignedData"):
        signed_content(der)


def test_detached_content_refused() -> None:
    with pytest.raises(ProfileError, match="detached"):
        signed_content(content_info(ber(0x30, DATA_OID)))


def test_profile_without_expiration_refused() -> None:
    der = content_info(ber(0x30, DATA_OID, ber(0xA0, tlv(0x04, plistlib.dumps({"Name": "x"})))))
    with pytest.raises(ProfileError, match="no ExpirationDate"):
        read_profile(der)


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"<?xml version='1.0'?><plist/>",
        b"\x30\x80" * (MAX_NESTING + 5),  # deep BER nesting: no RecursionError
        b"\x30\x85\x01\x02\x03\x04\x05",  # a 5-byte length
        b"\x30\x84\xff\xff\xff\xff",  # a length past the end
        b"\x04\x80\x00\x00",  # indefinite length on a primitive
        b"\x30\x80\x30\x00",  # no end-of-contents
        b"\x1f\x81\x01\x00",  # high tag number
    ],
)
def test_malformed_der_refused(der: bytes) -> None:
    with pytest.raises(ArtifactError):
        read_profile(der)


def test_der_walker_fuzz(fuzz: Callable[..., int]) -> None:
    seeds = [build_mobileprovision(EXPIRES)]
    plist = profile_plist(EXPIRES)
    seeds.append(content_info(ber(0x30, DATA_OID, ber(0xA0, ber(0x24, tlv(0x04, plist))))))
    assert fuzz(seeds[0], read_profile) + fuzz(seeds[1], read_profile) > 100
