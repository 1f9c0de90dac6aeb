"""A small PNG writer (numpy + zlib) for what Pillow cannot write: 16-bit RGB and RGBA.

Pillow has no 16-bit colour mode, so a 16-bit upscale would lose its low byte on the way out.
This writer streams the image in row blocks: each block is filtered with the five PNG filters at
once (vectorised), each row keeps the filter with the smallest sum of absolute signed bytes (the
heuristic libpng uses). Segments of rows are deflated on a few threads (zlib and numpy release the
GIL) and joined into one zlib stream the way pigz does it: each segment is raw deflate ended by a
sync flush, the stream gets one zlib header and the Adler-32 of all the filtered bytes.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from pixup.imaging.metadata import EXIF_HEADER

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2, 4: 6}  # gray, RGB, RGBA
_BLOCK_BYTES = 256 << 10  # raw bytes filtered at a time: the filter's temporaries are ~25× this
_SEGMENT_BYTES = 4 << 20  # raw bytes per independently deflated segment (one per thread)
_MAX_WORKERS = 4
_ADLER_MOD = 65521


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
    rows = max(1, _SEGMENT_BYTES // row_bytes)
    tops = list(range(0, height, rows))
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(tops)))
    adler = 1
    first = True
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[tuple[int, int, bytes]]] = deque()

        def drain(limit: int) -> None:
            nonlocal adler, first
            while len(pending) > limit:
                length, checksum, deflated = pending.popleft().result()
                adler = adler32_combine(adler, checksum, length)
                _chunk(f, b"IDAT", (_zlib_header(compress_level) if first else b"") + deflated)
                first = False

        for top in tops:
            last = top + rows >= height
            pending.append(pool.submit(_segment, pixels, top, rows, bpp, compress_level, last))
            drain(2 * workers)  # bounded read-ahead: memory stays at a few segments
        drain(0)
    _chunk(f, b"IDAT", struct.pack(">I", adler & 0xFFFFFFFF))
    _chunk(f, b"IEND", b"")


def _zlib_header(level: int) -> bytes:
    """The two bytes before a deflate stream: method 8, 32K window, level hint, check bits."""
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    flg = flevel << 6
    flg += 31 - ((0x78 * 256 + flg) % 31)
    return bytes([0x78, flg])


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of A+B from adler32(A) and adler32(B) (each started at 1) and len(B): the
    segments are checksummed on their own threads, so their filtered bytes need not be kept.
    Adler-32 is (a, b) with a = 1 + Σ bytes and b = Σ of the running a, both mod 65521; B's running
    a values are each larger by a(A) - 1 when B follows A."""
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_MOD
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_MOD
    return (b << 16) | a


def _segment(
    pixels: np.ndarray, top: int, rows: int, bpp: int, level: int, last: bool
) -> tuple[int, int, bytes]:
    """(length, Adler-32 of the filtered bytes, raw deflate of them) for rows top..top+rows; ends
    on a byte boundary (sync flush) so the segments concatenate into one deflate stream, the last
    one final."""
    height, width = pixels.shape[:2]
    row_bytes = width * bpp
    big = pixels.dtype == np.uint16
    squeeze = zlib.compressobj(level, zlib.DEFLATED, -15)
    step = max(1, _BLOCK_BYTES // row_bytes)
    previous = _row_bytes(pixels[top - 1], big) if top else np.zeros(row_bytes, dtype=np.uint8)
    length = 0
    checksum = 1
    deflated_parts: list[bytes] = []
    for start in range(top, min(top + rows, height), step):
        block = pixels[start : min(start + step, top + rows, height)]
        raw = block.astype(">u2" if big else np.uint8).view(np.uint8).reshape(len(block), row_bytes)
        filtered = _filter_rows(raw, previous, bpp).tobytes()
        length += len(filtered)
        checksum = zlib.adler32(filtered, checksum)
        deflated_parts.append(squeeze.compress(filtered))
        previous = raw[-1]
    deflated_parts.append(squeeze.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
    return length, checksum, b"".join(deflated_parts)


def _row_bytes(row: np.ndarray, big: bool) -> np.ndarray:
    return row.astype(">u2" if big else np.uint8).view(np.uint8).reshape(-1)


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
