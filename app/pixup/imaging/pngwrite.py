"""A small PNG writer (numpy + zlib) for what Pillow cannot write: 16-bit RGB and RGBA.

Pillow has no 16-bit colour mode, so a 16-bit upscale would lose its low byte on the way out.
This writer streams the image in row blocks: each block is filtered with the five PNG filters at
once (vectorised), each row keeps the filter with the smallest sum of absolute signed bytes (the
heuristic libpng uses), and the result goes through one zlib stream into IDAT chunks.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from pixup.imaging.metadata import EXIF_HEADER

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}  # gray, RGB, RGBA
_BLOCK_BYTES = 1 << 20  # raw bytes filtered at a time: bounds the temporary arrays to ~12 MB


def _chunk(f: BinaryIO, kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)))
    f.write(kind)
    f.write(data)
    f.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))


def write_png(
    f: BinaryIO,
    pixels: np.ndarray,
    *,
    compress_level: int = 6,
    icc: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
) -> None:
    """Write H×W×C `pixels` (uint8 or uint16, C in 1, 3, 4) as a PNG with iCCP, eXIf and XMP iTXt."""
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    f.write(_SIGNATURE)
    _chunk(f, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, _COLOUR_TYPE[channels], 0, 0, 0))
    if icc:
        _chunk(f, b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        _chunk(f, b"eXIf", exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif)
    if xmp:
        # keyword, NUL, compression flag 0, method 0, empty language tag, empty translated keyword
        _chunk(f, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp)

    bpp = channels * depth // 8  # bytes per pixel, the distance the Sub/Average/Paeth filters look back
    row_bytes = width * bpp
    rows_per_block = max(1, _BLOCK_BYTES // row_bytes)
    squeeze = zlib.compressobj(compress_level)
    previous = np.zeros(row_bytes, dtype=np.uint8)
    for top in range(0, height, rows_per_block):
        block = pixels[top : top + rows_per_block]
        raw = block.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(len(block), row_bytes)
        data = squeeze.compress(_filter_rows(raw, previous, bpp).tobytes())
        if data:
            _chunk(f, b"IDAT", data)
        previous = raw[-1].copy()
    _chunk(f, b"IDAT", squeeze.flush())
    _chunk(f, b"IEND", b"")


def _filter_rows(raw: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """Rows of `raw` (uint8, n×L), each prefixed by its best filter type byte: n×(L+1)."""
    n, length = raw.shape
    up = np.empty_like(raw)
    up[0] = previous
    up[1:] = raw[:-1]
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    upleft = np.zeros_like(raw)
    upleft[:, bpp:] = up[:, :-bpp]

    a, b, c = left.astype(np.int16), up.astype(np.int16), upleft.astype(np.int16)
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))

    # uint8 arithmetic wraps modulo 256, which is exactly what PNG filters specify.
    candidates = np.empty((5, n, length), dtype=np.uint8)  # filter types 0-4
    candidates[0] = raw
    np.subtract(raw, left, out=candidates[1])
    np.subtract(raw, up, out=candidates[2])
    np.subtract(raw, ((a + b) >> 1).astype(np.uint8), out=candidates[3])
    np.subtract(raw, paeth, out=candidates[4])
    cost = np.minimum(candidates, -candidates).sum(axis=2, dtype=np.uint32)  # |signed byte| sums
    best = cost.argmin(axis=0)
    out = np.empty((n, length + 1), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(n)]
    return out
