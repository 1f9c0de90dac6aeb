"""Tiny ONNX graphs for engine tests, built with onnx.helper; deterministic weights.

Every builder returns an `onnx.ModelProto`; `save(model, path)` writes it. Each docstring states the
graph's *receptive radius*: how many input pixels on each side of an input pixel can influence its
output pixels (what a tiling pad must cover for tiled == whole-image output).

Numpy references (`conv2d`, `depth_to_space`, `pixel_shuffle_reference`) let tests check the
session's dtype/layout adaptation against an independent computation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

Dim = int | str | None
"""A graph dimension: an int is static, a str is symbolic, None is unknown (-1-like)."""

_ELEM = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}


# ---------------------------------------------------------------- helpers


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Write `model` to `path` (parents created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def to_bytes(model: onnx.ModelProto) -> bytes:
    return bytes(model.SerializeToString())


def _model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: list[onnx.TensorProto],
    name: str,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="pixup-tests"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _value(name: str, dtype: str, shape: list[Dim]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, _ELEM[dtype], shape)


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def pixel_shuffle_weights(scale: int, channels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Weights (OIHW, 3×3) and bias of the conv in `pixel_shuffle`: each output sub-pixel is its input
    channel's centre tap plus small deterministic noise, so outputs stay near the input's range."""
    rng = np.random.default_rng(seed)
    out_ch = channels * scale * scale
    w = rng.normal(0.0, 0.05, size=(out_ch, channels, 3, 3)).astype(np.float32)
    for o in range(out_ch):
        w[o, o // (scale * scale), 1, 1] += 1.0
    b = rng.normal(0.0, 0.02, size=(out_ch,)).astype(np.float32)
    return w, b


# ---------------------------------------------------------------- numpy references


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    """Reference NCHW conv (stride 1, zero padding `pad`), computed in float64."""
    x64 = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2], w.shape[3]
    n, _, h, wd = x64.shape
    oh, ow = h - kh + 1, wd - kw + 1
    out = np.zeros((n, w.shape[0], oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x64[:, :, i : i + oh, j : j + ow]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.float64))
    return out + b.astype(np.float64)[None, :, None, None]


def depth_to_space(x: np.ndarray, block: int) -> np.ndarray:
    """Reference DepthToSpace, CRD mode (PyTorch PixelShuffle order)."""
    n, c, h, w = x.shape
    oc = c // (block * block)
    y = x.reshape(n, oc, block, block, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, oc, h * block, w * block)


def pixel_shuffle_reference(x: np.ndarray, scale: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """What `pixel_shuffle(scale, channels, seed=seed)` computes, for an NCHW float input."""
    w, b = pixel_shuffle_weights(scale, channels, seed)
    return depth_to_space(conv2d(x, w, b, pad=1), scale).astype(np.float32)


# ---------------------------------------------------------------- image-to-image models


def pixel_shuffle(
    scale: int = 2,
    channels: int = 3,
    *,
    dtype: Literal["float32", "float16"] = "float32",
    layout: Literal["NCHW", "NHWC"] = "NCHW",
    batch: Dim = "N",
    height: Dim = "H",
    width: Dim = "W",
    seed: int = 0,
) -> onnx.ModelProto:
    """Padded 3×3 conv channels → channels·scale², then DepthToSpace(scale). Receptive radius 1.

    dtype="float16" gives fp16 I/O (Cast in, fp32 compute, Cast out: the CPU provider has no fp16
    Conv). layout="NHWC" wraps the graph in Transposes. batch/height/width set the input dims
    (int = static, str = symbolic)."""
    w, b = pixel_shuffle_weights(scale, channels, seed)
    nodes: list[onnx.NodeProto] = []
    x = "input"
    if dtype == "float16":
        nodes.append(helper.make_node("Cast", [x], ["x32"], to=TensorProto.FLOAT))
        x = "x32"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [x], ["x_nchw"], perm=[0, 3, 1, 2]))
        x = "x_nchw"
    nodes.append(helper.make_node("Conv", [x, "w", "b"], ["feat"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("DepthToSpace", ["feat"], ["y"], blocksize=scale, mode="CRD"))
    y = "y"
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [y], ["y_nhwc"], perm=[0, 2, 3, 1]))
        y = "y_nhwc"
    if dtype == "float16":
        nodes.append(helper.make_node("Cast", [y], ["y16"], to=TensorProto.FLOAT16))
        y = "y16"
    nodes.append(helper.make_node("Identity", [y], ["output"]))

    def up(d: Dim) -> Dim:
        return d * scale if isinstance(d, int) else None

    if layout == "NCHW":
        in_shape: list[Dim] = [batch, channels, height, width]
        out_shape: list[Dim] = [batch, channels, up(height), up(width)]
    else:
        in_shape = [batch, height, width, channels]
        out_shape = [batch, up(height), up(width), channels]
    return _model(
        nodes,
        [_value("input", dtype, in_shape)],
        [_value("output", dtype, out_shape)],
        [_init("w", w), _init("b", b)],
        f"pixel_shuffle_x{scale}",
    )


