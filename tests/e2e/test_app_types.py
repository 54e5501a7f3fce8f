"""Every Windows and macOS app type, published from real bytes through the real entry points.

Each run is `python entrypoint.py` (or the CLI) over TLS into the emulator, which validates
each type's required properties at create time and decrypts what was committed. For a
.intunewin the committed content must be the inner payload exactly as packaged (decrypted with
Detection.xml's keys here); for every other type it must be the artifact's own bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from intune_step.crypto import FileEncryptionInfo, decrypt_blob
from intune_step.emulator import Emulator
from intune_step.samples.apfs import build_apfs_dmg
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix
from tests.artifacts.signing import certificate, der

from .conftest import FIXTURES, Run, run_cli, run_entrypoint
from .test_failures import error_lines

MSI = FIXTURES / "windows" / "demo.msi"
REAL_DMG = FIXTURES / "macos" / "hfsplus_zlib.dmg"
MSI_CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"  # tests/fixtures/windows/README.md
PUBLISHER_DN = "CN=Contoso Ltd, O=Contoso Ltd, L=Redmond, S=Washington, C=US"
MSI_INFO = {
    "MsiProductCode": MSI_CODE,
    "MsiProductVersion": "1.4.2",
    "MsiUpgradeCode": "{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}",
    "MsiExecutionContext": "System",
    "MsiRequiresReboot": "true",
    "MsiPublisher": "Contoso Ltd",
}
EXE_WIN32 = """\
install-command: setup.exe /S /D=%ProgramFiles%\\Contoso\\Tool
uninstall-command: '"%ProgramFiles%\\Contoso\\Tool\\uninstall.exe" /S'
install-context: system
restart-behavior: suppress
max-run-minutes: 30
return-codes:
  - {code: 0, type: success}
  - {code: 3010, type: soft-reboot}
detection-rules:
  - file:
      path: '%ProgramFiles%\\Contoso\\Tool'
      name: tool.exe
      check: version
      operator: '>='
      value: '3.1.0'
requirement-rules:
  - registry:
      key: HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso
      value-name: Licensed
      check: integer
      operator: '='
      value: 1
architectures: [x64, arm64]
minimum-windows-release: 2H20
display-version: '3.1.0'
"""


def published(emu: Emulator, run: Run, odata: str) -> dict[str, Any]:
    """Exactly one app, of this type, published with content version 1."""
    assert run.returncode == 0, run.printed
    apps = emu.apps()
    assert len(apps) == 1, apps
    app = apps[0]
    assert app["@odata.type"] == odata
    assert app["publishingState"] == "published"
    assert app["committedContentVersion"] == run.outputs["content-version-id"] == "1"
    assert run.outputs["app-id"] == app["id"] and run.outputs["operation"] == "created"
    assert run.outputs["app-type"] == odata.rsplit(".", 1)[1]
    return app


def content_file(emu: Emulator, app_id: str) -> dict[str, Any]:
    (entity,) = emu.files(app_id)
    assert entity["uploadState"] == "commitFileSuccess"
    return entity


def assert_plain_upload(emu: Emulator, app: dict[str, Any], artifact: Path) -> dict[str, Any]:
    """The committed content decrypts to the artifact itself."""
    data = artifact.read_bytes()
    assert emu.committed_content(app["id"]) == data
    entity = content_file(emu, app["id"])
    assert entity["name"] == artifact.name and entity["size"] == len(data)
    return entity


def min_os_flag(app: dict[str, Any]) -> str:
    flags = [k for k, v in app["minimumSupportedOperatingSystem"].items()
             if not k.startswith("@") and v is True]
    assert len(flags) == 1, app["minimumSupportedOperatingSystem"]
    return flags[0]


def inner_payload(intunewin: Path, info: FileEncryptionInfo) -> bytes:
    """The payload as packaged, decrypted here with Detection.xml's keys."""
    with zipfile.ZipFile(intunewin) as outer:
        blob = outer.read("IntuneWinPackage/Contents/IntunePackage.intunewin")
    return decrypt_blob(blob, info)


