"""`intune-step inspect`: every Windows and macOS type in text, and the same record as JSON."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from intune_step.artifacts import read_artifact
from intune_step.commands.cli import main
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MSI = FIXTURES / "windows" / "demo.msi"
CODE = "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}"


def _msi(d: Path) -> Path:
    return Path(shutil.copy(MSI, d / "demo.msi"))


def _msix(d: Path) -> Path:
    return build_msix(d / "n.msix", name="Contoso.Notes", version="2.3.4.0",
                      publisher="CN=Contoso", arch="x64", min_version="10.0.17763.0")


def _bundle(d: Path) -> Path:
    return build_msix(d / "n.msixbundle", name="Contoso.Notes", version="2.3.4.0",
                      publisher="CN=Contoso", arch="x64,arm64", min_version="10.0.17763.0",
                      bundle=True)


def _intunewin_msi(d: Path) -> Path:
    build_intunewin(d / "m.intunewin", setup_file="demo.msi", files={"demo.msi": MSI.read_bytes()},
                    name="Contoso Demo", msi_info={"MsiProductCode": CODE,
                                                   "MsiProductVersion": "1.4.2"})
    return d / "m.intunewin"


def _intunewin_exe(d: Path) -> Path:
    build_intunewin(d / "e.intunewin", setup_file="setup.exe", files={"setup.exe": b"MZ"},
                    name="Tool")
    return d / "e.intunewin"


def _pkg(d: Path) -> Path:
    return build_pkg(d / "a.pkg", bundle_id="com.contoso.a", version="2.5.1", min_os="12.0")


def _dmg(d: Path) -> Path:
    return build_dmg(d / "a.dmg", apps={"A.app": info_plist("com.contoso.a", "3.1", "13.0", "A")})


CASES: dict[str, tuple[Callable[[Path], Path], dict[str, str]]] = {
    "msi": (_msi, {"appType": "windowsMobileMSI", "identity": CODE, "version": "1.4.2",
                   "properties.useDeviceContext": "true"}),
    "msix": (_msix, {"appType": "windowsUniversalAppX", "identity": "Contoso.Notes",
                     "properties.applicableArchitectures": "x64",
                     "minimumOs.version": "10.0.17763.0"}),
    "msixbundle": (_bundle, {"appType": "windowsUniversalAppX", "properties.isBundle": "true",
                             "properties.applicableArchitectures": "x64,arm64"}),
    "intunewin-msi": (_intunewin_msi, {
        "appType": "win32LobApp", "identity": CODE, "fileName": "m.intunewin",
        "properties.setupFilePath": "demo.msi", "content.preEncrypted": "true",
        "win32.installCommandLine": 'msiexec /i "demo.msi" /qn'}),
    "intunewin-exe": (_intunewin_exe, {
        "appType": "win32LobApp", "properties.msiInformation": "null",
        "win32.requiredInput": '["install-command", "uninstall-command", "detection-rules"]'}),
    "pkg": (_pkg, {"appType": "macOSPkgApp", "identity": "com.contoso.a",
                   "properties.primaryBundleVersion": "2.5.1", "minimumOs.version": "12.0"}),
    "dmg": (_dmg, {"appType": "macOSDmgApp", "identity": "com.contoso.a", "version": "3.1",
                   "displayName": "A", "minimumOs.version": "13.0"}),
}


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["inspect", *args])


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_and_json_show_the_same_record(tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    as_json = run(str(path), "--json")
    text = run(str(path))
    assert as_json.exit_code == 0 and text.exit_code == 0, text.output
    record = json.loads(as_json.output)
    meta = read_artifact(path)
    assert {k: v for k, v in record.items() if k != "win32"} == json.loads(
        json.dumps(meta.to_json()))
    assert ("win32" in record) is (meta.app_type == "win32LobApp")
    lines = dict(line.split(": ", 1) for line in text.output.splitlines())
    for key, value in expected.items():
        assert lines.get(key) == value, (key, lines.get(key))
    # text is the record flattened: one line per field, none left out, nothing else
    flat = {f"{k}.{sub}" if isinstance(v, dict) else k
            for k, v in record.items() if v is not None
            for sub in (v if isinstance(v, dict) else [None])}
    assert set(lines) == flat


def test_no_key_material_is_printed(tmp_path: Path) -> None:
    path = _intunewin_msi(tmp_path)
    info = read_artifact(path).content.encryption_info  # type: ignore[union-attr]
    output = run(str(path), "--json").output + run(str(path)).output
    for secret in (info.encryption_key, info.mac_key):
        assert secret.hex() not in output
        assert base64.b64encode(secret).decode() not in output


def test_an_unreadable_image_fails_in_one_line_naming_the_overrides(tmp_path: Path) -> None:
    result = run(str(FIXTURES / "macos" / "hfsplus_zlib.dmg"))
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "no .app was found" in line and "--bundle-id" in line
