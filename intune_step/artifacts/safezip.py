"""Bounded reading of ZIP-based artifacts (IPA, APK, MSIX, .intunewin).

Artifacts are untrusted: member names may try path traversal, and a member may claim (or
decompress to) far more than it says. Every read here is capped, and whatever zipfile or zlib
raises on a damaged archive becomes an ArtifactError that names the fix.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from intune_step.errors import ArtifactError

MAX_MEMBER_BYTES = 16 * 1024 * 1024  # metadata files are small; refuse more than this
MAX_MEMBERS = 200_000
# zipfile reads the whole central directory into memory on open; ~300 bytes an entry
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")

# What zipfile lets through on a corrupt archive: a damaged deflate stream (zlib.error), a
# bogus "version needed" or compression method (NotImplementedError), a short read
# (EOFError, struct.error), an encrypted member (RuntimeError), undecodable names
# (UnicodeDecodeError, a ValueError) and plain I/O errors.
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    EOFError,
    struct.error,
    RuntimeError,
    ValueError,
    LookupError,
    OSError,
)


def damaged(kind: str) -> str:
    """The fix for an archive that cannot be read."""
    return f"check that the build produced a complete {kind}, made by its usual tool"


def open_zip(path: Path, kind: str) -> zipfile.ZipFile:
    """Open ``path`` as a ZIP, or raise ArtifactError naming ``kind`` (e.g. "IPA")."""
    directory = central_directory_size(path)
    if directory is not None and directory > MAX_CENTRAL_DIRECTORY:
        raise ArtifactError(
            f"{path.name}: the {kind}'s central directory claims {directory} bytes, more than "
            f"the {MAX_CENTRAL_DIRECTORY} allowed",
            fix=damaged(kind),
        )
    try:
        archive = zipfile.ZipFile(path)
    except DECODE_ERRORS as exc:
        raise ArtifactError(
            f"{path.name}: not a valid {kind} (not a readable ZIP archive: "
            f"{type(exc).__name__}: {exc})",
            fix=damaged(kind),
        ) from exc
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        archive.close()
        raise ArtifactError(
            f"{path.name}: {kind} has {len(infos)} entries, more than the {MAX_MEMBERS} allowed",
            fix=damaged(kind),
        )
    for info in infos:
        check_member_name(path, info.filename)
    return archive


def central_directory_size(path: Path) -> int | None:
    """The central directory's size as the end records state it (zip64 too), read from the
    file's tail before zipfile loads the directory whole; None when no record is found (then
    zipfile's own refusal applies)."""
    record = _end_record(path)
    return record[0] if record else None


def central_directory_offset(path: Path) -> int | None:
    """Where the central directory starts, as the end records state it (what the APK Signing
    Block sits right before); None when no record is found."""
    record = _end_record(path)
    return record[1] if record else None


def _end_record(path: Path) -> tuple[int, int] | None:
    """(size, offset) of the central directory from the (zip64) end of central directory."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fp:
            start = max(0, size - (_EOCD.size + 0xFFFF))
            fp.seek(start)
            tail = fp.read()
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or at + _EOCD.size > len(tail):
                return None
            fields = _EOCD.unpack_from(tail, at)
            if fields[5] != 0xFFFFFFFF and fields[4] != 0xFFFF and fields[6] != 0xFFFFFFFF:
                return int(fields[5]), int(fields[6])
            if at < _ZIP64_LOCATOR.size:
                return None
            locator = _ZIP64_LOCATOR.unpack_from(tail, at - _ZIP64_LOCATOR.size)
            if locator[0] != b"PK\x06\x07" or locator[2] + _ZIP64_EOCD.size > size:
                return None
            fp.seek(locator[2])
            record = fp.read(_ZIP64_EOCD.size)
            if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
                return None
            fields64 = _ZIP64_EOCD.unpack(record)
            return int(fields64[8]), int(fields64[9])
    except OSError:
        return None


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
    fix = damaged("file")
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise ArtifactError(f"{path.name}: {name} is missing from the archive", fix=fix) from exc
    if info.file_size > limit:
        raise ArtifactError(
            f"{path.name}: {name} claims {info.file_size} bytes, more than the {limit} allowed",
            fix=fix,
        )
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except DECODE_ERRORS as exc:
        raise ArtifactError(
            f"{path.name}: {name} cannot be read ({type(exc).__name__}: {exc})", fix=fix
        ) from exc
    if len(data) > limit:
        raise ArtifactError(
            f"{path.name}: {name} inflates past the {limit} bytes allowed", fix=fix
        )
    return data
