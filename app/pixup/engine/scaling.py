"""Reaching the user's target scale with the model's native one.

Fewest model passes whose combined scale reaches the target, then a Lanczos resize to the exact
target size when the passes overshoot (4× model, target 2×: one pass, then down; 2× model, target
4×: two passes; 3× model, target 8×: two passes (9×), then down). A model of scale ≤ 1 runs once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixup.engine.tiling import scale_fraction, scaled_length
from pixup.errors import EngineError

MAX_PASSES = 6
"""More chained passes than this is never what the user meant (2× model to 64×)."""
_EPS = 1e-9


def target_length(length: int, target: float) -> int:
    """Final output length: `length` × `target`, rounded half up (at least 1)."""
    return max(1, math.floor(length * target + 0.5 + _EPS))


@dataclass(frozen=True)
class ScalePlan:
    """How many model passes a job takes and what size it ends at."""

    model_scale: float
    """The model's native scale."""
    target_scale: float | None
    """The scale the user asked for; None means the model's own (no resize, ever)."""
    passes: int
    """Model passes, each fed the previous one's output."""

    def pass_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(height, width) after each model pass."""
        scale = scale_fraction(self.model_scale)
        sizes = []
        for _ in range(self.passes):
            height, width = scaled_length(height, scale), scaled_length(width, scale)
            sizes.append((height, width))
        return sizes

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the finished image."""
        if self.target_scale is None:
            return self.pass_sizes(height, width)[-1]
        return target_length(height, self.target_scale), target_length(width, self.target_scale)


def plan_scale(model_scale: float, target_scale: float | None = None) -> ScalePlan:
    """The passes for `model_scale` to reach `target_scale` (None: the model's own scale)."""
    scale_fraction(model_scale)  # rejects scales the tiler cannot place
    if target_scale is None:
        return ScalePlan(model_scale, None, 1)
    if not math.isfinite(target_scale) or target_scale <= 0:
        raise EngineError(f"Target scale {target_scale} is not usable.")
    passes = 1
    if model_scale > 1:
        while model_scale**passes < target_scale * (1 - _EPS):
            passes += 1
            if passes > MAX_PASSES:
                raise EngineError(
                    f"A {model_scale:g}× model would need more than {MAX_PASSES} passes to reach "
                    f"{target_scale:g}×."
                )
    return ScalePlan(model_scale, target_scale, passes)


def resize_lanczos(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize H×W×C uint8/uint16 pixels with Pillow's Lanczos, channel by channel (colour is not
    premultiplied by alpha, matching how the model saw it). 16-bit goes through Pillow's float mode so
    no precision is lost."""
    if pixels.shape[:2] == (height, width):
        return pixels
    out = np.empty((height, width, pixels.shape[2]), dtype=pixels.dtype)
    for c in range(pixels.shape[2]):
        plane = np.ascontiguousarray(pixels[:, :, c])
        if pixels.dtype == np.uint8:
            resized = Image.fromarray(plane).resize((width, height), Image.Resampling.LANCZOS)
            out[:, :, c] = np.asarray(resized)
        else:
            top = float(np.iinfo(pixels.dtype).max)
            image = Image.fromarray(plane.astype(np.float32))
            values = np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))
            out[:, :, c] = np.rint(np.clip(values, 0.0, top)).astype(pixels.dtype)
    return out
