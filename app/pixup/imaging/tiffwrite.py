"""A small baseline TIFF writer (numpy + zlib) for 8- and 16-bit gray, RGB and RGBA.

Pillow cannot write 16-bit colour TIFF, and one writer for every TIFF keeps the metadata path
single. The directory is built by piexif.dump, which already knows TIFF types and how to nest the
EXIF, GPS and Interop IFDs: the image's own tags (size, strips, deflate with horizontal predictor,
ICC, XMP) go into IFD0 beside the source's camera tags. piexif writes big-endian ("MM") TIFF.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import numpy as np
import piexif

from pixup.errors import ImageWriteError
from pixup.imaging.metadata import exif_body

CLASSIC_TIFF_MAX = 2**32 - 1
"""Largest file classic TIFF can address (32-bit offsets)."""
_STRIP_BYTES = 1 << 18  # uncompressed bytes per strip: the usual 8-256 KB sweet spot
_OWN_TAGS = frozenset({256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 284, 305, 317, 338, 339, 700, 34675})


def _strip(block: np.ndarray, level: int) -> bytes:
    """One strip, deflated, with the horizontal differencing predictor (2)."""
    diff = block.copy()
    diff[:, 1:] -= block[:, :-1]  # wraps modulo 2**bits, as the predictor defines
    data = diff.astype(">u2").tobytes() if block.dtype == np.uint16 else diff.tobytes()
    return zlib.compress(data, level)


def _strips(pixels: np.ndarray, level: int) -> tuple[int, list[bytes]]:
    """(rows per strip, deflated strips); strips are independent, so a few threads share them
    (zlib releases the GIL)."""
    height, width, channels = pixels.shape
    row_bytes = width * channels * pixels.itemsize
    rows = max(1, _STRIP_BYTES // row_bytes)
    blocks = [pixels[top : top + rows] for top in range(0, height, rows)]
    workers = max(1, min(4, os.cpu_count() or 1, len(blocks)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return rows, list(pool.map(_strip, blocks, [level] * len(blocks)))


def write_tiff(
    f: BinaryIO,
    pixels: np.ndarray,
    *,
    compress_level: int = 6,
    icc: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    name: str = "output",
) -> None:
    """Write H×W×C `pixels` (uint8 or uint16, C in 1, 3, 4) as a deflate-compressed TIFF.

    `exif` must be grafted already (metadata.graft_exif). Raises ImageWriteError if the file would
    pass the 4 GB that classic TIFF can address (`name` names it in the message).
    """
    height, width, channels = pixels.shape
    bits = 16 if pixels.dtype == np.uint16 else 8
    rows, strips = _strips(pixels, compress_level)

    exif_dict: dict[str, Any] = {"0th": {}, "Exif": {}, "GPS": {}, "Interop": {}}
    body = exif_body(exif) if exif else None
    if body is not None:
        loaded = piexif.load(body)
        for ifd in ("Exif", "GPS", "Interop"):
            exif_dict[ifd] = loaded[ifd]
        exif_dict["0th"] = {k: v for k, v in loaded["0th"].items() if k not in _OWN_TAGS}
        exif_dict["Exif"].pop(40965, None)  # Interop pointer: piexif.dump rebuilds it

    zeroth = exif_dict["0th"]
    zeroth.update(
        {
            256: width,
            257: height,
            258: (bits,) * channels,
            259: 8,  # Adobe deflate
            262: 1 if channels == 1 else 2,  # BlackIsZero / RGB
            274: 1,
            277: channels,
            278: rows,
            284: 1,  # chunky
            317: 2,  # horizontal differencing
            339: (1,) * channels,  # unsigned integers
            273: (0,) * len(strips) if len(strips) > 1 else 0,
            279: tuple(len(s) for s in strips) if len(strips) > 1 else len(strips[0]),
        }
    )
    zeroth.setdefault(282, (72, 1))
    zeroth.setdefault(283, (72, 1))
    zeroth.setdefault(296, 2)
    if channels == 4:
        zeroth[338] = 2  # unassociated alpha
    if icc:
        zeroth[34675] = icc
    if xmp:
        zeroth[700] = xmp

    # The directory's length does not depend on the offsets' values: dump once to learn where the
    # pixel data starts, then again with the real offsets.
    start = len(piexif.dump(exif_dict)) - 6
    start += start & 1  # data on a word boundary, as TIFF asks
    offsets: list[int] = []
    position = start
    for s in strips:
        offsets.append(position)
        position += len(s)
    if position > CLASSIC_TIFF_MAX:
        raise ImageWriteError(
            f"the TIFF would be {position / 2**30:.1f} GB and classic TIFF holds at most 4 GB; use png",
            path=name, code="format_limit",
        )
    zeroth[273] = tuple(offsets) if len(strips) > 1 else offsets[0]
    head = piexif.dump(exif_dict)[6:]
    assert len(head) + (len(head) & 1) == start
    f.write(head)
    if len(head) & 1:
        f.write(b"\x00")
    for s in strips:
        f.write(s)
