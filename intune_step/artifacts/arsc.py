"""A small, hardened reader for an APK's resources.arsc: resolve a resource id to file paths
(the launcher icon) or to a string (the application label).

Layout (little-endian chunks, ``u16 type, u16 headerSize, u32 size``): RES_TABLE (0x0002)
holds the global string pool (0x0001) and packages (0x0200); a package holds type-spec
(0x0202) and type (0x0201) chunks. A type chunk carries one configuration (ResTable_config,
whose locale and density we read) and an entry-offset table; an entry's Res_value of
TYPE_STRING is a file path or a text in the global pool, a TYPE_REFERENCE points at another
resource (an alias), which is followed a few steps.

The input is untrusted: offsets are bounds-checked, sizes and counts are capped, and every
malformed input raises ArscError (an ArtifactError), never IndexError or struct.error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from intune_step.artifacts.axml import AxmlError, StringPool
from intune_step.errors import ArtifactError

RES_TABLE = 0x0002
STRING_POOL = 0x0001
PACKAGE = 0x0200
TYPE = 0x0201
TYPE_SPEC = 0x0202

TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03

FLAG_SPARSE = 0x01  # entry table is (u16 index, u16 offset/4) pairs
FLAG_OFFSET16 = 0x02  # entry table is u16 offset/4, 0xFFFF for none (Android 15)
ENTRY_COMPLEX = 0x0001  # a bag (style, array...), never a file
ENTRY_COMPACT = 0x0008  # key in size, dataType in the flags' high byte, data follows
NO_ENTRY = 0xFFFFFFFF
# in ResTable_config: u32 size, u16 mcc, u16 mnc, char language[2], char country[2],
# u8 orientation, u8 touchscreen, u16 density, ...
LANGUAGE_OFFSET = 8
DENSITY_OFFSET = 14

MAX_ARSC_BYTES = 64 * 1024 * 1024  # large apps reach ~10 MiB
MAX_CHUNKS = 100_000
MAX_ENTRIES = 1 << 16  # an entry id is 16 bits
MAX_REFERENCE_DEPTH = 4  # aliases chain rarely more than once
MAX_PATHS = 256
MAX_LABEL_CHARS = 1024  # a label longer than this is not a name


class ArscError(ArtifactError):
    """The resource table is malformed."""


def _u16(data: bytes, offset: int) -> int:
    if offset < 0 or offset + 2 > len(data):
        raise ArscError(f"resources.arsc truncated (u16 at offset {offset})")
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    if offset < 0 or offset + 4 > len(data):
        raise ArscError(f"resources.arsc truncated (u32 at offset {offset})")
    return int(struct.unpack_from("<I", data, offset)[0])


@dataclass(frozen=True)
class Value:
    """One configuration's value of a resource."""

    density: int
    language: str  # "" in the default locale, "en", "fr"...; "?" for a packed 3-letter code
    country: str
    default: bool  # the configuration has no qualifier at all
    data_type: int
    data: int


def _chunks(data: bytes, pos: int, end: int) -> list[tuple[int, int, int, int]]:
    """(type, start, headerSize, end) of each chunk in ``[pos, end)``; each must fit."""
    found: list[tuple[int, int, int, int]] = []
    while pos < end:
        if len(found) >= MAX_CHUNKS:
            raise ArscError(f"resources.arsc has more than {MAX_CHUNKS} chunks")
        kind, header_size, size = _u16(data, pos), _u16(data, pos + 2), _u32(data, pos + 4)
        # each chunk must advance and stay inside its parent, so the loop always ends
        if header_size < 8 or size < header_size or pos + size > end:
            raise ArscError(f"chunk 0x{kind:04x} at offset {pos} has an invalid size")
        found.append((kind, pos, header_size, pos + size))
        pos += size
    return found


