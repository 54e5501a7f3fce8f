"""The `file` input as a list: separators, glob patterns, order, duplicates, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from intune_step.config.files import MAX_FILES, file_entries, names_a_list, resolve_files
from intune_step.errors import SettingsError


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")


def test_entries_split_on_newlines_and_commas() -> None:
    assert file_entries(" a.ipa,b.apk \n\n  c/d.msi \r\n") == ["a.ipa", "b.apk", "c/d.msi"]


def test_a_comma_in_a_file_name_survives(tmp_path: Path) -> None:
    touch(tmp_path, "Contoso, Inc.ipa")
    assert file_entries("Contoso, Inc.ipa", tmp_path) == ["Contoso, Inc.ipa"]  # it exists
    assert file_entries("missing 100%;]:,") == ["missing 100%;]:,"]  # one name only
    assert resolve_files("Contoso, Inc.ipa\nx.apk", tmp_path) == (
        tmp_path / "Contoso, Inc.ipa", tmp_path / "x.apk")


def test_patterns_expand_sorted_from_the_workspace_in_input_order(tmp_path: Path) -> None:
    touch(tmp_path, "out/b.ipa", "out/a.ipa", "out/notes.txt", "deep/x/y/z.apk", "first.msi")
    files = resolve_files("first.msi\nout/*.ipa\n**/*.apk", tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "first.msi", "out/a.ipa", "out/b.ipa", "deep/x/y/z.apk"]


def test_a_file_named_twice_is_published_once(tmp_path: Path) -> None:
    touch(tmp_path, "out/a.ipa")
    assert len(resolve_files("out/a.ipa, out/*.ipa, ./out/a.ipa", tmp_path)) == 1


def test_a_plain_path_is_kept_even_if_missing_and_brackets_in_a_real_name_work(
        tmp_path: Path) -> None:
    touch(tmp_path, "App [beta].ipa")
    assert resolve_files("missing.ipa", tmp_path) == (tmp_path / "missing.ipa",)
    assert resolve_files("App [beta].ipa", tmp_path) == (tmp_path / "App [beta].ipa",)
    assert not names_a_list("App [beta].ipa", tmp_path)  # a real file, not a pattern


def test_absolute_patterns_and_no_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    touch(tmp_path, "a.ipa", "b.ipa")
    assert len(resolve_files(f"{tmp_path}/*.ipa", Path("/elsewhere"))) == 2
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in resolve_files("*.ipa")] == ["a.ipa", "b.ipa"]


def test_what_makes_a_list() -> None:
    assert not names_a_list("build/app.ipa")
    assert names_a_list("build/*.ipa")
    assert names_a_list("a.ipa, b.apk")
    assert names_a_list("a.ipa\nb.apk")


def test_a_pattern_matching_nothing_or_too_much_is_refused(tmp_path: Path) -> None:
    touch(tmp_path, *(f"many/{n:03d}.apk" for n in range(MAX_FILES + 1)))
    with pytest.raises(SettingsError, match=r"'out/\*.ipa' matches no file in"):
        resolve_files("out/*.ipa", tmp_path)
    with pytest.raises(SettingsError, match=f"names {MAX_FILES + 1} artifacts"):
        resolve_files("many/*.apk", tmp_path)
    with pytest.raises(SettingsError, match="missing file"):
        resolve_files(" ,\n ", tmp_path)
