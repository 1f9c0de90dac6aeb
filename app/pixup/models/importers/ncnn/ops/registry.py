"""Layer type → converter. Each converter appends ONNX nodes for one ncnn layer and reads that
layer's weights, in ncnn's order, from the `.bin` reader."""

from __future__ import annotations

from collections.abc import Callable

from pixup.errors import ModelError
from pixup.models.importers.ncnn.graph import GraphBuilder
from pixup.models.importers.ncnn.param import ParamLayer
from pixup.models.importers.ncnn.weights import WeightReader

Converter = Callable[[ParamLayer, GraphBuilder, WeightReader], None]

CONVERTERS: dict[str, Converter] = {}


def register(*layer_types: str) -> Callable[[Converter], Converter]:
    def wrap(fn: Converter) -> Converter:
        for layer_type in layer_types:
            CONVERTERS[layer_type] = fn
        return fn

    return wrap


def unsupported(layer: ParamLayer, what: str) -> ModelError:
    """The error for a layer whose op is known but whose settings are not (yet) supported."""
    return ModelError(f"ncnn {layer.describe()}: {what} is not supported by pixup's importer")


def convert_layer(layer: ParamLayer, g: GraphBuilder, weights: WeightReader) -> None:
    converter = CONVERTERS.get(layer.type)
    if converter is None:
        raise ModelError(
            f"unsupported ncnn op {layer.type!r} in layer {layer.name!r} (line {layer.line}); "
            "pixup's importer cannot convert this model"
        )
    converter(layer, g, weights)
