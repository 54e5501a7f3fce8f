"""Small but real macOS artifacts for the demo, the benchmarks and the tests.

``build_pkg`` writes a flat package the way productbuild/pkgbuild lay it out (xar with zlib
entries, a gzip cpio Payload holding the app's Info.plist). bsdtar and 7-Zip read it.
"""

from __future__ import annotations

import gzip
import plistlib
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import quoteattr

from intune_step.artifacts.xar import write_xar

PkgShape = Literal["product", "component", "nobundle"]


def info_plist(bundle_id: str, version: str, min_os: str, name: str = "Demo") -> bytes:
    """An app's Contents/Info.plist (XML form, as Xcode writes for macOS apps)."""
    return plistlib.dumps(
        {
            "CFBundleIdentifier": bundle_id,
            "CFBundleShortVersionString": version,
            "CFBundleVersion": _build_of(version),
            "CFBundleName": name,
            "CFBundlePackageType": "APPL",
            "CFBundleExecutable": name,
            "LSMinimumSystemVersion": min_os,
        }
    )


def _build_of(version: str) -> str:
    return version.replace(".", "") or "1"


def build_pkg(
    path: Path,
    *,
    bundle_id: str,
    version: str,
    min_os: str,
    shape: PkgShape = "product",
    app_name: str = "Demo",
    certificates: Sequence[bytes] = (),
) -> Path:
    """Write a flat .pkg installing ``<app_name>.app`` to /Applications; ``certificates``
    (DER, signer first) sign it as productsign would, without a real signature value.

    ``product``: Distribution + ``<id>.pkg/PackageInfo`` (productbuild);
    ``component``: a top-level PackageInfo (pkgbuild);
    ``nobundle``: a product archive whose Distribution and PackageInfo name no bundle.
    """
    component = f"{app_name.lower()}.pkg"
    with_bundle = shape != "nobundle"
    package_info = _package_info(bundle_id, version, app_name, with_bundle)
    payload = _payload(app_name, info_plist(bundle_id, version, min_os, app_name))
    if shape == "component":
        files = {"Bom": b"", "PackageInfo": package_info, "Payload": payload}
    else:
        files = {
            "Distribution": _distribution(
                bundle_id, version, min_os, app_name, component, with_bundle
            ),
            f"{component}/Bom": b"",
            f"{component}/PackageInfo": package_info,
            f"{component}/Payload": payload,
        }
    path.write_bytes(write_xar(files, certificates=certificates))
    return path


def _distribution(
    bundle_id: str, version: str, min_os: str, app: str, component: str, with_bundle: bool
) -> bytes:
    pkg_id = quoteattr(f"{bundle_id}.pkg")
    bundle = (
        f"<pkg-ref id={pkg_id}><bundle-version>"
        f"<bundle CFBundleShortVersionString={quoteattr(version)} "
        f"CFBundleVersion={quoteattr(_build_of(version))} id={quoteattr(bundle_id)} "
        f'path="{app}.app"/></bundle-version></pkg-ref>\n'
        if with_bundle
        else ""
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<installer-gui-script minSpecVersion="2">\n'
        f"    <title>{app}</title>\n"
        '    <options customize="never" require-scripts="false" '
        'hostArchitectures="arm64,x86_64"/>\n'
        "    <volume-check><allowed-os-versions>"
        f"<os-version min={quoteattr(min_os)}/></allowed-os-versions></volume-check>\n"
        '    <choices-outline><line choice="default">'
        f"<line choice={pkg_id}/></line></choices-outline>\n"
        '    <choice id="default"/>\n'
        f'    <choice id={pkg_id} visible="false"><pkg-ref id={pkg_id}/></choice>\n'
        f'    <pkg-ref id={pkg_id} version={quoteattr(version)} onConclusion="none">'
        f"#{component}</pkg-ref>\n"
        f"    {bundle}"
        f"    <product id={quoteattr(bundle_id)} version={quoteattr(version)}/>\n"
        "</installer-gui-script>\n"
    ).encode()


def _package_info(bundle_id: str, version: str, app: str, with_bundle: bool) -> bytes:
    ident = quoteattr(bundle_id)
    bundles = (
        f'    <bundle path="./{app}.app" id={ident} '
        f"CFBundleShortVersionString={quoteattr(version)} "
        f"CFBundleVersion={quoteattr(_build_of(version))}/>\n"
        f"    <bundle-version><bundle id={ident}/></bundle-version>\n"
        f"    <upgrade-bundle><bundle id={ident}/></upgrade-bundle>\n"
        f"    <relocate><bundle id={ident}/></relocate>\n"
        if with_bundle
        else "    <bundle-version/>\n"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<pkg-info overwrite-permissions="true" relocatable="false" '
        f'identifier={quoteattr(bundle_id + ".pkg")} postinstall-action="none" '
        f'version={quoteattr(version)} format-version="2" install-location="/Applications" '
        'auth="root">\n'
        '    <payload numberOfFiles="4" installKBytes="4"/>\n'
        f"{bundles}"
        "</pkg-info>\n"
    ).encode()


