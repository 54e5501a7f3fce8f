"""Just enough PNG for icons: image size, and Apple's CgBI variant turned into a normal PNG.

Xcode "crushes" the loose icon PNGs of an iOS app: a ``CgBI`` chunk comes first, the image
data is raw deflate (no zlib header or checksum), pixels are BGRA and the colour is
premultiplied by alpha. Browsers and Intune's portal cannot show that. Converting takes the
standard library only: inflate, undo the scanline filters, swap to RGBA, un-premultiply, and
write it again with filter 0 and a zlib stream.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 2048 * 2048  # icons are at most 1024x1024; bounds the work on hostile input
MAX_CHUNKS = 10_000


class PngError(ValueError):
    """Not a PNG this module can read."""


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlace: int
    cgbi: bool

    @property
    def area(self) -> int:
        return self.width * self.height


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(SIGNATURE):
        raise PngError("no PNG signature")
    out: list[tuple[bytes, bytes]] = []
    pos = len(SIGNATURE)
    while pos + 8 <= len(data) and len(out) < MAX_CHUNKS:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if end + 4 > len(data):
            raise PngError(f"chunk {kind!r} runs past the end")
        out.append((kind, data[pos + 8:end]))
        pos = end + 4  # skip the CRC: CgBI files carry valid ones, others we rewrite
        if kind == b"IEND":
            break
    return out


def header(data: bytes) -> Header:
    parts = chunks(data)
    kinds = [k for k, _ in parts]
    cgbi = bool(kinds) and kinds[0] == b"CgBI"
    ihdr = next((body for kind, body in parts if kind == b"IHDR"), None)
    if ihdr is None or len(ihdr) != 13:
        raise PngError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    if width == 0 or height == 0:
        raise PngError("zero-sized image")
    return Header(width, height, depth, colour, interlace, cgbi)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def normalise(data: bytes) -> bytes:
    """A standard PNG: ``data`` itself, or the conversion of an Apple CgBI PNG."""
    head = header(data)
    if not head.cgbi:
        return data
    if head.bit_depth != 8 or head.colour_type not in (2, 6) or head.interlace:
        raise PngError(f"CgBI PNG with depth {head.bit_depth}, colour type {head.colour_type}, "
                       f"interlace {head.interlace} is not supported")
    if head.area > MAX_PIXELS:
        raise PngError(f"{head.width}x{head.height} is too large for an icon")
    bpp = 4 if head.colour_type == 6 else 3
    stride = head.width * bpp
    expected = head.height * (stride + 1)
    raw = b"".join(body for kind, body in chunks(data) if kind == b"IDAT")
    inflater = zlib.decompressobj(-15)  # CgBI: raw deflate, no zlib wrapper
    try:
        pixels = inflater.decompress(raw, expected + 1)
    except zlib.error as exc:
        raise PngError(f"image data does not inflate: {exc}") from exc
    if len(pixels) != expected:
        raise PngError(f"image data is {len(pixels)} bytes, expected {expected}")
    rows = _unfilter(pixels, head.height, stride, bpp)
    out = bytearray()
    for row in rows:
        out.append(0)  # filter type None
        out += _to_rgba(row, bpp)
    ihdr = struct.pack(">IIBBBBB", head.width, head.height, 8, head.colour_type, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(out), 9))
            + _chunk(b"IEND", b""))


def _unfilter(data: bytes, height: int, stride: int, bpp: int) -> list[bytearray]:
    rows: list[bytearray] = []
    prior = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = data[start]
        row = bytearray(data[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            for i in range(stride):
                row[i] = (row[i] + prior[i]) & 0xFF
        elif kind == 3:  # Average
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prior[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = row[i - bpp] if i >= bpp else 0
                b = prior[i]
                c = prior[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[i] = (row[i] + pred) & 0xFF
        elif kind != 0:
            raise PngError(f"unknown scanline filter {kind} in row {y}")
        rows.append(row)
        prior = row
    return rows


def _to_rgba(row: bytearray, bpp: int) -> bytearray:
    out = bytearray(row)
    out[0::bpp], out[2::bpp] = row[2::bpp], row[0::bpp]  # BGR(A) -> RGB(A)
    if bpp == 4:
        for i in range(0, len(out), 4):
            alpha = out[i + 3]
            if 0 < alpha < 255:  # premultiplied: colour = stored * 255 / alpha
                for j in (i, i + 1, i + 2):
                    out[j] = min(255, (out[j] * 255 + alpha // 2) // alpha)
    return out
