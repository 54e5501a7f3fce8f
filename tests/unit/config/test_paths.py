"""Paths on every runner OS: Windows' drive letters and backslashes (PureWindowsPath, as the
code sees them there), macOS' case-insensitive volume (two spellings of one file), Linux."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from intune_step.config.files import file_entries, names_a_list, resolve_files
from intune_step.config.paths import file_identity, in_workspace, is_anchored, relative_text

WINDOWS_WORKSPACE = PureWindowsPath("D:\\a\\app\\app")  # GITHUB_WORKSPACE on windows-latest
MACOS_WORKSPACE = PurePosixPath("/Users/runner/work/app/app")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("build\\app.ipa", "D:\\a\\app\\app\\build\\app.ipa"),
        ("build/app.ipa", "D:\\a\\app\\app\\build\\app.ipa"),
        (".\\out\\App.msix", "D:\\a\\app\\app\\out\\App.msix"),
        ("C:\\Users\\runneradmin\\app.ipa", "C:\\Users\\runneradmin\\app.ipa"),
        ("c:/out/app.ipa", "c:\\out\\app.ipa"),
        ("\\\\server\\share\\app.msi", "\\\\server\\share\\app.msi"),
        ("\\out\\app.ipa", "\\out\\app.ipa"),  # root of the current drive: kept as written
        ("C:app.ipa", "C:app.ipa"),  # drive-relative: never silently joined to D:
    ],
)
def test_windows_paths_join_the_workspace_only_when_relative(given: str, expected: str) -> None:
    assert in_workspace(PureWindowsPath(given), WINDOWS_WORKSPACE) == PureWindowsPath(expected)
    assert is_anchored(given, PureWindowsPath) == (not expected.startswith("D:\\a"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("build/app.ipa", "/Users/runner/work/app/app/build/app.ipa"),
        ("/Users/runner/Library/app.ipa", "/Users/runner/Library/app.ipa"),
        ("build\\app.ipa", "/Users/runner/work/app/app/build\\app.ipa"),  # a name on POSIX
    ],
)
def test_macos_and_linux_paths(given: str, expected: str) -> None:
    assert in_workspace(PurePosixPath(given), MACOS_WORKSPACE) == PurePosixPath(expected)


def test_shown_paths_use_forward_slashes_and_windows_compares_case_blind() -> None:
    path = PureWindowsPath("d:\\A\\App\\APP\\build\\App.ipa")
    assert relative_text(path, WINDOWS_WORKSPACE) == "build/App.ipa"
    assert relative_text(PureWindowsPath("C:\\x\\a.ipa"), WINDOWS_WORKSPACE) == "C:\\x\\a.ipa"
    assert relative_text(PurePosixPath("/Users/x/a.ipa"), MACOS_WORKSPACE) == "/Users/x/a.ipa"


def test_windows_entries_keep_their_drive_letters_and_backslash_patterns() -> None:
    value = "C:\\out\\app.ipa, D:\\a\\app\\app\\build\\*.apk\nbuild\\**\\*.msix"
    assert file_entries(value) == [
        "C:\\out\\app.ipa",
        "D:\\a\\app\\app\\build\\*.apk",
        "build\\**\\*.msix",
    ]
    assert names_a_list("build\\*.ipa")


def test_two_spellings_of_one_file_publish_once(tmp_path: Path) -> None:
    """On a case-insensitive volume (macOS' APFS, Windows' NTFS) app.ipa and App.ipa are one
    file; a hard link is the same situation on Linux: two names, one file."""
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "app.ipa").write_bytes(b"x")
    os.link(tmp_path / "build" / "app.ipa", tmp_path / "build" / "App.ipa")
    files = resolve_files("build/app.ipa\nbuild/App.ipa\nbuild/*.ipa", tmp_path)
    assert files == (tmp_path / "build" / "app.ipa",)


def test_a_missing_file_is_known_by_its_resolved_path(tmp_path: Path) -> None:
    assert file_identity(tmp_path / "x" / ".." / "a.ipa") == file_identity(tmp_path / "a.ipa")
    assert file_identity(tmp_path / "a.ipa") != file_identity(tmp_path / "b.ipa")
