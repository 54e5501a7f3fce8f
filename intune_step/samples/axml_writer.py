"""Write Android binary XML (AXML) for test and demo APKs.

The output has the layout aapt2 produces (docs/protocol.md, "Android binary XML"): a RES_XML
chunk holding a string pool (UTF-16 by default, as aapt2 writes for manifests), a resource map
for the ``android:`` attribute names, one namespace, and element chunks. Independent readers
(apkInspector, pyaxmlparser) decode it, so it is not merely self-consistent.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

# The format's chunk and value types are the reader's; independent readers (apkInspector,
# pyaxmlparser) check the output, so sharing them cannot hide a mistake.
from intune_step.artifacts.axml import (
    ANDROID_NS,
    END_ELEMENT,
    END_NAMESPACE,
    NO_INDEX,
    RES_XML,
    RESOURCE_MAP,
    START_ELEMENT,
    START_NAMESPACE,
    STRING_POOL,
    TYPE_INT_DEC,
    TYPE_REFERENCE,
    TYPE_STRING,
)

# android: attribute resource ids (framework public.xml)
ATTR_IDS = {
    "label": 0x01010001,
    "icon": 0x01010002,
    "name": 0x01010003,
    "minSdkVersion": 0x0101020C,
    "versionCode": 0x0101021B,
    "versionName": 0x0101021C,
    "targetSdkVersion": 0x01010270,
    "versionCodeMajor": 0x01010576,
}

NameStyle = Literal["plain", "prefixed", "stripped"]


@dataclass(frozen=True)
class Ref:
    """A resource reference value, e.g. ``Ref(0x7F020000)`` for ``@string/app_name``."""

    resource_id: int


Value = str | int | Ref


@dataclass
class Node:
    """An element; attributes named in ATTR_IDS go into the android namespace."""

    name: str
    attributes: dict[str, Value] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)


class _Strings:
    """The pool: id-carrying attribute names first, one slot each, as the resource map needs."""

    def __init__(self, id_names: Sequence[str]) -> None:
        self.items: list[str] = list(id_names)
        self._index = {name: i for i, name in enumerate(id_names)}

    def add(self, text: str) -> int:
        if text not in self._index:
            self._index[text] = len(self.items)
            self.items.append(text)
        return self._index[text]


def _chunk(kind: int, header: bytes, body: bytes) -> bytes:
    return struct.pack("<HHI", kind, 8 + len(header), 8 + len(header) + len(body)) + header + body


def _length8(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x80 | (n >> 8), n & 0xFF])


def _length16(n: int) -> bytes:
    if n < 0x8000:
        return struct.pack("<H", n)
    return struct.pack("<HH", 0x8000 | (n >> 16), n & 0xFFFF)


def _encode(text: str, utf8: bool) -> bytes:
    units = len(text.encode("utf-16-le")) // 2
    if utf8:
        raw = text.encode("utf-8")
        return _length8(units) + _length8(len(raw)) + raw + b"\x00"
    return _length16(units) + text.encode("utf-16-le") + b"\x00\x00"


def _string_pool(strings: list[str], utf8: bool) -> bytes:
    offsets, data = [], b""
    for text in strings:
        offsets.append(len(data))
        data += _encode(text, utf8)
    data += b"\x00" * (-len(data) % 4)
    strings_start = 28 + 4 * len(strings)
    header = struct.pack("<IIIII", len(strings), 0, 0x100 if utf8 else 0, strings_start, 0)
    return _chunk(STRING_POOL, header, struct.pack(f"<{len(offsets)}I", *offsets) + data)


def _node(kind: int, ext: bytes, line: int = 1) -> bytes:
    return _chunk(kind, struct.pack("<II", line, NO_INDEX), ext)


class _Writer:
    def __init__(self, root: Node, utf8: bool, resource_map: bool, names: NameStyle) -> None:
        self.utf8, self.resource_map, self.names = utf8, resource_map, names
        used = sorted({a for n in _walk(root) for a in n.attributes if a in ATTR_IDS})
        self.id_names = used if resource_map else []
        self.pool = _Strings([self._attr_name(a, i) for i, a in enumerate(self.id_names)])
        self.prefix = self.pool.add("android")
        self.uri = self.pool.add(ANDROID_NS)

    def _attr_name(self, name: str, slot: int) -> str:
        if self.names == "prefixed":
            return f"android:{name}"
        if self.names == "stripped":  # obfuscators blank the names; the ids still identify
            return "\x00" * slot
        return name

    def _name_index(self, name: str) -> int:
        if name in self.id_names:
            return self.id_names.index(name)
        return self.pool.add(self._attr_name(name, 0) if name in ATTR_IDS else name)

    def _attribute(self, name: str, value: Value) -> bytes:
        ns = self.uri if name in ATTR_IDS else NO_INDEX
        if isinstance(value, Ref):
            raw, kind, data = NO_INDEX, TYPE_REFERENCE, value.resource_id
        elif isinstance(value, int):
            raw, kind, data = NO_INDEX, TYPE_INT_DEC, value & 0xFFFFFFFF
        else:
            raw = data = self.pool.add(value)
            kind = TYPE_STRING
        return struct.pack("<IIIHBBI", ns, self._name_index(name), raw, 8, 0, kind, data)

    def _element(self, node: Node, line: int) -> list[bytes]:
        # aapt2 orders attributes by resource id; those without one come last
        ordered = sorted(node.attributes.items(), key=lambda kv: ATTR_IDS.get(kv[0], 1 << 32))
        attrs = b"".join(self._attribute(k, v) for k, v in ordered)
        name = self.pool.add(node.name)
        ext = struct.pack("<IIHHHHHH", NO_INDEX, name, 20, 20, len(ordered), 0, 0, 0)
        chunks = [_node(START_ELEMENT, ext + attrs, line)]
        for child in node.children:
            chunks += self._element(child, line + 1)
        chunks.append(_node(END_ELEMENT, struct.pack("<II", NO_INDEX, name), line))
        return chunks

    def write(self, root: Node) -> bytes:
        namespace = struct.pack("<II", self.prefix, self.uri)
        # the elements first: writing them interns the strings the pool must hold
        body = [_node(START_NAMESPACE, namespace), *self._element(root, 1)]
        body.append(_node(END_NAMESPACE, namespace))
        parts = [_string_pool(self.pool.items, self.utf8)]
        if self.id_names:
            ids = [ATTR_IDS[name] for name in self.id_names]
            parts.append(_chunk(RESOURCE_MAP, b"", struct.pack(f"<{len(ids)}I", *ids)))
        payload = b"".join(parts + body)
        return _chunk(RES_XML, b"", payload)


def _walk(node: Node) -> list[Node]:
    return [node, *(n for child in node.children for n in _walk(child))]


def write_axml(
    root: Node, *, utf8: bool = False, resource_map: bool = True, names: NameStyle = "plain"
) -> bytes:
    """Serialise ``root``. ``resource_map=False`` leaves only names to match attributes by;
    ``names`` picks plain, ``android:``-prefixed or blanked attribute names."""
    return _Writer(root, utf8, resource_map, names).write(root)


def build_manifest(
    package: str,
    version_code: int,
    version_name: str | Ref | None,
    min_sdk: int | None,
    target_sdk: int | None,
    label: str | Ref | None = None,
    *,
    utf8: bool = False,
    resource_map: bool = True,
    names: NameStyle = "plain",
    icon: Ref | None = None,
) -> bytes:
    """A minimal AndroidManifest.xml; None leaves an attribute (or all of <uses-sdk>) out."""
    manifest = Node("manifest", {"package": package, "versionCode": version_code})
    if version_name is not None:
        manifest.attributes["versionName"] = version_name
    sdk = {"minSdkVersion": min_sdk, "targetSdkVersion": target_sdk}
    sdk_attrs: dict[str, Value] = {k: v for k, v in sdk.items() if v is not None}
    if sdk_attrs:
        manifest.children.append(Node("uses-sdk", sdk_attrs))
    app: dict[str, Value] = {} if label is None else {"label": label}
    if icon is not None:
        app["icon"] = icon
    activity = Node("activity", {"name": ".MainActivity"})
    manifest.children.append(Node("application", app, [activity]))
    return write_axml(manifest, utf8=utf8, resource_map=resource_map, names=names)
