"""A small but valid APFS container, wrapped in a UDIF disk image, for the tests and the fuzzer.

docs/protocol.md, "APFS test images". Laid out as Apple's "Apple File System Reference"
describes (its section names in the comments): one 4 KiB-block container with its superblock
(``nx_superblock_t``) in block 0 and again in a checkpoint (descriptor area: checkpoint map +
superblock), a container object map, one volume (``apfs_superblock_t``) with its own object
map, and a file-system B-tree holding the root and private directories, the apps' folders and
files (inodes with name and data-stream extended fields, directory records with hashed names,
data-stream ids and file extents). Every object carries its Fletcher-64 checksum. B-trees are
one root node, or a root index over leaves when the records do not fit in one.

Left out, as no reader of a read-only image uses them: the space manager and its bitmaps, the
reaper, snapshots, the extent-reference tree and encryption. The space-manager and reaper
object ids are 0 (the checkpoint map is empty). 7-Zip and libfsapfs read the result.

``decmpfs`` compresses chosen files the way macOS's transparent compression does: the data
lives in a ``com.apple.decmpfs`` extended attribute (method 3, zlib in the attribute) and the
inode has ``UF_COMPRESSED`` and no data stream.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from intune_step.samples.macos import udif

BLOCK = 4096
XID = 4  # every object was written by the same transaction
NX_OID, VOLUME_OID = 1, 1026  # the container superblock; the volume's virtual id
ROOT_INO, PRIVATE_INO, FIRST_INO = 2, 3, 16
EPOCH_2024_NS = 1_704_067_200 * 10**9  # 2024-01-01, APFS times are nanoseconds since 1970

# o_type: storage class in the high bits, type in the low 16 ("Objects")
PHYSICAL, EPHEMERAL = 0x40000000, 0x80000000
T_NX, T_BTREE, T_NODE, T_OMAP, T_CPM, T_FS, T_FSTREE = 0x1, 0x2, 0x3, 0xB, 0xC, 0xD, 0xE
# j_key_t types ("File-System Objects")
INODE, XATTR, DSTREAM_ID, EXTENT, DIR_REC = 3, 4, 6, 8, 9
S_IFDIR, S_IFREG, DT_DIR, DT_REG = 0o040000, 0o100000, 4, 8
UF_COMPRESSED, HAS_UNCOMPRESSED_SIZE = 0x20, 0x40000  # bsd_flags, internal_flags
CASE_INSENSITIVE = 0x1  # apfs_incompatible_features: macOS's default "APFS" format
NODE_ROOT, NODE_LEAF, NODE_FIXED = 0x1, 0x2, 0x4
INFO_SIZE = 40  # btree_info_t at the end of a root node
DECMPFS_ZLIB_ATTR = 3


@dataclass
class Layout:
    """Blocks handed out in order; ``blocks`` holds what was written to each."""

    blocks: dict[int, bytes] = field(default_factory=dict)
    next: int = 0

    def take(self, count: int = 1) -> int:
        first = self.next
        self.next += count
        return first


def build_apfs_dmg(
    path: Path,
    *,
    apps: dict[str, bytes],
    files: dict[str, bytes] | None = None,
    volume_name: str = "Demo",
    compression: str = "zlib",
    decmpfs: Iterable[str] = (),
    decmpfs_method: int = DECMPFS_ZLIB_ATTR,
    chunk_sectors: int = 2048,
) -> Path:
    """Write a UDIF image (``compression``: zlib, lzfse or raw chunks) whose APFS volume holds
    ``apps`` ({"Demo.app": Info.plist}, as ``<name>/Contents/Info.plist``) and ``files``.

    The files named in ``decmpfs`` are stored compressed in their decmpfs attribute, with
    ``decmpfs_method`` written as the method (the data is zlib whatever it says).
    """
    path.write_bytes(udif(build_apfs(apps=apps, files=files, volume_name=volume_name,
                                     decmpfs=decmpfs, decmpfs_method=decmpfs_method),
                          chunk_sectors, compression=compression, partition="Apple_APFS"))
    return path


def build_apfs(
    *,
    apps: dict[str, bytes],
    files: dict[str, bytes] | None = None,
    volume_name: str = "Demo",
    decmpfs: Iterable[str] = (),
    decmpfs_method: int = DECMPFS_ZLIB_ATTR,
) -> bytes:
    """The raw APFS container (what the image's partition holds)."""
    tree: dict[str, bytes | None] = {}
    for app, plist in apps.items():
        tree.update({app: None, f"{app}/Contents": None, f"{app}/Contents/Info.plist": plist})
    for name, data in (files or {}).items():
        parts = name.split("/")
        for i in range(1, len(parts)):
            tree.setdefault("/".join(parts[:i]), None)
        tree[name] = data
    layout = Layout()
    nx_block = layout.take()  # block 0
    desc_base, desc_blocks = layout.take(4), 4  # "Checkpoints": map + superblock copy
    data_base, data_blocks = layout.take(4), 4  # ephemeral objects: none are written
    omap_block, omap_tree_block, volume_block = layout.take(), layout.take(), layout.take()
    volume_omap_block = layout.take()
    records, counts = _fs_records(tree, layout, set(decmpfs), decmpfs_method)
    fs_mappings = _fs_tree(records, layout)  # virtual oid -> block of each fs-tree node
    volume_omap_tree = _omap_tree(fs_mappings, layout)
    layout.next += 8  # some free space, as a real container has
    total = layout.next

    def put(block: int, obj: bytes) -> None:
        layout.blocks[block] = _seal(obj)

    put(volume_omap_block, _omap(volume_omap_block, volume_omap_tree))
    fs_root = max(fs_mappings)  # the root node has the highest virtual id
    put(volume_block, _volume(volume_name, volume_omap_block, fs_root, counts))
    put(omap_tree_block, _omap_node(omap_tree_block, [(VOLUME_OID, volume_block)]))
    put(omap_block, _omap(omap_block, omap_tree_block))
    nx = _nx(total, desc_base, desc_blocks, data_base, data_blocks, omap_block,
             next_oid=fs_root + 1)
    put(nx_block, nx)
    put(desc_base, _checkpoint_map(desc_base))
    put(desc_base + 1, nx)
    image = bytearray(total * BLOCK)
    for block, data in layout.blocks.items():
        image[block * BLOCK : block * BLOCK + len(data)] = data
    return bytes(image)


# --- objects ("Objects", "Container", "Object Maps", "Volumes") -----------------------------


def fletcher64(block: bytes | bytearray) -> bytes:
    """The o_cksum of an object: Fletcher-64 over the block after the checksum field."""
    low = high = 0
    for (word,) in struct.iter_unpack("<I", block[8:]):
        low = (low + word) % 0xFFFFFFFF
        high = (high + low) % 0xFFFFFFFF
    first = 0xFFFFFFFF - (low + high) % 0xFFFFFFFF
    return struct.pack("<II", first, 0xFFFFFFFF - (low + first) % 0xFFFFFFFF)


def _header(oid: int, kind: int, subtype: int = 0) -> bytes:
    return bytes(8) + struct.pack("<QQII", oid, XID, kind, subtype)  # obj_phys_t


def _seal(obj: bytes) -> bytes:
    block = bytearray(obj) + bytes(BLOCK - len(obj))
    block[:8] = fletcher64(block)
    return bytes(block)


def _nx(total: int, desc_base: int, desc_blocks: int, data_base: int, data_blocks: int,
        omap: int, *, next_oid: int) -> bytes:
    nx = bytearray(BLOCK)
    nx[:32] = _header(NX_OID, EPHEMERAL | T_NX)
    struct.pack_into("<4sIQQQQ16sQQ", nx, 32, b"NXSB", BLOCK, total, 0, 0,
                     0x2,  # NX_INCOMPAT_VERSION2
                     hashlib.md5(b"intune-step nx").digest(), next_oid, XID + 1)
    struct.pack_into("<IIQQIIIIII", nx, 104, desc_blocks, data_blocks, desc_base, data_base,
                     2, 0,  # next free index in each area
                     0, 2,  # this checkpoint: descriptor blocks 0-1 (map, superblock)
                     0, 0)  # and no ephemeral data blocks
    struct.pack_into("<QQQII", nx, 152, 0, omap, 0, 0, 1)  # no spaceman/reaper; 1 volume
    struct.pack_into("<Q", nx, 184, VOLUME_OID)  # nx_fs_oid[0]
    return bytes(nx)


def _checkpoint_map(block: int) -> bytes:
    """checkpoint_map_phys_t, last of its checkpoint, mapping no ephemeral object."""
    return _header(block, PHYSICAL | T_CPM) + struct.pack("<II", 0x1, 0)


def _omap(block: int, tree: int) -> bytes:
    """omap_phys_t: a physical B-tree of (oid, xid) -> (flags, size, paddr)."""
    tree_type = PHYSICAL | T_BTREE
    return _header(block, PHYSICAL | T_OMAP) + struct.pack(
        "<IIIIQQQQQ", 0, 0, tree_type, tree_type, tree, 0, 0, 0, 0)


def _omap_node(block: int, mappings: list[tuple[int, int]]) -> bytes:
    """A root-and-leaf object-map node (fixed 16-byte keys and values)."""
    entries = [(struct.pack("<QQ", oid, XID), struct.pack("<IIQ", 0, BLOCK, paddr))
               for oid, paddr in sorted(mappings)]
    return _node(_header(block, PHYSICAL | T_BTREE, T_OMAP), entries, root=True, level=0,
                 fixed=True, info=_info(0x10 | 0x2, 16, 16, len(entries), 1, 16, 16))


def _omap_tree(mappings: dict[int, int], layout: Layout) -> int:
    block = layout.take()
    layout.blocks[block] = _seal(_omap_node(block, sorted(mappings.items())))
    return block


def _volume(name: str, omap: int, root_tree: int, counts: tuple[int, int, int]) -> bytes:
    files, folders, next_ino = counts
    sb = bytearray(BLOCK)
    sb[:32] = _header(VOLUME_OID, T_FS)
    struct.pack_into("<4sIQQQQ", sb, 32, b"APSB", 0, 0, 0, CASE_INSENSITIVE, EPOCH_2024_NS)
    struct.pack_into("<IIII", sb, 96, 0, 0, 0, 0)  # apfs_meta_crypto: none
    struct.pack_into("<III", sb, 116, T_BTREE, PHYSICAL | T_BTREE, PHYSICAL | T_BTREE)
    struct.pack_into("<QQQQQQQ", sb, 128, omap, root_tree, 0, 0, 0, 0, next_ino)
    struct.pack_into("<QQ", sb, 184, files, folders)
    sb[240:256] = hashlib.md5(b"intune-step volume").digest()
    struct.pack_into("<QQ", sb, 256, EPOCH_2024_NS, 0x1)  # APFS_FS_UNENCRYPTED
    sb[272:304] = b"intune-step samples".ljust(32, b"\x00")  # apfs_formatted_by.id
    struct.pack_into("<QQ", sb, 304, EPOCH_2024_NS, XID)
    sb[704 : 704 + 255] = name.encode()[:255].ljust(255, b"\x00")
    return bytes(sb)


# --- B-trees ("B-Trees") --------------------------------------------------------------------


def _info(flags: int, key_size: int, val_size: int, keys: int, nodes: int,
          longest_key: int, longest_val: int) -> bytes:
    return struct.pack("<IIIIIIQQ", flags, BLOCK, key_size, val_size, longest_key,
                       longest_val, keys, nodes)


def _align(n: int, fixed: bool) -> int:
    return n if fixed else -(-n // 8) * 8


def _node(header: bytes, entries: list[tuple[bytes, bytes]], *, root: bool, level: int,
          fixed: bool, info: bytes = b"") -> bytes:
    """btree_node_phys_t: table of contents, keys from its end, values from the node's end."""
    toc_size = len(entries) * (4 if fixed else 8)
    end = BLOCK - (INFO_SIZE if root else 0)
    node = bytearray(BLOCK)
    keys, vals = 56 + toc_size, 0
    for i, (key, val) in enumerate(entries):
        k = keys - 56 - toc_size
        node[keys : keys + len(key)] = key
        keys += _align(len(key), fixed)
        vals += _align(len(val), fixed)
        node[end - vals : end - vals + len(val)] = val
        if fixed:
            struct.pack_into("<HH", node, 56 + 4 * i, k, vals)
        else:
            struct.pack_into("<HHHH", node, 56 + 8 * i, k, len(key), vals, len(val))
    if keys > end - vals:
        raise ValueError("the records overflow the node")
    flags = (NODE_ROOT if root else 0) | (NODE_LEAF if level == 0 else 0)
    flags |= NODE_FIXED if fixed else 0
    free = keys - 56 - toc_size
    struct.pack_into("<HHIHHHHHHHH", node, 32, flags, level, len(entries), 0, toc_size,
                     free, end - vals - keys, 0xFFFF, 0, 0xFFFF, 0)
    node[:32] = header
    if root:
        node[BLOCK - INFO_SIZE :] = info
    return bytes(node)


def _fits(entries: list[tuple[bytes, bytes]]) -> bool:
    used = sum(8 + _align(len(k), False) + _align(len(v), False) for k, v in entries)
    return 56 + used <= BLOCK - INFO_SIZE


def _fs_tree(records: list[tuple[bytes, bytes]], layout: Layout) -> dict[int, int]:
    """The file-system tree (virtual, variable-size records): one root leaf, or leaves under
    a root index node. Returns each node's virtual oid -> block for the volume's object map."""
    longest_key = max(len(k) for k, _ in records)
    longest_val = max(len(v) for _, v in records)
    leaves: list[list[tuple[bytes, bytes]]] = [[]]
    for record in records:
        if not _fits([*leaves[-1], record]):  # a non-root leaf has no btree_info: still safe
            leaves.append([])
        leaves[-1].append(record)
    oid = VOLUME_OID + 1
    mappings: dict[int, int] = {}

    def info(nodes: int) -> bytes:
        return _info(0, 0, 0, len(records), nodes, longest_key, longest_val)

    if len(leaves) == 1:
        block = layout.take()
        header = _header(oid, T_BTREE, T_FSTREE)
        layout.blocks[block] = _seal(_node(header, records, root=True, level=0, fixed=False,
                                           info=info(1)))
        return {oid: block}
    index = []
    for leaf in leaves:
        block = layout.take()
        layout.blocks[block] = _seal(_node(_header(oid, T_NODE, T_FSTREE), leaf, root=False,
                                           level=0, fixed=False))
        mappings[oid] = block
        index.append((leaf[0][0], struct.pack("<Q", oid)))
        oid += 1
    if not _fits(index):
        raise ValueError("too many files for a two-level tree")
    block = layout.take()
    layout.blocks[block] = _seal(_node(_header(oid, T_BTREE, T_FSTREE), index, root=True,
                                       level=1, fixed=False, info=info(len(leaves) + 1)))
    mappings[oid] = block
    return mappings


# --- file-system records ("File-System Objects", "Data Streams", "Extended Attributes") -----


def _key(oid: int, kind: int) -> bytes:
    return struct.pack("<Q", oid | kind << 60)


def name_hash(name: str) -> int:
    """The 22-bit hash of a directory entry's name on a case-insensitive volume: CRC-32C of
    the case-folded, decomposed (NFD) name as UTF-32LE, complemented (no final XOR)."""
    crc = 0xFFFFFFFF
    for byte in unicodedata.normalize("NFD", name.casefold()).encode("utf-32-le"):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc & 0x3FFFFF


def _xfields(fields: list[tuple[int, int, bytes]]) -> bytes:
    """xf_blob_t: the x_field_t headers, then each value padded to 8 bytes."""
    heads = b"".join(struct.pack("<BBH", kind, flags, len(data)) for kind, flags, data in fields)
    body = b"".join(data + bytes(-len(data) % 8) for _, _, data in fields)
    return struct.pack("<HH", len(fields), len(body)) + heads + body


def _inode(ino: int, parent: int, name: str, mode: int, children: int,
           size: int | None, blocks: int = 0, compressed: int | None = None
           ) -> tuple[bytes, bytes]:
    """j_inode_val_t; ``compressed``: the size of a decmpfs file, which has no data stream."""
    fields = [(4, 0x2, name.encode() + b"\x00")]  # INO_EXT_TYPE_NAME, XF_DO_NOT_COPY
    if size is not None:  # INO_EXT_TYPE_DSTREAM (j_dstream_t), XF_SYSTEM_FIELD
        fields.append((8, 0x20, struct.pack("<QQQQQ", size, blocks * BLOCK, 0, size, 0)))
    flags, bsd_flags = (0, 0) if compressed is None else (HAS_UNCOMPRESSED_SIZE, UF_COMPRESSED)
    value = struct.pack("<QQQQQQQiIIIIIHHQ", parent, ino, *([EPOCH_2024_NS] * 4), flags,
                        children, 0, 0, bsd_flags, 501, 20, mode, 0, compressed or 0)
    return _key(ino, INODE), value + _xfields(fields)


def _drec(parent: int, name: str, ino: int, folder: bool) -> tuple[bytes, bytes]:
    encoded = name.encode() + b"\x00"
    key = _key(parent, DIR_REC) + struct.pack("<I", name_hash(name) << 10 | len(encoded))
    return key + encoded, struct.pack("<QQH", ino, EPOCH_2024_NS, DT_DIR if folder else DT_REG)


def _decmpfs(data: bytes, method: int) -> bytes:
    """A com.apple.decmpfs attribute value: the 'fpmc' header, then the compressed data."""
    return b"fpmc" + struct.pack("<IQ", method, len(data)) + zlib.compress(data, 9)


def _fs_records(tree: dict[str, bytes | None], layout: Layout, compressed: set[str],
                method: int) -> tuple[list[tuple[bytes, bytes]], tuple[int, int, int]]:
    """Every record of the volume, sorted as the tree requires (oid, type, then name hash or
    offset), with file data written to blocks; also (files, folders, next inode number)."""
    ids = {"": ROOT_INO} | {name: FIRST_INO + i for i, name in enumerate(sorted(tree))}

    def children(folder: str) -> list[str]:
        prefix = f"{folder}/" if folder else ""
        return [n for n in tree if n.startswith(prefix) and "/" not in n[len(prefix):]]

    records = [_inode(ROOT_INO, 1, "root", S_IFDIR | 0o755, len(children("")), None),
               _inode(PRIVATE_INO, 1, "private-dir", S_IFDIR | 0o755, 0, None)]
    for name, data in tree.items():
        parent_name, _, leaf = name.rpartition("/")
        ino, parent = ids[name], ids[parent_name]
        records.append(_drec(parent, leaf, ino, data is None))
        if data is None:
            records.append(_inode(ino, parent, leaf, S_IFDIR | 0o755, len(children(name)),
                                  None))
        elif name in compressed:
            records.append(_inode(ino, parent, leaf, S_IFREG | 0o644, 1, None,
                                  compressed=len(data)))
            attr = _decmpfs(data, method)  # j_xattr_key_t / j_xattr_val_t, XATTR_DATA_EMBEDDED
            records.append((_key(ino, XATTR) + struct.pack("<H", 18) + b"com.apple.decmpfs\x00",
                            struct.pack("<HH", 0x2, len(attr)) + attr))
        else:
            count = max(1, -(-len(data) // BLOCK))
            first = layout.take(count)
            for i in range(count):
                layout.blocks[first + i] = data[i * BLOCK : (i + 1) * BLOCK]
            records.append(_inode(ino, parent, leaf, S_IFREG | 0o644, 1, len(data),
                                  blocks=count))
            records.append((_key(ino, DSTREAM_ID), struct.pack("<I", 1)))
            records.append((_key(ino, EXTENT) + struct.pack("<Q", 0),
                            struct.pack("<QQQ", count * BLOCK, first, 0)))
    records.sort(key=_order)
    folders = sum(1 for v in tree.values() if v is None)
    return records, (len(tree) - folders, folders, FIRST_INO + len(tree))


def _order(record: tuple[bytes, bytes]) -> tuple[int, int, bytes]:
    key = record[0]
    (oid_and_type,) = struct.unpack_from("<Q", key)
    oid, kind = oid_and_type & (1 << 60) - 1, oid_and_type >> 60
    if kind == DIR_REC:  # by hash, then name
        (len_and_hash,) = struct.unpack_from("<I", key, 8)
        return oid, kind, struct.pack(">I", len_and_hash >> 10) + key[12:]
    return oid, kind, key[8:]