def pixel_shuffle_x2() -> onnx.ModelProto:
    """×2 pixel shuffle, dynamic N/H/W. Receptive radius 1."""
    return pixel_shuffle(2)


def pixel_shuffle_x3() -> onnx.ModelProto:
    """×3 pixel shuffle, dynamic N/H/W. Receptive radius 1."""
    return pixel_shuffle(3)


def pixel_shuffle_x4() -> onnx.ModelProto:
    """×4 pixel shuffle, dynamic N/H/W. Receptive radius 1."""
    return pixel_shuffle(4)


def fp16_io() -> onnx.ModelProto:
    """×2 pixel shuffle with float16 input and output. Receptive radius 1."""
    return pixel_shuffle(2, dtype="float16")


def static_batch(batch: int) -> onnx.ModelProto:
    """×2 pixel shuffle whose batch dim is fixed to `batch` (H/W dynamic). Receptive radius 1."""
    return pixel_shuffle(2, batch=batch)


def fixed_shape_64() -> onnx.ModelProto:
    """×2 pixel shuffle with a fully fixed 1×3×64×64 input. Receptive radius 1."""
    return pixel_shuffle(2, batch=1, height=64, width=64)


def nhwc() -> onnx.ModelProto:
    """×2 pixel shuffle taking and returning NHWC tensors. Receptive radius 1."""
    return pixel_shuffle(2, layout="NHWC")


def one_channel() -> onnx.ModelProto:
    """×2 pixel shuffle on 1-channel (grey) images. Receptive radius 1."""
    return pixel_shuffle(2, channels=1)


def four_channel() -> onnx.ModelProto:
    """×2 pixel shuffle on 4-channel (RGBA) images. Receptive radius 1."""
    return pixel_shuffle(2, channels=4)


