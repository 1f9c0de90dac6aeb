"""int8 post-training quantisation of an fp32 ONNX image model, for OpenVINO's CPU plugin.

The graph keeps its fp32 interface: every convolution whose weights are constant gets a
QuantizeLinear → DequantizeLinear pair on its input (per tensor, ranges from calibration runs) and
its weights stored as int8 behind a DequantizeLinear (per output channel). OpenVINO turns these
pairs into FakeQuantize and runs the convolutions in int8; everything else stays fp32.

Choices, each measured in benchmarks/bench_int8.py (issue 8):
- Quantisers only in front of convolutions (none between a convolution and its activation):
  OpenVINO gained nothing from ONNX Runtime's graph, which also quantises those.
- Plain min/max activation ranges over all calibration samples: a mean of per-sample extremes
  clipped the larger activations of drawings.
- Signed, symmetric activations wherever calibration saw a negative value; unsigned only where it
  saw none (the image input). u8 × s8 products on AVX2 without VNNI are summed in pairs into 16-bit
  integers that saturate, so weights behind an unsigned input keep 7 bits (±63), the rest ±127.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

_SIGNED_LEVELS = 127
_UNSIGNED_LEVELS = 255
_WEIGHT_LEVELS = 127
_WEIGHT_LEVELS_BEHIND_UNSIGNED = 63
_MIN_OPSET = 13  # DequantizeLinear's per-axis form

_Message = TypeVar("_Message", onnx.NodeProto, onnx.TensorProto)


@dataclass(frozen=True)
class ActivationRange:
    """What calibration saw of one convolution input."""

    low: float
    """Smallest value over every calibration sample."""
    high: float
    """Largest value over every calibration sample."""

    @property
    def unsigned(self) -> bool:
        """No negative value seen: quantised as uint8 over [0, high]."""
        return self.low >= 0.0

    @property
    def scale(self) -> float:
        if self.unsigned:
            return max(self.high, 1e-8) / _UNSIGNED_LEVELS
        return max(-self.low, self.high, 1e-8) / _SIGNED_LEVELS


def quantisable_convolutions(model: onnx.ModelProto, keep_fp32: Collection[str] = ()) -> list[onnx.NodeProto]:
    """The Conv nodes whose weights are constant (initializers), but those whose output is named in
    `keep_fp32`."""
    constants = {init.name for init in model.graph.initializer}
    return [n for n in model.graph.node if _quantisable(n, constants, keep_fp32)]


def _quantisable(node: onnx.NodeProto, constants: Collection[str], keep_fp32: Collection[str]) -> bool:
    return (
        node.op_type == "Conv"
        and len(node.input) >= 2
        and node.input[1] in constants
        and node.output[0] not in keep_fp32
    )


def calibrate(
    model: onnx.ModelProto, samples: Iterable[np.ndarray], keep_fp32: Collection[str] = ()
) -> dict[str, ActivationRange]:
    """Min/max of every quantisable convolution's input over `samples` (model-ready input arrays),
    from fp32 runs on ONNX Runtime's CPU provider."""
    import onnxruntime as ort

    names = list(dict.fromkeys(n.input[0] for n in quantisable_convolutions(model, keep_fp32)))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    for name in names:
        if name not in existing:
            probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    low = dict.fromkeys(names, np.inf)
    high = dict.fromkeys(names, -np.inf)
    count = 0
    for sample in samples:
        values = session.run(names, {input_name: sample})
        for name, value in zip(names, values, strict=True):
            low[name] = min(low[name], float(np.min(value)))
            high[name] = max(high[name], float(np.max(value)))
        count += 1
    if count == 0:
        raise ValueError("calibration needs at least one sample")
    return {name: ActivationRange(low[name], high[name]) for name in names}