# --- Windows -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_msi(emulator: Emulator, tmp_path: Path) -> None:
    shutil.copy(MSI, tmp_path / "demo.msi")
    run = run_entrypoint(emulator, tmp_path, "demo.msi")
    app = published(emulator, run, "#microsoft.graph.windowsMobileMSI")
    assert (app["productCode"], app["productVersion"]) == (MSI_CODE, "1.4.2")
    assert app["displayName"] == "Contoso Demo" and app["publisher"] == "Contoso Ltd"
    assert app["useDeviceContext"] is True  # ALLUSERS=1
    entity = assert_plain_upload(emulator, app, tmp_path / "demo.msi")
    manifest = base64.b64decode(entity["manifest"]).decode()
    assert 'MsiUpgradeCode="{0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D}"' in manifest
    assert 'MsiExecutionContext="System"' in manifest and 'MsiRequiresReboot="true"' in manifest


@pytest.mark.e2e
@pytest.mark.parametrize("bundle", [False, True], ids=["msix", "msixbundle"])
def test_msix_and_bundle(emulator: Emulator, tmp_path: Path, bundle: bool) -> None:
    name = "Contoso.Notes" + (".msixbundle" if bundle else ".msix")
    build_msix(tmp_path / name, name="Contoso.Notes", version="2.3.4.0", publisher=PUBLISHER_DN,
               arch="x64,arm64" if bundle else "x64", min_version="10.0.17763.0", bundle=bundle,
               display="Contoso Notes")
    run = run_entrypoint(emulator, tmp_path, name)
    app = published(emulator, run, "#microsoft.graph.windowsUniversalAppX")
    assert (app["identityName"], app["identityVersion"]) == ("Contoso.Notes", "2.3.4.0")
    assert app["isBundle"] is bundle
    assert app["applicableArchitectures"] == ("x64,arm64" if bundle else "x64")
    assert app["applicableDeviceTypes"] == "desktop"
    assert len(app["identityPublisherHash"]) == 13
    assert min_os_flag(app) == "v10_1809"  # build 17763
    assert app["displayName"] == "Contoso Notes" and app["publisher"] == "Contoso Ltd"
    entity = assert_plain_upload(emulator, app, tmp_path / name)
    assert base64.b64decode(entity["manifest"]) == name.encode()


def _msi_intunewin(path: Path) -> FileEncryptionInfo:
    return build_intunewin(path, setup_file="demo.msi", files={"demo.msi": MSI.read_bytes()},
                           name="Contoso Demo", msi_info=MSI_INFO)


@pytest.mark.e2e
def test_intunewin_with_an_msi_gets_the_msi_defaults(emulator: Emulator, tmp_path: Path) -> None:
    info = _msi_intunewin(tmp_path / "demo.intunewin")
    run = run_entrypoint(emulator, tmp_path, "demo.intunewin")
    app = published(emulator, run, "#microsoft.graph.win32LobApp")
    assert app["fileName"] == "demo.intunewin" and app["setupFilePath"] == "demo.msi"
    assert app["installCommandLine"] == 'msiexec /i "demo.msi" /qn'
    assert app["uninstallCommandLine"] == f'msiexec /x "{MSI_CODE}" /qn'
    assert app["rules"] == [{
        "@odata.type": "#microsoft.graph.win32LobAppProductCodeRule", "ruleType": "detection",
        "productCode": MSI_CODE, "productVersionOperator": "greaterThanOrEqual",
        "productVersion": "1.4.2"}]
    assert [(c["returnCode"], c["type"]) for c in app["returnCodes"]] == [
        (0, "success"), (1707, "success"), (3010, "softReboot"), (1641, "hardReboot"),
        (1618, "retry")]
    assert app["installExperience"] == {"runAsAccount": "system", "maxRunTimeInMinutes": 60,
                                        "deviceRestartBehavior": "basedOnReturnCode"}
    assert app["msiInformation"]["productCode"] == MSI_CODE
    assert app["msiInformation"]["packageType"] == "PerMachine"
    assert app["msiInformation"]["requiresReboot"] is True
    assert app["displayVersion"] == "1.4.2" and app["publisher"] == "Contoso Ltd"
    assert app["minimumSupportedWindowsRelease"] == "1607"
    # the payload went up as packaged, under the keys Detection.xml holds
    payload = inner_payload(tmp_path / "demo.intunewin", info)
    assert emulator.committed_content(app["id"]) == payload
    with zipfile.ZipFile(io.BytesIO(payload)) as inner:
        assert inner.read("demo.msi") == MSI.read_bytes()
    entity = content_file(emulator, app["id"])
    assert entity["name"] == "demo.intunewin" and entity["manifest"] is None
    assert entity["size"] == len(payload)
    assert run.outputs["file-sha256"] == hashlib.sha256(
        (tmp_path / "demo.intunewin").read_bytes()).hexdigest()