def one_x(seed: int = 1) -> onnx.ModelProto:
    """1× model: one padded 3×3 conv 3 → 3 (near-identity). Receptive radius 1."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.05, size=(3, 3, 3, 3)).astype(np.float32)
    for c in range(3):
        w[c, c, 1, 1] += 1.0
    b = np.zeros(3, dtype=np.float32)
    return _model(
        [helper.make_node("Conv", ["input", "w", "b"], ["output"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, "H", "W"])],
        [_init("w", w), _init("b", b)],
        "one_x",
    )


def fractional(scale: float = 1.5) -> onnx.ModelProto:
    """Non-integer scale: Resize × `scale` (linear, half-pixel); out = floor(in·scale).
    Receptive radius 1 (bilinear reads the two nearest source pixels)."""
    scales = np.array([1.0, 1.0, scale, scale], dtype=np.float32)
    return _model(
        [helper.make_node("Resize", ["input", "", "scales"], ["output"], mode="linear")],
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, None, None])],
        [_init("scales", scales)],
        "fractional",
    )


def multiple_of(block: int = 8, seed: int = 2) -> onnx.ModelProto:
    """×2 model that only runs when H and W are multiples of `block`: SpaceToDepth(block) →
    DepthToSpace(block) (identity, but ORT rejects other sizes), then the ×2 pixel shuffle.
    Receptive radius 1."""
    w, b = pixel_shuffle_weights(2, 3, seed)
    return _model(
        [
            helper.make_node("SpaceToDepth", ["input"], ["s2d"], blocksize=block),
            helper.make_node("DepthToSpace", ["s2d"], ["d2s"], blocksize=block, mode="DCR"),
            helper.make_node("Conv", ["d2s", "w", "b"], ["feat"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("DepthToSpace", ["feat"], ["output"], blocksize=2, mode="CRD"),
        ],
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, None, None])],
        [_init("w", w), _init("b", b)],
        f"multiple_of_{block}",
    )


def multiple_of_8() -> onnx.ModelProto:
    """`multiple_of(8)`: ×2, H and W must be multiples of 8. Receptive radius 1."""
    return multiple_of(8)


def unpadded(seed: int = 3) -> onnx.ModelProto:
    """×2 model with two *valid* (unpadded) 3×3 convs, then DepthToSpace(2): border 2, so
    out = 2·(in − 4). Receptive radius 2."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 0.05, size=(3, 3, 3, 3)).astype(np.float32)
    for c in range(3):
        w1[c, c, 1, 1] += 1.0
    w2, b2 = pixel_shuffle_weights(2, 3, seed)
    b1 = np.zeros(3, dtype=np.float32)
    return _model(
        [
            helper.make_node("Conv", ["input", "w1", "b1"], ["f1"], kernel_shape=[3, 3]),
            helper.make_node("Conv", ["f1", "w2", "b2"], ["f2"], kernel_shape=[3, 3]),
            helper.make_node("DepthToSpace", ["f2"], ["output"], blocksize=2, mode="CRD"),
        ],
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, None, None])],
        [_init("w1", w1), _init("b1", b1), _init("w2", w2), _init("b2", b2)],
        "unpadded",
    )


def receptive_field(
    radius: int, scale: int = 2, channels: int = 3, width: int = 8, seed: int = 4
) -> onnx.ModelProto:
    """`radius` padded 3×3 convs (random weights, LeakyReLU between) then DepthToSpace(scale).
    Receptive radius exactly `radius` (each 3×3 conv adds 1); border 0."""
    if radius < 1:
        raise ValueError("radius must be >= 1")
    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    x = "input"
    c_in = channels
    for k in range(radius):
        last = k == radius - 1
        c_out = channels * scale * scale if last else width
        w = rng.normal(0.0, 1.0 / np.sqrt(9 * c_in), size=(c_out, c_in, 3, 3)).astype(np.float32)
        b = rng.normal(0.0, 0.05, size=(c_out,)).astype(np.float32)
        inits += [_init(f"w{k}", w), _init(f"b{k}", b)]
        y = f"conv{k}"
        nodes.append(
            helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        )
        if not last:
            nodes.append(helper.make_node("LeakyRelu", [y], [f"act{k}"], alpha=0.2))
            y = f"act{k}"
        x, c_in = y, c_out
    nodes.append(helper.make_node("DepthToSpace", [x], ["output"], blocksize=scale, mode="CRD"))
    return _model(
        nodes,
        [_value("input", "float32", ["N", channels, "H", "W"])],
        [_value("output", "float32", ["N", channels, None, None])],
        inits,
        f"receptive_field_{radius}",
    )


def slow(layers: int = 8, width: int = 64, seed: int = 5) -> onnx.ModelProto:
    """1× model that is deliberately slow at large sizes: `layers` padded 3×3 convs of `width`
    channels (e.g. several seconds on 1×3×1024×1024 on two CPU cores). Receptive radius `layers`."""
    rng = np.random.default_rng(seed)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    x, c_in = "input", 3
    for k in range(layers):
        c_out = 3 if k == layers - 1 else width
        w = rng.normal(0.0, 1.0 / np.sqrt(9 * c_in), size=(c_out, c_in, 3, 3)).astype(np.float32)
        b = np.zeros(c_out, dtype=np.float32)
        inits += [_init(f"w{k}", w), _init(f"b{k}", b)]
        y = "output" if k == layers - 1 else f"conv{k}"
        nodes.append(
            helper.make_node("Conv", [x, f"w{k}", f"b{k}"], [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        )
        x, c_in = y, c_out
    return _model(
        nodes,
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, "H", "W"])],
        inits,
        "slow",
    )


