"""xar archives (the container of macOS flat .pkg files), read with caps, plus a small writer.

Layout (kaitai ``archive/xar.ksy``): a big-endian header ``>4sHHQQI`` (magic ``xar!``, header
size, version, compressed TOC length, uncompressed TOC length, checksum algorithm), the
zlib-compressed XML table of contents, then the heap. Entry offsets are relative to the heap.

The TOC is untrusted XML and goes through :mod:`intune_step.artifacts.xmlguard`. A signed
package (productsign, pkgbuild --sign) names its signer in the TOC's ``<signature>`` (and
``<x-signature>``) as XML-DSig ``KeyInfo/X509Data/X509Certificate`` elements, the signing
certificate first; they are kept, base64-decoded, in ``certificates`` (nothing is verified).
"""

from __future__ import annotations

import base64
import binascii
import bz2
import hashlib
import lzma
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from xml.sax.saxutils import escape

from intune_step.artifacts.xmlguard import local_name, parse_untrusted_xml
from intune_step.errors import ArtifactError

MAGIC = b"xar!"
HEADER = struct.Struct(">4sHHQQI")  # 28 bytes
MAX_TOC_COMPRESSED = 8 * 1024 * 1024
MAX_TOC_BYTES = 16 * 1024 * 1024
MAX_ENTRY_BYTES = 16 * 1024 * 1024  # Distribution/PackageInfo are a few KB
MAX_ENTRIES = 100_000
MAX_CERTIFICATES = 16
MAX_CERTIFICATE_TEXT = 64 * 1024  # base64 of one certificate; real ones are ~2 KB
DSIG = "http://www.w3.org/2000/09/xmldsig#"

_Fail = Callable[[str], ArtifactError]  # builds the error for one archive
_Tree = dict[str, "bytes | _Tree"]

_HASHES = {"sha1": "sha1", "md5": "md5", "sha256": "sha256", "sha512": "sha512"}
_CHUNK = 1024 * 1024


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class XarEntry:
    """One file of the TOC; ``offset`` is relative to the heap."""

    path: str
    kind: str
    offset: int
    length: int
    size: int
    encoding: str
    archived_checksum: tuple[str, str] | None = None
    extracted_checksum: tuple[str, str] | None = None


