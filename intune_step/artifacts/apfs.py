"""An APFS volume inside a disk image, read through libfsapfs (``libfsapfs-python``).

Why a library and this one: docs/protocol.md, "APFS disk images". libfsapfs reads the
container through a Python file object, so it sees the partition through ``DiskWindow``: the
UDIF chunks it touches are decompressed on demand (finding an app's Info.plist reads ~60 KB of
a volume of any size), every read is bounded, and the total it may read is capped, which also
caps its time on a hostile image. libfsapfs is C: a failure inside it comes back as OSError,
turned here into a one-line MetadataUnreadableError; a failure of the image under it (a
corrupt chunk, a truncated file) keeps the disk's own ArtifactError.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from intune_step.artifacts.base import MetadataUnreadableError
from intune_step.errors import ArtifactError

MAX_READ = 16 * 1024 * 1024  # one read request (libfsapfs reads blocks and B-tree nodes)
MAX_TOTAL_READ = 64 * 1024 * 1024  # all reads for one image: stops loops in hostile trees
MAX_VOLUMES = 16
MAX_ROOT_ENTRIES = 5_000
MAX_APPS = 500
S_IFMT, S_IFDIR = 0o170000, 0o040000
DECMPFS = "com.apple.decmpfs"
_FRAME = re.compile(r"(?:^|\.\s+)(?=[a-z]\w*_\w+: )")  # where a "libx_function: " part starts


class VirtualDisk(Protocol):
    def read(self, offset: int, length: int) -> bytes: ...


def is_apfs(disk: VirtualDisk, base: int) -> bool:
    """An APFS container superblock (``NXSB`` after the 32-byte object header) at ``base``."""
    return disk.read(base + 32, 4) == b"NXSB"


class DiskWindow:
    """The container's bytes of the virtual disk as the file object libfsapfs reads."""

    def __init__(
        self, disk: VirtualDisk, base: int, size: int, fail: Callable[[str], ArtifactError]
    ) -> None:
        self._disk = disk
        self._fail = fail
        self._base = base
        self._size = size
        self._position = 0
        self._read_total = 0
        self.error: ArtifactError | None = None  # what really went wrong under an OSError

    def _stop(self, error: ArtifactError) -> OSError:
        if self.error is None:  # the first failure is the cause
            self.error = error
        return OSError(str(error))

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self._size - self._position
        size = max(0, min(size, self._size - self._position))
        if size > MAX_READ:
            raise self._stop(self._fail(f"a read of {size} bytes at once"))
        self._read_total += size
        if self._read_total > MAX_TOTAL_READ:
            raise self._stop(self._fail(f"reading it needs more than {MAX_TOTAL_READ} bytes"))
        try:
            data = self._disk.read(self._base + self._position, size)
        except ArtifactError as exc:
            raise self._stop(exc) from exc
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        start = {0: 0, 1: self._position, 2: self._size}.get(whence)
        if start is None or start + offset < 0:
            raise OSError("invalid seek")
        self._position = start + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def get_size(self) -> int:
        return self._size


class ApfsVolume:
    """The apps at the root of the first APFS volume that has some, read when it is opened.

    Everything is read up front and the container closed at once: libfsapfs holds the window
    from C, where the garbage collector cannot see it, so an open container left to the
    collector would keep the window, the disk and its chunk cache alive for good.
    """

    kind = "APFS"

    def __init__(self, disk: VirtualDisk, base: int, path: Path, plist_limit: int) -> None:
        self._path = path
        block_size, block_count = struct.unpack("<IQ", disk.read(base + 36, 12))
        if block_size < 4096 or block_size > 65536 or block_size & (block_size - 1):
            raise corrupt(path, f"invalid block size {block_size}")
        window = DiskWindow(disk, base, block_size * block_count, partial(corrupt, path))
        self._plists: dict[str, bytes | None] = _read(window, path, plist_limit)

    def app_folders(self) -> list[str]:
        """The ``*.app`` folders at the volume's root, by name."""
        return list(self._plists)

    def info_plist(self, folder: str, limit: int) -> bytes | None:
        """``folder/Contents/Info.plist`` (read with the limit given when opened), or None."""
        return self._plists.get(folder)


def corrupt(path: Path, why: str) -> MetadataUnreadableError:
    return MetadataUnreadableError(
        f"{path.name}: cannot read the app inside this disk image: the APFS volume looks "
        f"corrupt ({why})"
    )


