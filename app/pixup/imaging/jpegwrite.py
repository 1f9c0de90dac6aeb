"""A baseline JPEG written in horizontal strips, in bounded memory and on several cores.

Pillow encodes a whole image at once: it first copies the pixels into its own 4-bytes-per-pixel
image (192 MB for an 8000×6000 upscale) and, with optimised Huffman tables, libjpeg also buffers
every DCT coefficient (another 288 MB at 4:4:4). Here each strip of rows (a whole number of MCU
rows) is encoded by Pillow on its own, with the same quality, subsampling and standard Huffman
tables, so every strip carries identical tables; the strips' entropy-coded data is then joined
with restart markers (RST0-7) into one baseline JPEG whose restart interval is one strip. Restart
markers reset the DC predictors exactly as a fresh strip starts them, so the file decodes to the
pixels a whole-image encode with the same settings gives, and any JPEG decoder reads it.
"""

from __future__ import annotations

import io
import os
import struct
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import Image

from pixup.choices import JpegSubsampling

_STRIP_BYTES = 2 << 20
"""Raw pixel bytes per strip (before Pillow's copy): bounds memory to a few strips in flight."""
_MAX_WORKERS = 4
_MAX_RESTART_INTERVAL = 0xFFFF  # the DRI field is 16 bits
_SOI, _EOI, _SOS, _DRI = 0xD8, 0xD9, 0xDA, 0xDD
_SOF_BASELINE = 0xC0
_TABLES = (0xDB, 0xC4)  # DQT, DHT: must be the same in every strip


class StripMismatch(Exception):
    """Two strips came out with different tables (should not happen with libjpeg's defaults)."""


@dataclass(frozen=True)
class _Parsed:
    head: bytes
    """Everything before the SOS marker (SOI, APPn, DQT, SOF0, DHT)."""
    tables: bytes
    """The DQT and DHT segments, in order: what every strip must share."""
    sof_at: int
    """Offset of the SOF0 marker in `head`."""
    sos: bytes
    """The SOS segment (marker, length and header)."""
    entropy: bytes
    """The entropy-coded data up to (not including) EOI."""


def mcu_height(channels: int, subsampling: JpegSubsampling) -> int:
    """Rows per MCU: 16 for colour at 4:2:0, else 8."""
    return 16 if channels == 3 and subsampling == "4:2:0" else 8


def strip_rows(width: int, channels: int, subsampling: JpegSubsampling) -> int:
    """Rows per strip: about `_STRIP_BYTES` of pixels, a whole number of MCU rows, and few enough
    MCUs that the restart interval fits its 16-bit field."""
    mcu = mcu_height(channels, subsampling)
    mcus_per_row = -(-width // mcu)  # MCU width equals its height for the modes written here
    by_bytes = max(1, _STRIP_BYTES // (width * channels) // mcu)
    by_interval = max(1, _MAX_RESTART_INTERVAL // mcus_per_row)
    return min(by_bytes, by_interval) * mcu


def write_jpeg_strips(
    f: BinaryIO,
    height: int,
    width: int,
    channels: int,
    strip: Callable[[int, int], np.ndarray],
    *,
    quality: int,
    subsampling: JpegSubsampling,
    icc: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
) -> None:
    """Write an H×W image whose rows `strip(top, bottom)` returns (uint8, H'×W×C, C = 1 or 3) as one
    baseline JPEG. Raises StripMismatch (nothing written) if the strips disagree on their tables."""
    rows = strip_rows(width, channels, subsampling)
    tops = list(range(0, height, rows))
    mode = "L" if channels == 1 else "RGB"
    metadata: dict[str, object] = {}
    if icc:
        metadata["icc_profile"] = icc
    if exif:
        metadata["exif"] = exif
    if xmp:
        metadata["xmp"] = xmp

    def encode(index: int) -> _Parsed:
        top = tops[index]
        pixels = strip(top, min(top + rows, height))
        image = Image.fromarray(np.ascontiguousarray(pixels[..., 0] if channels == 1 else pixels), mode=mode)
        buffer = io.BytesIO()
        extra = metadata if index == 0 else {}
        image.save(buffer, format="JPEG", quality=quality, subsampling=subsampling, optimize=False,
                   progressive=False, **extra)
        return _parse(buffer.getvalue())

    first: _Parsed | None = None
    workers = max(1, min(_MAX_WORKERS, os.cpu_count() or 1, len(tops)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for index, part in enumerate(_in_order(pool, encode, len(tops), 2 * workers)):
            if first is None:
                first = part
                mcu = mcu_height(channels, subsampling)
                interval = -(-width // mcu) * (rows // mcu)  # MCUs per strip
                f.write(_with_height(first.head, first.sof_at, height))
                if len(tops) > 1:
                    f.write(struct.pack(">BBHH", 0xFF, _DRI, 4, interval))
                f.write(first.sos)
            elif part.tables != first.tables:
                raise StripMismatch("JPEG strips were encoded with different tables")
            else:
                f.write(bytes((0xFF, 0xD0 + (index - 1) % 8)))
            f.write(part.entropy)
    f.write(bytes((0xFF, _EOI)))


def _in_order(
    pool: ThreadPoolExecutor, job: Callable[[int], _Parsed], count: int, ahead: int
) -> Iterator[_Parsed]:
    """job(0..count-1) on the pool, results in order, at most `ahead` in flight."""
    pending: deque[Future[_Parsed]] = deque()
    submitted = 0
    while submitted < count or pending:
        while submitted < count and len(pending) < ahead:
            pending.append(pool.submit(job, submitted))
            submitted += 1
        yield pending.popleft().result()


def _parse(data: bytes) -> _Parsed:
    """Split one baseline JPEG from Pillow into its header, tables, SOS and entropy data."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        raise StripMismatch("the encoder did not return a whole JPEG")
    at = 2
    tables: list[bytes] = []
    sof_at = -1
    while at < len(data):
        if data[at] != 0xFF:
            raise StripMismatch(f"unexpected byte at {at} in an encoded strip")
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        segment = data[at : at + 2 + length]
        if marker == _SOS:
            return _Parsed(data[:at], b"".join(tables), sof_at, segment, data[at + 2 + length : -2])
        if marker in _TABLES:
            tables.append(segment)
        elif marker == _SOF_BASELINE:
            sof_at = at
        elif 0xC1 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            raise StripMismatch("the encoder wrote a non-baseline JPEG")
        at += 2 + length
    raise StripMismatch("no SOS segment in an encoded strip")


def _with_height(head: bytes, sof_at: int, height: int) -> bytes:
    """`head` with the SOF0 frame height (2 bytes after marker, length and precision) replaced."""
    if sof_at < 0:
        raise StripMismatch("no SOF0 segment in an encoded strip")
    at = sof_at + 5
    return head[:at] + struct.pack(">H", height) + head[at + 2 :]
