"""Tiny face-model ONNX graphs built with onnx.helper: the signatures of GFPGAN and CodeFormer with
trivial bodies, and files that must be refused."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

FACE = [1, 3, 512, 512]


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: list[onnx.TensorProto] | None = None,
) -> Path:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=initializers or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _image(
    name: str, shape: list[int | str] | None = None, dtype: int = TensorProto.FLOAT
) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape or FACE)


def gfpgan_identity(path: Path, dtype: int = TensorProto.FLOAT) -> Path:
    """GFPGAN signature; returns its input."""
    identity = [helper.make_node("Identity", ["input"], ["output"])]
    return _save(path, identity, [_image("input", dtype=dtype)], [_image("output", dtype=dtype)])


def gfpgan_affine(path: Path, scale: float, offset: float) -> Path:
    """GFPGAN signature; returns input·scale + offset (in the model's [-1, 1] units)."""
    consts = [
        helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
        helper.make_tensor("o", TensorProto.FLOAT, [], [offset]),
    ]
    nodes = [
        helper.make_node("Mul", ["input", "s"], ["scaled"]),
        helper.make_node("Add", ["scaled", "o"], ["output"]),
    ]
    return _save(path, nodes, [_image("input")], [_image("output")], consts)


def codeformer(
    path: Path, weight_type: int = TensorProto.DOUBLE, weight_shape: list[int] | None = None
) -> Path:
    """CodeFormer signature (image + scalar weight w); returns input·w, so w = 1 is the identity and
    w = 0 a flat mid-grey."""
    nodes = [
        helper.make_node("Cast", ["weight"], ["w32"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "w32"], ["output"]),
    ]
    inputs = [
        _image("x"),
        helper.make_tensor_value_info(
            "weight", weight_type, weight_shape if weight_shape is not None else [1]
        ),
    ]
    return _save(path, nodes, inputs, [_image("output")])


def wrong_size(path: Path, side: int = 256) -> Path:
    """A face-like model at the wrong crop size."""
    shape = [1, 3, side, side]
    return _save(
        path,
        [helper.make_node("Identity", ["input"], ["output"])],
        [_image("input", shape)],
        [_image("output", shape)],
    )


def classifier(path: Path) -> Path:
    """1×3×512×512 in, 1×3 out: an image classifier's signature."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["logits"]),
    ]
    return _save(
        path, nodes, [_image("input")], [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])]
    )


def dynamic_upscaler(path: Path) -> Path:
    """N×3×H×W → N×3×2H×2W: an upscaler, which must not pass for a face model."""
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    nodes = [helper.make_node("Resize", ["input", "", "scales"], ["output"], mode="nearest")]
    return _save(
        path, nodes, [_image("input", ["n", 3, "h", "w"])], [_image("output", ["n", 3, "h2", "w2"])], [scales]
    )


def extra_inputs(path: Path) -> Path:
    """The CodeFormer image plus two extra inputs: not understood."""
    nodes = [helper.make_node("Identity", ["input"], ["output"]), helper.make_node("Add", ["a", "b"], ["c"])]
    inputs = [
        _image("input"),
        helper.make_tensor_value_info("a", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, [1]),
    ]
    return _save(
        path, nodes, inputs, [_image("output"), helper.make_tensor_value_info("c", TensorProto.FLOAT, [1])]
    )
