"""Alignment: five landmarks → the standard 512×512 face template by a similarity transform, and the
warps into and out of that crop (Pillow, continuous pixel coordinates as in `detect`).

A transform here is a 2×3 matrix M mapping image coordinates to crop coordinates:
crop = M[:, :2] @ image + M[:, 2].
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PIL import Image

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

CROP_SIZE = 512
TEMPLATE_512: F64 = (
    np.array(
        [
            [192.98138, 239.94708],
            [318.90277, 240.19360],
            [256.63416, 314.01935],
            [201.26117, 371.41043],
            [313.08905, 371.15118],
        ]
    )
    + 0.5
)
"""The five-point template GFPGAN and CodeFormer were trained with (facexlib's FFHQ template for
512×512: eyes, nose tip, mouth corners, image-left first). +0.5 moves it from OpenCV's
pixel-centre-at-integer convention to the continuous one used here."""
TEMPLATE_512.setflags(write=False)


def similarity_transform(src: npt.ArrayLike, dst: npt.ArrayLike) -> F64:
    """The least-squares similarity (rotation, uniform scale, translation; no reflection) taking the
    points `src` (N×2) onto `dst` (N×2): Umeyama (1991). Returns the 2×3 matrix."""
    p = np.asarray(src, dtype=np.float64)
    q = np.asarray(dst, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 2:
        raise ValueError(f"need two matching N×2 point sets (N >= 2); got {p.shape} and {q.shape}")
    mean_p, mean_q = p.mean(axis=0), q.mean(axis=0)
    cp, cq = p - mean_p, q - mean_q
    var_p = float((cp**2).sum()) / len(p)
    if var_p <= 1e-12:
        raise ValueError("the source points coincide")
    u, sigma, vt = np.linalg.svd(cq.T @ cp / len(p))
    # A reflection would mirror the face; flip the weakest axis instead (Umeyama's S matrix).
    d = np.array([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ np.diag(d) @ vt
    scale = float((sigma * d).sum()) / var_p
    translation = mean_q - scale * rotation @ mean_p
    return np.hstack([scale * rotation, translation[:, None]])


def invert(matrix: F64) -> F64:
    """The inverse of a 2×3 affine matrix."""
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def transform_scale(matrix: F64) -> float:
    """The (uniform) scale of a similarity matrix: crop pixels per image pixel."""
    return math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))


def align_matrix(landmarks: npt.ArrayLike) -> F64:
    """Image → 512 crop, for a face's 5×2 landmarks."""
    return similarity_transform(landmarks, TEMPLATE_512)


def crop_bounds(matrix: F64, height: int, width: int, margin: int = 2) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the integer pixel window of an H×W image that the 512 crop covers, grown by
    `margin` for the resampling kernel and clipped to the image; None when they do not overlap."""
    corners = np.array([[0, 0], [CROP_SIZE, 0], [0, CROP_SIZE], [CROP_SIZE, CROP_SIZE]], dtype=np.float64)
    inverse = invert(matrix)
    points = corners @ inverse[:, :2].T + inverse[:, 2]
    x0 = max(0, math.floor(points[:, 0].min()) - margin)
    y0 = max(0, math.floor(points[:, 1].min()) - margin)
    x1 = min(width, math.ceil(points[:, 0].max()) + margin)
    y1 = min(height, math.ceil(points[:, 1].max()) + margin)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _pillow_data(matrix: F64) -> tuple[float, float, float, float, float, float]:
    """Pillow's AFFINE data: for each output pixel, where to sample the input (the output→input map)."""
    a, b, c = (float(v) for v in matrix[0])
    d, e, f = (float(v) for v in matrix[1])
    return a, b, c, d, e, f


def _shifted(matrix: F64, dx: float, dy: float) -> F64:
    """`matrix` for coordinates measured from (dx, dy): m(x + dx, y + dy)."""
    out = matrix.copy()
    out[:, 2] += matrix[:, :2] @ np.array([dx, dy])
    return out


def warp_to_crop(rgb: U8, matrix: F64, origin: tuple[int, int] = (0, 0)) -> U8:
    """The 512×512 aligned crop of `rgb` (H×W×3 uint8; a window whose top-left pixel sits at `origin`
    in the image that `matrix` refers to). Outside the window is black.

    A face much larger than the crop is first shrunk by a box filter: the bicubic transform samples
    without antialiasing."""
    local = _shifted(matrix, *origin)
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    factor = int(1.0 / transform_scale(local))
    if factor >= 2:
        # Continuous coordinates: pixel x of the reduced image spans original [x·f, (x+1)·f).
        image = image.reduce(factor)
        local = local @ np.diag([factor, factor, 1.0])
    crop_to_window = invert(local)
    out = image.transform(
        (CROP_SIZE, CROP_SIZE), Image.Transform.AFFINE, _pillow_data(crop_to_window), Image.Resampling.BICUBIC
    )
    return np.asarray(out, dtype=np.uint8)


def warp_from_crop(
    planes: F32, matrix: F64, window: tuple[int, int, int, int], *, smooth: bool = True
) -> F32:
    """Crop-space float planes (512×512 or 512×512×C) warped back onto the image `window` (x0, y0,
    x1, y1), as float32 of the window's height × width (× C). Outside the crop is 0.
    `smooth`: bicubic (pictures) or bilinear (masks: no overshoot)."""
    x0, y0, x1, y1 = window
    data = _pillow_data(_shifted(matrix, x0, y0))
    resample = Image.Resampling.BICUBIC if smooth else Image.Resampling.BILINEAR
    stack = planes[..., None] if planes.ndim == 2 else planes
    out = np.empty((y1 - y0, x1 - x0, stack.shape[2]), dtype=np.float32)
    for channel in range(stack.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(stack[..., channel], dtype=np.float32), "F")
        out[..., channel] = np.asarray(
            plane.transform((x1 - x0, y1 - y0), Image.Transform.AFFINE, data, resample)
        )
    return out[..., 0] if planes.ndim == 2 else out