class _Table:
    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_ARSC_BYTES:
            raise ArscError(f"resources.arsc is {len(data)} bytes, over {MAX_ARSC_BYTES}")
        if _u16(data, 0) != RES_TABLE:
            raise ArscError("not a resource table (the first chunk is not RES_TABLE)")
        header_size, size = _u16(data, 2), _u32(data, 4)
        end = min(size, len(data))  # never read past the bytes, whatever the size says
        if header_size < 12 or header_size > end:
            raise ArscError("resource table header is invalid")
        self.data = data
        pool: StringPool | None = None
        self.packages: dict[int, tuple[int, int]] = {}  # id → (first child chunk, end)
        for kind, start, head, chunk_end in _chunks(data, header_size, end):
            if kind == STRING_POOL and pool is None:
                pool = StringPool(data, start, chunk_end)
            elif kind == PACKAGE:
                if head < 12 or head > chunk_end - start:
                    raise ArscError(f"package header at offset {start} is invalid")
                self.packages.setdefault(_u32(data, start + 8), (start + head, chunk_end))
        if pool is None:
            raise ArscError("resource table has no global string pool")
        self.pool = pool

    def values(self, res_id: int) -> list[Value]:
        """``res_id``'s value in every configuration that defines it, in table order."""
        package_id, type_id, entry_id = res_id >> 24, (res_id >> 16) & 0xFF, res_id & 0xFFFF
        if package_id not in self.packages or type_id == 0:
            return []
        start, end = self.packages[package_id]
        out = []
        for kind, pos, head, chunk_end in _chunks(self.data, start, end):
            if kind != TYPE:
                continue
            if head < 24:
                raise ArscError(f"type chunk at offset {pos} has a short header")
            if self.data[pos + 8] == type_id:
                value = self._entry(pos, head, chunk_end, entry_id)
                if value is not None:
                    out.append(self._value(pos, head, *value))
        return out

    def _value(self, pos: int, head: int, data_type: int, data: int) -> Value:
        config = pos + 20  # header, id, flags, reserved, entryCount, entriesStart
        config_size = _u32(self.data, config)
        if config_size < 4 or config + config_size > pos + head:
            raise ArscError(f"type chunk at offset {pos}: configuration overruns its header")
        raw = self.data[config + 4 : config + config_size]
        return Value(
            density=_u16(self.data, config + DENSITY_OFFSET) if config_size >= 16 else 0,
            language=_locale_part(raw[LANGUAGE_OFFSET - 4 : LANGUAGE_OFFSET - 2]),
            country=_locale_part(raw[LANGUAGE_OFFSET - 2 : LANGUAGE_OFFSET]),
            default=not any(raw),
            data_type=data_type,
            data=data,
        )

    def _entry(self, pos: int, head: int, end: int, entry_id: int) -> tuple[int, int] | None:
        data = self.data
        flags, count, entries = data[pos + 9], _u32(data, pos + 12), _u32(data, pos + 16)
        table = pos + head
        if count > MAX_ENTRIES or entries > end - pos:
            raise ArscError(f"type chunk at offset {pos} has an invalid entry table")
        if flags & FLAG_SPARSE:
            offset = next((4 * _u16(data, table + 4 * i + 2) for i in range(count)
                           if _u16(data, table + 4 * i) == entry_id), None)
        elif entry_id >= count:
            return None
        elif flags & FLAG_OFFSET16:
            raw = _u16(data, table + 2 * entry_id)
            offset = None if raw == 0xFFFF else 4 * raw
        else:
            raw = _u32(data, table + 4 * entry_id)
            offset = None if raw == NO_ENTRY else raw
        if offset is None:
            return None
        at = pos + entries + offset
        if at + 8 > end:
            raise ArscError(f"entry {entry_id:#x} at offset {at} runs past its type chunk")
        size, entry_flags = _u16(data, at), _u16(data, at + 2)
        if entry_flags & ENTRY_COMPACT:
            return entry_flags >> 8, _u32(data, at + 4)
        if entry_flags & ENTRY_COMPLEX:
            return None
        if size < 8 or at + size + 8 > end:
            raise ArscError(f"entry {entry_id:#x} at offset {at} has an invalid size")
        return data[at + size + 3], _u32(data, at + size + 4)


def _locale_part(raw: bytes) -> str:
    """A ResTable_config language or country: two ASCII letters, or a packed 3-letter code
    (high bit set) that no fallback here asks for."""
    if len(raw) < 2 or not any(raw):
        return ""
    if raw[0] & 0x80 or not raw.isascii():
        return "?"
    return raw.decode("ascii").rstrip("\x00").lower()


def resolve_file_paths(arsc: bytes, res_id: int) -> list[tuple[int, str]]:
    """(density, path) for each configuration of ``res_id`` whose value is a file path, e.g.
    ``(640, "res/mipmap-xxxhdpi-v4/ic_launcher.png")``; references are followed a few steps,
    the referring configuration's density kept when the target's is 0 (default)."""
    try:
        table = _Table(arsc)
        found: list[tuple[int, str]] = []
        _resolve(table, res_id, 0, set(), found)
        return found
    except AxmlError as exc:  # the shared string-pool reader's own error
        raise ArscError(f"resources.arsc string pool: {exc.message}") from exc


def _resolve(
    table: _Table, res_id: int, density: int, seen: set[int], found: list[tuple[int, str]]
) -> None:
    if res_id in seen or len(seen) > MAX_REFERENCE_DEPTH:
        return
    seen = seen | {res_id}
    for value in table.values(res_id):
        if len(found) >= MAX_PATHS:
            return
        if value.data_type == TYPE_STRING:
            found.append((value.density or density, table.pool.get(value.data)))
        elif value.data_type == TYPE_REFERENCE:
            _resolve(table, value.data, value.density or density, seen, found)


def resolve_string(arsc: bytes, res_id: int) -> str | None:
    """The text a device shows for string ``res_id`` (e.g. ``@string/app_name``): the default
    configuration's, else one in no locale, else English (``en`` before ``en-rUS``...), else
    the first the table holds. An alias is followed a few steps; None when no configuration
    holds a non-empty text."""
    try:
        return _string(_Table(arsc), res_id, set())
    except AxmlError as exc:
        raise ArscError(f"resources.arsc string pool: {exc.message}") from exc


def _preference(value: Value) -> tuple[int, int]:
    if value.default:
        return 0, 0
    if not value.language:
        return 1, 0
    if value.language == "en":
        return 2, 1 if value.country else 0
    return 3, 0


def _string(table: _Table, res_id: int, seen: set[int]) -> str | None:
    if res_id in seen or len(seen) > MAX_REFERENCE_DEPTH:
        return None
    seen = seen | {res_id}
    for value in sorted(table.values(res_id), key=_preference):  # stable: table order next
        if value.data_type == TYPE_STRING:
            text = table.pool.get(value.data).strip()
        elif value.data_type == TYPE_REFERENCE:
            text = _string(table, value.data, seen) or ""
        else:
            continue
        if text:
            return text[:MAX_LABEL_CHARS]
    return None