def _read(window: DiskWindow, path: Path, limit: int) -> dict[str, bytes | None]:
    """Each root app's Info.plist (None: it has none); libfsapfs errors become one line."""
    import pyfsapfs  # loaded only for APFS images

    container = pyfsapfs.container()
    try:
        container.open_file_object(window)
        try:
            return _apps_of(container, path, limit)
        finally:
            container.close()
    except (OSError, ValueError, TypeError, OverflowError, UnicodeError) as exc:
        if window.error is not None:
            raise window.error from exc
        raise corrupt(path, _cause(exc)) from exc
    except MetadataUnreadableError:
        if window.error is not None:  # the image under the volume failed first: say that
            raise window.error from None
        raise


def _cause(exc: Exception) -> str:
    """The root cause in a pyfsapfs message, without its C function names.

    pyfsapfs says "pyfsapfs_x: what failed. libfsapfs_y: why. libfsapfs_z: ...": its own
    step, then libyal's error chain from the innermost error out; the first of those is why.
    """
    parts = [p for p in _FRAME.split(" ".join(str(exc).split())) if p.strip(" .")]
    if not parts:
        return type(exc).__name__
    cause = parts[1] if len(parts) > 1 else parts[0]
    return cause.split(": ", 1)[-1].strip(" .")[:200]


def _apps_of(container: Any, path: Path, limit: int) -> dict[str, bytes | None]:
    locked = False
    for index in range(min(int(container.number_of_volumes), MAX_VOLUMES)):
        volume = container.get_volume(index)
        if volume is None:
            raise ValueError(f"volume {index} is missing")
        if volume.is_locked():
            locked = True
            continue
        folders = _app_folders(volume)
        if folders:
            return {folder: _info_plist(volume, folder, path, limit) for folder in folders}
    if locked:
        raise ArtifactError(
            f"{path.name}: the disk image's APFS volume is encrypted; Intune cannot install it",
            fix="publish an image with an unencrypted volume (hdiutil create -fs APFS without "
            "-encryption)",
        )
    return {}


def _info_plist(volume: Any, folder: str, path: Path, limit: int) -> bytes | None:
    entry = volume.get_file_entry_by_path(f"/{folder}/Contents/Info.plist")
    if entry is None:
        return None
    size = int(entry.size)
    if size <= 0 or size > limit:
        raise MetadataUnreadableError(
            f"{path.name}: cannot read the app inside this disk image: {folder}/Contents/"
            f"Info.plist is empty or too large ({size} bytes)"
        )
    try:
        data = bytes(entry.read_buffer(size))
    except OSError as exc:
        method = _decmpfs_method(entry)
        if method is None:
            raise
        raise MetadataUnreadableError(
            f"{path.name}: cannot read the app inside this disk image: {folder}/Contents/"
            f"Info.plist is stored compressed (decmpfs method {method}), which libfsapfs "
            "does not read"
        ) from exc
    if len(data) != size:
        raise corrupt(path, f"{folder}/Contents/Info.plist reads short")
    return data


def _decmpfs_method(entry: Any) -> int | None:
    """The transparent-compression method of a file (``com.apple.decmpfs``), if it has one."""
    try:
        if not entry.has_extended_attribute_by_name(DECMPFS):
            return None
        header = bytes(entry.get_extended_attribute_by_name(DECMPFS).read_buffer(16))
    except OSError:
        return None
    if len(header) < 8 or header[:4] != b"fpmc":
        return None
    method: int = struct.unpack_from("<I", header, 4)[0]
    return method


def _app_folders(volume: Any) -> list[str]:
    root = volume.get_root_directory()
    if root is None:  # libfsapfs answers None, not an error, for a root it cannot find
        raise ValueError("the volume has no root folder")
    names: list[str] = []
    for index in range(min(int(root.number_of_sub_file_entries), MAX_ROOT_ENTRIES)):
        entry = root.get_sub_file_entry(index)
        if entry is None:
            raise ValueError("a root folder entry is missing")
        name = str(entry.name or "")
        if name.lower().endswith(".app") and int(entry.file_mode) & S_IFMT == S_IFDIR:
            names.append(name)
    # APFS orders a directory by name hash: sort, as HFS+'s catalog does, for a stable primary
    return sorted(names, key=str.casefold)[:MAX_APPS]