def _exe_intunewin(path: Path) -> FileEncryptionInfo:
    return build_intunewin(path, setup_file="setup.exe",
                           files={"setup.exe": b"MZ" + bytes(510), "config.ini": b"[a]\n"},
                           name="Contoso Tool")


def _assert_exe_app(emu: Emulator, run: Run, package: Path, info: FileEncryptionInfo
                    ) -> dict[str, Any]:
    app = published(emu, run, "#microsoft.graph.win32LobApp")
    assert app["setupFilePath"] == "setup.exe" and app["msiInformation"] is None
    assert app["installCommandLine"] == "setup.exe /S /D=%ProgramFiles%\\Contoso\\Tool"
    assert app["uninstallCommandLine"] == '"%ProgramFiles%\\Contoso\\Tool\\uninstall.exe" /S'
    assert app["installExperience"] == {"runAsAccount": "system", "maxRunTimeInMinutes": 30,
                                        "deviceRestartBehavior": "suppress"}
    assert app["returnCodes"] == [{"returnCode": 0, "type": "success"},
                                  {"returnCode": 3010, "type": "softReboot"}]
    assert app["applicableArchitectures"] == "x64,arm64"
    assert app["minimumSupportedWindowsRelease"] == "2H20" and app["displayVersion"] == "3.1.0"
    assert run.outputs["version"] == "3.1.0"  # the display-version input, though no MSI says it
    assert app["publisher"] == "e2e"  # the setting's name: neither the file nor an input names one
    assert app["description"] == "Contoso Tool, published by intune-step"
    assert emu.committed_content(app["id"]) == inner_payload(package, info)
    return app


FILE_RULE = {
    "@odata.type": "#microsoft.graph.win32LobAppFileSystemRule", "ruleType": "detection",
    "path": "%ProgramFiles%\\Contoso\\Tool", "fileOrFolderName": "tool.exe",
    "check32BitOn64System": False, "operationType": "version", "operator": "greaterThanOrEqual",
    "comparisonValue": "3.1.0"}
REGISTRY_RULE = {
    "@odata.type": "#microsoft.graph.win32LobAppRegistryRule", "ruleType": "requirement",
    "keyPath": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Contoso", "valueName": "Licensed",
    "check32BitOn64System": False, "operationType": "integer", "operator": "equal",
    "comparisonValue": "1"}


@pytest.mark.e2e
def test_intunewin_with_an_exe_and_inline_win32(emulator: Emulator, tmp_path: Path) -> None:
    info = _exe_intunewin(tmp_path / "tool.intunewin")
    run = run_entrypoint(emulator, tmp_path, "tool.intunewin", win32=EXE_WIN32)
    app = _assert_exe_app(emulator, run, tmp_path / "tool.intunewin", info)
    assert app["rules"] == [FILE_RULE, REGISTRY_RULE]


@pytest.mark.e2e
def test_intunewin_with_an_exe_and_win32_file(emulator: Emulator, tmp_path: Path) -> None:
    """@file relative to the workspace, with a detection script read from the workspace."""
    info = _exe_intunewin(tmp_path / "tool.intunewin")
    (tmp_path / "ci").mkdir()
    script = b"if (Test-Path 'C:\\Program Files\\Contoso\\Tool\\tool.exe') { 'found' }\r\n"
    (tmp_path / "ci" / "detect.ps1").write_bytes(script)
    settings = EXE_WIN32.split("detection-rules:")[0] + (
        "detection-rules:\n  - script: {file: ci/detect.ps1, run-as-32-bit: false}\n"
        "architectures: x64,arm64\nminimum-windows-release: 2H20\ndisplay-version: '3.1.0'\n")
    (tmp_path / "ci" / "win32.yml").write_text(settings)
    run = run_entrypoint(emulator, tmp_path, "tool.intunewin", win32="@ci/win32.yml")
    app = _assert_exe_app(emulator, run, tmp_path / "tool.intunewin", info)
    (rule,) = app["rules"]
    assert rule["@odata.type"] == "#microsoft.graph.win32LobAppPowerShellScriptRule"
    assert rule["ruleType"] == "detection" and base64.b64decode(rule["scriptContent"]) == script


