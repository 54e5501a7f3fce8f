"""Real files made by other toolchains, read by the project and by an independent reader.

Each corpus file goes through ``read_artifact``, the entry `inspect` and a run use. It is either
read, and then the raw fields must be what the independent reader finds (package, versions,
minimum OS, identity; not the chosen display name or publisher, whose defaults are a policy of
their own), or refused as tests/realworld/expected.py lists, with exit 2, for the reason given
there, which the independent reader confirms. Where the two readers differ by design, the
comparison below says so next to the field.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.base import AppMetadata, EncryptedContent, MetadataUnreadableError
from intune_step.artifacts.ipa import read_ipa
from intune_step.crypto import b64
from intune_step.errors import EXIT_BAD_INPUT, IntuneStepError

from . import readers
from .corpus import FIXTURES, Entry, entries, present
from .expected import APK_READER, EXPECTED, Expired, Pending, Refused

CORPUS = present()


def outcome(path: Path) -> AppMetadata | IntuneStepError:
    try:
        return read_artifact(path)
    except IntuneStepError as exc:
        return exc


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.file)
def test_read_or_refused_as_expected(entry: Entry) -> None:
    path = entry.location
    result = outcome(path)
    expected = EXPECTED.get(entry.file)
    if isinstance(result, IntuneStepError):
        assert expected is not None, f"refused, but it should be read: {result.one_line()}"
        check_refusal(entry, result, expected)
        if isinstance(expected, Expired):
            profile = readers.ipa(path).profile
            assert profile is not None
            assert profile["ExpirationDate"].strftime("%Y-%m-%dT%H:%M:%S") in result.message
            compare(entry, read_as_when_made(path))
        return
    assert expected is None or isinstance(expected, Pending), (
        f"read, but it should be refused: {expected.why}"
    )
    compare(entry, result)


APKS_READ = [e for e in CORPUS if e.kind == "apk" and e.file not in EXPECTED]


@pytest.mark.parametrize("entry", APKS_READ, ids=lambda e: e.file)
def test_apk_second_opinion_from_apkinspector(entry: Entry) -> None:
    """A second, unrelated AXML parser on every APK that is read."""
    compare_apk(entry.location, read_artifact(entry.location), "apkInspector")


def check_refusal(entry: Entry, error: IntuneStepError, expected: Refused) -> None:
    line = error.one_line()
    assert error.exit_code == EXIT_BAD_INPUT, line
    assert "\n" not in line and error.fix, line  # one line, naming the fix
    assert any(text in line for text in expected.says), (line, expected.says)
    assert isinstance(error, MetadataUnreadableError) == expected.unreadable, line
    assert expected.witness(entry.location), f"the independent reader disagrees: {expected.why}"


def read_as_when_made(path: Path) -> AppMetadata:
    """An expired IPA read as of its profile's CreationDate, when it was valid."""
    profile = readers.ipa(path).profile
    assert profile is not None
    return read_ipa(path, now=profile["CreationDate"].replace(tzinfo=UTC) + timedelta(hours=1))


def compare(entry: Entry, meta: AppMetadata) -> None:
    apk_reader = APK_READER.get(entry.file, ("pyaxmlparser", ""))[0]
    if entry.kind == "apk":
        compare_apk(entry.location, meta, apk_reader)
    else:
        COMPARE[entry.kind](entry.location, meta)


# --- per type ------------------------------------------------------------------------------


def compare_apk(path: Path, meta: AppMetadata, reader: str = "pyaxmlparser") -> None:
    theirs = readers.apk(path, reader=reader)
    warnings = " ".join(meta.details.get("warnings", []))
    assert meta.app_type == "androidLobApp"
    assert meta.identity == theirs.package
    assert meta.properties["packageId"] == theirs.package
    # An absent versionCode is 0 to Android; the project says so in a warning.
    assert meta.build == (theirs.version_code or "0")
    assert (theirs.version_code is None) == ("versionCode is absent" in warnings)
    # An absent versionName: the project publishes the versionCode instead, and warns.
    assert meta.version == (theirs.version_name or meta.build)
    assert (theirs.version_name is None) == ("versionName is absent" in warnings)
    # An absent minSdkVersion means API level 1 (the <uses-sdk> documentation's default).
    assert meta.details["minSdk"] == int(theirs.min_sdk or 1)
    assert meta.minimum_os is not None and meta.minimum_os.platform == "android"
    # The raw label: a literal, or a resource reference ("@0x7f020000" here, "@7F020000" there).
    ours = meta.details["label"]
    if ours is not None and ours.startswith("@0x"):
        ours = "@" + ours[3:].upper()
    assert ours == theirs.label


