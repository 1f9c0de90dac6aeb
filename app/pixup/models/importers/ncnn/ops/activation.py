"""Activations: the ones fused into Convolution/Deconvolution/InnerProduct (params 9 and 10) and the
stand-alone one-input layers (ReLU, Sigmoid, Clip, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pixup.models.importers.ncnn.graph import Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer, Scalar
from pixup.models.importers.ncnn.weights import WeightReader

FLT_MAX = float(np.finfo(np.float32).max)

# ncnn activation_type (param 9) values.
ACT_NONE, ACT_RELU, ACT_LEAKY, ACT_CLIP, ACT_SIGMOID, ACT_MISH, ACT_HARDSWISH = range(7)


def _param(params: Sequence[Scalar], index: int, default: float) -> float:
    return float(params[index]) if len(params) > index else default


def clip(g: GraphBuilder, x: str, lo: float, hi: float, hint: str) -> str:
    return g.op("Clip", [x, g.const(lo, f"{hint}_min"), g.const(hi, f"{hint}_max")], hint)


def mish(g: GraphBuilder, x: str, hint: str) -> str:
    # Mish joined ONNX in opset 18; x * tanh(softplus(x)) is the same function.
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], hint)], hint)], hint)


def hardswish(g: GraphBuilder, x: str, alpha: float, beta: float, hint: str) -> str:
    # ncnn's HardSwish takes alpha/beta; ONNX's has them fixed, HardSigmoid does not.
    return g.op("Mul", [x, g.op("HardSigmoid", [x], hint, alpha=alpha, beta=beta)], hint)


def apply_activation(
    g: GraphBuilder, x: str, act_type: int, params: Sequence[Scalar], layer: ParamLayer
) -> str:
    """ncnn's fused activation (activation_type, activation_params) applied to tensor `x`."""
    hint = layer.name
    if act_type == ACT_NONE:
        return x
    if act_type == ACT_RELU:
        return g.op("Relu", [x], hint)
    if act_type == ACT_LEAKY:
        return g.op("LeakyRelu", [x], hint, alpha=_param(params, 0, 0.0))
    if act_type == ACT_CLIP:
        return clip(g, x, _param(params, 0, -FLT_MAX), _param(params, 1, FLT_MAX), hint)
    if act_type == ACT_SIGMOID:
        return g.op("Sigmoid", [x], hint)
    if act_type == ACT_MISH:
        return mish(g, x, hint)
    if act_type == ACT_HARDSWISH:
        return hardswish(g, x, _param(params, 0, 0.2), _param(params, 1, 0.5), hint)
    raise unsupported(layer, f"fused activation type {act_type}")


def fused_activation(g: GraphBuilder, x: str, layer: ParamLayer) -> str:
    return apply_activation(g, x, layer.get_int(9, ACT_NONE), layer.get_array(10), layer)


def _unary(layer: ParamLayer, g: GraphBuilder) -> tuple[Blob, str]:
    (x,) = g.inputs(layer, 1)
    return x, layer.name


def _emit(g: GraphBuilder, layer: ParamLayer, x: Blob, tensor: str) -> None:
    g.set_blob(layer.tops[0], Blob(tensor, x.rank))


@register("ReLU")
def _relu(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    slope = layer.get_float(0, 0.0)
    out = g.op("Relu", [x.tensor], hint) if slope == 0.0 else g.op("LeakyRelu", [x.tensor], hint, alpha=slope)
    _emit(g, layer, x, out)


@register("Sigmoid")
def _sigmoid(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, g.op("Sigmoid", [x.tensor], hint))


@register("TanH")
def _tanh(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, g.op("Tanh", [x.tensor], hint))


@register("AbsVal")
def _absval(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, g.op("Abs", [x.tensor], hint))


@register("Clip")
def _clip(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, clip(g, x.tensor, layer.get_float(0, -FLT_MAX), layer.get_float(1, FLT_MAX), hint))


@register("Mish")
def _mish(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, mish(g, x.tensor, hint))


@register("Swish")
def _swish(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, g.op("Mul", [x.tensor, g.op("Sigmoid", [x.tensor], hint)], hint))


@register("HardSigmoid")
def _hardsigmoid(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    alpha, beta = layer.get_float(0, 0.2), layer.get_float(1, 0.5)
    _emit(g, layer, x, g.op("HardSigmoid", [x.tensor], hint, alpha=alpha, beta=beta))


@register("HardSwish")
def _hardswish(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, hardswish(g, x.tensor, layer.get_float(0, 0.2), layer.get_float(1, 0.5), hint))


@register("ELU")
def _elu(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    _emit(g, layer, x, g.op("Elu", [x.tensor], hint, alpha=layer.get_float(0, 0.1)))


@register("Dropout")
def _dropout(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    # Inference-time Dropout in ncnn is a multiply by `scale` (1 = identity).
    x, hint = _unary(layer, g)
    scale = layer.get_float(0, 1.0)
    out = x.tensor if scale == 1.0 else g.op("Mul", [x.tensor, g.const(scale, f"{hint}_scale")], hint)
    _emit(g, layer, x, out)


@register("PReLU")
def _prelu(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    x, hint = _unary(layer, g)
    num_slope = layer.get_int(0, 0)
    slope = w.read_raw(num_slope, f"{layer.name} slope")
    # [C, 1, 1] broadcasts per channel over NCHW (and over [N, C, 1, 1] vectors).
    slope_t = g.const(slope.reshape(-1, 1, 1), f"{hint}_slope")
    _emit(g, layer, x, g.op("PRelu", [x.tensor, slope_t], hint))
