"""Icons: Apple's CgBI PNGs become standard PNGs (checked with a decoder written here, not
png.py's), and the icon is found in IPAs and MSIX packages or taken from the icon input."""

from __future__ import annotations

import io
import plistlib
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from intune_step.artifacts import read_artifact
from intune_step.artifacts.icon import from_artifact, from_file, sniff
from intune_step.artifacts.png import PngError, header, normalise
from intune_step.errors import BadInputError
from intune_step.samples.ipa import build_ipa
from intune_step.samples.windows import build_msix

Pixel = tuple[int, int, int, int]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    return min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]


def _filter_row(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prior[i]
        c = prior[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - pred) % 256)
    return bytes([kind]) + bytes(out)


def cgbi_png(pixels: list[list[Pixel]]) -> bytes:
    """What Xcode's pngcrush -iphone writes: CgBI first, premultiplied BGRA, raw deflate, and
    (here) every scanline filter in turn."""
    height, width = len(pixels), len(pixels[0])
    prior, raw = bytes(width * 4), bytearray()
    for y, line in enumerate(pixels):
        row = bytearray()
        for r, g, b, a in line:
            row += bytes([round(b * a / 255), round(g * a / 255), round(r * a / 255), a])
        raw += _filter_row(y % 5, bytes(row), prior, 4)
        prior = bytes(row)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = deflate.compress(bytes(raw)) + deflate.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"CgBI", b"\x50\x00\x20\x06")
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))


