"""Layers that move data without arithmetic: Split, Noop, Concat, Crop, PixelShuffle, Padding."""

from __future__ import annotations

from pixup.errors import ModelError
from pixup.models.importers.ncnn.graph import IMAGE_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader

INT64_MAX = 2**63 - 1
NCNN_ALL = -233  # "the whole axis" in Crop params


def onnx_axis(layer: ParamLayer, axis: int, rank: int) -> int:
    """ncnn axis of a `rank`-D blob → axis of its 4-D NCHW tensor.

    A 3-D blob's axes 0, 1, 2 are C, H, W (ONNX 1, 2, 3); a vector's only axis is C (ONNX 1).
    """
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise ModelError(f"ncnn {layer.describe()}: axis {axis} is out of range for a {rank}-D blob")
    return axis + 1


@register("Split")
def _split(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    for top in layer.tops:
        g.set_blob(top, x)


@register("Noop")
def _noop(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    for bottom, top in zip(layer.bottoms, layer.tops, strict=False):
        g.set_blob(top, g.blob(bottom, layer))


@register("Concat")
def _concat(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    blobs = g.inputs(layer)
    ranks = {b.rank for b in blobs}
    if not blobs or len(ranks) != 1:
        raise unsupported(layer, "concatenating blobs of different ranks")
    rank = ranks.pop()
    axis = onnx_axis(layer, layer.get_int(0, 0), rank)
    out = g.op("Concat", [b.tensor for b in blobs], layer.name, axis=axis)
    g.set_blob(layer.tops[0], Blob(out, rank))


@register("PixelShuffle")
def _pixel_shuffle(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"a {x.rank}-D input")
    factor = layer.get_int(0, 1)
    # mode 0 is PyTorch's PixelShuffle (channel = c·r² + dy·r + dx, ONNX CRD); mode 1 the TF order (DCR).
    mode = {0: "CRD", 1: "DCR"}.get(layer.get_int(1, 0))
    if mode is None:
        raise unsupported(layer, f"PixelShuffle mode {layer.get_int(1, 0)}")
    out = g.op("DepthToSpace", [x.tensor], layer.name, blocksize=factor, mode=mode)
    g.set_blob(layer.tops[0], Blob(out, IMAGE_RANK))


def _slice(
    g: GraphBuilder, layer: ParamLayer, x: Blob, starts: list[int], ends: list[int], axes: list[int]
) -> None:
    hint = layer.name
    out = g.op(
        "Slice",
        [
            x.tensor,
            g.const_i64(starts, f"{hint}_starts"),
            g.const_i64(ends, f"{hint}_ends"),
            g.const_i64(axes, f"{hint}_axes"),
        ],
        hint,
    )
    g.set_blob(layer.tops[0], Blob(out, x.rank))


def _crop_numpy_style(layer: ParamLayer, g: GraphBuilder, x: Blob) -> None:
    starts_p = [int(v) for v in layer.get_array(9)]
    ends_p = [int(v) for v in layer.get_array(10)]
    axes_p = [int(v) for v in layer.get_array(11)] or list(range(x.rank))
    if not len(starts_p) == len(ends_p) == len(axes_p):
        raise ModelError(f"ncnn {layer.describe()}: starts, ends and axes differ in length")
    starts, ends, axes = [], [], []
    for start, end, axis in zip(starts_p, ends_p, axes_p, strict=True):
        axes.append(onnx_axis(layer, axis, x.rank))
        starts.append(0 if start == NCNN_ALL else start)
        # ncnn: end > 0 is an index, end <= 0 counts from the end (so 0 means "to the end").
        ends.append(INT64_MAX if end in (NCNN_ALL, 0) else end)
    _slice(g, layer, x, starts, ends, axes)


def _crop_offsets(layer: ParamLayer, g: GraphBuilder, x: Blob) -> None:
    # Offsets plus an output size (-233: the rest) and/or a far-side margin (woffset2 ...).
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"offset-style crop of a {x.rank}-D blob")
    woffset, hoffset, coffset = layer.get_int(0, 0), layer.get_int(1, 0), layer.get_int(2, 0)
    outw, outh, outc = layer.get_int(3, 0), layer.get_int(4, 0), layer.get_int(5, 0)
    woffset2, hoffset2, coffset2 = layer.get_int(6, 0), layer.get_int(7, 0), layer.get_int(8, 0)
    if NCNN_ALL in (hoffset, coffset):
        raise unsupported(layer, "the legacy -233 offset form of Crop")
    if coffset2:
        # ncnn sizes this case as channels - 2·coffset2, ignoring coffset; nobody relies on it.
        raise unsupported(layer, "a far-side channel margin (coffset2)")
    starts, ends, axes = [], [], []
    for axis, offset, size, margin in (
        (1, coffset, outc, coffset2),
        (2, hoffset, outh, hoffset2),
        (3, woffset, outw, woffset2),
    ):
        if size == NCNN_ALL:
            end = -margin if margin else INT64_MAX
        elif margin:
            raise unsupported(layer, "a Crop with both an output size and a far-side margin")
        else:
            end = offset + size
        if offset or end != INT64_MAX:
            starts.append(offset)
            ends.append(end)
            axes.append(axis)
    _slice(g, layer, x, starts, ends, axes)


def _crop_like(layer: ParamLayer, g: GraphBuilder, x: Blob, ref: Blob) -> None:
    # Two inputs: crop x at the offsets to the reference blob's size.
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"reference-style crop of a {x.rank}-D blob")
    if layer.get_int(0, 0) == NCNN_ALL:
        raise unsupported(layer, "crop offsets read from a blob")
    hint = layer.name
    if ref.rank != IMAGE_RANK:
        raise unsupported(layer, "a vector as the crop reference")
    offsets = [layer.get_int(2, 0), layer.get_int(1, 0), layer.get_int(0, 0)]  # c, h, w
    starts = g.const_i64(offsets, f"{hint}_starts")
    ref_size = g.shape(ref.tensor, f"{hint}_refshape", start=1, end=4)
    ends = g.op("Add", [starts, ref_size], hint)
    axes = g.const_i64([1, 2, 3], f"{hint}_axes")
    out = g.op("Slice", [x.tensor, starts, ends, axes], hint)
    g.set_blob(layer.tops[0], Blob(out, IMAGE_RANK))


@register("Crop")
def _crop(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    numpy_style = bool(layer.get_array(9)) and bool(layer.get_array(10))
    if numpy_style:
        (x,) = g.inputs(layer, 1)
        _crop_numpy_style(layer, g, x)
    elif layer.get_int(3, 0) == 0 and layer.get_int(4, 0) == 0 and layer.get_int(5, 0) == 0:
        x, ref = g.inputs(layer, 2)
        _crop_like(layer, g, x, ref)
    else:
        (x,) = g.inputs(layer, 1)
        _crop_offsets(layer, g, x)


@register("Padding")
def _padding(layer: ParamLayer, g: GraphBuilder, _w: WeightReader) -> None:
    (x,) = g.inputs(layer, 1)
    if x.rank != IMAGE_RANK:
        raise unsupported(layer, f"padding a {x.rank}-D blob")
    top, bottom, left, right = (layer.get_int(i, 0) for i in range(4))
    front, behind = layer.get_int(7, 0), layer.get_int(8, 0)
    pad_type = layer.get_int(4, 0)
    if layer.get_int(6, 0):
        raise unsupported(layer, "per-channel pad values")
    mode = {0: "constant", 1: "edge", 2: "reflect"}.get(pad_type)
    if mode is None:
        raise unsupported(layer, f"Padding type {pad_type}")
    if (front or behind) and mode != "constant":
        raise unsupported(layer, "channel padding that is not constant")
    hint = layer.name
    inputs = [x.tensor, g.const_i64([0, front, top, left, 0, behind, bottom, right], f"{hint}_pads")]
    if mode == "constant":
        inputs.append(g.const(layer.get_float(5, 0.0), f"{hint}_value"))
    out = g.op("Pad", inputs, hint, mode=mode)
    g.set_blob(layer.tops[0], Blob(out, x.rank))
