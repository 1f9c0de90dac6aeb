"""Convolution, ConvolutionDepthWise, Deconvolution, DeconvolutionDepthWise and InnerProduct."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pixup.errors import ModelError
from pixup.models.importers.ncnn.graph import IMAGE_RANK, VECTOR_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.activation import fused_activation
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import F32Array, WeightReader

SAME_UPPER = -233
SAME_LOWER = -234


@dataclass(frozen=True)
class ConvGeometry:
    """The spatial settings shared by ncnn's convolution-like layers."""

    kernel: tuple[int, int]
    """(kernel_h, kernel_w)."""
    dilation: tuple[int, int]
    """(dilation_h, dilation_w)."""
    stride: tuple[int, int]
    """(stride_h, stride_w)."""
    pads: tuple[int, int, int, int]
    """(top, left, bottom, right) as ncnn writes them; -233/-234 mean SAME_UPPER/SAME_LOWER."""

    @classmethod
    def read(cls, layer: ParamLayer) -> ConvGeometry:
        kernel_w = layer.get_int(1, 0)
        dilation_w = layer.get_int(2, 1)
        stride_w = layer.get_int(3, 1)
        pad_left = layer.get_int(4, 0)
        pad_top = layer.get_int(14, pad_left)
        geometry = cls(
            kernel=(layer.get_int(11, kernel_w), kernel_w),
            dilation=(layer.get_int(12, dilation_w), dilation_w),
            stride=(layer.get_int(13, stride_w), stride_w),
            pads=(pad_top, pad_left, layer.get_int(16, pad_top), layer.get_int(15, pad_left)),
        )
        if min(geometry.kernel) < 1 or min(geometry.stride) < 1 or min(geometry.dilation) < 1:
            raise ModelError(f"ncnn {layer.describe()}: kernel, stride and dilation must be positive")
        return geometry

    @property
    def auto_pad(self) -> str | None:
        if SAME_UPPER in self.pads:
            return "SAME_UPPER"
        if SAME_LOWER in self.pads:
            return "SAME_LOWER"
        if min(self.pads) < 0:
            raise ModelError(f"negative convolution padding {self.pads} is not supported")
        return None

    def onnx_attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "kernel_shape": list(self.kernel),
            "dilations": list(self.dilation),
            "strides": list(self.stride),
        }
        auto_pad = self.auto_pad
        if auto_pad is not None:
            attrs["auto_pad"] = auto_pad
        else:
            top, left, bottom, right = self.pads
            attrs["pads"] = [top, left, bottom, right]
        return attrs


def _image_input(layer: ParamLayer, g: GraphBuilder) -> Blob:
    (x,) = g.inputs(layer, 1)
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"a {x.rank}-D input")
    return x


def _read_weights(layer: ParamLayer, w: WeightReader, num_output: int) -> tuple[F32Array, F32Array | None]:
    if layer.get_int(8, 0):
        raise unsupported(layer, "int8 quantization")
    if layer.get_int(19, 0):
        raise unsupported(layer, "a dynamic (input-provided) weight")
    size = layer.get_int(6, 0)
    weight = w.read_tagged(size, f"{layer.name} weights")
    bias = w.read_raw(num_output, f"{layer.name} bias") if layer.get_int(5, 0) else None
    return weight, bias


def _per_group_inputs(layer: ParamLayer, size: int, num_output: int, geometry: ConvGeometry) -> int:
    kernel_area = geometry.kernel[0] * geometry.kernel[1]
    if num_output <= 0 or size <= 0 or size % (num_output * kernel_area):
        raise ModelError(
            f"ncnn {layer.describe()}: weight_data_size {size} does not fit "
            f"{num_output} outputs × {geometry.kernel} kernel"
        )
    return size // (num_output * kernel_area)


