"""resources.arsc resolution (artifacts/arsc.py) and the APK launcher icon built on it.

Real bytes throughout: tables from samples/arsc_writer.py, cross-checked against pyaxmlparser's
ARSCParser when it is installed, and the aapt-built table of an AOSP test APK.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.arsc import (
    MAX_LABEL_CHARS,
    ArscError,
    resolve_file_paths,
    resolve_string,
)
from intune_step.artifacts.icon import from_artifact
from intune_step.errors import ArtifactError
from intune_step.samples.apk import build_apk, icon_png
from intune_step.samples.arsc_writer import (
    EntryTable,
    Strings,
    resource_id,
    string_id,
    write_arsc,
)
from intune_step.samples.axml_writer import Ref

from ..independent import require_module

FIXTURES = Path(__file__).parents[1] / "fixtures" / "third_party"
MDPI, HDPI, XXXHDPI, ANYDPI = 160, 240, 640, 0xFFFE
ICON_FILES: dict[int, str | Ref] = {
    MDPI: "res/mipmap-mdpi-v4/ic_launcher.png",
    XXXHDPI: "res/mipmap-xxxhdpi-v4/ic_launcher.png",
    ANYDPI: "res/mipmap-anydpi-v26/ic_launcher.xml",
}
RESOURCES = {
    "drawable": {"splash": {0: "res/drawable/splash.png"}, "alias": {0: Ref(0x7F020000)}},
    "mipmap": {"ic_launcher": dict(ICON_FILES), "ic_round": {HDPI: "res/r.png"}},
}
ICON_ID = resource_id(RESOURCES, "mipmap", "ic_launcher")
EXPECTED = sorted((d, p) for d, p in ICON_FILES.items())


def test_ids_follow_the_aapt_layout() -> None:
    assert ICON_ID == 0x7F020000 and resource_id(RESOURCES, "drawable", "alias") == 0x7F010001


@pytest.mark.parametrize("table", ["dense", "sparse", "offset16"])
def test_each_density_resolves_to_its_file(table: EntryTable) -> None:
    arsc = write_arsc(RESOURCES, table=table)
    assert sorted(resolve_file_paths(arsc, ICON_ID)) == EXPECTED
    assert resolve_file_paths(arsc, ICON_ID + 1) == [(HDPI, "res/r.png")]  # absent elsewhere
    assert resolve_file_paths(arsc, 0x7F010000) == [(0, "res/drawable/splash.png")]


def test_an_alias_resolves_to_its_target_files() -> None:
    arsc = write_arsc(RESOURCES)
    assert sorted(resolve_file_paths(arsc, 0x7F010001)) == EXPECTED


def test_an_alias_cycle_ends() -> None:
    cycle = {"mipmap": {"a": {0: Ref(0x7F010001)}, "b": {0: Ref(0x7F010000)}}}
    assert resolve_file_paths(write_arsc(cycle), 0x7F010000) == []


@pytest.mark.parametrize("res_id", [0x7F020005, 0x7F090000, 0x7F000000, 0x01010002, 0])
def test_unknown_ids_resolve_to_nothing(res_id: int) -> None:
    assert resolve_file_paths(write_arsc(RESOURCES), res_id) == []


def test_the_writer_agrees_with_pyaxmlparser() -> None:
    parser = require_module("pyaxmlparser.arscparser").ARSCParser(write_arsc(RESOURCES))
    assert parser.get_packages_names() == ["com.example.demo"]
    assert parser.get_id("com.example.demo", ICON_ID)[:2] == ("mipmap", "ic_launcher")
    found = sorted(p for _, p in parser.get_resolved_res_configs(ICON_ID))
    assert found == sorted(p for _, p in EXPECTED)


def _real_arsc() -> bytes:
    with zipfile.ZipFile(FIXTURES / "v2-only-targetSandboxVersion-2.apk") as archive:
        return archive.read("resources.arsc")


# app_name of the AOSP tiny app in its three configurations (default, en-rXA, ar-rXB)
REAL_APP_NAME = [
    (0, "Tiny App for CTS"),
    (0, "[Ţîñý Åþþ ƒöŕ ÇŢŠ one two three]"),
    (0, "\u200f\u202eTiny\u202c\u200f \u200f\u202eApp\u202c\u200f \u200f\u202efor\u202c\u200f "
        "\u200f\u202eCTS\u202c\u200f"),
]


def test_an_aapt_built_table_reads_as_pyaxmlparser_reads_it() -> None:
    arsc = _real_arsc()
    assert resolve_file_paths(arsc, 0x7F020000) == REAL_APP_NAME
    module = require_module("pyaxmlparser.arscparser")
    found = module.ARSCParser(arsc).get_resolved_res_configs(0x7F020000)
    assert [(0, value) for _, value in found] == REAL_APP_NAME


# --- strings: the application label ------------------------------------------------------


def _label(table: EntryTable = "dense", **locales: str | Ref) -> str | None:
    strings: Strings = {"app_name": {k.replace("_", "-r"): v for k, v in locales.items()}}
    arsc = write_arsc(RESOURCES, strings=strings, table=table)
    return resolve_string(arsc, string_id(RESOURCES, "app_name", strings))


@pytest.mark.parametrize("table", ["dense", "sparse", "offset16"])
def test_the_default_configuration_names_the_app(table: EntryTable) -> None:
    assert _label(table, fr="Bonjour", en="Hello", **{"": "Default"}) == "Default"


@pytest.mark.parametrize(
    ("locales", "expected"),
    [
        ({"fr": "Bonjour", "en_US": "Howdy", "en": "Hello"}, "Hello"),  # en before en-rUS
        ({"fr": "Bonjour", "en_GB": "Colour"}, "Colour"),  # any English
        ({"fr": "Bonjour", "de": "Hallo"}, "Hallo"),  # else the first the table holds
        ({"": "  ", "en": "Hello"}, "Hello"),  # a blank default names nothing
        ({"": ""}, None),
    ],
)
def test_the_locale_fallback(locales: dict[str, str], expected: str | None) -> None:
    assert _label(**locales) == expected


def test_a_string_alias_is_followed_and_a_cycle_ends() -> None:
    strings: Strings = {"app_name": {"": Ref(0)}, "real": {"": "Real Name"}}
    strings["app_name"][""] = Ref(string_id(RESOURCES, "real", strings))
    arsc = write_arsc(RESOURCES, strings=strings)
    assert resolve_string(arsc, string_id(RESOURCES, "app_name", strings)) == "Real Name"
    cycle: Strings = {"a": {"": Ref(0x7F030001)}, "b": {"": Ref(0x7F030000)}}
    assert resolve_string(write_arsc(RESOURCES, strings=cycle), 0x7F030000) is None


def test_a_file_path_is_not_a_label_type_but_still_text() -> None:
    # resolve_string takes any TYPE_STRING; an id of another type resolves to its text
    assert resolve_string(write_arsc(RESOURCES), 0x7F010000) == "res/drawable/splash.png"
    assert resolve_string(write_arsc(RESOURCES), 0x7F090000) is None


def test_a_huge_label_is_cut() -> None:
    assert _label(**{"": "x" * 5000}) == "x" * MAX_LABEL_CHARS


def test_the_aapt_built_label_resolves_to_its_default() -> None:
    # the default, en-rXA (a pseudo-locale) and ar-rXB: the default wins
    assert resolve_string(_real_arsc(), 0x7F020000) == "Tiny App for CTS"


def test_the_string_writer_agrees_with_pyaxmlparser() -> None:
    module = pytest.importorskip("pyaxmlparser.arscparser")
    strings: Strings = {"app_name": {"": "Default", "fr": "Bonjour"}}
    parser = module.ARSCParser(write_arsc(RESOURCES, strings=strings))
    res_id = string_id(RESOURCES, "app_name", strings)
    assert parser.get_id("com.example.demo", res_id)[:2] == ("string", "app_name")
    assert sorted(v for _, v in parser.get_resolved_res_configs(res_id)) == ["Bonjour", "Default"]


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _malformed() -> dict[str, bytes]:
    good = write_arsc(RESOURCES)
    pool_end = 12 + struct.unpack_from("<I", good, 16)[0]
    package = pool_end
    # the first mipmap (type 2) chunk, mdpi: TYPE with headerSize 84, id 2
    first_type = package
    while good[first_type + 8] != 2:
        first_type = good.index(b"\x01\x02\x54\x00", first_type + 1)
    entries_start = struct.unpack_from("<I", good, first_type + 16)[0]
    return {
        "empty": b"",
        "not a table": b"\x03\x00\x08\x00" + bytes(8),
        "truncated header": good[:10],
        "header size past the end": _patch(good[:40], 2, "<H", 4000),
        "truncated in the package": good[: len(good) - 20],
        "chunk overruns its parent": _patch(good, package + 4, "<I", len(good)),
        "zero-size chunk": _patch(good, 12 + 4, "<I", 0),
        "no string pool": _patch(good, 12, "<H", 0x0009),
        "string pool count huge": _patch(good, 12 + 8, "<I", 0xFFFFFFF0),
        # string 1 is the mdpi icon path (string 0 is drawable/splash)
        "string offset outside the pool": _patch(good, 12 + 28 + 4, "<I", 0x7FFFFFF0),
        "short type header": _patch(good, first_type + 2, "<H", 12),
        "config overruns its header": _patch(good, first_type + 20, "<I", 0xFFFF),
        "entries start past the chunk": _patch(good, first_type + 16, "<I", 0x7FFFFFFF),
        "entry offset past the chunk": _patch(good, first_type + 84, "<I", 0x00FFFFF0),
        "entry size past the chunk": _patch(good, first_type + entries_start, "<H", 0xFFF0),
        "entry count huge": _patch(good, first_type + 12, "<I", 0xFFFFFFF0),
    }


@pytest.mark.parametrize("name", sorted(_malformed()))
def test_malformed_tables_raise_arsc_error(name: str) -> None:
    data = _malformed()[name]
    res_id = 0x7F020000 if name != "zero-size chunk" else 0x7F010000
    with pytest.raises(ArscError):
        # the mdpi row is read first, so every patch above is on the path taken
        resolve_file_paths(data, res_id)
    with pytest.raises(ArscError):  # the label's walk meets the same damage
        resolve_string(data, res_id)
    assert issubclass(ArscError, ArtifactError)


def test_an_oversized_table_is_refused_before_parsing() -> None:
    with pytest.raises(ArscError, match="over 67108864"):
        resolve_file_paths(b"\x02\x00\x0c\x00" + bytes(64 * 1024 * 1024 + 1), ICON_ID)


def test_fuzz_only_arsc_errors_escape(fuzz: Callable[..., int]) -> None:
    def target(data: bytes) -> None:
        for res_id in (ICON_ID, 0x7F010001, 0x7F020000):
            resolve_file_paths(data, res_id)
            resolve_string(data, res_id)

    dense, sparse = write_arsc(RESOURCES), write_arsc(RESOURCES, table="sparse")
    assert fuzz(dense, target) + fuzz(sparse, target) + fuzz(_real_arsc(), target) > 100


# --- the APK launcher icon (icon.py) ------------------------------------------------------


def test_the_largest_apk_icon_png_is_taken(tmp_path: Path) -> None:
    big = icon_png(192)
    meta = read_artifact(build_apk(tmp_path / "a.apk", icon=big))
    assert meta.details["iconResource"] == 0x7F010000
    icon, note = from_artifact(meta)
    assert icon is not None and note == ""
    assert icon.mime == "image/png" and icon.data == big  # the 192px xxxhdpi, not the 48px
    assert icon.source == "a.apk:res/mipmap-xxxhdpi-v4/ic_launcher.png"


def test_independent_reader_finds_the_same_apk_icon(tmp_path: Path) -> None:
    module = require_module("pyaxmlparser")
    path = build_apk(tmp_path / "a.apk", icon=icon_png(96))
    assert module.APK(str(path)).get_app_icon() == "res/mipmap-xxxhdpi-v4/ic_launcher.png"


def _rewrite(path: Path, drop: Callable[[str], bool]) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if not drop(n)}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_an_apk_with_only_an_adaptive_icon_has_none(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "a.apk", icon=icon_png(64))
    _rewrite(path, lambda n: n.endswith(".png"))  # the XML stays, as in adaptive-only apps
    icon, note = from_artifact(read_artifact(path))
    assert icon is None and "adaptive-icon XML or WebP" in note and "icon input" in note


def test_an_apk_whose_table_is_missing_or_damaged_has_none(tmp_path: Path) -> None:
    path = build_apk(tmp_path / "a.apk", icon=icon_png(64))
    meta = read_artifact(path)
    _rewrite(path, lambda n: n == "resources.arsc")
    icon, note = from_artifact(meta)
    assert icon is None and "could not read it" in note and "resources.arsc" in note
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("resources.arsc", b"\x02\x00\x0c\x00garbage")
    icon, note = from_artifact(meta)
    assert icon is None and "could not read it" in note