@pytest.mark.e2e
def test_intunewin_with_an_exe_and_no_win32_is_refused_with_the_yaml(
        emulator: Emulator, tmp_path: Path) -> None:
    _exe_intunewin(tmp_path / "tool.intunewin")
    run = run_entrypoint(emulator, tmp_path, "tool.intunewin")
    assert run.returncode == 2, run.printed
    (error,) = error_lines(run)
    assert "setup.exe is not an MSI" in error
    assert "install-command: 'setup.exe /S'" in error and "detection-rules: [{file:" in error
    assert emulator.write_requests() == []


# --- macOS ---------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("shape", ["product", "component"])
def test_pkg(emulator: Emulator, tmp_path: Path, shape: str) -> None:
    # the product archive is signed (productsign): its Developer ID names the publisher
    _, signer = certificate(CN="Developer ID Installer: Contoso Ltd (A1B2C3D4E5)",
                            O="Contoso Ltd", C="US")
    build_pkg(tmp_path / "Demo.pkg", bundle_id="com.contoso.demo", version="2.5.1",
              min_os="12.0", shape=shape,  # type: ignore[arg-type]
              certificates=[der(signer)] if shape == "product" else [])
    run = run_entrypoint(emulator, tmp_path, "Demo.pkg")
    app = published(emulator, run, "#microsoft.graph.macOSPkgApp")
    assert app["publisher"] == ("Contoso Ltd" if shape == "product" else "e2e")  # else setting
    assert (app["primaryBundleId"], app["primaryBundleVersion"]) == ("com.contoso.demo", "2.5.1")
    assert app["includedApps"] == [{"@odata.type": "#microsoft.graph.macOSIncludedApp",
                                    "bundleId": "com.contoso.demo", "bundleVersion": "2.5.1"}]
    # the product archive's Distribution says 12.0; a component package states none
    assert min_os_flag(app) == ("v12_0" if shape == "product" else "v10_7")
    assert_plain_upload(emulator, app, tmp_path / "Demo.pkg")


@pytest.mark.e2e
def test_pkg_as_macos_lob_app_through_the_cli(emulator: Emulator, tmp_path: Path) -> None:
    pkg = build_pkg(tmp_path / "Demo.pkg", bundle_id="com.contoso.demo", version="2.5.1",
                    min_os="13.1")
    run = run_cli(emulator, pkg, "--macos-app-type", "lob")
    app = published(emulator, run, "#microsoft.graph.macOSLobApp")
    assert (app["bundleId"], app["buildNumber"], app["versionNumber"]) == (
        "com.contoso.demo", "2.5.1", "251")
    assert app["childApps"] == [{"@odata.type": "#microsoft.graph.macOSLobChildApp",
                                 "bundleId": "com.contoso.demo", "buildNumber": "2.5.1",
                                 "versionNumber": "251"}]
    assert app["installAsManaged"] is False and min_os_flag(app) == "v13_0"
    assert_plain_upload(emulator, app, pkg)


@pytest.mark.e2e
def test_dmg_with_apps(emulator: Emulator, tmp_path: Path) -> None:
    build_dmg(tmp_path / "Suite.dmg", apps={
        "Suite.app": info_plist("com.contoso.suite", "4.0.2", "11.5", "Suite"),
        "Helper.app": info_plist("com.contoso.suite.helper", "1.1", "11.0", "Helper"),
    })
    run = run_entrypoint(emulator, tmp_path, "Suite.dmg")
    app = published(emulator, run, "#microsoft.graph.macOSDmgApp")
    # the image is named after Suite.app, so it is the primary although Helper sorts first
    assert (app["primaryBundleId"], app["primaryBundleVersion"]) == ("com.contoso.suite", "4.0.2")
    assert [(a["bundleId"], a["bundleVersion"]) for a in app["includedApps"]] == [
        ("com.contoso.suite", "4.0.2"), ("com.contoso.suite.helper", "1.1")]
    assert app["displayName"] == "Suite" and min_os_flag(app) == "v11_0"  # LSMinimum 11.5
    assert_plain_upload(emulator, app, tmp_path / "Suite.dmg")


