"""Bounded reading of ZIP-based artifacts (IPA, APK, MSIX, .intunewin).

Artifacts are untrusted: member names may try path traversal, and a member may claim (or
decompress to) far more than it says. Every read here is capped.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from intune_step.errors import ArtifactError

MAX_MEMBER_BYTES = 16 * 1024 * 1024  # metadata files are small; refuse more than this
MAX_MEMBERS = 200_000


def open_zip(path: Path, kind: str) -> zipfile.ZipFile:
    """Open ``path`` as a ZIP, or raise ArtifactError naming ``kind`` (e.g. "IPA")."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArtifactError(
            f"{path.name}: not a valid {kind} (not a readable ZIP archive: {exc})",
            fix=f"check that the build produced a complete {kind}",
        ) from exc
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise ArtifactError(f"{path.name}: {kind} has {len(infos)} entries, more than allowed")
    for info in infos:
        check_member_name(path, info.filename)
    return archive


def check_member_name(path: Path, name: str) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (name[1:3] == ":/" or name[1:3] == ":\\"):
        raise ArtifactError(
            f"{path.name}: archive entry {name!r} escapes the archive (path traversal)",
            fix="rebuild the artifact with a trusted tool",
        )


def read_member(
    archive: zipfile.ZipFile, name: str, path: Path, limit: int = MAX_MEMBER_BYTES
) -> bytes:
    """Read one member, refusing one that claims or inflates past ``limit`` bytes."""
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise ArtifactError(f"{path.name}: {name} is missing from the archive") from exc
    if info.file_size > limit:
        raise ArtifactError(
            f"{path.name}: {name} claims {info.file_size} bytes, more than the {limit} allowed"
        )
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArtifactError(f"{path.name}: {name} cannot be read ({exc})") from exc
    except RuntimeError as exc:  # encrypted members
        raise ArtifactError(f"{path.name}: {name} cannot be read ({exc})") from exc
    if len(data) > limit:
        raise ArtifactError(f"{path.name}: {name} inflates past the {limit} bytes allowed")
    return data
