"""Pixel array helpers shared by decode and encode: checks, bit depth, alpha, orientation."""

from __future__ import annotations

import numpy as np


def check_pixels(pixels: np.ndarray) -> np.ndarray:
    """`pixels` as H×W×C (a 2-D array becomes H×W×1); raises ValueError unless C is 1, 3 or 4 and
    the dtype uint8 or uint16."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"pixels must be H×W×C with C in 1, 3, 4; got shape {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be uint8 or uint16; got {pixels.dtype}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"pixels must not be empty; got shape {pixels.shape}")
    return pixels


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """8-bit samples; 16-bit ones are rounded (v·255/65535), not truncated."""
    if pixels.dtype == np.uint8:
        return pixels
    wide = pixels.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def flatten_alpha(pixels: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """RGBA (8 or 16 bit) composited over an opaque 8-bit `background`; RGB in the same dtype."""
    if pixels.shape[2] != 4:
        return pixels
    top = np.iinfo(pixels.dtype).max
    alpha = pixels[..., 3:4].astype(np.float32) / top
    bg = np.asarray(background, dtype=np.float32) * (top / 255.0)
    out = pixels[..., :3].astype(np.float32) * alpha + bg * (1.0 - alpha)
    return np.clip(np.rint(out), 0, top).astype(pixels.dtype)


def gray_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """A 1-channel image repeated into 3 channels; other images unchanged."""
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels into what a viewer shows for EXIF `orientation` (ImageOps.exif_transpose)."""
    if orientation == 2:
        out = pixels[:, ::-1]
    elif orientation == 3:
        out = pixels[::-1, ::-1]
    elif orientation == 4:
        out = pixels[::-1]
    elif orientation == 5:
        out = pixels.swapaxes(0, 1)
    elif orientation == 6:
        out = np.rot90(pixels, k=-1)
    elif orientation == 7:
        out = pixels[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        out = np.rot90(pixels, k=1)
    else:
        return pixels
    return np.ascontiguousarray(out)
