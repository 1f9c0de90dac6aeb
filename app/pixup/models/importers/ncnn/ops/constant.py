"""MemoryData: a constant blob stored in the `.bin`."""

from __future__ import annotations

from pixup.models.importers.ncnn.graph import IMAGE_RANK, VECTOR_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops.registry import register, unsupported
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader


@register("MemoryData")
def _memory_data(layer: ParamLayer, g: GraphBuilder, w: WeightReader) -> None:
    width, height, depth, channels = (layer.get_int(i, 0) for i in (0, 1, 11, 2))
    if depth:
        raise unsupported(layer, "4-D MemoryData")
    if channels:
        data = w.read_raw(width * height * channels, f"{layer.name} data")
        # A batch of one broadcasts against any batch of images.
        g.set_blob(
            layer.tops[0], Blob(g.const(data.reshape(1, channels, height, width), layer.name), IMAGE_RANK)
        )
    elif height:
        raise unsupported(layer, "2-D MemoryData")
    else:
        data = w.read_raw(width, f"{layer.name} data")
        g.set_blob(layer.tops[0], Blob(g.const(data.reshape(1, width, 1, 1), layer.name), VECTOR_RANK))
