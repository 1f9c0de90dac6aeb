"""Pooling: global (→ a vector, as in squeeze-excitation blocks) and windowed max/average."""

from __future__ import annotations

from typing import Any

from pixup.models.importers.ncnn.graph import IMAGE_RANK, VECTOR_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader

POOL_MAX, POOL_AVG = 0, 1
# pad_mode: 0 = "full" (ceil; extra padding on the far side), 1 = valid (floor), 2/3 = SAME upper/lower.
PAD_FULL, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER = range(4)


@register("Pooling")
def _pooling(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"pooling a {x.rank}-D blob")
    pool_type = layer.get_int(0, POOL_MAX)
    if pool_type not in (POOL_MAX, POOL_AVG):
        raise unsupported(layer, f"pooling type {pool_type}")
    hint = layer.name
    if layer.get_int(4, 0):
        op = "GlobalMaxPool" if pool_type == POOL_MAX else "GlobalAveragePool"
        g.set_blob(layer.tops[0], Blob(g.op(op, [x.tensor], hint), VECTOR_RANK))
        return
    if layer.get_int(7, 0):
        raise unsupported(layer, "adaptive pooling")
    kernel_w = layer.get_int(1, 0)
    stride_w = layer.get_int(2, 1)
    pad_left = layer.get_int(3, 0)
    pad_top = layer.get_int(13, pad_left)
    pads = [pad_top, pad_left, layer.get_int(15, pad_top), layer.get_int(14, pad_left)]
    attrs: dict[str, Any] = {
        "kernel_shape": [layer.get_int(11, kernel_w), kernel_w],
        "strides": [layer.get_int(12, stride_w), stride_w],
    }
    pad_mode = layer.get_int(5, PAD_FULL)
    if pad_mode in (PAD_FULL, PAD_VALID):
        attrs["pads"] = pads
        attrs["ceil_mode"] = int(pad_mode == PAD_FULL)
    elif pad_mode == PAD_SAME_UPPER:
        attrs["auto_pad"] = "SAME_UPPER"
    elif pad_mode == PAD_SAME_LOWER:
        attrs["auto_pad"] = "SAME_LOWER"
    else:
        raise unsupported(layer, f"pad_mode {pad_mode}")
    if pool_type == POOL_MAX:
        out = g.op("MaxPool", [x.tensor], hint, **attrs)
    else:
        out = g.op("AveragePool", [x.tensor], hint, count_include_pad=layer.get_int(6, 0), **attrs)
    g.set_blob(layer.tops[0], Blob(out, IMAGE_RANK))
