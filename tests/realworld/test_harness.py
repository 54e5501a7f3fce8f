"""The cross-check harness itself: its independent readers are installed, and they work.

The corpus files may not all be in a checkout, but these run everywhere: every independent
reader must be present (in CI, a missing one fails here even before any corpus file needs it),
and the same comparisons the corpus goes through must pass on one file of each type that the
project's samples build, so a broken independent reader cannot hide behind an absent corpus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.samples import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix

from .. import independent
from ..independent import require_module, require_tool
from .test_realworld import COMPARE

WINDOWS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "windows"
PUBLISHER = "CN=Contoso Software, O=Contoso Corporation, C=US"


@pytest.mark.parametrize("module", ["pyaxmlparser", "apkInspector.axml"])
def test_python_readers_are_installed(module: str) -> None:
    require_module(module)


@pytest.mark.parametrize("tool", ["msiinfo", "bsdtar", "7zz"])
def test_command_line_readers_are_installed(tool: str) -> None:
    require_tool(tool)


def test_a_missing_reader_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(independent, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        require_module("no_such_module_for_intune_step")
    with pytest.raises(pytest.skip.Exception):
        require_tool("no-such-tool-for-intune-step")


def test_a_missing_reader_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(independent, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"\.ci/run should have installed it"):
        require_module("no_such_module_for_intune_step")
    with pytest.raises(pytest.fail.Exception, match=r"\.ci/run should have installed it"):
        require_tool("no-such-tool-for-intune-step")


def _apk(folder: Path) -> Path:
    return build_apk(folder / "demo.apk", package="com.contoso.demo", version_name="2.1")


def _ipa(folder: Path) -> Path:
    return build_ipa(folder / "demo.ipa", bundle_id="com.contoso.demo", min_os="16.4")


def _msi(folder: Path) -> Path:
    return WINDOWS_FIXTURES / "demo.msi"  # built by wixl (msitools), see its .wxs beside it


def _msix(folder: Path) -> Path:
    return build_msix(
        folder / "demo.msix",
        name="Contoso.Demo",
        version="1.2.3.0",
        publisher=PUBLISHER,
        arch="x64",
        min_version="10.0.17763.0",
    )


def _bundle(folder: Path) -> Path:
    return build_msix(
        folder / "demo.msixbundle",
        name="Contoso.Demo",
        version="1.2.3.0",
        publisher=PUBLISHER,
        arch="x64,arm64",
        min_version="10.0.19041.0",
        bundle=True,
    )


def _intunewin(folder: Path) -> Path:
    path = folder / "demo.intunewin"
    build_intunewin(path, setup_file="setup.exe", files={"setup.exe": b"MZ" * 600}, name="Demo")
    return path


def _pkg(folder: Path) -> Path:
    return build_pkg(
        folder / "demo.pkg", bundle_id="com.contoso.demo", version="3.1", min_os="12.0"
    )


def _dmg(folder: Path) -> Path:
    plist = info_plist("com.contoso.demo", "3.1", "12.0")
    return build_dmg(folder / "Demo.dmg", apps={"Demo.app": plist})


SAMPLES: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "apk": ("apk", _apk),
    "ipa": ("ipa", _ipa),
    "msi": ("msi", _msi),
    "msix": ("msix", _msix),
    "msixbundle": ("msix", _bundle),
    "intunewin": ("intunewin", _intunewin),
    "pkg": ("pkg", _pkg),
    "dmg": ("dmg", _dmg),
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_the_independent_readers_agree_on_the_samples(sample: str, tmp_path: Path) -> None:
    kind, build = SAMPLES[sample]
    path = build(tmp_path)
    COMPARE[kind](path, read_artifact(path))


TAMPERED = {  # one wrong field per type, each of which the comparison must notice
    "apk": {"build": "999"},
    "ipa": {"identity": "com.example.other"},
    "msi": {"version": "9.9.9"},
    "msix": {"identity": "Other.Name"},
    "msixbundle": {"version": "9.9.9.9"},
    "intunewin": {"display_name": "other.exe"},
    "pkg": {"version": "99.0"},
    "dmg": {"identity": "com.example.other"},
}


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_the_comparison_notices_a_wrong_field(sample: str, tmp_path: Path) -> None:
    kind, build = SAMPLES[sample]
    path = build(tmp_path)
    wrong = dataclasses.replace(read_artifact(path), **TAMPERED[sample])
    with pytest.raises(AssertionError):
        COMPARE[kind](path, wrong)