def compare_ipa(path: Path, meta: AppMetadata) -> None:
    facts = readers.ipa(path)
    assert facts.info is not None
    info = facts.info
    assert meta.app_type == "iosLobApp"
    assert meta.identity == info["CFBundleIdentifier"]
    assert meta.version == info.get("CFBundleShortVersionString", info.get("CFBundleVersion"))
    assert meta.build == info.get("CFBundleVersion")
    assert meta.minimum_os is not None
    assert meta.minimum_os.version == info["MinimumOSVersion"]
    assert meta.properties["bundleId"] == info["CFBundleIdentifier"]
    devices = meta.properties["applicableDeviceType"]
    families = set(info.get("UIDeviceFamily", [1]))
    assert (devices["iPhoneAndIPod"], devices["iPad"]) == (1 in families, 2 in families)
    if facts.profile is not None:
        expiry = facts.profile["ExpirationDate"].replace(tzinfo=UTC)
        assert meta.properties["expirationDateTime"].startswith(expiry.strftime("%Y-%m-%dT%H:%M"))


def compare_msi(path: Path, meta: AppMetadata) -> None:
    props = readers.msi_properties(path)
    summary = readers.msi_summary(path)
    assert meta.app_type == "windowsMobileMSI"
    assert meta.identity == props["ProductCode"]
    assert meta.properties["productCode"] == props["ProductCode"]
    assert meta.properties["productVersion"] == props["ProductVersion"]
    assert meta.version == props["ProductVersion"]
    assert meta.details["upgradeCode"] == props.get("UpgradeCode")
    # ProductName and Manufacturer are the MSI's own name and publisher fields.
    assert meta.display_name == props["ProductName"]
    assert meta.publisher == props.get("Manufacturer")
    # The package code is the summary's revision number. ALLUSERS: absent is a per-user
    # install, 1 per machine (2 depends on the installing user, so it is not compared).
    assert meta.details["packageCode"] == summary["Revision number (UUID)"]
    allusers = props.get("ALLUSERS")
    if allusers in (None, "1"):
        assert meta.details["packageType"] == ("perUser" if allusers is None else "perMachine")


def compare_msix(path: Path, meta: AppMetadata) -> None:
    facts = readers.msix(path)
    assert meta.app_type == "windowsUniversalAppX"
    assert meta.identity == facts.name == meta.properties["identityName"]
    assert meta.version == facts.version == meta.properties["identityVersion"]
    assert meta.properties["isBundle"] is facts.is_bundle
    assert meta.details["publisherDn"] == facts.publisher
    assert meta.properties["identityPublisherHash"] == readers.package_family_publisher_id(
        facts.publisher
    )
    # Graph's architecture flags; others (e.g. x86a64) count as neutral.
    known = {"x86", "x64", "arm", "arm64"}
    theirs = {a if a in known else "neutral" for a in facts.architectures}
    assert set(meta.properties["applicableArchitectures"].split(",")) == theirs
    windows = [v for n, v in facts.families if n.lower().startswith(("windows.", "windows8."))]
    minimum = min(windows, key=lambda v: tuple(int(p) for p in v.split("."))) if windows else None
    assert (meta.minimum_os.version if meta.minimum_os else None) == minimum
    # Literal Properties only: an ms-resource: reference is text in resources.pri.
    literal = (
        facts.display_name if not (facts.display_name or "").startswith("ms-resource:") else None
    )
    assert meta.display_name == literal


def compare_intunewin(path: Path, meta: AppMetadata) -> None:
    facts = readers.intunewin(path)
    assert facts["mac_ok"] and facts["digest_ok"], "the package's own MAC and digest"
    assert meta.app_type == "win32LobApp"
    assert isinstance(meta.content, EncryptedContent)
    assert meta.content.size == int(facts["UnencryptedContentSize"]) == facts["plain_size"]
    assert meta.content.size_encrypted == facts["encrypted_size"]
    info = meta.content.encryption_info
    assert (b64(info.encryption_key), b64(info.mac_key), b64(info.initialization_vector)) == (
        facts["EncryptionKey"],
        facts["MacKey"],
        facts["InitializationVector"],
    )
    assert (b64(info.mac), b64(info.file_digest)) == (facts["Mac"], facts["FileDigest"])
    assert meta.properties["setupFilePath"] == facts["SetupFile"]
    # The app's fileName is the package as given (as the admin center shows an upload); the
    # payload inside keeps the name Detection.xml gives it.
    assert meta.properties["fileName"] == path.name
    assert meta.details["payloadName"] == facts["FileName"]
    assert meta.display_name == facts["Name"]