@pytest.mark.e2e
def test_apfs_dmg(emulator: Emulator, tmp_path: Path) -> None:
    """An APFS image in LZFSE chunks: bundle id and version come from its app, no inputs."""
    build_apfs_dmg(tmp_path / "Viewer.dmg", compression="lzfse", apps={
        "Viewer.app": info_plist("com.contoso.viewer", "3.2", "13.0", "Viewer")})
    run = run_entrypoint(emulator, tmp_path, "Viewer.dmg")
    app = published(emulator, run, "#microsoft.graph.macOSDmgApp")
    assert (app["primaryBundleId"], app["primaryBundleVersion"]) == ("com.contoso.viewer", "3.2")
    assert app["includedApps"] == [{"@odata.type": "#microsoft.graph.macOSIncludedApp",
                                    "bundleId": "com.contoso.viewer", "bundleVersion": "3.2"}]
    assert app["displayName"] == "Viewer" and min_os_flag(app) == "v13_0"
    assert_plain_upload(emulator, app, tmp_path / "Viewer.dmg")


@pytest.mark.e2e
def test_real_dmg_without_an_app_needs_and_takes_bundle_id(
        emulator: Emulator, tmp_path: Path) -> None:
    shutil.copy(REAL_DMG, tmp_path / "image.dmg")
    refused = run_entrypoint(emulator, tmp_path, "image.dmg")
    assert refused.returncode == 2, refused.printed
    (error,) = error_lines(refused)
    assert "no .app was found" in error and "bundle-id" in error and "bundle-version" in error
    assert emulator.write_requests() == []
    run = run_entrypoint(emulator, tmp_path, "image.dmg", bundle_id="com.contoso.tools",
                         bundle_version="1.0.3")
    app = published(emulator, run, "#microsoft.graph.macOSDmgApp")
    assert (app["primaryBundleId"], app["primaryBundleVersion"]) == ("com.contoso.tools", "1.0.3")
    assert app["includedApps"] == [{"@odata.type": "#microsoft.graph.macOSIncludedApp",
                                    "bundleId": "com.contoso.tools", "bundleVersion": "1.0.3"}]
    assert "publishing with bundle-id com.contoso.tools" in run.stdout  # said as a warning
    assert_plain_upload(emulator, app, tmp_path / "image.dmg")


# --- malformed files: one line, exit 2, no Graph write ------------------------------------


def _truncated(source: Path, keep: float) -> Callable[[Path], None]:
    return lambda target: target.write_bytes(source.read_bytes()[: int(source.stat().st_size
                                                                        * keep)])


def _tampered_intunewin(target: Path) -> None:
    _msi_intunewin(target)
    data = bytearray(target.read_bytes())
    data[200] ^= 0xFF  # inside the stored payload, which comes first
    target.write_bytes(bytes(data))


def _bundle_missing_package(target: Path) -> None:
    build_msix(target, name="A", version="1.0.0.0", publisher=PUBLISHER_DN, arch="x64",
               min_version="10.0.17763.0", bundle=True)
    with zipfile.ZipFile(target) as source:
        members = {i.filename: source.read(i) for i in source.infolist()
                   if not i.filename.endswith(".msix")}
    with zipfile.ZipFile(target, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)


def _pkg(target: Path) -> None:
    build_pkg(target, bundle_id="com.contoso.demo", version="1.0", min_os="12.0")


def _truncated_pkg(target: Path) -> None:
    _pkg(target)
    target.write_bytes(target.read_bytes()[:300])  # the TOC is cut off


MALFORMED: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "msi": ("app.msi", _truncated(MSI, 0.5), "MSI"),
    "msi-not-ole": ("app.msi", lambda t: t.write_bytes(b"MZ" * 600), "not an MSI"),
    "msix": ("app.msix", lambda t: t.write_bytes(b"PK\x05\x06" + bytes(18)), "neither"),
    "msixbundle": ("app.msixbundle", _bundle_missing_package, "not in the bundle"),
    "intunewin": ("app.intunewin", _tampered_intunewin, "HMAC mismatch"),
    "pkg": ("app.pkg", _truncated_pkg, "app.pkg"),
    "dmg": ("app.dmg", lambda t: t.write_bytes(bytes(4096)), "not a UDIF disk image"),
}