class XarArchive:
    """A xar file opened for bounded reads. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._label = path.name
        try:
            self._fp: BinaryIO = path.open("rb")
        except OSError as exc:
            raise ArtifactError(f"{self._label}: cannot open ({exc})") from exc
        try:
            self._file_size = path.stat().st_size
            self.heap_start, toc = self._read_toc()
            self.entries = _collect_entries(toc, self._label)
            self.certificates = _certificates(toc)
            self._verify_toc_checksum(toc)
            self._check_heap_extent()
        except BaseException:
            self._fp.close()
            raise

    def __enter__(self) -> XarArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._fp.close()

    def _fail(self, message: str) -> ArtifactError:
        return ArtifactError(
            f"{self._label}: {message}",
            fix="check that the build produced a complete flat package (productbuild/pkgbuild)",
        )

    def _read_toc(self) -> tuple[int, ET.Element]:
        head = self._fp.read(HEADER.size)
        if len(head) < HEADER.size or head[:4] != MAGIC:
            raise self._fail("not a flat package (no xar header)")
        _, header_size, version, toc_len, toc_size, _alg = HEADER.unpack(head)
        if header_size < HEADER.size or version != 1:
            raise self._fail(f"unsupported xar header (size {header_size}, version {version})")
        if toc_len > MAX_TOC_COMPRESSED or toc_size > MAX_TOC_BYTES:
            raise self._fail(f"xar table of contents is too large ({toc_size} bytes)")
        heap_start = header_size + toc_len
        if heap_start > self._file_size:
            raise self._fail("truncated (the table of contents runs past the end of the file)")
        self._fp.seek(header_size)
        self._toc_compressed = self._fp.read(toc_len)
        raw = _inflate(self._toc_compressed, "application/x-gzip", toc_size, self._fail)
        if len(raw) != toc_size:
            raise self._fail("xar table of contents does not have its declared size")
        root = parse_untrusted_xml(raw, f"{self._label}: xar table of contents", limit=toc_size)
        toc = root.find("toc")
        if local_name(root.tag) != "xar" or toc is None:
            raise self._fail("xar table of contents has no <xar><toc>")
        return heap_start, toc

    def _verify_toc_checksum(self, toc: ET.Element) -> None:
        checksum = toc.find("checksum")
        if checksum is None:
            return
        algorithm = _HASHES.get((checksum.get("style") or "").lower())
        if algorithm is None:
            return  # "none" or an algorithm we do not know: nothing to verify
        offset = _int_text(checksum, "offset", self._fail)
        size = _int_text(checksum, "size", self._fail)
        stored = self._read_heap(offset, size)
        if hashlib.new(algorithm, self._toc_compressed).digest() != stored:
            raise self._fail("xar table of contents checksum does not match (corrupt file)")

    def _check_heap_extent(self) -> None:
        """Catch a truncated download even when the damaged entry is one we never read."""
        end = max((e.offset + e.length for e in self.entries.values()), default=0)
        if self.heap_start + end > self._file_size:
            raise self._fail("truncated (the last entries run past the end of the file)")

    def _read_heap(self, offset: int, length: int) -> bytes:
        start = self.heap_start + offset
        if offset < 0 or length < 0 or start + length > self._file_size:
            raise self._fail("truncated (an entry points past the end of the file)")
        self._fp.seek(start)
        return self._fp.read(length)

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str, limit: int = MAX_ENTRY_BYTES) -> bytes:
        """The extracted bytes of entry ``name``, refusing more than ``limit`` bytes."""
        entry = self.entries.get(name)
        if entry is None or entry.kind != "file":
            raise self._fail(f"{name} is missing from the package")
        if entry.size > limit or entry.length > limit:
            raise self._fail(f"{name} claims {entry.size} bytes, more than the {limit} allowed")
        archived = self._read_heap(entry.offset, entry.length)
        _check_digest(archived, entry.archived_checksum, name, self._fail)
        data = _inflate(archived, entry.encoding, limit, self._fail)
        if len(data) != entry.size:
            raise self._fail(f"{name} does not have its declared size ({entry.size} bytes)")
        _check_digest(data, entry.extracted_checksum, name, self._fail)
        return data


def _certificates(toc: ET.Element) -> list[bytes]:
    """The DER certificates of the TOC's signatures, in document order (signer first)."""
    found: list[bytes] = []
    for signature in (c for c in toc if local_name(c.tag) in ("signature", "x-signature")):
        for elem in signature.iter():
            if local_name(elem.tag) != "X509Certificate" or len(found) >= MAX_CERTIFICATES:
                continue
            text = "".join((elem.text or "").split())
            if not text or len(text) > MAX_CERTIFICATE_TEXT:
                continue
            try:
                found.append(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                continue
        if found:
            break  # one signature's chain: an x-signature repeats the same certificates
    return found


def _collect_entries(toc: ET.Element, label: str) -> dict[str, XarEntry]:
    entries: dict[str, XarEntry] = {}
    # depth-first in document order (the stack holds siblings reversed)
    stack: list[tuple[ET.Element, str]] = [(f, "") for f in reversed(toc.findall("file"))]
    while stack:
        elem, parent = stack.pop()
        name = (elem.findtext("name") or "").strip()
        _check_name(name, label)
        path = f"{parent}{name}"
        entries[path] = _entry(elem, path, label)
        if len(entries) > MAX_ENTRIES:
            raise ArtifactError(f"{label}: more than {MAX_ENTRIES} entries in the package")
        stack.extend((child, f"{path}/") for child in reversed(elem.findall("file")))
    return entries


def _check_name(name: str, label: str) -> None:
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ArtifactError(
            f"{label}: package entry {name!r} escapes the archive (path traversal)",
            fix="rebuild the package with productbuild or pkgbuild",
        )


def _entry(elem: ET.Element, path: str, label: str) -> XarEntry:
    kind = (elem.findtext("type") or "file").strip()
    data = elem.find("data")
    if data is None:
        return XarEntry(path, kind if kind != "file" else "empty", 0, 0, 0, "")

    def fail(message: str) -> ArtifactError:
        return ArtifactError(f"{label}: {message}", fix="rebuild the package")

    encoding = data.find("encoding")
    return XarEntry(
        path=path,
        kind=kind,
        offset=_int_text(data, "offset", fail),
        length=_int_text(data, "length", fail),
        size=_int_text(data, "size", fail),
        encoding=(encoding.get("style") if encoding is not None else None)
        or "application/octet-stream",
        archived_checksum=_digest_of(data.find("archived-checksum")),
        extracted_checksum=_digest_of(data.find("extracted-checksum")),
    )


def _int_text(elem: ET.Element, tag: str, fail: _Fail) -> int:
    text = (elem.findtext(tag) or "").strip()
    if not text.isdigit() or len(text) > 19:
        raise fail(f"xar entry has an invalid <{tag}> ({text[:20]!r})")
    return int(text)


def _digest_of(elem: ET.Element | None) -> tuple[str, str] | None:
    if elem is None or not elem.text:
        return None
    algorithm = _HASHES.get((elem.get("style") or "").lower())
    return (algorithm, elem.text.strip().lower()) if algorithm else None


def _check_digest(data: bytes, digest: tuple[str, str] | None, name: str, fail: _Fail) -> None:
    if digest is not None and hashlib.new(digest[0], data).hexdigest() != digest[1]:
        raise fail(f"{name} checksum does not match (corrupt package)")


def _inflate(data: bytes, encoding: str, limit: int, fail: _Fail) -> bytes:
    """Decode one xar entry, never producing more than ``limit`` bytes (+1 to detect it)."""
    style = encoding.lower()
    try:
        if style == "application/octet-stream":
            out = data
        elif style == "application/x-gzip":  # a zlib stream despite the name
            out = zlib.decompressobj().decompress(data, limit + 1)
        elif style == "application/x-bzip2":
            out = bz2.BZ2Decompressor().decompress(data, limit + 1)
        elif style in ("application/x-lzma", "application/x-xz"):
            out = lzma.LZMADecompressor().decompress(data, limit + 1)
        else:
            raise fail(f"unknown xar encoding {encoding!r}")
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
        raise fail(f"a package entry cannot be decompressed ({exc})") from exc
    if len(out) > limit:
        raise fail(f"a package entry inflates past the {limit} bytes allowed")
    return out


# --- writing (fixtures and samples) --------------------------------------------------------


def write_xar(
    files: Mapping[str, bytes],
    encoding: str = "application/x-gzip",
    certificates: Sequence[bytes] = (),
) -> bytes:
    """A xar archive holding ``files`` (paths with "/" make directories), sha1 checksums.

    ``encoding`` is "application/x-gzip" (zlib, what pkgbuild writes),
    "application/x-bzip2" or "application/octet-stream". ``certificates`` (DER, signer
    first) add a ``<signature style="RSA">`` as productsign lays it out, its 256 bytes
    zeroed: a reader may name the signer, nothing here can verify it.
    """
    signature_size = 256 if certificates else 0
    heap = bytearray(20 + signature_size)  # the TOC's sha1 goes first; it is known last
    tree: _Tree = {}
    for name, data in files.items():
        node = tree
        *dirs, leaf = name.split("/")
        for part in dirs:
            child = node.setdefault(part, {})
            assert isinstance(child, dict), f"{part} is both a file and a folder"
            node = child
        node[leaf] = data
    ids = iter(range(1, MAX_ENTRIES))
    body = _toc_files(tree, heap, encoding, ids)
    signature = ""
    if certificates:
        x509_data = "".join(
            f"<X509Certificate>{base64.b64encode(c).decode()}</X509Certificate>"
            for c in certificates
        )
        signature = (
            f'  <signature style="RSA"><offset>20</offset><size>{signature_size}</size>'
            f'<KeyInfo xmlns="{DSIG}"><X509Data>{x509_data}</X509Data></KeyInfo>'
            "</signature>\n"
        )
    toc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<xar>\n <toc>\n'
        '  <checksum style="sha1"><offset>0</offset><size>20</size></checksum>\n'
        f"{signature}{body} </toc>\n</xar>\n"
    ).encode()
    compressed = zlib.compress(toc)
    heap[0:20] = hashlib.sha1(compressed).digest()
    header = HEADER.pack(MAGIC, HEADER.size, 1, len(compressed), len(toc), 1)
    return header + compressed + bytes(heap)