def compare_pkg(path: Path, meta: AppMetadata) -> None:
    facts = readers.pkg(path)
    assert meta.app_type in ("macOSPkgApp", "macOSLobApp")
    versions: dict[str, set[str]] = {}
    for bundle in facts.bundles:
        found = {bundle.get("CFBundleShortVersionString"), bundle.get("CFBundleVersion")}
        versions.setdefault(bundle["id"], set()).update(v for v in found if v)
    assert meta.identity in versions
    for app in meta.properties["includedApps"]:
        assert app["bundleVersion"] in versions[app["bundleId"]], app
    assert meta.version in versions[meta.identity]
    assert (meta.minimum_os.version if meta.minimum_os else None) == facts.min_os


def compare_dmg(path: Path, meta: AppMetadata) -> None:
    facts = readers.dmg(path)
    assert meta.app_type == "macOSDmgApp"
    theirs = {
        info["CFBundleIdentifier"]: info.get(
            "CFBundleShortVersionString", info.get("CFBundleVersion")
        )
        for info in facts.apps.values()
    }
    ours = {app["bundleId"]: app["bundleVersion"] for app in meta.properties["includedApps"]}
    assert ours == theirs
    assert meta.identity in theirs
    assert meta.version == theirs[meta.identity]
    primary = next(i for i in facts.apps.values() if i["CFBundleIdentifier"] == meta.identity)
    assert (meta.minimum_os.version if meta.minimum_os else None) == primary.get(
        "LSMinimumSystemVersion"
    )


COMPARE: dict[str, Callable[[Path, AppMetadata], None]] = {
    "apk": compare_apk,
    "ipa": compare_ipa,
    "msi": compare_msi,
    "msix": compare_msix,
    "intunewin": compare_intunewin,
    "pkg": compare_pkg,
    "dmg": compare_dmg,
}


# --- the corpus itself ---------------------------------------------------------------------


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.file)
def test_file_is_the_one_recorded(entry: Entry) -> None:
    data = entry.location.read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.size, entry.sha256)


def test_every_expectation_names_a_corpus_file() -> None:
    files = {e.file for e in entries()}
    assert set(EXPECTED) <= files
    assert set(APK_READER) <= files


def test_manifest_rows_are_complete() -> None:
    rows = entries()
    assert len({r.file for r in rows}) == len(rows)
    assert len({r.sha256 for r in rows}) == len(rows), "the same bytes twice"
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row.sha256), row
        assert re.fullmatch(r"[0-9a-f]{40}", row.commit), row
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", row.project), row
        assert row.licence and row.what and row.path, row


def test_no_unlisted_file_in_the_corpus_folder() -> None:
    listed = {e.location for e in entries()}
    folders = {e.location.parent for e in entries() if e.file.startswith("realworld/")}
    extra = [p for f in folders if f.is_dir() for p in f.iterdir() if p not in listed]
    assert extra == [], "add them to MANIFEST.csv with their origin and licence"


def test_corpus_breadth() -> None:
    """The corpus the manifest describes: 60+ files from 15+ projects, every type covered."""
    rows = entries()
    assert len(rows) >= 60
    assert len({r.project for r in rows}) >= 15
    assert {r.kind for r in rows} == {"apk", "ipa", "msi", "msix", "intunewin", "pkg", "dmg"}


def test_corpus_is_in_this_checkout() -> None:
    missing = [e.file for e in entries() if not e.location.is_file()]
    if missing:
        pytest.skip(
            f"{len(missing)} of {len(entries())} corpus files are not in this checkout "
            f"(first: {missing[0]}); set INTUNE_REALWORLD_DIR to a copy of the corpus folder"
        )


def test_fixtures_folder_is_where_the_manifest_says() -> None:
    assert (FIXTURES / "third_party").is_dir() and (FIXTURES / "realworld").is_dir()
