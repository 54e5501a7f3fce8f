"""Publish iOS and Android builds into the emulator through the real entry points."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.ipa import build_ipa

from .conftest import FIXTURES, Run, run_cli, run_entrypoint

OUTPUTS = {"app-id", "content-version-id", "app-type", "operation", "version", "app-url",
           "file-sha256"}
# Established with an independent AXML reader in tests/artifacts/test_apk.py.
# versionCode, versionName, minimum-OS flag, the signing certificate's CN (v1, v2, v2)
REAL_APKS = {
    "v1-only-with-rsa-pkcs1-sha1-1.2.840.113549.1.1.1-1024.apk": ("10", "1.0", "v6_0", "rsa-1024"),
    "v2-only-targetSandboxVersion-2.apk": ("10", "1.0", "v4_3", "rsa-2048"),
    "v2-only-with-ecdsa-sha256-p256.apk": ("10", "1.0", "v6_0", "ec-p256"),
}


def assert_one_published_app(emu: Emulator, run: Run, artifact: Path, odata: str) -> dict:
    assert run.returncode == 0, run.printed
    apps = emu.apps()
    assert len(apps) == 1, apps
    app = apps[0]
    assert app["@odata.type"] == odata
    assert app["publishingState"] == "published"
    assert app["committedContentVersion"] == run.outputs["content-version-id"] == "1"
    assert run.outputs["app-id"] == app["id"]
    assert run.outputs["operation"] == "created"
    assert emu.committed_content(app["id"]) == artifact.read_bytes()
    assert run.outputs["file-sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert app["id"] in run.outputs["app-url"]
    return app


@pytest.mark.e2e
def test_ipa_through_entrypoint(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    ipa = build_ipa(tmp_path / "out" / "Field Service.ipa", bundle_id="com.contoso.field",
                    version="2.4.1", build="241", min_os="16.4", device_family=[1],
                    display_name="Field Service")
    run = run_entrypoint(emulator, tmp_path, "out/Field Service.ipa",
                         publisher="Contoso", description="Technician app")
    assert set(run.outputs) == OUTPUTS
    app = assert_one_published_app(emulator, run, ipa, "#microsoft.graph.iosLobApp")
    assert run.outputs["app-type"] == "iosLobApp"
    assert run.outputs["version"] == "2.4.1 (241)"
    assert app["bundleId"] == "com.contoso.field"
    assert app["versionNumber"] == "2.4.1" and app["buildNumber"] == "241"
    assert app["minimumSupportedOperatingSystem"]["v16_0"] is True
    assert sum(bool(v) for k, v in app["minimumSupportedOperatingSystem"].items()
               if k.startswith("v")) == 1
    assert app["applicableDeviceType"] == {"iPad": False, "iPhoneAndIPod": True}
    assert app["displayName"] == "Field Service" and app["publisher"] == "Contoso"
    assert app["description"] == "Technician app"
    assert app["expirationDateTime"].endswith("Z")
    assert "Published to Intune" in run.summary and app["id"] in run.summary
    assert f"View at: {run.outputs['app-url']}" in run.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(REAL_APKS))
@pytest.mark.parametrize("entry", ["entrypoint", "cli"])
def test_real_apks(emulator: Emulator, tmp_path: Path, name: str, entry: str) -> None:
    apk = tmp_path / name
    shutil.copy(FIXTURES / "third_party" / name, apk)
    if entry == "entrypoint":
        run = run_entrypoint(emulator, tmp_path, name)
    else:
        run = run_cli(emulator, apk)
    assert set(run.outputs) == OUTPUTS, run.printed
    app = assert_one_published_app(emulator, run, apk, "#microsoft.graph.androidLobApp")
    version_code, version_name, flag, signer = REAL_APKS[name]
    assert app["packageId"] == "android.appsecurity.cts.tinyapp"
    assert app["versionCode"] == version_code and app["versionName"] == version_name
    assert app["minimumSupportedOperatingSystem"][flag] is True
    # the label @string/app_name as resources.arsc's default configuration has it, and the
    # signing certificate's subject as publisher (not the setting name)
    assert app["displayName"] == "Tiny App for CTS" and app["publisher"] == signer
    assert app["description"] == (
        "Tiny App for CTS (android.appsecurity.cts.tinyapp), published by intune-step")
    assert run.outputs["app-type"] == "androidLobApp"


@pytest.mark.e2e
def test_ipa_through_cli(emulator: Emulator, tmp_path: Path) -> None:
    ipa = build_ipa(tmp_path / "Demo.ipa", binary_plist=False, bundle_id="com.example.cli")
    run = run_cli(emulator, ipa, "--display-name", "Démo Ünïcode 東京")
    app = assert_one_published_app(emulator, run, ipa, "#microsoft.graph.iosLobApp")
    assert app["displayName"] == "Démo Ünïcode 東京"
    assert app["publisher"] == "Example Corp"  # the provisioning profile's TeamName
    assert app["description"] == "Démo Ünïcode 東京 (com.example.cli), published by intune-step"
    assert "View at:" in run.stderr


@pytest.mark.e2e
def test_dry_run_writes_nothing(emulator: Emulator, tmp_path: Path) -> None:
    build_ipa(tmp_path / "Demo.ipa")
    run = run_entrypoint(emulator, tmp_path, "Demo.ipa", dry_run="true")
    assert run.returncode == 0, run.printed
    assert run.outputs["operation"] == "dry-run"
    assert emulator.apps() == []
    assert emulator.write_requests() == []
    assert "Dry run: would create iosLobApp" in run.stdout
