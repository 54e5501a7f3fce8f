"""bundle-id/bundle-version, macos-app-type and properties over what the file says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.config.options import PublishOptions, build_options
from intune_step.errors import ArtifactError, BadInputError, SettingsError
from intune_step.graph.bodies import merge_properties
from intune_step.publish.prepare import prepare
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin

REPO = Path(__file__).resolve().parents[3]
REAL_DMG = REPO / "tests" / "fixtures" / "macos" / "hfsplus_zlib.dmg"
MSI = REPO / "tests" / "fixtures" / "windows" / "demo.msi"


def options(path: Path, **inputs: str) -> PublishOptions:
    raw = {"file": str(path), **{k.replace("_", "-"): v for k, v in inputs.items()}}
    return build_options(raw, path.parent)


def test_an_unreadable_image_is_published_from_bundle_id_and_version(tmp_path: Path) -> None:
    image = tmp_path / "image.dmg"
    shutil.copy(REAL_DMG, image)
    with pytest.raises(MetadataUnreadableError, match=r"no \.app was found"):
        prepare(options(image))
    with pytest.raises(ArtifactError, match="bundle-version must be given too"):
        prepare(options(image, bundle_id="com.contoso.tools"))
    warnings: list[str] = []
    meta = prepare(options(image, bundle_id="com.contoso.tools", bundle_version="1.0.3"),
                   warn=warnings.append)
    assert (meta.app_type, meta.identity, meta.version) == ("macOSDmgApp", "com.contoso.tools",
                                                           "1.0.3")
    assert meta.properties["includedApps"] == [{
        "@odata.type": "#microsoft.graph.macOSIncludedApp", "bundleId": "com.contoso.tools",
        "bundleVersion": "1.0.3"}]
    assert meta.content.size == image.stat().st_size
    (warning,) = warnings
    assert "no .app was found" in warning and "bundle-id com.contoso.tools" in warning


def test_a_bundle_less_pkg_keeps_what_its_distribution_says(tmp_path: Path) -> None:
    pkg = build_pkg(tmp_path / "tool.pkg", bundle_id="com.contoso.tool", version="3.0",
                    min_os="13.0", shape="nobundle")
    meta = prepare(options(pkg, bundle_id="com.contoso.tool", bundle_version="3.0"))
    assert meta.app_type == "macOSPkgApp" and meta.minimum_os is not None
    assert meta.minimum_os.version == "13.0" and meta.display_name == "Demo"


def test_a_damaged_container_stays_refused_with_overrides(tmp_path: Path) -> None:
    image = tmp_path / "bad.dmg"
    image.write_bytes(bytes(4096))
    with pytest.raises(ArtifactError, match="not a UDIF disk image") as caught:
        prepare(options(image, bundle_id="com.x", bundle_version="1"))
    assert not isinstance(caught.value, MetadataUnreadableError)


def test_bundle_id_over_a_readable_image_picks_the_primary(tmp_path: Path) -> None:
    image = build_dmg(tmp_path / "Suite.dmg", apps={
        "Suite.app": info_plist("com.x.suite", "4.0", "12.0"),
        "Helper.app": info_plist("com.x.helper", "1.1", "12.0")})
    meta = prepare(options(image, bundle_id="com.x.helper"))
    assert (meta.identity, meta.version) == ("com.x.helper", "1.1")
    assert [a["bundleId"] for a in meta.properties["includedApps"]] == ["com.x.helper",
                                                                        "com.x.suite"]
    meta = prepare(options(image, bundle_version="4.0.1"))
    assert meta.properties["primaryBundleVersion"] == "4.0.1" and meta.build is None
    with pytest.raises(SettingsError, match="not among the apps"):
        prepare(options(image, bundle_id="com.x.other"))
    other = prepare(options(image, bundle_id="com.x.other", bundle_version="9"))
    assert [a["bundleId"] for a in other.properties["includedApps"]] == [
        "com.x.other", "com.x.suite", "com.x.helper"]


def test_macos_app_type_lob_turns_a_pkg_into_a_macos_lob_app(tmp_path: Path) -> None:
    pkg = build_pkg(tmp_path / "Demo.pkg", bundle_id="com.contoso.demo", version="2.5.1",
                    min_os="12.0")
    meta = prepare(options(pkg, macos_app_type="lob"))
    assert meta.app_type == "macOSLobApp"
    assert meta.properties == {
        "bundleId": "com.contoso.demo", "buildNumber": "2.5.1", "versionNumber": "251",
        "childApps": [{"@odata.type": "#microsoft.graph.macOSLobChildApp",
                       "bundleId": "com.contoso.demo", "buildNumber": "2.5.1",
                       "versionNumber": "251"}],
        "ignoreVersionDetection": False, "installAsManaged": False}
    assert prepare(options(pkg, macos_app_type="PKG")).app_type == "macOSPkgApp"
    with pytest.raises(SettingsError, match="exists only in Graph beta"):
        prepare(options(pkg), graph_version="v1.0")
    assert prepare(options(pkg, macos_app_type="lob"), graph_version="v1.0").app_type == (
        "macOSLobApp")


def test_inputs_that_cannot_apply_are_refused(tmp_path: Path) -> None:
    msi = tmp_path / "demo.msi"
    shutil.copy(MSI, msi)
    with pytest.raises(SettingsError, match=r"win32 input applies to \.intunewin"):
        prepare(options(msi, win32="install-command: x"))
    with pytest.raises(SettingsError, match=r"apply to \.pkg and \.dmg files, not demo\.msi"):
        prepare(options(msi, bundle_id="com.x"))
    image = build_dmg(tmp_path / "a.dmg", apps={"A.app": info_plist("com.a", "1", "12.0")})
    with pytest.raises(SettingsError, match=r"lob applies to \.pkg files, not a\.dmg"):
        prepare(options(image, macos_app_type="lob"))


def test_an_exe_package_is_refused_before_anything_and_accepted_on_update(
        tmp_path: Path) -> None:
    build_intunewin(tmp_path / "t.intunewin", setup_file="setup.exe", files={"setup.exe": b"MZ"},
                    name="Tool")
    with pytest.raises(BadInputError, match=r"setup\.exe is not an MSI"):
        prepare(options(tmp_path / "t.intunewin"))
    update = options(tmp_path / "t.intunewin", app_id="aaaaaaaa-2222-3333-4444-555555555555")
    assert prepare(update).app_type == "win32LobApp"


def test_a_win32_version_is_its_display_version(tmp_path: Path) -> None:
    """The version output follows the displayVersion the app gets: the input, else the MSI's."""
    build_intunewin(tmp_path / "t.intunewin", setup_file="setup.exe", files={"setup.exe": b"MZ"},
                    name="Tool")
    app_id = "aaaaaaaa-2222-3333-4444-555555555555"
    assert prepare(options(tmp_path / "t.intunewin", app_id=app_id)).version == ""
    given = options(tmp_path / "t.intunewin", app_id=app_id, win32="display-version: '3.1.0'")
    assert prepare(given).version == "3.1.0"
    build_intunewin(tmp_path / "m.intunewin", setup_file="demo.msi",
                    files={"demo.msi": MSI.read_bytes()}, name="Demo",
                    msi_info={"MsiProductCode": "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}",
                              "MsiProductVersion": "1.4.2"})
    assert prepare(options(tmp_path / "m.intunewin")).version == "1.4.2"
    over = options(tmp_path / "m.intunewin", win32="display-version: 1.4.2-hotfix")
    assert prepare(over).version == "1.4.2-hotfix"