def memory_hog(bytes_per_cube: int = 64) -> onnx.ModelProto:
    """1× identity whose scratch memory grows as H³·`bytes_per_cube` bytes (a zero tensor summed into
    the output): tiny at probe sizes, impossible to allocate at H = 2048 (512 GiB). For OOM tests.
    Receptive radius 0."""
    floats = bytes_per_cube // 4
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Gather", ["shape", "h_axis"], ["h"], axis=0),
        helper.make_node("Mul", ["h", "h"], ["h2"]),
        helper.make_node("Mul", ["h2", "h"], ["h3"]),
        helper.make_node("Mul", ["h3", "floats"], ["count"]),
        helper.make_node(
            "ConstantOfShape", ["count"], ["zeros"], value=numpy_helper.from_array(np.zeros(1, np.float32))
        ),
        helper.make_node("ReduceSum", ["zeros"], ["total"], keepdims=0),
        helper.make_node("Add", ["input", "total"], ["output"]),
    ]
    return _model(
        nodes,
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", 3, "H", "W"])],
        [
            _init("h_axis", np.array([2], dtype=np.int64)),
            _init("floats", np.array([floats], dtype=np.int64)),
        ],
        "memory_hog",
    )


# ---------------------------------------------------------------- models that are not upscalers


def classifier(classes: int = 10, seed: int = 6) -> onnx.ModelProto:
    """Image classifier: conv → GlobalAveragePool → Flatten → Gemm → [N, classes]. Not image-to-image."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.1, size=(8, 3, 3, 3)).astype(np.float32)
    b = np.zeros(8, dtype=np.float32)
    fc = rng.normal(0.0, 0.1, size=(8, classes)).astype(np.float32)
    fcb = np.zeros(classes, dtype=np.float32)
    return _model(
        [
            helper.make_node("Conv", ["input", "w", "b"], ["f"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("GlobalAveragePool", ["f"], ["g"]),
            helper.make_node("Flatten", ["g"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc", "fcb"], ["output"]),
        ],
        [_value("input", "float32", ["N", 3, "H", "W"])],
        [_value("output", "float32", ["N", classes])],
        [_init("w", w), _init("b", b), _init("fc", fc), _init("fcb", fcb)],
        "classifier",
    )


def bad_rank() -> onnx.ModelProto:
    """Rank-3 input [3, H, W] (no batch axis): not something the engine can feed."""
    two = np.array(2.0, dtype=np.float32)
    return _model(
        [helper.make_node("Mul", ["input", "two"], ["output"])],
        [_value("input", "float32", [3, "H", "W"])],
        [_value("output", "float32", [3, "H", "W"])],
        [_init("two", two)],
        "bad_rank",
    )


def int_input() -> onnx.ModelProto:
    """Image-shaped but uint8 input: an element type the engine does not feed."""
    return _model(
        [helper.make_node("Identity", ["input"], ["output"])],
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.UINT8, ["N", 3, "H", "W"])],
        [],
        "int_input",
    )


def two_convs_x2(seed: int = 7, opset: int = OPSET) -> onnx.ModelProto:
    """×2: conv 3→8 (3×3) → PRelu (slope 0.2, so negatives survive) → conv 8→12 (3×3) → DepthToSpace(2).
    The shape of a compact SR network, small enough to quantise and check against numpy. Receptive
    radius 2."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 0.4, size=(8, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0.0, 0.1, size=(8,)).astype(np.float32)
    w2 = rng.normal(0.0, 0.2, size=(12, 8, 3, 3)).astype(np.float32)
    b2 = rng.normal(0.0, 0.05, size=(12,)).astype(np.float32)
    slope = np.full((8, 1, 1), 0.2, dtype=np.float32)
    model = _model(
        [
            helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
            helper.make_node("PRelu", ["c1", "slope"], ["a1"], name="act1"),
            helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
            helper.make_node("DepthToSpace", ["c2"], ["output"], blocksize=2, mode="CRD"),
        ],
        [_value("input", "float32", [1, 3, "h", "w"])],
        [_value("output", "float32", [1, 3, "H", "W"])],
        [_init("w1", w1), _init("b1", b1), _init("w2", w2), _init("b2", b2), _init("slope", slope)],
        "two_convs_x2",
    )
    model.opset_import[0].version = opset
    return model
