"""Every app type the step publishes on Graph v1.0, through the CLI into the emulator, which
judges each body by msgraph-sdk's v1.0 models (fewer properties and flags than beta).

The beta side is tests/e2e/test_app_types.py; the body checks per type are in
tests/emulator/test_bodies.py and tests/unit/graph/test_bodies.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix

from .conftest import FIXTURES, run_cli

MSI = FIXTURES / "windows" / "demo.msi"


def _msi(tmp: Path, version: str) -> Path:
    shutil.copy(MSI, tmp / "demo.msi")
    return tmp / "demo.msi"


def _intunewin(tmp: Path, version: str) -> Path:
    build_intunewin(
        tmp / "a.intunewin",
        setup_file="demo.msi",
        files={"demo.msi": MSI.read_bytes()},
        name="Contoso Demo",
        msi_info={
            "MsiProductCode": "{6F1C2A9E-3B4D-4E5F-8A7B-1C2D3E4F5A6B}",
            "MsiProductVersion": f"{version}.0",
        },
    )
    return tmp / "a.intunewin"


ARTIFACTS: dict[str, tuple[str, Callable[[Path, str], Path]]] = {
    "ipa": ("iosLobApp", lambda tmp, v: build_ipa(tmp / "a.ipa", bundle_id="com.x.v1",
                                                 version=v, build=v, min_os="17.0")),
    "apk": ("androidLobApp", lambda tmp, v: build_apk(tmp / "a.apk", package="com.x.v1",
                                                     version_code=int(v), min_sdk=33)),
    "msi": ("windowsMobileMSI", _msi),
    "msix": ("windowsUniversalAppX", lambda tmp, v: build_msix(
        tmp / "a.msix", name="Contoso.V1", version=f"{v}.0.0.0", publisher="CN=Contoso",
        arch="x64", min_version="10.0.19041.0")),
    "intunewin": ("win32LobApp", _intunewin),
    "dmg": ("macOSDmgApp", lambda tmp, v: build_dmg(
        tmp / "a.dmg", apps={"A.app": info_plist("com.x.v1", f"{v}.0", "14.1")})),
    "pkg-lob": ("macOSLobApp", lambda tmp, v: build_pkg(
        tmp / "a.pkg", bundle_id="com.x.v1", version=f"{v}.0", min_os="13.0")),
}  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("kind", sorted(ARTIFACTS))
def test_each_type_publishes_and_updates_on_v1(
    emulator: Emulator, tmp_path: Path, kind: str
) -> None:
    odata, make = ARTIFACTS[kind]
    extra = {"INTUNE_GRAPH_VERSION": "v1.0"}
    if kind == "pkg-lob":
        extra["INTUNE_MACOS_APP_TYPE"] = "lob"
    first = run_cli(emulator, make(tmp_path, "1"), **extra)
    assert first.returncode == 0, first.printed
    (app,) = emulator.apps()
    assert app["@odata.type"] == f"#microsoft.graph.{odata}"
    assert app["publishingState"] == "published" and app["committedContentVersion"] == "1"
    if kind != "msi":  # the same MSI twice is a no-op; every other kind gets a new version
        second = run_cli(emulator, make(tmp_path, "2"), **extra)
        assert second.returncode == 0, second.printed
        assert emulator.app(app["id"])["committedContentVersion"] == "2"
    paths = {entry.path.split("/")[1] for entry in emulator.request_log if entry.service == "graph"}
    assert paths == {"v1.0"}


@pytest.mark.e2e
def test_a_pkg_as_macos_pkg_app_is_refused_offline_on_v1(
    emulator: Emulator, tmp_path: Path
) -> None:
    pkg = build_pkg(tmp_path / "a.pkg", bundle_id="com.x.v1", version="1.0", min_os="13.0")
    run = run_cli(emulator, pkg, INTUNE_GRAPH_VERSION="v1.0")
    assert run.returncode == 2 and "only in Graph beta" in run.printed
    assert emulator.request_log == [] or all(e.service == "login" for e in emulator.request_log)
