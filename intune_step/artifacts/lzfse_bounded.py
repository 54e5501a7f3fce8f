"""LZFSE decoding that never writes past the size the caller expects (UDIF ``ULFO`` chunks).

The ``lzfse`` package's ``decompress()`` sizes its buffer from the first block header and
doubles it for as long as the output fills it: a hostile stream (an LZFSE v2 block expands to
~23 MB whatever its header says) makes it allocate without bound. The reference decoder it
wraps, ``lzfse_decode_buffer(dst, dst_size, src, src_size, scratch)``, stops at ``dst_size``;
the extension exports it on Linux and macOS, so it is called directly here with a buffer one
byte larger than the expected output (a full buffer means the stream is too long). Where the
symbol is not exported (the Windows build), LZFSE is reported as unavailable rather than
decoded without a bound.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

Decoder = Callable[[ctypes.Array[ctypes.c_char], int, bytes, int, None], int]


class LzfseUnavailable(Exception):
    """No bounded LZFSE decoder on this platform."""


class LzfseCorrupt(ValueError):
    """The stream does not decode to at most the expected size."""


@cache
def _decoder() -> Decoder | None:
    try:
        import lzfse  # the reference implementation, compiled into the extension
    except ImportError:
        return None
    path = getattr(lzfse, "__file__", None)
    try:
        library = ctypes.CDLL(path)
        function = library.lzfse_decode_buffer
    except (OSError, AttributeError, TypeError):
        return None
    function.restype = ctypes.c_size_t
    function.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_void_p,
    ]
    decode: Decoder = function
    return decode


def available() -> bool:
    return _decoder() is not None


def decode(data: bytes, size: int) -> bytes:
    """The decoded stream, at most ``size`` bytes; LzfseCorrupt if it is invalid or longer."""
    decoder = _decoder()
    if decoder is None:
        raise LzfseUnavailable("no bounded LZFSE decoder (the lzfse package) on this platform")
    if size <= 0:
        raise LzfseCorrupt("nothing to decode")
    out = ctypes.create_string_buffer(size + 1)
    written = int(decoder(out, size + 1, data, len(data), None))
    if written == 0:
        raise LzfseCorrupt("the LZFSE stream is corrupt")
    if written > size:
        raise LzfseCorrupt(f"the LZFSE stream decodes to more than {size} bytes")
    return out.raw[:written]