def test_option_parsing(tmp_path: Path) -> None:
    (tmp_path / "app.pkg").write_bytes(b"xar!")

    def parse(**inputs: str) -> PublishOptions:
        return options(tmp_path / "app.pkg", **inputs)

    parsed = parse(bundle_id=" com.contoso.app ", macos_app_type="lob",
                   properties="owner: Mobile team\ninformationUrl: null")
    assert parsed.bundle_id == "com.contoso.app" and parsed.macos_app_type == "lob"
    assert parsed.properties == {"owner": "Mobile team", "informationUrl": None}
    assert parse().macos_app_type == "pkg"
    for inputs, message in [
        ({"bundle_id": "com contoso"}, "is not a bundle identifier"),
        ({"macos_app_type": "managed"}, "must be pkg or lob"),
        ({"properties": "'@odata.type': x"}, "cannot set @odata.type"),
        ({"properties": "committedContentVersion: '2'"}, "cannot set committedContentVersion"),
        ({"properties": "just text"}, "must be a YAML mapping"),
        ({"properties": "1: x"}, "a key that is not text"),
        ({"properties": "@"}, "'@' without a path"),
    ]:
        with pytest.raises(SettingsError, match=message):
            parse(**inputs)
    (tmp_path / "props.yml").write_text("developer: Contoso\n")
    assert parse(properties="@props.yml").properties == {"developer": "Contoso"}
    (tmp_path / "big.yml").write_text("a: " + "x" * 300_000)
    with pytest.raises(SettingsError, match="larger than"):
        parse(properties="@big.yml")


def test_properties_replace_fields_key_by_key() -> None:
    body = {"notes": "", "minimumSupportedOperatingSystem": {"v10_7": True}, "owner": ""}
    merged = merge_properties(body, {"minimumSupportedOperatingSystem": {"v13_0": True},
                                     "owner": "Mobile"})
    assert merged == {"notes": "", "minimumSupportedOperatingSystem": {"v13_0": True},
                      "owner": "Mobile"}