def decode(png: bytes) -> tuple[int, int, list[list[Pixel]], list[bytes]]:
    """A strict decoder for 8-bit RGBA PNGs: CRCs checked, zlib-wrapped data, all filters."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds, idat, ihdr = 8, [], b"", b""
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        body = png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack_from(">I", png, pos + 8 + length)
        assert crc == zlib.crc32(kind + body), kind
        kinds.append(kind)
        idat += body if kind == b"IDAT" else b""
        ihdr = body if kind == b"IHDR" else ihdr
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
    assert (depth, colour, interlace) == (8, 6, 0)
    raw, stride = zlib.decompress(idat), width * 4
    rows, prior = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        out = bytearray()
        for i, x in enumerate(line):
            a = out[i - 4] if i >= 4 else 0
            b = prior[i]
            c = prior[i - 4] if i >= 4 else 0
            out.append((x + [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]) % 256)
        rows.append([tuple(out[i:i + 4]) for i in range(0, stride, 4)])
        prior = bytes(out)
    return width, height, rows, kinds  # type: ignore[return-value]


IMAGE = [[(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255)],
         [(200, 100, 50, 128), (10, 20, 30, 200), (90, 90, 90, 0)],
         [(255, 255, 255, 255), (1, 2, 3, 255), (250, 128, 7, 64)]]


def test_cgbi_becomes_a_standard_png_with_straight_rgba() -> None:
    width, height, rows, kinds = decode(normalise(cgbi_png(IMAGE)))
    assert (width, height) == (3, 3)
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]  # no CgBI chunk left
    for want_row, got_row in zip(IMAGE, rows, strict=True):
        for (r, g, b, a), got in zip(want_row, got_row, strict=True):
            assert got[3] == a
            if a == 255:
                assert got[:3] == (r, g, b)
            elif a:  # premultiplying lost precision; undoing it stays within rounding
                assert all(abs(x - y) <= 255 // a + 1 for x, y in zip(got[:3], (r, g, b),
                                                                    strict=True))


def test_a_standard_png_is_kept_byte_for_byte() -> None:
    png = normalise(cgbi_png(IMAGE))
    assert normalise(png) == png
    assert header(png).cgbi is False and header(cgbi_png(IMAGE)).cgbi is True


@pytest.mark.parametrize("data", [b"not a png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
                                  cgbi_png(IMAGE)[:-30]])
def test_broken_pngs_raise_png_error(data: bytes) -> None:
    with pytest.raises(PngError):
        normalise(data)


def ipa_with_icons(tmp_path: Path, icons: dict[str, bytes]) -> Path:
    path = build_ipa(tmp_path / "App.ipa", extra_info={
        "CFBundleIcons": {"CFBundlePrimaryIcon": {"CFBundleIconFiles": ["AppIcon60x60"],
                                                  "CFBundleIconName": "AppIcon"}}})
    with zipfile.ZipFile(path, "a") as archive:
        for name, data in icons.items():
            archive.writestr(f"Payload/Demo.app/{name}", data)
    return path


def square(size: int) -> list[list[Pixel]]:
    return [[(x * 7 % 256, y * 5 % 256, 90, 255) for x in range(size)] for y in range(size)]


def test_the_largest_loose_ipa_icon_is_taken_and_converted(tmp_path: Path) -> None:
    path = ipa_with_icons(tmp_path, {"AppIcon60x60@2x.png": cgbi_png(square(12)),
                                     "AppIcon60x60@3x.png": cgbi_png(square(18)),
                                     "Other@3x.png": cgbi_png(square(30))})
    icon, note = from_artifact(read_artifact(path))
    assert icon is not None and note == ""
    assert icon.source.endswith("AppIcon60x60@3x.png") and icon.mime == "image/png"
    width, _, rows, _ = decode(icon.data)
    assert width == 18 and rows[1][2] == (14, 5, 90, 255)


def test_an_ipa_with_only_an_asset_catalog_has_no_icon(tmp_path: Path) -> None:
    icon, note = from_artifact(read_artifact(ipa_with_icons(tmp_path, {"Assets.car": b"x"})))
    assert icon is None and "Assets.car" in note and "icon input" in note


def _rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in replace:
                dst.writestr(info, src.read(info))
        for name, body in replace.items():
            dst.writestr(name, body)
    return out.getvalue()


MSIX = {"name": "Contoso.Demo", "version": "1.0.0.0", "publisher": "CN=Contoso",
        "arch": "x64", "min_version": "10.0.17763.0"}
PLAIN = normalise(cgbi_png(square(8)))
BIG = normalise(cgbi_png(square(16)))


def test_msix_takes_the_largest_scale_of_the_biggest_logo(tmp_path: Path) -> None:
    path = build_msix(tmp_path / "a.msix", **MSIX)
    path.write_bytes(_rezip(path.read_bytes(), {
        "Assets/Square150x150Logo.scale-100.png": PLAIN,
        "Assets/Square150x150Logo.scale-200.png": BIG,
        "Assets/Square44x44Logo.targetsize-256.png": normalise(cgbi_png(square(24)))}))
    icon, _ = from_artifact(read_artifact(path))
    assert icon is not None and icon.data == BIG
    assert icon.source.endswith("Assets/Square150x150Logo.scale-200.png")


def test_msix_bundle_takes_the_logo_of_its_app_package(tmp_path: Path) -> None:
    path = build_msix(tmp_path / "a.msixbundle", bundle=True, **{**MSIX, "arch": "x64,arm64"})
    with zipfile.ZipFile(path) as archive:
        inner = {n: archive.read(n) for n in archive.namelist() if n.endswith(".msix")}
    assert len(inner) == 2
    second = sorted(inner)[1]  # the first package's logo is not a PNG: it is passed over
    path.write_bytes(_rezip(path.read_bytes(), {
        second: _rezip(inner[second], {"Assets/StoreLogo.png": PLAIN})}))
    icon, _ = from_artifact(read_artifact(path))
    assert icon is not None and icon.data == PLAIN and second in icon.source


def test_an_msix_whose_logo_is_not_a_png_has_no_icon(tmp_path: Path) -> None:
    icon, note = from_artifact(read_artifact(build_msix(tmp_path / "a.msix", **MSIX)))
    assert icon is None and "not PNGs" in note


def test_the_icon_input(tmp_path: Path) -> None:
    crushed = tmp_path / "icon.png"
    crushed.write_bytes(cgbi_png(square(4)))
    assert header(from_file(crushed).data).cgbi is False
    jpeg = tmp_path / "icon.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + bytes(20))
    assert from_file(jpeg).mime == "image/jpeg"
    text = tmp_path / "icon.txt"
    text.write_text("hello")
    for bad, message in ((text, "not a PNG, JPEG or GIF"), (tmp_path / "no.png", "not exist")):
        with pytest.raises(BadInputError, match=message):
            from_file(bad)
    assert sniff(b"GIF89a...") == "image/gif"


def test_types_without_an_icon_reader_say_so(tmp_path: Path) -> None:
    from intune_step.samples.apk import build_apk

    apk = build_apk(tmp_path / "a.apk")
    icon, note = from_artifact(read_artifact(apk))
    assert icon is None and "set the icon input" in note


def test_plist_helper_round_trip() -> None:  # the IPA icon names come from Info.plist
    from intune_step.artifacts.icon import _ipa_icon_names

    info = plistlib.loads(plistlib.dumps({"CFBundleIconFiles": ["Icon.png", "Icon@2x"],
                                          "CFBundleIcons~ipad": {"CFBundlePrimaryIcon": {
                                              "CFBundleIconFiles": ["AppIcon76x76"]}}}))
    assert _ipa_icon_names(info) == ["AppIcon76x76", "Icon", "Icon@2x"]
