"""A small PNG writer (numpy + zlib) for what Pillow cannot write: 16-bit RGB and RGBA.

Pillow has no 16-bit colour mode, so a 16-bit upscale would lose its low byte on the way out.
This writer streams the image in row blocks: each block is filtered with the PNG filters None, Sub,
Up and Average at once (vectorised, in uint8), each row keeps the filter with the smallest sum of
absolute signed bytes (the heuristic libpng uses). Paeth is not a candidate: it is the one filter
that needs 16-bit arithmetic (most of the old filter time), and with this heuristic it made the
files larger, not smaller (benchmarks/README.md, PNG). Segments of rows are deflated on a few
threads (zlib and numpy release the GIL) and joined into one zlib stream the way pigz does it: each
segment is raw deflate ended by a sync flush, the stream gets one zlib header and the Adler-32 of
all the filtered bytes. Each segment is deflated with zlib's default strategy or, where its first
block shows that to be clearly smaller, with run-length matches only (`_start_deflate`).
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
_BLOCK_BYTES = 256 << 10  # raw bytes filtered at a time: the filter temporaries are ~6× this
_SEGMENT_BYTES = 4 << 20  # raw bytes per independently deflated segment (one per thread)
_MAX_WORKERS = 4
_ADLER_MOD = 65521
_FILTER_CHOICE = "four"
"""Candidate filters per row: "four" (None, Sub, Up, Average) or "five" (also Paeth, in int16:
the writer's choice before, kept so benchmarks/bench_png.py can compare the two in one run)."""
_RLE_TRIAL = True
"""Each segment's first block is deflated with zlib's default strategy and with Z_RLE, and the
segment goes on with Z_RLE if that came out at least `_RLE_MARGIN` smaller (see `_start_deflate`).
False: the default strategy throughout, as before (for the benchmark)."""
_RLE_MARGIN = 0.95


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
    squeeze: zlib._Compress | None = None
    step = max(1, _BLOCK_BYTES // row_bytes)
    five = _FILTER_CHOICE == "five"
    # Row 0 of `stack` is the row above the block, rows 1.. the block's bytes: the Up and Average
    # filters read it as a view one row higher, without a shifted copy.
    stack = np.empty((step + 1, row_bytes), dtype=np.uint8)
    if top:
        stack[0] = _row_bytes(pixels[top - 1], big)
    else:
        stack[0] = 0
    length = 0
    checksum = 1
    deflated_parts: list[bytes] = []
    for start in range(top, min(top + rows, height), step):
        block = pixels[start : min(start + step, top + rows, height)]
        n = len(block)
        raw = stack[1 : n + 1]
        raw.view(">u2" if big else np.uint8).reshape(block.shape)[...] = block
        filtered = _filter_rows_five(raw, stack[0], bpp) if five else _filter_rows(stack[: n + 1], bpp)
        data = filtered.data  # C-contiguous: zlib reads the array's bytes in place, no copy
        length += data.nbytes
        checksum = zlib.adler32(data, checksum)
        if squeeze is None:
            squeeze, deflated = _start_deflate(level, data)
        else:
            deflated = squeeze.compress(data)
        deflated_parts.append(deflated)
        stack[0] = raw[-1]
    assert squeeze is not None  # a segment has at least one row
    deflated_parts.append(squeeze.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH))
    return length, checksum, b"".join(deflated_parts)


def _start_deflate(level: int, data: memoryview) -> tuple[zlib._Compress, bytes]:
    """A segment's raw-deflate compressor and the deflate of its first block `data`.

    zlib's run-length strategy (Z_RLE: matches at distance one only, no hash chains) deflates the
    filtered rows of upscaled photos 14-16 % smaller than its default strategy at level 1 (6-8 % at
    level 6), and in a fraction of the time (most of their bytes are literals, which the default's
    short matches only make dearer to code); drawings, whose repeats lie further back, come out up
    to twice as large. So the first block is deflated both ways and the segment goes on with Z_RLE
    only if that came out at least `_RLE_MARGIN` smaller; the sizes are compared with what each
    compressor still holds flushed from a copy, so the chosen stream is the same as if it had been
    the only one."""
    default = zlib.compressobj(level, zlib.DEFLATED, -15)
    deflated = default.compress(data)
    if level == 0 or not _RLE_TRIAL:
        return default, deflated
    rle = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
    rle_deflated = rle.compress(data)
    size = len(deflated) + len(default.copy().flush(zlib.Z_SYNC_FLUSH))
    rle_size = len(rle_deflated) + len(rle.copy().flush(zlib.Z_SYNC_FLUSH))
    if rle_size < _RLE_MARGIN * size:
        return rle, rle_deflated
    return default, deflated


def _row_bytes(row: np.ndarray, big: bool) -> np.ndarray:
    return row.astype(">u2" if big else np.uint8).view(np.uint8).reshape(-1)


def _filter_rows(stack: np.ndarray, bpp: int) -> np.ndarray:
    """Rows 1.. of `stack` (uint8, (n+1)×L; row 0 is the row above them, zeros for the first row of
    the image), each filtered with the one of None, Sub, Up and Average whose bytes have the
    smallest sum of |signed byte| and prefixed by that filter's type byte: n×(L+1), C-contiguous.
    All in uint8, whose arithmetic wraps modulo 256 as the PNG filters specify."""
    raw, up = stack[1:], stack[:-1]
    n, length = raw.shape
    x, a, b = raw[:, bpp:], raw[:, :-bpp], up[:, bpp:]  # a pixel's byte, left of it, above it
    filtered = np.empty((4, n, length + 1), dtype=np.uint8)  # filter types 0-3, type byte first
    for kind in range(4):
        filtered[kind, :, 0] = kind
    rows = filtered[:, :, 1:]
    rows[0] = raw
    np.subtract(x, a, out=rows[1, :, bpp:])
    rows[1, :, :bpp] = raw[:, :bpp]  # no pixel on the left: Sub keeps the byte
    np.subtract(raw, up, out=rows[2])
    mean = rows[3, :, bpp:]  # floor((a + b) / 2) without a carry out of the byte: a&b + (a^b)>>1
    np.bitwise_and(a, b, out=mean)
    spare = np.bitwise_xor(a, b)
    spare >>= 1
    mean += spare
    np.subtract(x, mean, out=mean)
    np.right_shift(up[:, :bpp], 1, out=rows[3, :, :bpp])
    np.subtract(raw[:, :bpp], rows[3, :, :bpp], out=rows[3, :, :bpp])

    cost = np.empty((4, n), dtype=np.uint32)
    spare = np.empty((n, length), dtype=np.uint8)
    for kind in range(4):
        np.negative(rows[kind], out=spare)
        np.minimum(rows[kind], spare, out=spare)  # |signed byte|: min(v, 256 - v)
        spare.sum(axis=1, dtype=np.uint32, out=cost[kind])
    best = cost.argmin(axis=0)
    first = int(best[0])
    chosen: np.ndarray = filtered[first] if (best == first).all() else filtered[best, np.arange(n)]
    return chosen


def _filter_rows_five(raw: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """The writer's choice before `_filter_rows` (`_FILTER_CHOICE = "five"`): all five filters,
    Paeth included (in int16), for every row; same heuristic. Rows of `raw` (uint8, n×L), each
    prefixed by its filter type byte: n×(L+1)."""
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
