"""Every model of the waifu2x and Real-CUGAN packs: pixup's ONNX conversion against the ncnn runtime.

These models use unpadded convolutions: output = scale × (input − 2·border). Their U-Nets also need
sizes on a grid (Real-CUGAN 3×: multiples of 4, 2×/4×: even; waifu2x CUNet: multiples of 4), so
each family is tested at sizes the ncnn runtime itself accepts.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixup.models.bundled import BUNDLED, REALCUGAN, WAIFU2X, BundledModel
from pixup.models.importers.ncnn import convert_ncnn
from tests.models.reference import ort_session, random_image, run_ncnn_all, run_onnx, smooth_image

PACKS = [model for model in BUNDLED if model.pack in (WAIFU2X, REALCUGAN)]


def _sizes(model: BundledModel) -> tuple[tuple[int, int], tuple[int, int]]:
    """(white-noise size, smooth-image size) for a model."""
    if model.id.startswith("waifu2x-cunet-x1"):
        return (76, 84), (80, 92)
    if model.id.startswith("waifu2x-cunet"):
        return (60, 68), (64, 76)
    if model.id.startswith("waifu2x"):
        return (41, 47), (36, 44)
    if model.nominal_scale == 3:
        return (56, 64), (60, 68)
    return (58, 70), (56, 64)


def test_both_packs_are_fully_catalogued() -> None:
    assert len([m for m in PACKS if m.pack == WAIFU2X]) == 19
    assert len([m for m in PACKS if m.pack == REALCUGAN]) == 17


@pytest.mark.parametrize("model", PACKS, ids=lambda m: m.id)
def test_matches_ncnn(model: BundledModel) -> None:
    param, weights = model.files()
    session = ort_session(convert_ncnn(param, weights))
    noise_size, smooth_size = _sizes(model)
    noise = random_image(3, *noise_size, seed=1)
    smooth = smooth_image(3, *smooth_size, seed=2)
    expected_noise, expected_smooth = run_ncnn_all(param, weights, [noise, smooth])

    actual = run_onnx(session, smooth)
    assert actual.shape == expected_smooth.shape
    assert float(np.abs(actual - expected_smooth).max()) <= 1e-3

    # White noise drives some nets (Real-CUGAN Pro) to outputs in the hundreds; compare relative to that.
    actual = run_onnx(session, noise)
    assert actual.shape == expected_noise.shape
    magnitude = max(1.0, float(np.abs(expected_noise).max()))
    assert float(np.abs(actual - expected_noise).max()) <= 1e-3 * magnitude

    # output = scale × (input − 2·border), with one border for both axes.
    scale = model.nominal_scale
    for image, out in ((noise, expected_noise), (smooth, expected_smooth)):
        (_, in_h, in_w), (_, out_h, out_w) = image.shape, out.shape
        assert out_h % scale == 0 and out_w % scale == 0
        assert in_h - out_h // scale == in_w - out_w // scale > 0