def _payload(app: str, plist: bytes) -> bytes:
    """A gzip'd odc cpio archive, the Payload format pkgbuild writes (without pbzx)."""
    members = [
        (f"./{app}.app", 0o40755, b""),
        (f"./{app}.app/Contents", 0o40755, b""),
        (f"./{app}.app/Contents/Info.plist", 0o100644, plist),
    ]
    out = bytearray()
    for ino, (name, mode, data) in enumerate(members, start=1):
        out += _cpio_header(name, mode, len(data), ino) + data
    out += _cpio_header("TRAILER!!!", 0, 0, 0)
    return gzip.compress(bytes(out), mtime=0)


def _cpio_header(name: str, mode: int, size: int, ino: int) -> bytes:
    encoded = name.encode() + b"\x00"
    fields = (
        f"070707{0:06o}{ino:06o}{mode:06o}{0:06o}{80:06o}{1:06o}{0:06o}"
        f"{0:011o}{len(encoded):06o}{size:011o}"
    )
    return fields.encode() + encoded


# --- DMG: a small HFS+ volume in a UDIF (UDZO) image ---------------------------------------

BLOCK = 4096
NODE = 4096
SECTOR = 512
_HFS_EPOCH_2024 = 3786912000  # 2024-01-01 in seconds since 1904 (HFS+ dates)


def build_dmg(
    path: Path,
    *,
    apps: dict[str, bytes],
    files: dict[str, bytes] | None = None,
    volume_name: str = "Demo",
    chunk_sectors: int = 2048,
) -> Path:
    """Write a UDZO .dmg whose HFS+ volume holds ``apps`` ({"Demo.app": Info.plist bytes},
    each as ``<name>/Contents/Info.plist``) and any extra ``files`` ({"dir/file": bytes}).

    7-Zip lists and extracts the result; hdiutil is not needed.
    """
    tree: dict[str, bytes | None] = {}
    for app, plist in apps.items():
        tree[app] = None
        tree[f"{app}/Contents"] = None
        tree[f"{app}/Contents/Info.plist"] = plist
    for name, data in (files or {}).items():
        parts = name.split("/")
        for i in range(1, len(parts)):
            tree.setdefault("/".join(parts[:i]), None)
        tree[name] = data
    volume = _hfs_volume(tree, volume_name)
    path.write_bytes(udif(volume, chunk_sectors))
    return path


def _hfs_key(parent: int, name: str) -> bytes:
    encoded = name.encode("utf-16-be")
    return struct.pack(">HIH", 6 + len(encoded), parent, len(name)) + encoded


def _sort_key(record: tuple[int, str, bytes]) -> tuple[int, str]:
    return record[0], record[1].casefold()  # close enough to HFS+ FastUnicodeCompare for ASCII


