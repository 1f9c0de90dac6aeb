"""ModelSpec: everything the engine must know about a loaded model to feed it correctly.

Filled by `engine.inspect.inspect_session` (graph metadata + probe runs); never guessed from names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Layout = Literal["NCHW", "NHWC"]


@dataclass(frozen=True)
class ModelSpec:
    input_name: str
    """Name of the single image input."""
    output_name: str
    """Name of the image output (the first output)."""
    dtype: Literal["float32", "float16"]
    """Element type the model's input expects; tensors are cast to it before each run."""
    layout: Layout
    """Where the channel axis is."""
    in_channels: int
    """1, 3 or 4."""
    out_channels: int
    """Channels of the output tensor (usually == in_channels)."""
    static_batch: int | None
    """The batch the graph fixes, or None when the batch dim is dynamic."""
    fixed_height: int | None
    """Input height the graph fixes, or None when dynamic."""
    fixed_width: int | None
    """Input width the graph fixes, or None when dynamic."""
    multiple: int
    """Input height and width must be multiples of this (1 when any size works)."""
    min_size: int
    """Smallest input side the model accepts."""
    border: int
    """Pixels lost on each side of the input by unpadded convolutions (0 for padded models):
    output = scale × (input − 2·border)."""
    scale: float
    """Output size ÷ input size, from a probe run (4.0, 2.0, 1.0, 1.5 ...)."""
    context_radius: int | None = None
    """How far, in input pixels beyond the `border`, cutting the image away still moves the output
    by more than ½ of an 8-bit level (measured at inspection: `inspect.measure_context_radius`);
    the tiler gives every cut this much context plus a margin (`tiling.context_for`). None when not
    measured (fixed input shape, failed probe) or when the reach did not end inside the probe
    (global pooling such as squeeze-and-excitation blocks, or a very wide field): the tiler then
    keeps its default context."""

    @property
    def fixed_shape(self) -> bool:
        return self.fixed_height is not None and self.fixed_width is not None

    @property
    def int_scale(self) -> int | None:
        """The scale as an int when it is one (2, 3, 4, 8); None for fractional scales."""
        rounded = round(self.scale)
        return rounded if abs(self.scale - rounded) < 1e-6 else None
