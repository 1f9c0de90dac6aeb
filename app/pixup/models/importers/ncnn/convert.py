"""`convert_ncnn`: an ncnn `.param` + `.bin` pair → an ONNX model for the engine.

The graph has one float32 NCHW input "input" [N, C, H, W] and one output "output"
[N, C_out, H_out, W_out] (N, H, W symbolic), opset 17, weights as fp32 initializers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from pixup.errors import ModelError
from pixup.models.importers.ncnn.graph import IMAGE_RANK, Blob, GraphBuilder
from pixup.models.importers.ncnn.ops import convert_layer
from pixup.models.importers.ncnn.param import ParamFile, read_param
from pixup.models.importers.ncnn.version import CONVERTER_VERSION as CONVERTER_VERSION
from pixup.models.importers.ncnn.weights import WeightReader

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8  # the IR that goes with opset 17: loadable by every ONNX Runtime we support
INPUT_NAME = "input"
OUTPUT_NAME = "output"
DEFAULT_CHANNELS = 3


def ncnn_io_blobs(param: ParamFile) -> tuple[str, str]:
    """(input blob, output blob) of an ncnn net: what an ncnn Extractor would feed and extract."""
    produced: list[str] = []
    consumed: set[str] = set()
    inputs: list[str] = []
    for layer in param.layers:
        consumed.update(layer.bottoms)
        if layer.type == "Input":
            inputs.extend(layer.tops)
        else:
            produced.extend(layer.tops)
    produced_set = set(produced)
    # A blob read but never written is an input too (some exporters omit the Input layer).
    for layer in param.layers:
        inputs.extend(b for b in layer.bottoms if b not in produced_set and b not in inputs)
    if len(inputs) != 1:
        raise ModelError(f"{param.source}: pixup needs exactly one input blob, found {inputs or 'none'}")
    outputs = [b for b in produced if b not in consumed]
    if not outputs:
        raise ModelError(f"{param.source}: no output blob (every blob is consumed)")
    if len(outputs) > 1:
        log.warning("%s: several unconsumed blobs %s; using the last one", param.source, outputs)
    return inputs[0], outputs[-1]


_CONV_TYPES = ("Convolution", "ConvolutionDepthWise", "Deconvolution", "DeconvolutionDepthWise")
_PASS_THROUGH = ("Split", "Noop")


def _input_channels(param: ParamFile, input_blob: str) -> int:
    """Channels of the input: the Input layer's `c`, else what the first convolution reading it
    expects, else 3."""
    for layer in param.layers:
        if layer.type == "Input" and layer.get_int(2, 0) > 0:
            return layer.get_int(2, 0)
    aliases = {input_blob}
    for layer in param.layers:
        if not aliases.intersection(layer.bottoms):
            continue
        if layer.type in _PASS_THROUGH:
            aliases.update(layer.tops)
        elif layer.type in _CONV_TYPES:
            kernel_w = layer.get_int(1, 0)
            area = kernel_w * layer.get_int(11, kernel_w)
            num_output = layer.get_int(0, 0)
            if area > 0 and num_output > 0:
                group = layer.get_int(7, 1) if layer.type.endswith("DepthWise") else 1
                per_group = layer.get_int(6, 0) // (num_output * area)
                # Deconvolution's per-group count is of inputs as well (weights are out × in × k).
                return max(per_group * group, 1)
    return DEFAULT_CHANNELS


def _output_channels(graph: onnx.GraphProto) -> int | None:
    """Channels of the output from ONNX shape inference, when it can tell.

    Runs on a skeleton whose weights are graph inputs of the same shape: inference needs shapes
    only, and copying tens of MB of weights through it would cost a second per model.
    """
    weights_as_inputs = [
        helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in graph.initializer
    ]
    skeleton = helper.make_graph(graph.node, graph.name, [*graph.input, *weights_as_inputs], graph.output)
    model = helper.make_model(skeleton, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:  # inference is only a nicety for the declared output shape
        log.debug("shape inference failed", exc_info=True)
        return None
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    if len(dims) == 4 and dims[1].HasField("dim_value"):
        return int(dims[1].dim_value)
    return None


def build_model(param: ParamFile, weights: WeightReader, name: str = "ncnn") -> onnx.ModelProto:
    """Convert a parsed `.param` and its weights. Raises ModelError for anything unsupported."""
    input_blob, output_blob = ncnn_io_blobs(param)
    g = GraphBuilder()
    g.set_blob(input_blob, Blob(INPUT_NAME, IMAGE_RANK))
    for layer in param.layers:
        if layer.type == "Input":
            continue
        convert_layer(layer, g, weights)
    if weights.remaining:
        log.warning("%s: %d bytes of weights left unread", weights.source, weights.remaining)
    out = g.blob(output_blob, param.layers[-1])
    if out.rank != IMAGE_RANK:
        raise ModelError(f"{param.source}: the output blob {output_blob!r} is not an image")
    g.nodes.append(helper.make_node("Identity", [out.tensor], [OUTPUT_NAME], name="output_identity"))

    in_shape: list[str | int] = ["N", _input_channels(param, input_blob), "H", "W"]
    graph = helper.make_graph(
        g.nodes,
        name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", None, "H_out", "W_out"])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="pixup-ncnn-importer",
        producer_version=CONVERTER_VERSION,
    )
    model.ir_version = IR_VERSION
    channels = _output_channels(model.graph)
    if channels is not None:
        model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = channels
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"{param.source}: the converted graph is invalid: {exc}") from exc
    return model


def convert_ncnn(param_path: Path, bin_path: Path) -> onnx.ModelProto:
    """Convert an ncnn `.param`/`.bin` pair to an ONNX model (not written anywhere)."""
    param = read_param(param_path)
    weights = WeightReader.open(bin_path)
    return build_model(param, weights, name=param_path.stem)
