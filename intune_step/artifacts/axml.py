"""A small, hardened reader for Android binary XML (AXML), the form of AndroidManifest.xml in APKs.

Format (docs/protocol.md, "Android binary XML"): little-endian chunks, each
``u16 type, u16 headerSize, u32 size``; a RES_XML file chunk holding a string pool, a resource
map (resource id of string *i*) and XML node chunks. Attributes are matched by resource id
first, because names may be stripped or obfuscated, and by local name as a fallback.

The input is untrusted: every offset is bounds-checked, sizes and counts are capped, and every
malformed input raises AxmlError (an ArtifactError), never IndexError or struct.error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from intune_step.errors import ArtifactError

RES_XML = 0x0003
STRING_POOL = 0x0001
RESOURCE_MAP = 0x0180
START_NAMESPACE = 0x0100
END_NAMESPACE = 0x0101
START_ELEMENT = 0x0102
END_ELEMENT = 0x0103

TYPE_NULL = 0x00
TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
TYPE_INT_DEC = 0x10
TYPE_INT_HEX = 0x11
TYPE_INT_BOOLEAN = 0x12

NO_INDEX = 0xFFFFFFFF
UTF8_FLAG = 0x100
ANDROID_NS = "http://schemas.android.com/apk/res/android"

MAX_AXML_BYTES = 8 * 1024 * 1024  # real manifests are well under 1 MiB
MAX_CHUNKS = 250_000
MAX_STRINGS = 250_000
ATTRIBUTE_SIZE = 20  # ns, name, rawValue, Res_value(size, res0, dataType, data)


class AxmlError(ArtifactError):
    """The binary XML is malformed."""


def _u16(data: bytes, offset: int) -> int:
    if offset < 0 or offset + 2 > len(data):
        raise AxmlError(f"binary XML truncated (u16 at offset {offset})")
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    if offset < 0 or offset + 4 > len(data):
        raise AxmlError(f"binary XML truncated (u32 at offset {offset})")
    return int(struct.unpack_from("<I", data, offset)[0])


class StringPool:
    """The document's strings, decoded on demand so an unused bad string cannot fail a read."""

    def __init__(self, data: bytes, start: int, end: int) -> None:
        header_size = _u16(data, start + 2)
        count = _u32(data, start + 8)
        flags = _u32(data, start + 16)
        strings_start = _u32(data, start + 20)
        if header_size < 28 or count > MAX_STRINGS or start + header_size + 4 * count > end:
            raise AxmlError(f"string pool header is invalid ({count} strings)")
        self._data = data
        self._offsets = start + header_size
        self._base = start + strings_start
        self._end = end
        self._count = count
        self.utf8 = bool(flags & UTF8_FLAG)
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        return self._count

    def get(self, index: int) -> str:
        """String ``index``, with trailing NULs stripped (padding tricks seen in the wild)."""
        if not 0 <= index < self._count:
            raise AxmlError(f"string index {index} is outside the pool of {self._count}")
        if index not in self._cache:
            offset = self._base + _u32(self._data, self._offsets + 4 * index)
            text = self._utf8(offset) if self.utf8 else self._utf16(offset)
            self._cache[index] = text.rstrip("\x00")
        return self._cache[index]

    def _span(self, start: int, length: int) -> bytes:
        if start < 0 or start + length > self._end:
            raise AxmlError(f"string at offset {start} runs past its pool")
        return self._data[start : start + length]

    def _utf8_length(self, offset: int) -> tuple[int, int]:
        first = self._span(offset, 1)[0]
        if first & 0x80:
            return ((first & 0x7F) << 8) | self._span(offset + 1, 1)[0], offset + 2
        return first, offset + 1

    def _utf8(self, offset: int) -> str:
        _chars, offset = self._utf8_length(offset)  # UTF-16 length; the byte count follows
        size, offset = self._utf8_length(offset)
        return self._span(offset, size).decode("utf-8", errors="replace")

    def _utf16(self, offset: int) -> str:
        length = int.from_bytes(self._span(offset, 2), "little")
        offset += 2
        if length & 0x8000:
            low = int.from_bytes(self._span(offset, 2), "little")
            length = ((length & 0x7FFF) << 16) | low
            offset += 2
        return self._span(offset, 2 * length).decode("utf-16-le", errors="replace")


