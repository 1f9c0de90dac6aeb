"""Paste a restored 512×512 face back into the image: inverse warp and a feathered mask, blended in
the image's own depth (uint8 or uint16) and channels (grey, grey+alpha, RGB, RGBA; alpha untouched).

The mask is the crop square eroded and Gaussian-blurred *in crop space*, then warped with the face.
For a similarity transform that equals eroding and blurring the warped square by the same amounts
times the face's scale (facexlib does it in image space, in proportion to the face's size) and it
needs no image-space filtering; being separable, its warp is two 1-D interpolations per pixel.
It is zero for the outer `_ZERO_BAND` crop pixels, so nothing from the crop's border (black where
the crop reached past the image, resampling fringes) is ever pasted.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from pixup.faces.align import CROP_SIZE, F32, F64, crop_bounds, warp_from_crop

_ERODE = 32
"""Crop pixels the mask loses on each side before blurring (facexlib: 1/20 of the face side)."""
_SIGMA = 8.0
"""Blur of the mask edge, crop pixels (facexlib: an OpenCV kernel of 1/10 of the face side)."""
_ZERO_BAND = _ERODE - 3 * _SIGMA
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""ITU-R BT.601, as Pillow's convert("L"): how a restored face goes back into a grey image."""


@functools.cache
def _profile() -> npt.NDArray[np.float64]:
    """The mask across one crop axis, at crop pixel centres: an eroded box, Gaussian-blurred."""
    radius = math.ceil(3 * _SIGMA)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / _SIGMA) ** 2)
    taps /= taps.sum()
    box = np.zeros(CROP_SIZE)
    box[_ERODE : CROP_SIZE - _ERODE] = 1.0
    profile = np.convolve(box, taps, mode="same")
    profile[profile < 1e-4] = 0.0  # an exact zero: pixels there stay bit-identical
    profile.setflags(write=False)
    return profile


def feather_mask() -> F32:
    """The 512×512 blend weight in crop space, 1 in the middle and 0 at the border."""
    profile = _profile()
    return np.outer(profile, profile).astype(np.float32)


def window_mask(matrix: F64, window: tuple[int, int, int, int]) -> F32:
    """`feather_mask` warped onto the image `window` (x0, y0, x1, y1), bilinear: the mask is
    separable, so each image pixel's weight is the product of the two axis profiles interpolated at
    its crop coordinates (no image-sized resampling)."""
    x0, y0, x1, y1 = window
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    centres = np.arange(CROP_SIZE, dtype=np.float64) + 0.5
    profile = _profile()
    u = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    v = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    mask: F32 = (
        np.interp(u, centres, profile, left=0.0, right=0.0)
        * np.interp(v, centres, profile, left=0.0, right=0.0)
    ).astype(np.float32)
    return mask


def paste_face(
    target: np.ndarray, restored: F32, matrix: F64, *, original: F32 | None = None
) -> tuple[int, int, int, int] | None:
    """Blend `restored` (512×512×3 float RGB in [0, 1], the face as `matrix` aligned it) into
    `target` (H×W×C, C in 1–4, uint8 or uint16) in place. Pixels the mask does not reach are not
    written. Returns the window (x0, y0, x1, y1) it touched, or None when the crop misses the image.

    With `original` (the crop the model was given, same layout), only the model's change
    `restored - original` is warped back and added: the image's own pixels are never resampled, so
    what the model left alone stays exactly as it was (no blur from the crop-and-back round trip,
    and a face larger than 512 px keeps the upscaler's detail finer than the crop can hold). Without
    it the warped face replaces the image under the mask, as GFPGAN's own paste does."""
    height, width, channels = target.shape
    bounds = crop_bounds(matrix, height, width)
    if bounds is None:
        return None
    mask = window_mask(matrix, bounds)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    # Shrink to where the mask is non-zero before the costly warps.
    mask = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    x0, y0 = bounds[0] + int(cols[0]), bounds[1] + int(rows[0])
    window = (x0, y0, x0 + mask.shape[1], y0 + mask.shape[0])
    if original is None:
        face = np.clip(warp_from_crop(restored, matrix, window), 0.0, 1.0)
    else:
        face = warp_from_crop(restored - original, matrix, window)
    colour = 1 if channels in (1, 2) else 3  # grey (+alpha) or RGB (+alpha): alpha is never blended
    if colour == 1:
        face = (face @ _LUMA)[..., None]
    top = float(np.iinfo(target.dtype).max)
    region = target[window[1] : window[3], window[0] : window[2], :colour]
    weight = mask[..., None]
    before = region.astype(np.float32)
    face *= top
    if original is None:
        face -= before
    face *= weight
    face += before
    np.rint(face, out=face)
    np.clip(face, 0.0, top, out=face)
    np.copyto(region, face.astype(target.dtype), where=weight > 0.0)
    return window
