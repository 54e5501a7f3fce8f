"""macOS ``.dmg`` (UDIF) -> ``macOSDmgApp``, reading the app's Info.plist from HFS+ or APFS.

Layers, each bounded (docs/protocol.md, "macOS packages and disk images" and
"APFS disk images"):

1. UDIF: the 512-byte ``koly`` trailer points at an XML plist whose ``blkx`` entries are chunk
   tables (``mish``) mapping the virtual disk's sectors onto zero-fill, raw, zlib (UDZO),
   bzip2 (UDBZ), LZMA (ULMO) or LZFSE (ULFO) chunks of the data fork. Chunks are decompressed
   on demand, one at a time, with a small cache.
2. The volume: an HFS+/HFSX volume header (``H+``/``HX`` at +1024) or an APFS container
   superblock (``NXSB`` at +32) at the start of one of the blkx partitions or GPT partitions.
3. HFS+: the catalog B-tree is descended by (parent id, "") keys, which needs no Unicode
   collation, and the leaves are scanned for a folder's children: the root's ``*.app``
   folders, their ``Contents``, and its ``Info.plist``, read through the data fork's extents.
   APFS: libfsapfs, reading the partition through a bounded window (artifacts/apfs.py).

Out of reach (each a MetadataUnreadableError naming bundle-id/bundle-version, which may stand
in for the app's values): FAT and HFS-wrapped volumes, ADC chunks, LZFSE where no bounded
decoder exists (Windows), forks continued in the extents-overflow file, HFS+-compressed
(decmpfs) Info.plist files, APFS files compressed with a method libfsapfs lacks, and images
with no top-level .app. Encrypted images and volumes and segmented images are refused
outright: a device cannot install them as uploaded. So is a damaged UDIF container.
"""

from __future__ import annotations

import bisect
import bz2
import lzma
import plistlib
import struct
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from intune_step.artifacts import lzfse_bounded
from intune_step.artifacts.apfs import ApfsVolume, is_apfs
from intune_step.artifacts.base import (
    BUNDLE_OVERRIDE_FIX,
    AppMetadata,
    MetadataUnreadableError,
    MinimumOs,
    PlainContent,
)
from intune_step.artifacts.macos_apps import bundle_properties
from intune_step.errors import ArtifactError

SECTOR = 512
KOLY = struct.Struct(">4sIIIQQQQQII16sII128sQQ120sII128sIQ12x")
MISH = struct.Struct(">4sIQQQII24sII128sI")  # 204 bytes, then 40-byte chunk entries
CHUNK = struct.Struct(">IIQQQQ")
MAX_PLIST_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 2_000_000
MAX_CHUNK_BYTES = 16 * 1024 * 1024  # hdiutil writes 1 MiB chunks
CACHE_CHUNKS = 4
MAX_INFLATED = 512 * 1024 * 1024  # total decompression per image: stops chunk thrashing
MAX_INFO_PLIST = 4 * 1024 * 1024
MAX_NODE_VISITS = 4_000
MAX_APPS = 500
OVERRIDE_FIX = BUNDLE_OVERRIDE_FIX

ZERO, RAW, IGNORE, ADC, ZLIB, BZIP2, LZFSE, LZMA = (
    0x00000000,
    0x00000001,
    0x00000002,
    0x80000004,
    0x80000005,
    0x80000006,
    0x80000007,
    0x80000008,
)
COMMENT, TERMINATOR = 0x7FFFFFFE, 0xFFFFFFFF
HFS_ROOT_FOLDER = 2
FOLDER, FILE, FOLDER_THREAD, FILE_THREAD = 1, 2, 3, 4
UF_COMPRESSED = 0x20
HFSPLUS_GUID = bytes.fromhex("005346480000aa11aa1100306543ecac")  # 48465300-0000-11AA-...
APFS_GUID = bytes.fromhex("ef57347c0000aa11aa1100306543ecac")


