"""Full 16-bit decoding of RGB/RGBA/gray+alpha PNG and TIFF, which Pillow narrows to 8 bits.

Pillow has no 16-bit RGB mode: it unpacks 16-bit colour samples by keeping the high byte. Its
unpackers for the *other* byte order keep the low byte instead, with the same bits per pixel, so the
PNG/TIFF decoder (inflate, filters, predictor, interlace) runs unchanged. Decoding twice, once per
byte, and joining the two gives every sample exactly, at C speed, with no second PNG/TIFF reader.
Gray+alpha PNG (32 bits per pixel) needs a single pass: its bytes unpack as-is into 8-bit RGBA.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile

# rawmode of a 16-bit colour tile: base (RGB, RGBA, RGBX, RGBa), then ;16 and the byte order.
_DEEP = re.compile(r"^(RGB|RGBA|RGBX|RGBa);16([BLN])$")


def tile_rawmode(im: ImageFile.ImageFile) -> str | None:
    """The raw mode of the image's first tile (what the file stores), or None."""
    return _rawmode_of(im.tile[0][3]) if im.tile else None


def _rawmode_of(args: Any) -> str | None:
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def needs_deep_decode(im: ImageFile.ImageFile) -> bool:
    """Whether Pillow would narrow this (opened, not loaded) image's 16-bit samples to 8 bits."""
    raw = tile_rawmode(im)
    if raw is None or any(_rawmode_of(t[3]) != raw for t in im.tile):
        return False
    return (im.format == "PNG" and raw == "LA;16B") or (
        im.format in ("PNG", "TIFF") and _DEEP.match(raw) is not None
    )


def _swap_tiles(im: ImageFile.ImageFile, rawmode: str) -> None:
    tiles: list[Any] = []
    for t in im.tile:
        args: Any = t[3]
        new_args = rawmode if isinstance(args, str) else (rawmode, *args[1:])
        tiles.append(t._replace(args=new_args) if hasattr(t, "_replace") else (t[0], t[1], t[2], new_args))
    im.tile = tiles


def _decode_with(path: Path, frame_mode: str, rawmode: str) -> np.ndarray:
    with Image.open(path) as im:
        if im.mode != frame_mode:  # the file changed under us
            raise OSError("the file changed while it was being read")
        _swap_tiles(im, rawmode)
        im.load()
        return np.asarray(im)


def decode_deep(im: ImageFile.ImageFile, path: Path) -> tuple[np.ndarray, bool]:
    """The image's samples as uint16 H×W×C, and whether its alpha was premultiplied in the file.

    `im` is opened and not loaded (it is loaded here); `path` is opened again for the second pass.
    """
    raw = tile_rawmode(im)
    assert raw is not None
    if raw == "LA;16B":
        _swap_tiles(im, "RGBA")  # 4 bytes a pixel: L high, L low, A high, A low
        im.load()
        b = np.asarray(im).astype(np.uint16)
        gray = (b[..., 0] << 8) | b[..., 1]
        alpha = (b[..., 2] << 8) | b[..., 3]
        return np.stack([gray, gray, gray, alpha], axis=-1), False

    match = _DEEP.match(raw)
    assert match is not None
    base, order = match.group(1), match.group(2)
    premultiplied = base == "RGBa"
    if premultiplied:  # unpremultiply at 16 bits ourselves, not per byte
        base = "RGBA"
    if order == "N":
        order = "L" if sys.byteorder == "little" else "B"
    other = "B" if order == "L" else "L"
    mode = im.mode
    _swap_tiles(im, f"{base};16{order}")
    im.load()
    high = np.asarray(im).astype(np.uint16)
    low = _decode_with(path, mode, f"{base};16{other}").astype(np.uint16)
    return (high << 8) | low, premultiplied


def unpremultiply16(rgba: np.ndarray) -> np.ndarray:
    """Straight alpha from premultiplied 16-bit RGBA (colour where alpha is 0 becomes 0)."""
    alpha = rgba[..., 3:4].astype(np.float64)
    colour = rgba[..., :3].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = np.where(alpha > 0, colour * 65535.0 / alpha, 0.0)
    out = rgba.copy()
    out[..., :3] = np.clip(np.rint(straight), 0, 65535).astype(np.uint16)
    return out
