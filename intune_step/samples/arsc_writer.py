"""Write a small resources.arsc for test and demo APKs.

The layout aapt2 produces: RES_TABLE → global string pool (UTF-8, the values' file paths) →
one package (type-name and key-name pools, then per type a type-spec chunk and one type chunk
per density, each with a 64-byte ResTable_config and a dense u32 entry-offset table). An
independent reader (pyaxmlparser's ARSCParser) decodes it, so it is not merely
self-consistent.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Literal

from intune_step.samples.axml_writer import Ref, _chunk, _string_pool

RES_TABLE = 0x0002
PACKAGE = 0x0200
TYPE = 0x0201
TYPE_SPEC = 0x0202
TYPE_REFERENCE = 0x01
TYPE_STRING = 0x03
NO_ENTRY = 0xFFFFFFFF
CONFIG_SIZE = 64
SDK_V4 = 4  # aapt2 adds -v4 to density qualifiers

EntryTable = Literal["dense", "sparse", "offset16"]
FLAGS = {"dense": 0x00, "sparse": 0x01, "offset16": 0x02}

# {type name: {entry name: {density: file path or Ref}}}, insertion order gives the ids
Resources = dict[str, dict[str, dict[int, str | Ref]]]
# {string name: {locale qualifier ("" default, "en", "en-rUS"): text or Ref}}: the "string"
# type, written after the types of Resources
Strings = dict[str, dict[str, str | Ref]]


def resource_id(resources: Resources, type_name: str, entry: str, package_id: int = 0x7F) -> int:
    """The id ``write_arsc`` gives ``type_name/entry``: 0xPPTTEEEE, types from 1."""
    type_index = list(resources).index(type_name) + 1
    return (package_id << 24) | (type_index << 16) | list(resources[type_name]).index(entry)


def string_id(resources: Resources, name: str, strings: Strings,
              package_id: int = 0x7F) -> int:
    """The id ``write_arsc`` gives ``string/name``."""
    return (package_id << 24) | ((len(resources) + 1) << 16) | list(strings).index(name)


def _config(qualifier: int | str) -> bytes:
    """A density (int) or a locale ("en", "en-rUS") configuration."""
    config = bytearray(CONFIG_SIZE)
    struct.pack_into("<I", config, 0, CONFIG_SIZE)
    if isinstance(qualifier, str):
        language, _, country = qualifier.partition("-r")
        config[8:10] = language.encode("ascii").ljust(2, b"\x00")[:2]
        config[10:12] = country.encode("ascii").ljust(2, b"\x00")[:2]
        return bytes(config)
    struct.pack_into("<H", config, 14, qualifier)
    if qualifier:
        struct.pack_into("<H", config, 24, SDK_V4)
    return bytes(config)


def _type(type_id: int, qualifier: int | str, entries: list[tuple[int, int, int] | None],
          table: EntryTable) -> bytes:
    """A type chunk; ``table`` picks aapt2's dense u32 offsets, or the sparse (index,
    offset/4) pairs and u16 offset/4 forms newer aapt2 writes."""
    offsets, present, body = [], [], b""
    for index, entry in enumerate(entries):
        if entry is None:
            offsets.append(NO_ENTRY)
            continue
        key, data_type, data = entry
        offsets.append(len(body))
        present.append((index, len(body) // 4))
        body += struct.pack("<HHI", 8, 0, key) + struct.pack("<HBBI", 8, 0, data_type, data)
    if table == "sparse":
        raw = b"".join(struct.pack("<HH", i, o) for i, o in present)
        count = len(present)
    elif table == "offset16":
        raw = b"".join(struct.pack("<H", 0xFFFF if o == NO_ENTRY else o // 4) for o in offsets)
        raw += b"\x00" * (-len(raw) % 4)
        count = len(entries)
    else:
        raw, count = struct.pack(f"<{len(offsets)}I", *offsets), len(entries)
    header_size = 8 + 12 + CONFIG_SIZE
    header = struct.pack("<BBHII", type_id, FLAGS[table], 0, count, header_size + len(raw))
    return _chunk(TYPE, header + _config(qualifier), raw + body)


def _widened(values: Mapping[int, str | Ref] | Mapping[str, str | Ref]
             ) -> dict[int | str, str | Ref]:
    out: dict[int | str, str | Ref] = {}
    for key, value in values.items():
        out[key] = value
    return out


def _order(qualifier: int | str) -> tuple[int, str]:
    """Densities in ascending order; locales after the default (""), alphabetically."""
    if isinstance(qualifier, int):
        return qualifier, ""
    return (1 if qualifier else 0), qualifier


def write_arsc(resources: Resources, package: str = "com.example.demo",
               package_id: int = 0x7F, table: EntryTable = "dense",
               strings: Strings | None = None) -> bytes:
    """Serialise ``resources`` (and ``strings``, as the last type); a str value becomes a
    TYPE_STRING (file path or text), a Ref an alias."""
    paths: list[str] = []
    keys: list[str] = []
    chunks = []
    types: dict[str, dict[str, dict[int | str, str | Ref]]] = {}
    for type_name, type_entries in resources.items():
        types[type_name] = {entry: _widened(values) for entry, values in type_entries.items()}
    if strings:
        types["string"] = {entry: _widened(values) for entry, values in strings.items()}
    for type_index, entries in enumerate(types.values(), start=1):
        names = list(entries)
        keys += [n for n in names if n not in keys]
        spec = struct.pack("<BBHI", type_index, 0, 0, len(names)) + bytes(4 * len(names))
        chunks.append(_chunk(TYPE_SPEC, spec[:8], spec[8:]))
        # the default configuration first, as aapt2 writes it
        qualifiers = sorted({q for values in entries.values() for q in values}, key=_order)
        for qualifier in qualifiers:
            row: list[tuple[int, int, int] | None] = []
            for name in names:
                value = entries[name].get(qualifier)
                if value is None:
                    row.append(None)
                elif isinstance(value, Ref):
                    row.append((keys.index(name), TYPE_REFERENCE, value.resource_id))
                else:
                    if value not in paths:
                        paths.append(value)
                    row.append((keys.index(name), TYPE_STRING, paths.index(value)))
            chunks.append(_type(type_index, qualifier, row, table))
    type_pool = _string_pool(list(types), utf8=True)
    key_pool = _string_pool(keys, utf8=True)
    header_size = 288
    package_name = package.encode("utf-16-le")[:254].ljust(256, b"\x00")
    header = (struct.pack("<I", package_id) + package_name
              + struct.pack("<IIIII", header_size, len(types), header_size + len(type_pool),
                            len(keys), 0))
    package_chunk = _chunk(PACKAGE, header, type_pool + key_pool + b"".join(chunks))
    return _chunk(RES_TABLE, struct.pack("<I", 1), _string_pool(paths, utf8=True) + package_chunk)
