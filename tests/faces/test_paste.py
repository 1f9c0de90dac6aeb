"""The feathered mask and the paste itself."""

from __future__ import annotations

import math

import numpy as np

from pixup.faces import feather_mask, paste_face, window_mask
from pixup.faces.align import crop_bounds, warp_from_crop


def _rotation(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_mask_shape() -> None:
    mask = feather_mask()
    assert mask.shape == (512, 512) and mask[256, 256] == 1.0
    assert (mask[:8] == 0).all() and (mask[:, -8:] == 0).all()  # the crop border is never pasted
    assert 0.0 < mask[256, 32] < 1.0  # soft edge


def test_window_mask_is_the_warped_mask() -> None:
    matrix = _rotation(0.3, 0.9, 40.0, -70.0)
    window = crop_bounds(matrix, 900, 800)
    assert window is not None
    direct = window_mask(matrix, window)
    warped = warp_from_crop(feather_mask(), matrix, window, smooth=False)
    np.testing.assert_allclose(direct, warped, atol=1e-6)
    np.testing.assert_array_equal(direct > 0, warped > 0)


def test_paste_replaces_or_adds_the_change() -> None:
    target = np.full((600, 600, 4), 200, np.uint8)
    matrix = _rotation(0.2, 1.1, -30.0, -20.0)
    white = np.ones((512, 512, 3), np.float32)
    window = paste_face(target, white * 0.0, matrix)  # a black face replaces
    assert window is not None
    x0, y0, x1, y1 = window
    assert (target[..., 3] == 200).all()  # alpha untouched
    assert target[300, 300, 0] == 0 and target[5, 590, 0] == 200
    untouched = np.ones((600, 600), bool)
    untouched[y0:y1, x0:x1] = False
    assert (target[untouched] == 200).all()
    again = np.full((600, 600, 3), 200, np.uint8)
    paste_face(again, white * 0.6, matrix, original=white * 0.5)  # +0.1 everywhere the mask is 1
    assert again[300, 300, 0] == 200 + round(0.1 * 255)
    assert paste_face(again, white, _rotation(0.0, 1.0, 5000.0, 0.0)) is None  # misses the image
