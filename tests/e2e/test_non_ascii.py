"""Non-ASCII end to end: names in many scripts reach Intune exactly as given.

Exactly means code point for code point (so byte for byte in Graph's UTF-8 JSON): no
normalisation (an NFD "é" stays two code points), no mangled emoji or joiners, no lost
right-to-left text, no escaping artefacts. Checked for the three ways a name arrives (a CI
input, a CLI option, the artifact's own metadata) and for a non-ASCII file and folder name.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from intune_step.emulator import Emulator
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.samples.windows import build_msix

from .conftest import run_cli, run_entrypoint

NAMES = {
    "latin": "Crème brûlée Ærø Łódź Ðý",
    "nfd": unicodedata.normalize("NFD", "Café Noël"),  # combining marks, not precomposed
    "greek-cyrillic": "Ελληνικά Кириллица Ўзбек",
    "cjk": "東京の地図 서울 北京市",
    "rtl": "עברית العربية فارسی",
    "indic-thai": "हिन्दी தமிழ் ภาษาไทย",
    "emoji": "Field 🚀 Service 👩🏽‍💻 🇳🇴",  # astral, skin tone, ZWJ sequence, flag
    "symbols": "“Quotes” — dash € ™ ½ ≤ ∞",
}
QUICK = {"INTUNE_POLL_INTERVAL": "0.01", "INTUNE_LOCK_SETTLE_S": "0"}  # short waits
DESCRIPTION = "\n".join(f"{key}: {text}" for key, text in NAMES.items())


def one_app(emu: Emulator) -> dict:
    [app] = emu.apps()
    assert app["publishingState"] == "published"
    return app


@pytest.mark.e2e
@pytest.mark.parametrize("script", sorted(NAMES))
def test_ci_inputs_reach_intune_exactly(emulator: Emulator, tmp_path: Path, script: str) -> None:
    name = NAMES[script]
    build_ipa(tmp_path / "app.ipa", bundle_id=f"com.example.{script.replace('-', '.')}")
    run = run_entrypoint(emulator, tmp_path, "app.ipa", env=QUICK, display_name=name,
                         description=DESCRIPTION, publisher=name[::-1])
    assert run.returncode == 0, run.printed
    app = one_app(emulator)
    assert app["displayName"] == name
    assert app["displayName"].encode("utf-8") == name.encode("utf-8")
    assert app["description"] == DESCRIPTION
    assert app["publisher"] == name[::-1]
    assert name in run.summary  # the job summary shows it as given


@pytest.mark.e2e
def test_cli_options_and_a_non_ascii_path(emulator: Emulator, tmp_path: Path) -> None:
    folder = tmp_path / "Сборка 東京"
    ipa = build_ipa(folder / "Приложение 🚀.ipa")
    name, description = NAMES["emoji"], NAMES["rtl"]
    run = run_cli(emulator, ipa, "--display-name", name, "--description", description, **QUICK)
    assert run.returncode == 0, run.printed
    app = one_app(emulator)
    assert (app["displayName"], app["description"]) == (name, description)
    files = emulator.files(app["id"])
    assert [f["name"] for f in files] == ["Приложение 🚀.ipa"]
    assert emulator.committed_content(app["id"]) == ipa.read_bytes()


@pytest.mark.e2e
@pytest.mark.parametrize("kind", ["ipa", "apk", "msix"])
def test_names_read_from_the_artifact(emulator: Emulator, tmp_path: Path, kind: str) -> None:
    name = NAMES["cjk"] + " " + NAMES["nfd"]
    if kind == "ipa":
        build_ipa(tmp_path / "app.ipa", display_name=name)
    elif kind == "apk":
        build_apk(tmp_path / "app.apk", label=name)
    else:
        build_msix(tmp_path / "app.msix", name="Contoso.Names", version="1.0.0.0",
                   publisher="CN=Contoso", arch="x64", min_version="10.0.17763.0",
                   display=name)
    run = run_entrypoint(emulator, tmp_path, f"app.{kind}", env=QUICK)
    assert run.returncode == 0, run.printed
    assert one_app(emulator)["displayName"] == name