def quantise_int8(
    model: onnx.ModelProto, samples: Iterable[np.ndarray], *, keep_fp32: Collection[str] = ()
) -> onnx.ModelProto:
    """A copy of the fp32 `model` with int8 convolutions (see the module docstring), calibrated on
    `samples`: arrays exactly as the model's input takes them. Convolutions whose output is named in
    `keep_fp32` stay fp32.

    Raises ValueError for a model this cannot quantise (no constant convolution, opset < 13, fp16)."""
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < _MIN_OPSET:
        raise ValueError(f"opset {opset}: int8 needs opset {_MIN_OPSET} or later")
    convolutions = quantisable_convolutions(model, keep_fp32)
    if not convolutions:
        raise ValueError("the model has no convolution with constant weights")
    constants = {init.name: init for init in model.graph.initializer}
    if any(constants[n.input[1]].data_type != TensorProto.FLOAT for n in convolutions):
        raise ValueError("int8 needs fp32 weights")
    ranges = calibrate(model, samples, keep_fp32)

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    nodes = [_copied(n) for n in graph.node]
    graph.ClearField("node")
    uses = Counter(name for node in nodes for name in node.input)

    quantised: dict[str, str] = {}  # activation → its dequantised name

    def activation(name: str) -> list[onnx.NodeProto]:
        if name in quantised:
            return []
        seen = ranges[name]
        zero_type = TensorProto.UINT8 if seen.unsigned else TensorProto.INT8
        stem = f"_int8/{name}"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array(seen.scale, dtype=np.float32), f"{stem}/scale"),
                helper.make_tensor(f"{stem}/zero", zero_type, [], [0]),
            ]
        )
        quantised[name] = f"{stem}/dq"
        scale_and_zero = [f"{stem}/scale", f"{stem}/zero"]
        return [
            helper.make_node("QuantizeLinear", [name, *scale_and_zero], [f"{stem}/q"]),
            helper.make_node("DequantizeLinear", [f"{stem}/q", *scale_and_zero], [f"{stem}/dq"]),
        ]

    replaced_weights: set[str] = set()
    for index, node in enumerate(nodes):
        if _quantisable(node, constants, keep_fp32):
            graph.node.extend(activation(node.input[0]))
            weight_name = node.input[1]
            levels = _WEIGHT_LEVELS_BEHIND_UNSIGNED if ranges[node.input[0]].unsigned else _WEIGHT_LEVELS
            stem = f"_int8/w{index}"
            graph.node.extend(_weights(graph, constants[weight_name], levels, stem))
            node.input[0] = quantised[node.input[0]]
            node.input[1] = f"{stem}/w_dq"
            replaced_weights.add(weight_name)
        graph.node.append(node)
    # fp32 weights nobody else reads are dropped: the file carries int8 weights only.
    unused = {name for name in replaced_weights if uses[name] == 1}
    kept = [_copied(init) for init in graph.initializer if init.name not in unused]
    graph.ClearField("initializer")
    graph.initializer.extend(kept)
    log.info("int8: %d convolutions quantised", len(convolutions))
    return out


def _copied(message: _Message) -> _Message:
    """A detached copy: protobuf messages taken out of a cleared repeated field are not safe to reuse."""
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def _weights(
    graph: onnx.GraphProto, weight: onnx.TensorProto, levels: int, stem: str
) -> list[onnx.NodeProto]:
    """Per-output-channel symmetric int8 weights and the DequantizeLinear that restores them."""
    values = numpy_helper.to_array(weight).astype(np.float32)
    peak = np.abs(values.reshape(values.shape[0], -1)).max(axis=1)
    scale = np.where(peak > 0, peak / levels, 1.0).astype(np.float32)
    shape = (-1,) + (1,) * (values.ndim - 1)
    q = np.clip(np.rint(values / scale.reshape(shape)), -levels, levels).astype(np.int8)
    graph.initializer.extend(
        [
            numpy_helper.from_array(q, f"{stem}/w_q"),
            numpy_helper.from_array(scale, f"{stem}/w_scale"),
            numpy_helper.from_array(np.zeros(len(scale), dtype=np.int8), f"{stem}/w_zero"),
        ]
    )
    return [
        helper.make_node(
            "DequantizeLinear", [f"{stem}/w_q", f"{stem}/w_scale", f"{stem}/w_zero"], [f"{stem}/w_dq"], axis=0
        )
    ]
