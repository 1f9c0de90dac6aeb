"""Interp → ONNX Resize, with the sampling grid ncnn uses.

Sizes are int(in · scale) (float32, truncated) or the fixed output_height/width; a scale-driven
resize samples with the *given* scale (source = f(dst / scale)), a fixed-size one with the ratio of
the sizes. So scale mode maps to Resize with `scales`, fixed size to Resize with `sizes`.
- nearest (1): src = int(dst · (1/scale)): "asymmetric" + nearest_mode "floor".
- bilinear (2) / bicubic (3): half-pixel centres ("half_pixel", or "align_corners" with param 6),
  edge samples clamped; bicubic with a = -0.75 (cubic_coeff_a, exclude_outside = 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixup.models.importers.ncnn.graph import IMAGE_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader

NEAREST, BILINEAR, BICUBIC = 1, 2, 3
NCNN_CUBIC_A = -0.75


def _fixed_sizes(g: GraphBuilder, x: str, layer: ParamLayer) -> str:
    """int64 [4]: N, C, output_height, output_width."""
    hint = layer.name
    batch_channels = g.shape(x, f"{hint}_nc", start=0, end=2)
    spatial = g.const_i64([layer.get_int(3, 0), layer.get_int(4, 0)], f"{hint}_hw")
    return g.op("Concat", [batch_channels, spatial], hint, axis=0)


@register("Interp")
def _interp(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    if layer.get_int(5, 0):
        raise unsupported(layer, "a target size taken from another blob")
    (x,) = g.inputs(layer, 1)
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"resizing a {x.rank}-D blob")
    resize_type = layer.get_int(0, 0)
    hint = layer.name
    attrs: dict[str, Any]
    if resize_type == NEAREST:
        attrs = {"mode": "nearest", "nearest_mode": "floor", "coordinate_transformation_mode": "asymmetric"}
    elif resize_type in (BILINEAR, BICUBIC):
        transform = "align_corners" if layer.get_int(6, 0) else "half_pixel"
        attrs = {"mode": "linear" if resize_type == BILINEAR else "cubic"}
        attrs["coordinate_transformation_mode"] = transform
        if resize_type == BICUBIC:
            attrs.update(cubic_coeff_a=NCNN_CUBIC_A, exclude_outside=0)
    else:
        raise unsupported(layer, f"Interp resize_type {resize_type}")
    if layer.get_int(3, 0) and layer.get_int(4, 0):
        inputs = [x.tensor, "", "", _fixed_sizes(g, x.tensor, layer)]
    else:
        scales = [1.0, 1.0, layer.get_float(1, 1.0), layer.get_float(2, 1.0)]
        inputs = [x.tensor, "", g.const(np.array(scales, np.float32), f"{hint}_scales")]
    out = g.op("Resize", inputs, hint, **attrs)
    g.set_blob(layer.tops[0], Blob(out, IMAGE_RANK))
