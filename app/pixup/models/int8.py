"""int8 variants of the bundled models measured for them (issue 8: ≤ 0.1 dB PSNR lost, ≥ 1.5× on
OpenVINO CPU): quantised on first use, calibrated on the tiles of `int8_calibration.png`, and cached
beside the fp32 conversion like any derived model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pixup.models.cache import derived_model

if TYPE_CHECKING:
    import onnx

CALIBRATION_FILE = Path(__file__).with_name("int8_calibration.png")
"""A strip of TILE×TILE RGB tiles, photos and drawings (made by scripts/make_int8_calibration.py)."""
TILE = 96
INT8_TAG = "int8-v2"
"""Part of the cached file's name: change it when the quantiser or the calibration tiles change."""


def calibration_samples() -> list[np.ndarray]:
    """The calibration tiles as pixup's ncnn conversions take input: 1×3×TILE×TILE float32 RGB, 0-1."""
    from PIL import Image

    with Image.open(CALIBRATION_FILE) as opened:
        strip = np.asarray(opened.convert("RGB"), dtype=np.float32) / 255
    count = strip.shape[1] // TILE
    return [
        np.ascontiguousarray(strip[:TILE, k * TILE : (k + 1) * TILE].transpose(2, 0, 1)[None])
        for k in range(count)
    ]


def int8_model(onnx_path: Path) -> Path:
    """The int8 variant of the converted model `onnx_path`, made once (about a second) and cached.

    Raises ModelError when the cache folder cannot be written, ValueError when the model cannot be
    quantised."""

    def quantise(model: onnx.ModelProto) -> onnx.ModelProto:
        from pixup.models.quantize import quantise_int8

        return quantise_int8(model, calibration_samples())

    return derived_model(onnx_path, INT8_TAG, quantise)
