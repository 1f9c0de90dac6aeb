"""Element-wise layers: BinaryOp, Eltwise, Scale, Bias, BatchNorm.

Vectors are stored as [N, C, 1, 1] (see graph.py), so ncnn's "1-D blob against a 3-D blob applies
per channel" rule is plain ONNX broadcasting.
"""

from __future__ import annotations

import numpy as np

from pixup.errors import ModelError
from pixup.models.importers.ncnn.graph import Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader

# BinaryOp op_type → (ONNX op, operands swapped). 7-9 are the "reversed" forms: b op a.
_BINARY_OPS: dict[int, tuple[str, bool]] = {
    0: ("Add", False),
    1: ("Sub", False),
    2: ("Mul", False),
    3: ("Div", False),
    4: ("Max", False),
    5: ("Min", False),
    6: ("Pow", False),
    7: ("Sub", True),
    8: ("Div", True),
    9: ("Pow", True),
}


@register("BinaryOp")
def _binary_op(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    op_type = layer.get_int(0, 0)
    if op_type not in _BINARY_OPS:
        raise unsupported(layer, f"BinaryOp op_type {op_type}")
    onnx_op, swapped = _BINARY_OPS[op_type]
    hint = layer.name
    if layer.get_int(1, 0):
        (a,) = g.inputs(layer, 1)
        b_tensor, rank = g.const(layer.get_float(2, 0.0), f"{hint}_b"), a.rank
    else:
        a, b = g.inputs(layer, 2)
        b_tensor, rank = b.tensor, max(a.rank, b.rank)
    lhs, rhs = (b_tensor, a.tensor) if swapped else (a.tensor, b_tensor)
    g.set_blob(layer.tops[0], Blob(g.op(onnx_op, [lhs, rhs], hint), rank))


@register("Eltwise")
def _eltwise(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    blobs = g.inputs(layer)
    if not blobs:
        raise ModelError(f"ncnn {layer.describe()} has no inputs")
    op_type = layer.get_int(0, 0)
    coeffs = [float(c) for c in layer.get_array(1)]
    hint = layer.name
    tensors = [b.tensor for b in blobs]
    rank = max(b.rank for b in blobs)
    if op_type == 0:
        out = _fold(g, "Mul", tensors, hint)
    elif op_type == 1:
        if coeffs:
            if len(coeffs) != len(tensors):
                raise ModelError(f"ncnn {layer.describe()}: {len(coeffs)} coeffs for {len(tensors)} inputs")
            tensors = [
                t if c == 1.0 else g.op("Mul", [t, g.const(c, f"{hint}_coeff")], hint)
                for t, c in zip(tensors, coeffs, strict=True)
            ]
        out = g.op("Sum", tensors, hint)
    elif op_type == 2:
        out = g.op("Max", tensors, hint)
    else:
        raise unsupported(layer, f"Eltwise op_type {op_type}")
    g.set_blob(layer.tops[0], Blob(out, rank))


def _fold(g: GraphBuilder, op: str, tensors: list[str], hint: str) -> str:
    # Mul is binary in ONNX; chain it left to right (ncnn's order).
    out = tensors[0]
    for t in tensors[1:]:
        out = g.op(op, [out, t], hint)
    return out


def _channel_const(g: GraphBuilder, values: np.ndarray, hint: str) -> str:
    return g.const(values.reshape(-1, 1, 1), hint)


@register("Scale")
def _scale(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    size = layer.get_int(0, 0)
    bias_term = layer.get_int(1, 0)
    hint = layer.name
    if size == -233:
        # Two inputs: x * per-channel scale blob.
        if bias_term:
            raise unsupported(layer, "a bias with a blob-provided scale")
        x, s = g.inputs(layer, 2)
        g.set_blob(layer.tops[0], Blob(g.op("Mul", [x.tensor, s.tensor], hint), max(x.rank, s.rank)))
        return
    (x,) = g.inputs(layer, 1)
    scale = w.read_raw(size, f"{layer.name} scale")
    out = g.op("Mul", [x.tensor, _channel_const(g, scale, f"{hint}_scale")], hint)
    if bias_term:
        bias = w.read_raw(size, f"{layer.name} bias")
        out = g.op("Add", [out, _channel_const(g, bias, f"{hint}_bias")], hint)
    g.set_blob(layer.tops[0], Blob(out, x.rank))


@register("Bias")
def _bias(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    bias = w.read_raw(layer.get_int(0, 0), f"{layer.name} bias")
    out = g.op("Add", [x.tensor, _channel_const(g, bias, f"{layer.name}_bias")], layer.name)
    g.set_blob(layer.tops[0], Blob(out, x.rank))


@register("BatchNorm")
def _batch_norm(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    channels = layer.get_int(0, 0)
    eps = np.float32(layer.get_float(1, 0.0))
    slope, mean, var, bias = (
        w.read_raw(channels, f"{layer.name} {n}") for n in ("slope", "mean", "var", "bias")
    )
    # Folded the way ncnn folds it at load time: y = b * x + a.
    sqrt_var = np.sqrt(var + eps)
    a = bias - slope * mean / sqrt_var
    b = slope / sqrt_var
    hint = layer.name
    out = g.op("Mul", [x.tensor, _channel_const(g, b, f"{hint}_b")], hint)
    out = g.op("Add", [out, _channel_const(g, a, f"{hint}_a")], hint)
    g.set_blob(layer.tops[0], Blob(out, x.rank))