@dataclass(frozen=True)
class Attribute:
    """One attribute; its name and string value are resolved lazily through the pool."""

    pool: StringPool = field(repr=False, compare=False)
    name_index: int
    resource_id: int | None
    data_type: int
    data: int

    @property
    def name(self) -> str:
        """The local name ("android:" style prefixes dropped); "" when unreadable."""
        try:
            return self.pool.get(self.name_index).rpartition(":")[2]
        except AxmlError:  # an id-matched attribute may carry a junk name index
            return ""

    @property
    def is_string(self) -> bool:
        return self.data_type == TYPE_STRING

    @property
    def is_int(self) -> bool:
        return self.data_type in (TYPE_INT_DEC, TYPE_INT_HEX)

    @property
    def is_reference(self) -> bool:
        return self.data_type == TYPE_REFERENCE

    def string(self) -> str:
        return self.pool.get(self.data)

    def int_value(self) -> int:
        """Res_value data as Android's signed 32-bit int."""
        return self.data - (1 << 32) if self.data & 0x80000000 else self.data

    def text(self) -> str:
        """A human form: the string, the number, ``@0x7f...`` for a reference."""
        if self.is_string:
            return self.string()
        if self.is_reference:
            return f"@0x{self.data:08x}"
        if self.data_type == TYPE_INT_BOOLEAN:
            return "true" if self.data else "false"
        if self.is_int:
            return str(self.int_value())
        return f"(type 0x{self.data_type:02x}) 0x{self.data:08x}"


@dataclass(frozen=True)
class Element:
    name: str
    depth: int  # 0 for the root element
    attributes: tuple[Attribute, ...]

    def attribute(self, resource_id: int | None, name: str) -> Attribute | None:
        """Match by resource id; fall back to the local name among attributes without an id."""
        if resource_id is not None:
            for attr in self.attributes:
                if attr.resource_id == resource_id:
                    return attr
        for attr in self.attributes:
            if attr.resource_id is None and attr.name == name:
                return attr
        return None


def parse_axml(data: bytes) -> list[Element]:
    """Every start element of the document, in order, with its depth."""
    if len(data) > MAX_AXML_BYTES:
        raise AxmlError(f"binary XML is {len(data)} bytes, more than {MAX_AXML_BYTES} allowed")
    if _u16(data, 0) != RES_XML:
        raise AxmlError("not binary XML (the first chunk is not RES_XML)")
    header_size, size = _u16(data, 2), _u32(data, 4)
    end = min(size, len(data))  # a packer may overstate the size; never read past the bytes
    if header_size < 8 or header_size > end:
        raise AxmlError("binary XML file header is invalid")
    return _walk(data, header_size, end)


def _walk(data: bytes, pos: int, end: int) -> list[Element]:
    pool: StringPool | None = None
    resource_ids: list[int] = []
    elements: list[Element] = []
    depth = 0
    for _ in range(MAX_CHUNKS):
        if pos >= end:
            return elements
        kind, header_size, size = _u16(data, pos), _u16(data, pos + 2), _u32(data, pos + 4)
        # each chunk must advance and stay inside the file, so the loop always ends
        if header_size < 8 or size < header_size or pos + size > end:
            raise AxmlError(f"chunk 0x{kind:04x} at offset {pos} has an invalid size")
        chunk_end = pos + size
        if kind == STRING_POOL and pool is None:  # Android uses the first pool only
            pool = StringPool(data, pos, chunk_end)
        elif kind == RESOURCE_MAP and not resource_ids:
            count = (size - header_size) // 4
            resource_ids = list(struct.unpack_from(f"<{count}I", data, pos + header_size))
        elif kind == START_ELEMENT:
            if pool is None:
                raise AxmlError("an element comes before the string pool")
            elements.append(_element(data, pos, chunk_end, pool, resource_ids, depth))
            depth += 1
        elif kind == END_ELEMENT:
            depth = max(0, depth - 1)
        pos = chunk_end  # namespaces, CDATA and unknown chunks are skipped
    raise AxmlError(f"binary XML has more than {MAX_CHUNKS} chunks")


def _element(
    data: bytes, start: int, end: int, pool: StringPool, resource_ids: list[int], depth: int
) -> Element:
    ext = start + _u16(data, start + 2)  # node header: lineNumber, comment
    if ext + 20 > end:
        raise AxmlError(f"element chunk at offset {start} is too short")
    name = pool.get(_u32(data, ext + 4))
    first, step, count = _u16(data, ext + 8), _u16(data, ext + 10), _u16(data, ext + 12)
    if step < ATTRIBUTE_SIZE or ext + first + step * count > end:
        raise AxmlError(f"element <{name}> has an invalid attribute table")
    attributes = []
    for index in range(count):
        offset = ext + first + step * index
        name_index = _u32(data, offset + 4)
        resource_id = resource_ids[name_index] if name_index < len(resource_ids) else 0
        attributes.append(
            Attribute(
                pool=pool,
                name_index=name_index,
                resource_id=resource_id or None,  # 0 is never a real resource id
                data_type=data[offset + 15],
                data=_u32(data, offset + 16),
            )
        )
    return Element(name=name, depth=depth, attributes=tuple(attributes))
