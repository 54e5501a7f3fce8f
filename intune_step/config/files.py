"""The `file` input: one path, or several paths and glob patterns.

Entries are separated by newlines or commas (:func:`file_entries`); relative ones are taken
from the workspace (``config.paths``, the same rule for Windows paths). An entry with ``*``,
``?`` or ``[`` is a glob pattern (``**`` spans folders) unless a file of exactly that name
exists; a pattern that matches no file is an error, so a typo never passes as "nothing to
publish". Matches are sorted; a file named twice (in any spelling of it) is published once.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from intune_step.config.paths import file_identity, in_workspace, is_anchored
from intune_step.errors import SettingsError

GLOB_CHARS = re.compile(r"[*?\[]")
MAX_FILES = 50  # a pattern that matches more is almost certainly too wide


def file_entries(value: str, workspace: Path | None = None) -> list[str]:
    """The entries of the input, in order: one per line, a line split at its commas when that
    leaves two or more names. A line that names an existing file stays whole, and so does
    one like "build 1,.ipa", so a comma in a file name survives."""
    entries: list[str] = []
    for raw in value.splitlines():
        line = raw.strip()
        if not line:
            continue
        names = [part.strip() for part in line.split(",") if part.strip()]
        if not names:
            continue
        if len(names) < 2 or in_workspace(Path(line), workspace).is_file():
            entries.append(line)
        else:
            entries.extend(names)
    return entries


def names_a_list(value: str, workspace: Path | None = None) -> bool:
    """True when the input may name several artifacts (two entries, or a pattern), whatever
    matches today: the outputs' form then follows the input, not the build folder."""
    entries = file_entries(value, workspace)
    return len(entries) > 1 or any(_is_pattern(entry, workspace) for entry in entries)


def _is_pattern(entry: str, workspace: Path | None) -> bool:
    return bool(GLOB_CHARS.search(entry)) and not in_workspace(Path(entry), workspace).is_file()


def resolve_files(value: str, workspace: Path | None = None) -> tuple[Path, ...]:
    """Every artifact the input names, in the order given (matches of a pattern sorted)."""
    found: dict[object, Path] = {}
    for entry in file_entries(value, workspace):
        # A plain path is kept even when missing: the reader then says so.
        matches = _glob(entry, workspace) if _is_pattern(entry, workspace) else [
            in_workspace(Path(entry), workspace)]
        for match in matches:
            found.setdefault(file_identity(match), match)
    if not found:
        raise SettingsError("missing file", fix="set `file` to the path of the built artifact")
    if len(found) > MAX_FILES:
        raise SettingsError(
            f"file names {len(found)} artifacts; one run publishes at most {MAX_FILES}",
            fix="narrow the glob pattern, or split the artifacts over several steps",
        )
    return tuple(found.values())


def _glob(entry: str, workspace: Path | None) -> list[Path]:
    relative = workspace is not None and not is_anchored(entry)
    if relative:
        assert workspace is not None
        names = glob.glob(entry, root_dir=workspace, recursive=True)
        candidates = [workspace / name for name in names]
    else:
        candidates = [Path(name) for name in glob.glob(entry, recursive=True)]
    matches = sorted(p for p in candidates if p.is_file())
    if not matches:
        raise SettingsError(
            f"file pattern {entry!r} matches no file" + (f" in {workspace}" if relative else ""),
            fix="check the pattern and that the build step ran first (patterns are relative "
            "to the workspace; ** spans folders)",
        )
    return matches