def read_dmg(path: Path) -> AppMetadata:
    """Read the top-level apps of a UDIF disk image with an HFS+ volume."""
    with path.open("rb") as fp:
        disk = UdifDisk(fp, path)
        try:
            volume = _find_volume(disk, path)
            apps = _top_level_apps(volume, path)
        except (struct.error, IndexError) as exc:  # a short read in a damaged structure
            raise _unreadable(path, f"the volume looks corrupt ({exc})") from exc
    primary = apps[0]
    minimum = primary.minimum_os
    return AppMetadata(
        app_type="macOSDmgApp",
        file_name=path.name,
        identity=primary.bundle_id,
        version=primary.display_version,
        build=primary.build,
        display_name=primary.name,
        minimum_os=MinimumOs("macos", minimum) if minimum else None,
        content=PlainContent(path=path, size=path.stat().st_size),
        properties=bundle_properties(apps),
        manifest=None,
        details={"apps": [app.folder for app in apps], "volume": volume.kind},
    )


def _fail(path: Path, message: str, fix: str = OVERRIDE_FIX) -> ArtifactError:
    return ArtifactError(f"{path.name}: {message}", fix=fix)


def _unreadable(path: Path, why: str) -> MetadataUnreadableError:
    """The image is sound but its app cannot be read here: the user's values may stand in."""
    return MetadataUnreadableError(
        f"{path.name}: cannot read the app inside this disk image: {why}"
    )


# --- UDIF ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """A run of virtual-disk sectors and where its bytes are in the file."""

    start: int  # absolute sector
    count: int
    kind: int
    offset: int  # absolute file offset
    length: int


