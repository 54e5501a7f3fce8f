"""The real-world corpus: files other toolchains made, listed with their origin in MANIFEST.csv.

Each row names a file under tests/fixtures (``realworld/<type>/...``, or one of the older
third-party fixtures under ``third_party/`` and ``macos/``), its SHA-256, the public project it
comes from (repository, path, commit) and that project's licence. The rows are the corpus; a
file in the folder that no row names is an error, and so is a row whose file has other bytes.

``INTUNE_REALWORLD_DIR`` points the ``realworld/`` rows at another copy of that folder (e.g. the
full corpus before it is committed), so the same checks run over it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MANIFEST = FIXTURES / "realworld" / "MANIFEST.csv"
FIELDS = ["file", "sha256", "size", "project", "path", "commit", "licence", "what"]
# The reader each suffix goes to, grouped as the corpus folders are.
KINDS = {
    ".apk": "apk",
    ".ipa": "ipa",
    ".msi": "msi",
    ".msix": "msix",
    ".appx": "msix",
    ".msixbundle": "msix",
    ".appxbundle": "msix",
    ".intunewin": "intunewin",
    ".pkg": "pkg",
    ".dmg": "dmg",
}


@dataclass(frozen=True)
class Entry:
    file: str  # relative to tests/fixtures
    sha256: str
    size: int
    project: str  # owner/name of the public repository
    path: str  # its path there
    commit: str
    licence: str
    what: str

    @property
    def name(self) -> str:
        return Path(self.file).name

    @property
    def kind(self) -> str:
        return KINDS[Path(self.file).suffix.lower()]

    @property
    def location(self) -> Path:
        override = os.environ.get("INTUNE_REALWORLD_DIR")
        if override and self.file.startswith("realworld/"):
            return Path(override) / self.file.removeprefix("realworld/")
        return FIXTURES / self.file


@cache
def entries() -> tuple[Entry, ...]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == FIELDS, reader.fieldnames
        rows = [Entry(**{**row, "size": int(row["size"])}) for row in reader]  # type: ignore[arg-type]
    return tuple(rows)


def present() -> list[Entry]:
    """The rows whose file is in this checkout (or in INTUNE_REALWORLD_DIR)."""
    return [entry for entry in entries() if entry.location.is_file()]