def _hfs_volume(tree: dict[str, bytes | None], volume_name: str) -> bytes:
    """Lay out an HFS+ volume: header, bitmap, extents and catalog B-trees, then file data."""
    ids = {"": 2}
    for number, name in enumerate(sorted(tree), start=16):
        ids[name] = number
    data_blocks: dict[str, tuple[int, int]] = {}
    next_block = 1 + 1 + 1  # block 0: boot + header; 1: bitmap; 2: extents tree
    catalog_start = next_block
    records = _catalog_records(tree, ids, volume_name, data_blocks)
    leaves = _pack_leaves(records)
    catalog_nodes = 1 + len(leaves) + (1 if len(leaves) > 1 else 0)
    next_block = catalog_start + catalog_nodes
    payload = bytearray()
    for name, data in tree.items():
        if data is not None:
            blocks = max(1, -(-len(data) // BLOCK))
            data_blocks[name] = (next_block, blocks)
            payload += data + bytes(blocks * BLOCK - len(data))
            next_block += blocks
    records = _catalog_records(tree, ids, volume_name, data_blocks)  # now with extents
    leaves = _pack_leaves(records)
    catalog = _catalog_file(leaves)
    total_blocks = next_block + 1  # the last block holds the alternate volume header
    image = bytearray(total_blocks * BLOCK)
    image[2 * BLOCK : 3 * BLOCK] = _btree_header_node(0, 0, 0, 0, 0, 1, max_key=10, kind=0)
    image[catalog_start * BLOCK : catalog_start * BLOCK + len(catalog)] = catalog
    image[next_block * BLOCK - len(payload) : next_block * BLOCK] = payload
    bitmap = bytearray(BLOCK)
    for block in range(total_blocks):
        bitmap[block // 8] |= 0x80 >> (block % 8)
    image[BLOCK : 2 * BLOCK] = bitmap
    folders = sum(1 for v in tree.values() if v is None)
    header = _volume_header(
        total_blocks,
        catalog_start,
        catalog_nodes,
        files=len(tree) - folders,
        folders=folders,
        next_id=16 + len(tree),
    )
    image[1024 : 1024 + len(header)] = header
    image[total_blocks * BLOCK - 1024 : total_blocks * BLOCK - 1024 + len(header)] = header
    return bytes(image)


def _catalog_records(
    tree: dict[str, bytes | None],
    ids: dict[str, int],
    volume_name: str,
    data_blocks: dict[str, tuple[int, int]],
) -> list[tuple[int, str, bytes]]:
    records = [
        (1, volume_name, _folder_record(2, _valence(tree, ""))),
        (2, "", _thread(3, 1, volume_name)),
    ]
    for name, data in tree.items():
        parent_name, _, leaf = name.rpartition("/")
        parent, cnid = ids[parent_name], ids[name]
        if data is None:
            records.append((parent, leaf, _folder_record(cnid, _valence(tree, name))))
            records.append((cnid, "", _thread(3, parent, leaf)))
        else:
            start, count = data_blocks.get(name, (0, 0))
            records.append((parent, leaf, _file_record(cnid, len(data), start, count)))
            records.append((cnid, "", _thread(4, parent, leaf)))
    return sorted(records, key=_sort_key)


def _valence(tree: dict[str, bytes | None], folder: str) -> int:
    prefix = f"{folder}/" if folder else ""
    return sum(1 for n in tree if n.startswith(prefix) and "/" not in n[len(prefix) :])


def _bsd(mode: int) -> bytes:
    return struct.pack(">IIBBHI", 501, 20, 0, 0, mode, 0)


def _dates() -> bytes:
    return struct.pack(">5I", *([_HFS_EPOCH_2024] * 5))


def _folder_record(cnid: int, valence: int) -> bytes:
    return (
        struct.pack(">hHII", 1, 0, valence, cnid)
        + _dates()
        + _bsd(0o40755)
        + bytes(32)
        + struct.pack(">II", 0, 0)
    )


def _fork(size: int, start: int, count: int) -> bytes:
    extents = struct.pack(">II", start, count) + bytes(56)
    return struct.pack(">QII", size, 0, count) + extents


def _file_record(cnid: int, size: int, start: int, count: int) -> bytes:
    return (
        struct.pack(">hHII", 2, 0x0002, 0, cnid)
        + _dates()
        + _bsd(0o100644)
        + bytes(32)
        + struct.pack(">II", 0, 0)
        + _fork(size, start, count)
        + _fork(0, 0, 0)
    )


def _thread(kind: int, parent: int, name: str) -> bytes:
    encoded = name.encode("utf-16-be")
    return struct.pack(">hhIH", kind, 0, parent, len(name)) + encoded


def _node(kind: int, height: int, records: list[bytes], flink: int = 0, blink: int = 0) -> bytes:
    node = bytearray(NODE)
    struct.pack_into(">IIbBHH", node, 0, flink, blink, kind, height, len(records), 0)
    offset = 14
    for i, record in enumerate(records):
        node[offset : offset + len(record)] = record
        struct.pack_into(">H", node, NODE - 2 * (i + 1), offset)
        offset += len(record)
    struct.pack_into(">H", node, NODE - 2 * (len(records) + 1), offset)  # free space
    if offset > NODE - 2 * (len(records) + 1):
        raise ValueError("records overflow the node")
    return bytes(node)


def _pack_leaves(records: list[tuple[int, str, bytes]]) -> list[list[bytes]]:
    """Group key+body records into leaf-sized lists."""
    leaves: list[list[bytes]] = [[]]
    used = 14 + 2
    for parent, name, body in records:
        record = _hfs_key(parent, name) + body
        if used + len(record) + 2 > NODE - 16:
            leaves.append([])
            used = 14 + 2
        leaves[-1].append(record)
        used += len(record) + 2
    return leaves


def _catalog_file(leaves: list[list[bytes]]) -> bytes:
    """Node 0 header, nodes 1..n leaves, then one index node when there are several."""
    count = len(leaves)
    nodes = []
    for i, records in enumerate(leaves, start=1):
        flink = i + 1 if i < count else 0
        nodes.append(_node(-1, 1, records, flink=flink, blink=i - 1))
    root, depth = 1, 1
    if count > 1:
        index = []
        for i, records in enumerate(leaves, start=1):
            key_length = struct.unpack_from(">H", records[0])[0]
            index.append(records[0][: 2 + key_length] + struct.pack(">I", i))
        nodes.append(_node(0, 2, index))
        root, depth = count + 1, 2
    total = 1 + len(nodes)
    leaf_records = sum(len(r) for r in leaves)
    header = _btree_header_node(depth, root, leaf_records, 1, count, total, max_key=516, kind=0)
    return header + b"".join(nodes)


def _btree_header_node(
    depth: int,
    root: int,
    leaf_records: int,
    first: int,
    last: int,
    total: int,
    *,
    max_key: int,
    kind: int,
) -> bytes:
    header = struct.pack(
        ">HIIIIHHIIHIBBI64x",
        depth,
        root,
        leaf_records,
        first,
        last,
        NODE,
        max_key,
        total,
        0,
        0,
        NODE,
        kind,
        0xCF,
        0x6,  # btreeType, keyCompareType (case folding), big + variable keys
    )
    node_map = bytearray(NODE - 14 - len(header) - 128 - 8)
    for node in range(total):
        node_map[node // 8] |= 0x80 >> (node % 8)
    return _node(1, 0, [header, bytes(128), bytes(node_map)])


def _volume_header(
    total_blocks: int,
    catalog_start: int,
    catalog_nodes: int,
    *,
    files: int,
    folders: int,
    next_id: int,
) -> bytes:
    def fork(start: int, blocks: int) -> bytes:
        return _fork(blocks * BLOCK, start, blocks)

    return (
        b"H+"
        + struct.pack(">HIII", 4, 0x100, 0x31302E30, 0)  # version, unmounted, "10.0", journal
        + struct.pack(">4I", *([_HFS_EPOCH_2024] * 4))
        + struct.pack(">IIIIII", files, folders, BLOCK, total_blocks, 0, total_blocks)
        + struct.pack(">IIIIQ", BLOCK, BLOCK, next_id, 1, 1)
        + bytes(32)  # finder info
        + fork(1, 1)  # allocation bitmap
        + fork(2, 1)  # extents overflow B-tree
        + fork(catalog_start, catalog_nodes)  # catalog B-tree
        + _fork(0, 0, 0)  # attributes
        + _fork(0, 0, 0)  # startup
    )


def udif(
    volume: bytes,
    chunk_sectors: int = 2048,
    *,
    compression: str = "zlib",
    partition: str = "Apple_HFS",
) -> bytes:
    """Wrap a raw volume as a single-partition image (hdiutil -layout NONE): UDZO (zlib),
    ULFO (lzfse, the ``lzfse`` package's encoder) or UDRO (raw) chunks."""
    kind, encode = _CHUNK_CODECS[compression]
    sectors = len(volume) // SECTOR
    data = bytearray()
    entries = []
    for first in range(0, sectors, chunk_sectors):
        piece = volume[first * SECTOR : (first + chunk_sectors) * SECTOR]
        count = len(piece) // SECTOR
        if not piece.strip(b"\x00"):
            entries.append(struct.pack(">IIQQQQ", 0x2, 0, first, count, len(data), 0))
            continue
        compressed = encode(piece)
        entries.append(struct.pack(">IIQQQQ", kind, 0, first, count, len(data), len(compressed)))
        data += compressed
    entries.append(struct.pack(">IIQQQQ", 0xFFFFFFFF, 0, sectors, 0, 0, 0))
    mish = struct.pack(
        ">4sIQQQII24sII128sI",
        b"mish",
        1,
        0,
        sectors,
        0,
        0x208,
        0,
        bytes(24),
        0,
        0,
        bytes(128),
        len(entries),
    ) + b"".join(entries)
    plist = plistlib.dumps(
        {
            "resource-fork": {
                "blkx": [
                    {
                        "Attributes": "0x0050",
                        "CFName": f"disk image ({partition} : 0)",
                        "Data": mish,
                        "ID": "0",
                        "Name": f"disk image ({partition} : 0)",
                    }
                ]
            }
        }
    )
    xml_offset = len(data)
    koly = struct.pack(
        ">4sIIIQQQQQII16sII128sQQ120sII128sIQ12x",
        b"koly",
        4,
        512,
        1,
        0,
        0,
        len(data),
        0,
        0,
        1,
        1,
        bytes(16),
        0,
        0,
        bytes(128),
        xml_offset,
        len(plist),
        bytes(120),
        0,
        0,
        bytes(128),
        1,
        sectors,
    )
    return bytes(data) + plist + koly


def _lzfse(piece: bytes) -> bytes:
    import lzfse  # the reference encoder; only ULFO images need it

    return bytes(lzfse.compress(piece))


_CHUNK_CODECS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    "zlib": (0x80000005, lambda piece: zlib.compress(piece, 9)),
    "lzfse": (0x80000007, _lzfse),
    "raw": (0x00000001, bytes),
}