@register("Convolution", "ConvolutionDepthWise")
def _convolution(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    x = _image_input(layer, g)
    num_output = layer.get_int(0, 0)
    group = layer.get_int(7, 1) if layer.type == "ConvolutionDepthWise" else 1
    geometry = ConvGeometry.read(layer)
    weight, bias = _read_weights(layer, w, num_output)
    in_per_group = _per_group_inputs(layer, weight.size, num_output, geometry)
    if group < 1 or num_output % group:
        raise ModelError(f"ncnn {layer.describe()}: {num_output} outputs do not split into {group} groups")
    # ncnn's layout [group][out/group][in/group][kh][kw] is exactly ONNX's [out][in/group][kh][kw].
    kernel = weight.reshape(num_output, in_per_group, *geometry.kernel)
    hint = layer.name
    source = x.tensor
    attrs = geometry.onnx_attrs()
    pad_value = layer.get_float(18, 0.0)
    if pad_value != 0.0 and "pads" in attrs and any(attrs["pads"]):
        # ONNX Conv pads with zeros only: pad explicitly with ncnn's value first.
        top, left, bottom, right = attrs.pop("pads")
        pads = g.const_i64([0, 0, top, left, 0, 0, bottom, right], f"{hint}_pads")
        source = g.op("Pad", [source, pads, g.const(pad_value, f"{hint}_padv")], hint, mode="constant")
    inputs = [source, g.const(kernel, f"{hint}_weight")]
    if bias is not None:
        inputs.append(g.const(bias, f"{hint}_bias"))
    out = g.op("Conv", inputs, hint, group=group, **attrs)
    g.set_blob(layer.tops[0], Blob(fused_activation(g, out, layer), IMAGE_RANK))


@register("Deconvolution", "DeconvolutionDepthWise")
def _deconvolution(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    x = _image_input(layer, g)
    num_output = layer.get_int(0, 0)
    group = layer.get_int(7, 1) if layer.type == "DeconvolutionDepthWise" else 1
    geometry = ConvGeometry.read(layer)
    if min(geometry.pads) < 0:
        raise unsupported(layer, "SAME padding in a deconvolution")
    if layer.get_int(20, 0) > 0 or layer.get_int(21, 0) > 0:
        raise unsupported(layer, "a fixed output size (output_w/output_h)")
    output_pad_right = layer.get_int(18, 0)
    output_pad_bottom = layer.get_int(19, output_pad_right)
    weight, bias = _read_weights(layer, w, num_output)
    in_per_group = _per_group_inputs(layer, weight.size, num_output, geometry)
    if group < 1 or num_output % group:
        raise ModelError(f"ncnn {layer.describe()}: {num_output} outputs do not split into {group} groups")
    out_per_group = num_output // group
    # ncnn: [group][out/group][in/group][kh][kw]; ONNX ConvTranspose: [in][out/group][kh][kw].
    kernel = (
        weight.reshape(group, out_per_group, in_per_group, *geometry.kernel)
        .transpose(0, 2, 1, 3, 4)
        .reshape(group * in_per_group, out_per_group, *geometry.kernel)
    )
    hint = layer.name
    inputs = [x.tensor, g.const(kernel, f"{hint}_weight")]
    if bias is not None:
        inputs.append(g.const(bias, f"{hint}_bias"))
    attrs = geometry.onnx_attrs()
    if output_pad_right or output_pad_bottom:
        attrs["output_padding"] = [output_pad_bottom, output_pad_right]
    out = g.op("ConvTranspose", inputs, hint, group=group, **attrs)
    g.set_blob(layer.tops[0], Blob(fused_activation(g, out, layer), IMAGE_RANK))


@register("InnerProduct")
def _inner_product(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    num_output = layer.get_int(0, 0)
    if layer.get_int(8, 0):
        raise unsupported(layer, "int8 quantization")
    size = layer.get_int(2, 0)
    if num_output <= 0 or size <= 0 or size % num_output:
        raise ModelError(
            f"ncnn {layer.describe()}: weight_data_size {size} does not fit {num_output} outputs"
        )
    weight = w.read_tagged(size, f"{layer.name} weights").reshape(num_output, size // num_output)
    bias = w.read_raw(num_output, f"{layer.name} bias") if layer.get_int(1, 0) else None
    hint = layer.name
    if x.rank == VECTOR_RANK:
        # A vector is stored as [N, C, 1, 1]: the product is a 1×1 convolution.
        inputs = [x.tensor, g.const(weight.reshape(num_output, -1, 1, 1), f"{hint}_weight")]
        if bias is not None:
            inputs.append(g.const(bias, f"{hint}_bias"))
        out = g.op("Conv", inputs, hint, kernel_shape=[1, 1])
    else:
        # ncnn flattens c, h, w in that order, as ONNX's Flatten does for NCHW.
        flat = g.op("Flatten", [x.tensor], hint, axis=1)
        inputs = [flat, g.const(weight, f"{hint}_weight")]
        if bias is not None:
            inputs.append(g.const(bias, f"{hint}_bias"))
        gemm = g.op("Gemm", inputs, hint, transB=1)
        out = g.op("Reshape", [gemm, g.const_i64([0, num_output, 1, 1], f"{hint}_shape")], hint)
    g.set_blob(layer.tops[0], Blob(fused_activation(g, out, layer), VECTOR_RANK))