class UdifDisk:
    """The virtual disk of a UDIF image, read on demand."""

    def __init__(self, fp: BinaryIO, path: Path) -> None:
        self._fp = fp
        self._path = path
        self._file_size = path.stat().st_size
        self.partitions: list[tuple[str, int]] = []  # (blkx name, first sector)
        self._chunks = self._load_chunks()
        self._starts = [c.start for c in self._chunks]
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._inflated = 0

    def _fail(self, message: str) -> ArtifactError:
        return _fail(
            self._path,
            message,
            fix="check that the build produced a complete disk image (hdiutil create "
            "-format UDZO), or " + OVERRIDE_FIX,
        )

    def _read_file(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self._file_size:
            raise self._fail("truncated (data points past the end of the file)")
        self._fp.seek(offset)
        return self._fp.read(length)

    def _trailer(self) -> tuple[int, int, int, int]:
        if self._file_size < SECTOR:
            raise self._fail("not a disk image (too short for a UDIF trailer)")
        head = self._read_file(0, 8)
        if head in (b"encrcdsa", b"cdsaencr"):
            raise _fail(
                self._path,
                "the disk image is encrypted; Intune cannot install it",
                fix="publish an unencrypted image (hdiutil convert -format UDZO)",
            )
        fields = KOLY.unpack(self._read_file(self._file_size - SECTOR, SECTOR))
        magic, version, header_size = fields[0], fields[1], fields[2]
        if magic != b"koly" or header_size != SECTOR:
            raise self._fail("not a UDIF disk image (no koly trailer)")
        if version != 4:
            raise self._fail(f"unsupported UDIF version {version}")
        data_offset, data_length = fields[5], fields[6]
        segment_count = fields[10]
        xml_offset, xml_length = fields[15], fields[16]
        if segment_count > 1:
            raise _fail(
                self._path,
                "the disk image is one segment of several; Intune needs the whole image",
                fix="publish a single-segment image (hdiutil convert -format UDZO)",
            )
        return data_offset, data_length, xml_offset, xml_length

    def _load_chunks(self) -> list[Chunk]:
        data_offset, data_length, xml_offset, xml_length = self._trailer()
        if data_offset + data_length > self._file_size:
            raise self._fail("truncated (the data fork runs past the end of the file)")
        if xml_length == 0 or xml_length > MAX_PLIST_BYTES:
            raise self._fail(f"the UDIF property list is missing or too large ({xml_length})")
        blkx = self._blkx(self._read_file(xml_offset, xml_length))
        chunks: list[Chunk] = []
        for entry in blkx:
            chunks.extend(self._mish(entry, data_offset, data_offset + data_length))
            if len(chunks) > MAX_CHUNKS:
                raise self._fail("the disk image has too many chunks")
        chunks.sort(key=lambda c: c.start)
        return chunks

    def _blkx(self, xml: bytes) -> list[dict[str, Any]]:
        if b"<!ENTITY" in xml:
            raise self._fail("the UDIF property list declares entities (refused)")
        try:
            plist = plistlib.loads(xml)
            blkx = plist["resource-fork"]["blkx"]
        except Exception as exc:  # plistlib raises many types on bad input; all mean corrupt
            raise self._fail(f"the UDIF property list is unreadable ({exc})") from exc
        if not isinstance(blkx, list) or not blkx:
            raise self._fail("the UDIF property list has no blkx table")
        return [entry for entry in blkx if isinstance(entry, dict)]

    def _mish(self, entry: dict[str, Any], fork_start: int, fork_end: int) -> Iterator[Chunk]:
        data = entry.get("Data")
        if not isinstance(data, bytes) or len(data) < MISH.size or data[:4] != b"mish":
            raise self._fail("a blkx entry is not a mish chunk table")
        fields = MISH.unpack_from(data)
        first_sector, base, count = fields[2], fields[4], fields[11]
        if len(data) < MISH.size + count * CHUNK.size:
            raise self._fail("a mish chunk table is truncated")
        self.partitions.append((str(entry.get("Name", "")), first_sector))
        for i in range(count):
            kind, _, sector, sectors, offset, length = CHUNK.unpack_from(
                data, MISH.size + i * CHUNK.size
            )
            if kind in (COMMENT, TERMINATOR) or sectors == 0:
                continue
            start = fork_start + base + offset
            if kind not in (ZERO, IGNORE) and start + length > fork_end:
                raise self._fail("a chunk points past the end of the data fork")
            yield Chunk(first_sector + sector, sectors, kind, start, length)

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the virtual disk at byte ``offset`` (gaps read as zeros)."""
        out = bytearray()
        position, end = offset, offset + length
        while position < end:
            index = bisect.bisect_right(self._starts, position // SECTOR) - 1
            chunk = self._chunks[index] if index >= 0 else None
            chunk_end = (chunk.start + chunk.count) * SECTOR if chunk else 0
            if chunk is None or position >= chunk_end:
                following = (
                    self._starts[index + 1] * SECTOR if index + 1 < len(self._starts) else end
                )
                step = min(end, following) - position
                if step <= 0:
                    break
                out += bytes(step)
                position += step
                continue
            step = min(end, chunk_end) - position
            inner = position - chunk.start * SECTOR
            out += self._chunk_bytes(chunk, inner, step)
            position += step
        return bytes(out)

    def _chunk_bytes(self, chunk: Chunk, offset: int, length: int) -> bytes:
        if chunk.kind in (ZERO, IGNORE):
            return bytes(length)
        if chunk.kind == RAW:
            return self._read_file(chunk.offset + offset, length)
        data = self._cache.get(chunk.offset)
        if data is None:
            data = self._decompress(chunk)
            self._cache[chunk.offset] = data
            if len(self._cache) > CACHE_CHUNKS:
                self._cache.popitem(last=False)
        piece = data[offset : offset + length]
        return piece + bytes(length - len(piece))

    def _decompress(self, chunk: Chunk) -> bytes:
        size = chunk.count * SECTOR
        if size > MAX_CHUNK_BYTES:
            raise self._fail(
                f"a chunk of {size} bytes is larger than the {MAX_CHUNK_BYTES} allowed"
            )
        self._inflated += size
        if self._inflated > MAX_INFLATED:
            raise self._fail(f"reading the volume needs more than {MAX_INFLATED} bytes inflated")
        raw = self._read_file(chunk.offset, chunk.length)
        try:
            if chunk.kind == ZLIB:
                return zlib.decompressobj().decompress(raw, size)
            if chunk.kind == BZIP2:
                return bz2.BZ2Decompressor().decompress(raw, size)
            if chunk.kind == LZMA:
                return lzma.LZMADecompressor().decompress(raw, size)
            if chunk.kind == LZFSE:
                return lzfse_bounded.decode(raw, size)
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
            raise self._fail(f"a compressed chunk is corrupt ({exc})") from exc
        except lzfse_bounded.LzfseUnavailable as exc:
            raise _unreadable(self._path, f"it uses LZFSE (ULFO) compression and {exc}") from exc
        names = {ADC: "ADC (UDCO)"}
        raise _unreadable(
            self._path, f"it uses {names.get(chunk.kind, hex(chunk.kind))} compression"
        )


# --- finding the volume --------------------------------------------------------------------


def _find_volume(disk: UdifDisk, path: Path) -> AppVolume:
    starts = [sector for _, sector in disk.partitions] + _gpt_starts(disk)
    seen: set[int] = set()
    for sector in starts:
        if sector in seen or sector < 0:
            continue
        seen.add(sector)
        base = sector * SECTOR
        signature = disk.read(base + 1024, 2)
        if signature in (b"H+", b"HX"):
            return HfsPlus(disk, base, path)
        if is_apfs(disk, base):
            return ApfsVolume(disk, base, path, MAX_INFO_PLIST)
    raise _unreadable(path, "no HFS+ or APFS volume was found in it")


def _gpt_starts(disk: UdifDisk) -> list[int]:
    header = disk.read(SECTOR, 92)
    if header[:8] != b"EFI PART":
        return []
    entries_lba, count, size = struct.unpack_from("<QII", header, 72)
    if size < 128 or count > 256:
        return []
    table = disk.read(entries_lba * SECTOR, count * size)
    starts = []
    for i in range(count):
        entry = table[i * size : (i + 1) * size]
        if entry[:16] in (HFSPLUS_GUID, APFS_GUID):
            starts.append(struct.unpack_from("<Q", entry, 32)[0])
    return starts


class AppVolume(Protocol):
    """What the app reader needs of a volume, HFS+ or APFS."""

    kind: str

    def app_folders(self) -> list[str]: ...

    def info_plist(self, folder: str, limit: int) -> bytes | None: ...


# --- HFS+ ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fork:
    logical_size: int
    extents: tuple[tuple[int, int], ...]  # (start block, block count)

    @classmethod
    def parse(cls, data: bytes, offset: int) -> Fork:
        logical_size = struct.unpack_from(">Q", data, offset)[0]
        pairs = struct.unpack_from(">16I", data, offset + 16)
        extents = tuple((pairs[i], pairs[i + 1]) for i in range(0, 16, 2) if pairs[i + 1])
        return cls(logical_size, extents)


@dataclass(frozen=True)
class Record:
    """One catalog leaf record of interest: a folder or a file."""

    parent: int
    name: str
    kind: int
    cnid: int
    data_fork: Fork | None
    compressed: bool


class HfsPlus:
    """Just enough HFS+ to list a folder and read a small file."""

    # read from the volume header and the catalog's header node by struct in __init__
    block_size: int
    node_size: int
    _depth: int
    _root: int

    def __init__(self, disk: UdifDisk, base: int, path: Path) -> None:
        self._disk = disk
        self._base = base
        self._path = path
        header = disk.read(base + 1024, 512)
        self.kind = "HFSX" if header[:2] == b"HX" else "HFS+"
        self.block_size = struct.unpack_from(">I", header, 40)[0]
        if self.block_size < 512 or self.block_size & (self.block_size - 1):
            raise self._corrupt(f"invalid block size {self.block_size}")
        self._catalog = Fork.parse(header, 272)
        node0 = self._read_fork(self._catalog, 0, 512)
        if len(node0) < 512:
            raise self._corrupt("the catalog file is empty")
        (self._depth, self._root, _, _, _, self.node_size) = struct.unpack_from(
            ">HIIIIH", node0, 14
        )
        if self.node_size < 512 or self.node_size > 65536 or self.node_size & 1:
            raise self._corrupt(f"invalid catalog node size {self.node_size}")
        self._visits = 0
        self._apps: dict[str, Record] = {}

    def _corrupt(self, why: str) -> ArtifactError:
        return _unreadable(self._path, f"the HFS+ volume looks corrupt ({why})")

    def _read_fork(self, fork: Fork, offset: int, length: int) -> bytes:
        """Bytes of a fork through its (at most 8) extents; overflow extents are refused."""
        out = bytearray()
        position = offset
        end = min(offset + length, fork.logical_size)
        extent_start = 0
        for start_block, count in fork.extents:
            extent_bytes = count * self.block_size
            while extent_start <= position < extent_start + extent_bytes and position < end:
                inside = position - extent_start
                step = min(end - position, extent_bytes - inside)
                disk_offset = self._base + start_block * self.block_size + inside
                out += self._disk.read(disk_offset, step)
                position += step
            extent_start += extent_bytes
        if position < end:
            raise _unreadable(self._path, "a file continues in the extents-overflow file")
        return bytes(out)

    def _node(self, number: int) -> bytes:
        self._visits += 1
        if self._visits > MAX_NODE_VISITS:
            raise self._corrupt("too many catalog nodes visited")
        node = self._read_fork(self._catalog, number * self.node_size, self.node_size)
        if len(node) != self.node_size:
            raise self._corrupt(f"catalog node {number} is outside the catalog")
        return node

    def _records(self, node: bytes) -> Iterator[tuple[int, str, bytes]]:
        """(parent id, name, record body) for each record of a node."""
        count = struct.unpack_from(">H", node, 10)[0]
        if count * 2 + 14 > len(node):
            raise self._corrupt("a catalog node claims too many records")
        for i in range(count):
            start = struct.unpack_from(">H", node, len(node) - 2 * (i + 1))[0]
            if start < 14 or start + 8 > len(node):
                raise self._corrupt("a catalog record lies outside its node")
            key_length, parent, name_length = struct.unpack_from(">HIH", node, start)
            name_end = start + 8 + 2 * name_length
            body = start + 2 + key_length
            if key_length < 6 or name_end > len(node) or body > len(node):
                raise self._corrupt("a catalog key is malformed")
            name = node[start + 8 : name_end].decode("utf-16-be", errors="replace")
            yield parent, name, node[body:]

    def _first_leaf_for(self, parent: int) -> int:
        """Descend the index to the leaf that holds (parent, "") - the folder's thread."""
        number = self._root
        for _ in range(max(self._depth, 1) + 1):
            node = self._node(number)
            kind: int = struct.unpack_from(">b", node, 8)[0]
            if kind == -1:  # leaf
                return number
            if kind != 0:
                raise self._corrupt(f"unexpected node kind {kind} in the catalog index")
            child: int | None = None
            for key_parent, key_name, body in self._records(node):
                if key_parent < parent or (key_parent == parent and not key_name):
                    child = struct.unpack_from(">I", body)[0]
                elif child is not None:
                    break
            if child is None:  # every key is larger: the first child holds the start
                first = next(self._records(node), None)
                if first is None or len(first[2]) < 4:
                    raise self._corrupt("an empty catalog index node")
                child = struct.unpack_from(">I", first[2])[0]
            number = child
        raise self._corrupt("the catalog index is deeper than its header says")

    def children(self, parent: int) -> Iterator[Record]:
        """Folder and file records directly inside folder ``parent``."""
        if self._root == 0:
            return
        number = self._first_leaf_for(parent)
        while number:
            node = self._node(number)
            for key_parent, name, body in self._records(node):
                if key_parent > parent:
                    return
                if key_parent == parent and len(body) >= 2:
                    record = _parse_record(key_parent, name, body)
                    if record is not None:
                        yield record
            number = struct.unpack_from(">I", node, 0)[0]  # fLink: the next leaf

    def child(self, parent: int, name: str) -> Record | None:
        wanted = name.casefold()
        return next((r for r in self.children(parent) if r.name.casefold() == wanted), None)

    def app_folders(self) -> list[str]:
        """The ``*.app`` folders at the root, in catalog (name) order."""
        self._apps = {
            r.name: r
            for r in self.children(HFS_ROOT_FOLDER)
            if r.kind == FOLDER and r.name.lower().endswith(".app")
        }
        return list(self._apps)

    def info_plist(self, folder: str, limit: int) -> bytes | None:
        record = self._apps.get(folder) or self.child(HFS_ROOT_FOLDER, folder)
        contents = self.child(record.cnid, "Contents") if record else None
        plist = self.child(contents.cnid, "Info.plist") if contents else None
        if plist is None or plist.kind != FILE:
            return None
        return self.read_file(plist, limit)

    def read_file(self, record: Record, limit: int) -> bytes:
        if record.compressed:
            raise _unreadable(self._path, f"{record.name} is stored HFS+-compressed (decmpfs)")
        fork = record.data_fork
        if fork is None or fork.logical_size > limit:
            raise _unreadable(self._path, f"{record.name} is empty or too large")
        return self._read_fork(fork, 0, fork.logical_size)


def _parse_record(parent: int, name: str, body: bytes) -> Record | None:
    kind = struct.unpack_from(">h", body)[0]
    if kind == FOLDER and len(body) >= 88:
        return Record(parent, name, kind, struct.unpack_from(">I", body, 8)[0], None, False)
    if kind == FILE and len(body) >= 248:
        compressed = bool(body[41] & UF_COMPRESSED)
        fork = Fork.parse(body, 88)
        return Record(parent, name, kind, struct.unpack_from(">I", body, 8)[0], fork, compressed)
    return None


# --- the apps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    folder: str
    bundle_id: str
    short_version: str | None
    build: str | None
    name: str | None
    minimum_os: str | None

    @property
    def display_version(self) -> str:
        return self.short_version or self.build or ""


def _top_level_apps(volume: AppVolume, path: Path) -> list[App]:
    folders = volume.app_folders()
    if not folders:
        raise MetadataUnreadableError(
            f"{path.name}: no .app was found at the top level of the disk image, so Intune's "
            "bundle id and version cannot be read from it"
        )
    apps = [_read_app(volume, folder, path) for folder in folders[:MAX_APPS]]
    return primary_first(apps, path.stem)


def primary_first(apps: list[App], stem: str) -> list[App]:
    """Put the app the image is named after first ("Suite 4.0.dmg" -> Suite.app): the catalog
    lists apps alphabetically, which would make a helper app primary. Otherwise keep that
    order; bundle-id can always name the primary."""
    wanted = stem.lower()

    def names_it(app: App) -> bool:  # "Suite", "Suite 4.0", "Suite-4.0", not "Suitehelper"
        name = app.folder[: -len(".app")].lower()
        rest = wanted[len(name) :]
        return bool(name) and wanted.startswith(name) and not rest[:1].isalpha()

    named = [app for app in apps if names_it(app)]
    if not named:
        return apps
    primary = max(named, key=lambda app: len(app.folder))
    return [primary, *(app for app in apps if app is not primary)]


def _read_app(volume: AppVolume, folder: str, path: Path) -> App:
    data = volume.info_plist(folder, MAX_INFO_PLIST)
    if data is None:
        raise _unreadable(path, f"{folder} has no Contents/Info.plist")
    if b"<!ENTITY" in data:
        raise _unreadable(path, f"{folder}/Contents/Info.plist declares entities")
    try:
        info = plistlib.loads(data)
    except Exception as exc:  # plistlib raises many types on bad input
        raise _unreadable(path, f"{folder}/Contents/Info.plist is malformed ({exc})") from exc
    if not isinstance(info, dict) or not str(info.get("CFBundleIdentifier", "")).strip():
        raise _unreadable(path, f"{folder}/Contents/Info.plist has no CFBundleIdentifier")
    app = App(
        folder=folder,
        bundle_id=str(info["CFBundleIdentifier"]).strip(),
        short_version=_text(info.get("CFBundleShortVersionString")),
        build=_text(info.get("CFBundleVersion")),
        name=_text(info.get("CFBundleDisplayName")) or _text(info.get("CFBundleName")),
        minimum_os=_text(info.get("LSMinimumSystemVersion")),
    )
    if not app.display_version:
        raise _unreadable(path, f"{folder}/Contents/Info.plist has no version")
    return app


def _text(value: object) -> str | None:
    """Info.plist values are sometimes numbers in broken bundles; keep them as text."""
    if value is None or isinstance(value, (dict, list, bytes)):
        return None
    text = str(value).strip()
    return text or None