@pytest.mark.e2e
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_are_refused_before_any_write(
        emulator: Emulator, tmp_path: Path, case: str) -> None:
    name, make, expected = MALFORMED[case]
    make(tmp_path / name)
    # macOS overrides must not make a damaged container publishable
    inputs = {"bundle_id": "com.contoso.x", "bundle_version": "1.0"} if case in ("dmg",
                                                                                "pkg") else {}
    run = run_entrypoint(emulator, tmp_path, name, **inputs)
    assert run.returncode == 2, run.printed
    errors = error_lines(run)
    assert len(errors) == 1 and expected in errors[0], run.printed
    assert "Fix:" in errors[0] and "Traceback" not in run.printed
    assert emulator.write_requests() == []
    assert run.outputs == {}


def _msi(target: Path) -> None:
    shutil.copy(MSI, target)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("name", "make", "inputs", "expected"),
    [
        ("a.intunewin", _exe_intunewin, {"win32": "install-command: a\n  bad: indent"},
         "not valid YAML at line 2"),
        ("a.intunewin", _exe_intunewin, {"win32": "install-comand: setup.exe"},
         "valid keys: install-command"),
        ("a.intunewin", _exe_intunewin, {"win32": "@missing/win32.yml"}, "does not exist"),
        ("a.pkg", _pkg, {"macos_app_type": "managed"}, "macos-app-type must be pkg or lob"),
        ("a.pkg", _pkg, {"properties": "'@odata.type': '#microsoft.graph.macOSLobApp'"},
         "properties cannot set @odata.type"),
        ("a.msi", _msi, {"win32": "install-command: x"}, "applies to .intunewin packages"),
    ],
    ids=["yaml-syntax", "unknown-key", "missing-file", "app-type", "odata-type", "win32-on-msi"],
)
def test_bad_app_type_inputs_are_refused_before_any_write(
        emulator: Emulator, tmp_path: Path, name: str, make: Callable[[Path], object],
        inputs: dict[str, str], expected: str) -> None:
    make(tmp_path / name)
    run = run_entrypoint(emulator, tmp_path, name, **inputs)
    assert run.returncode == 2, run.printed
    errors = error_lines(run)
    assert len(errors) == 1 and expected in errors[0], run.printed
    assert emulator.write_requests() == []


# --- updates -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_new_msi_build_updates_the_derived_win32_fields_and_keeps_the_rest(
        emulator: Emulator, tmp_path: Path) -> None:
    """An update sends what follows from the new package (detection rule version, MSI facts,
    display version) and what the input gives; settings not given are left as they are."""
    _msi_intunewin(tmp_path / "demo.intunewin")
    first = run_entrypoint(emulator, tmp_path, "demo.intunewin",
                           win32="restart-behavior: force\nmax-run-minutes: 20")
    app = published(emulator, first, "#microsoft.graph.win32LobApp")
    info = build_intunewin(tmp_path / "demo.intunewin", setup_file="demo.msi",
                           files={"demo.msi": MSI.read_bytes() + b"v2"}, name="Contoso Demo",
                           msi_info={**MSI_INFO, "MsiProductVersion": "1.4.3"})
    second = run_entrypoint(emulator, tmp_path, "demo.intunewin", app_id=app["id"],
                            win32="install-command: msiexec /i \"demo.msi\" /qn REBOOT=R")
    assert second.returncode == 0, second.printed
    assert second.outputs["operation"] == "updated" and second.outputs["app-id"] == app["id"]
    updated = emulator.app(app["id"])
    assert updated is not None and updated["committedContentVersion"] == "2"
    assert [r["productVersion"] for r in updated["rules"]] == ["1.4.3"]
    assert updated["msiInformation"]["productVersion"] == "1.4.3"
    assert updated["displayVersion"] == "1.4.3"
    assert updated["installCommandLine"] == 'msiexec /i "demo.msi" /qn REBOOT=R'
    # not given this time, so what the first run (or an admin) set is kept
    assert updated["installExperience"]["deviceRestartBehavior"] == "force"
    assert updated["installExperience"]["maxRunTimeInMinutes"] == 20
    assert emulator.committed_content(app["id"]) == inner_payload(tmp_path / "demo.intunewin",
                                                                  info)
