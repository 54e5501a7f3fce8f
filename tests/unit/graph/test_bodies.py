"""Graph bodies per Windows and macOS type: what the create, update and content-file calls send.

Every create body is also put through the emulator's create-time rules (the required
properties of each type: docs/protocol.md, "App types" and "What the emulator reproduces").
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from intune_step.config.options import PublishOptions, build_options
from intune_step.config.settings import Settings, build_settings
from intune_step.emulator.apptypes import validate_new_app, validate_update
from intune_step.errors import SettingsError
from intune_step.graph.bodies import app_body, content_file_body, update_body
from intune_step.publish.prepare import prepare
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix

REPO = Path(__file__).resolve().parents[3]
MSI = REPO / "tests" / "fixtures" / "windows" / "demo.msi"
CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"
CREDENTIALS = {"client-id": "11111111-2222-3333-4444-555555555555", "client-secret": "x" * 8,
               "auth-url": "https://login.microsoftonline.com/t1/oauth2/v2.0/token"}


def settings(version: str = "beta") -> Settings:
    return build_settings({**CREDENTIALS, "graph-version": version, "setting-name": "CI"})


def options(path: Path, **inputs: str) -> PublishOptions:
    return build_options({"file": str(path), **{k.replace("_", "-"): v
                                                 for k, v in inputs.items()}}, path.parent)


def make(tmp_path: Path, kind: str) -> Path:
    if kind == "msi":
        shutil.copy(MSI, tmp_path / "demo.msi")
        return tmp_path / "demo.msi"
    if kind in ("msix", "msixbundle"):
        return build_msix(tmp_path / f"a.{kind}", name="Contoso.A", version="1.0.0.0",
                          publisher="CN=Contoso", arch="x64,x86", min_version="10.0.19041.0",
                          bundle=kind == "msixbundle")
    if kind == "intunewin":
        build_intunewin(tmp_path / "a.intunewin", setup_file="demo.msi",
                        files={"demo.msi": MSI.read_bytes()}, name="Contoso Demo",
                        msi_info={"MsiProductCode": CODE, "MsiProductVersion": "1.4.2"})
        return tmp_path / "a.intunewin"
    if kind == "exe":
        build_intunewin(tmp_path / "e.intunewin", setup_file="setup.exe",
                        files={"setup.exe": b"MZ"}, name="Tool")
        return tmp_path / "e.intunewin"
    if kind == "ipa":
        return build_ipa(tmp_path / "a.ipa", bundle_id="com.x.a", version="2.1", build="21")
    if kind == "apk":
        return build_apk(tmp_path / "a.apk", package="com.x.a", version_code=21,
                         version_name="2.1")
    if kind == "pkg":
        return build_pkg(tmp_path / "a.pkg", bundle_id="com.x.a", version="1.2", min_os="11.0")
    return build_dmg(tmp_path / "a.dmg", apps={"A.app": info_plist("com.x.a", "1.2", "14.1")})


@pytest.mark.parametrize("version", ["beta", "v1.0"])
@pytest.mark.parametrize(
    ("kind", "inputs", "odata"),
    [
        ("ipa", {}, "iosLobApp"),
        ("apk", {}, "androidLobApp"),
        ("msi", {}, "windowsMobileMSI"),
        ("msix", {}, "windowsUniversalAppX"),
        ("msixbundle", {}, "windowsUniversalAppX"),
        ("intunewin", {}, "win32LobApp"),
        ("exe", {"win32": "install-command: a\nuninstall-command: b\ndetection-rules:\n"
                          "  - registry: {key: 'HKLM\\SOFTWARE\\X'}"}, "win32LobApp"),
        ("pkg", {}, "macOSPkgApp"),
        ("pkg", {"macos_app_type": "lob"}, "macOSLobApp"),
        ("dmg", {}, "macOSDmgApp"),
    ],
)
def test_every_create_and_update_body_passes_the_emulators_rules(
        tmp_path: Path, kind: str, inputs: dict[str, str], odata: str, version: str) -> None:
    """The bodies the step builds are the ones Graph's models (schema.py) and Intune's
    required properties (requirements.py) accept, in the Graph version they are sent to."""
    opts = options(make(tmp_path, kind), **inputs)
    if odata == "macOSPkgApp" and version == "v1.0":  # beta-only: refused before sign-in
        with pytest.raises(SettingsError, match="only in Graph beta"):
            prepare(opts, graph_version=version)
        return
    meta = prepare(opts, graph_version=version)
    body = app_body(meta, opts, settings(version))
    assert body["@odata.type"] == f"#microsoft.graph.{odata}"
    assert validate_new_app(odata, body, version) is None, body
    update = update_body(meta, opts, settings(version))
    assert validate_update(odata, update, version) is None, update
    if odata not in ("win32LobApp", "windowsMobileMSI"):  # neither has the flag object
        flags = body["minimumSupportedOperatingSystem"]
        assert sum(1 for k, v in flags.items() if not k.startswith("@") and v) == 1


def test_windows_type_fields(tmp_path: Path) -> None:
    msi = app_body(prepare(options(make(tmp_path, "msi"))), options(make(tmp_path, "msi")),
                   settings())
    assert (msi["productCode"], msi["productVersion"], msi["identityVersion"]) == (
        CODE, "1.4.2", "1.4.2")
    assert msi["useDeviceContext"] is True and "minimumSupportedOperatingSystem" not in msi
    appx_opts = options(make(tmp_path, "msixbundle"))
    appx = app_body(prepare(appx_opts), appx_opts, settings())
    assert appx["isBundle"] is True and appx["applicableArchitectures"] == "x86,x64"
    assert appx["minimumSupportedOperatingSystem"] == {"v10_2004": True}  # build 19041
    # a manifest without MinVersion still gets the one flag Intune wants: Windows 10
    meta = dataclasses.replace(prepare(appx_opts), minimum_os=None)
    assert app_body(meta, appx_opts, settings())["minimumSupportedOperatingSystem"] == {
        "v10_0": True}


def test_win32_bodies(tmp_path: Path) -> None:
    opts = options(make(tmp_path, "intunewin"), publisher="Contoso IT")
    meta = prepare(opts)
    body = app_body(meta, opts, settings())
    for key in ("fileName", "setupFilePath", "installCommandLine", "uninstallCommandLine",
                "installExperience", "returnCodes", "rules", "applicableArchitectures",
                "minimumSupportedWindowsRelease", "msiInformation", "displayVersion"):
        assert key in body, key
    assert body["fileName"] == "a.intunewin" and body["publisher"] == "Contoso IT"
    assert "minimumSupportedOperatingSystem" not in body and "detectionRules" not in body
    update = update_body(meta, opts, settings())
    assert update["rules"] == body["rules"] and update["publisher"] == "Contoso IT"
    assert "returnCodes" not in update and "displayName" not in update  # not given: kept
    content = content_file_body(meta)
    assert content["name"] == "a.intunewin" and content["manifest"] is None
    assert content["size"] == meta.content.size and content["sizeEncrypted"] == (
        meta.content.size_encrypted)
    assert content["size"] < content["sizeEncrypted"]
    exe = options(make(tmp_path, "exe"), app_id="aaaaaaaa-2222-3333-4444-555555555555")
    exe_update = update_body(prepare(exe), exe, settings())
    assert "rules" not in exe_update and "installCommandLine" not in exe_update
    assert exe_update["setupFilePath"] == "setup.exe" and exe_update["msiInformation"] is None


def test_macos_minimum_os_defaults_to_the_lowest_flag(tmp_path: Path) -> None:
    component = build_pkg(tmp_path / "c.pkg", bundle_id="com.x.c", version="1", min_os="11.0",
                          shape="component")
    opts = options(component)
    for version in ("beta", "v1.0"):
        body = app_body(prepare(opts, graph_version="beta"), opts, settings(version))
        assert body["minimumSupportedOperatingSystem"] == {
            "@odata.type": "#microsoft.graph.macOSMinimumOperatingSystem", "v10_7": True}
    dmg_opts = options(make(tmp_path, "dmg"))
    assert app_body(prepare(dmg_opts), dmg_opts, settings())[
        "minimumSupportedOperatingSystem"]["v14_0"] is True  # LSMinimumSystemVersion 14.1


def test_properties_are_merged_last(tmp_path: Path) -> None:
    opts = options(make(tmp_path, "pkg"), description="From input", properties=(
        "description: From properties\nminimumSupportedOperatingSystem: {v13_0: true}\n"
        "ignoreVersionDetection: true\nroleScopeTagIds: ['0', '7']"))
    meta = prepare(opts)
    body = app_body(meta, opts, settings())
    assert body["description"] == "From properties"
    assert body["minimumSupportedOperatingSystem"] == {"v13_0": True}  # replaced, not merged
    assert body["ignoreVersionDetection"] is True and body["roleScopeTagIds"] == ["0", "7"]
    assert body["primaryBundleId"] == "com.x.a"
    update = update_body(meta, opts, settings())
    assert update["ignoreVersionDetection"] is True and update["description"] == (
        "From properties")


# --- publisher and description defaults ---------------------------------------------------


def _named(setting_name: str | None) -> Settings:
    raw = {**CREDENTIALS, **({"setting-name": setting_name} if setting_name else {})}
    return build_settings(raw)


@pytest.mark.parametrize(
    ("given", "in_file", "setting_name", "expected"),
    [
        ("Input Co", "File Co", "CI", "Input Co"),  # the input over everything
        (None, "File Co", "CI", "File Co"),  # then what the file says
        (None, None, "CI", "CI"),  # then a setting that was named
        (None, None, None, "Unknown publisher"),  # never the literal "default"
        (None, None, "default", "Unknown publisher"),
    ],
)
def test_publisher_precedence(tmp_path: Path, given: str | None, in_file: str | None,
                              setting_name: str | None, expected: str) -> None:
    opts = options(make(tmp_path, "intunewin"), **({"publisher": given} if given else {}))
    meta = dataclasses.replace(prepare(opts), publisher=in_file)
    body = app_body(meta, opts, _named(setting_name))
    assert body["publisher"] == expected
    update = update_body(meta, opts, _named(setting_name))
    assert update.get("publisher") == given  # an update sets only what the user gave


def test_description_defaults_to_name_and_identity(tmp_path: Path) -> None:
    opts = options(make(tmp_path, "msix"))
    body = app_body(prepare(opts), opts, settings())
    assert body["displayName"] == "Demo"
    assert body["description"] == "Demo (Contoso.A), published by intune-step"
    named = options(make(tmp_path, "msix"), display_name="Notes", description="Given")
    assert app_body(prepare(named), named, settings())["description"] == "Given"
    assert "description" not in update_body(prepare(opts), opts, settings())