def _encode(data: bytes, encoding: str) -> bytes:
    if encoding == "application/x-gzip":
        return zlib.compress(data)
    if encoding == "application/x-bzip2":
        return bz2.compress(data)
    return data


def _toc_files(tree: _Tree, heap: bytearray, encoding: str, ids: Iterator[int]) -> str:
    out: list[str] = []
    for name, value in tree.items():
        file_id = next(ids)
        if isinstance(value, bytes):
            archived = _encode(value, encoding)
            offset = len(heap)
            heap.extend(archived)
            out.append(
                f'<file id="{file_id}"><name>{escape(name)}</name><type>file</type>'
                f"<data><length>{len(archived)}</length><offset>{offset}</offset>"
                f'<size>{len(value)}</size><encoding style="{encoding}"/>'
                f'<archived-checksum style="sha1">{hashlib.sha1(archived).hexdigest()}'
                "</archived-checksum>"
                f'<extracted-checksum style="sha1">{hashlib.sha1(value).hexdigest()}'
                "</extracted-checksum></data></file>\n"
            )
        else:
            inner = _toc_files(value, heap, encoding, ids)
            out.append(
                f'<file id="{file_id}"><name>{escape(name)}</name><type>directory</type>\n'
                f"{inner}</file>\n"
            )
    return "".join(out)
