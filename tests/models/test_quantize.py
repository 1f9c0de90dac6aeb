"""pixup's int8 quantiser (models.quantize) on a tiny graph: where it puts quantisers, what it stores,
and that the int8 graph computes what the fp32 one does, within int8's resolution, on ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from pixup.models.quantize import calibrate, quantisable_convolutions, quantise_int8
from tests.engine import graphs


def _samples(count: int = 4, side: int = 24, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((1, 3, side, side), dtype=np.float32) for _ in range(count)]


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"input": x})[0])


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}


def test_calibration_is_the_min_and_max_of_each_convolution_input() -> None:
    model = graphs.two_convs_x2()
    samples = _samples()
    ranges = calibrate(model, samples)
    assert list(ranges) == ["input", "a1"]
    assert ranges["input"].low == pytest.approx(min(float(s.min()) for s in samples))
    assert ranges["input"].high == pytest.approx(max(float(s.max()) for s in samples))
    assert ranges["input"].unsigned  # an image input is never negative
    assert ranges["a1"].low < 0 < ranges["a1"].high  # PRelu lets negatives through
    assert not ranges["a1"].unsigned
    assert ranges["a1"].scale == pytest.approx(max(-ranges["a1"].low, ranges["a1"].high) / 127)


def test_quantisers_sit_in_front_of_convolutions_only_and_weights_are_stored_as_int8() -> None:
    model = graphs.two_convs_x2()
    quantised = quantise_int8(model, _samples())
    onnx.checker.check_model(quantised)
    ops = [n.op_type for n in quantised.graph.node]
    assert ops.count("QuantizeLinear") == 2  # one per convolution input, none after a convolution
    assert ops.count("DequantizeLinear") == 4  # two activations, two weight tensors
    for conv in (n for n in quantised.graph.node if n.op_type == "Conv"):
        producers = {o: n.op_type for n in quantised.graph.node for o in n.output}
        assert producers[conv.input[0]] == "DequantizeLinear"
        assert producers[conv.input[1]] == "DequantizeLinear"
    values = _initializers(quantised)
    assert "w1" not in values and "w2" not in values  # fp32 weights are gone from the file
    int8_weights = [v for v in values.values() if v.dtype == np.int8 and v.ndim == 4]
    assert len(int8_weights) == 2
    # Behind the unsigned image input the weights keep 7 bits (no 16-bit overflow on AVX2).
    first, second = sorted(int8_weights, key=lambda w: w.shape[1])
    assert np.abs(first).max() == 63
    assert np.abs(second).max() == 127
    zero_points = {
        init.name: init.data_type for init in quantised.graph.initializer if init.name.endswith("/zero")
    }
    assert sorted(zero_points.values()) == sorted([TensorProto.UINT8, TensorProto.INT8])
    assert len(quantised.SerializeToString()) < len(model.SerializeToString())


def test_the_int8_graph_computes_what_the_fp32_graph_does() -> None:
    model = graphs.two_convs_x2()
    quantised = quantise_int8(model, _samples(seed=1))
    x = _samples(1, side=32, seed=2)[0]
    want, got = _run(model, x), _run(quantised, x)
    assert got.shape == want.shape == (1, 3, 64, 64)
    error = np.abs(got - want)
    spread = float(want.max() - want.min())
    assert float(error.mean()) < 0.01 * spread
    assert float(error.max()) < 0.08 * spread
    assert not np.array_equal(got, want)  # it is quantised, not a copy


def test_a_convolution_kept_in_fp32_gets_no_quantiser() -> None:
    model = graphs.two_convs_x2()
    quantised = quantise_int8(model, _samples(), keep_fp32={"c2"})
    assert [n.op_type for n in quantised.graph.node].count("QuantizeLinear") == 1
    assert "w2" in _initializers(quantised)
    assert [n.output[0] for n in quantisable_convolutions(model, keep_fp32={"c2"})] == ["c1"]


def test_what_cannot_be_quantised_says_why() -> None:
    with pytest.raises(ValueError, match="opset 11"):
        quantise_int8(graphs.two_convs_x2(opset=11), _samples())
    relu_only = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Relu", ["input"], ["output"])],
            "relu",
            [onnx.helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
            [onnx.helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "h", "w"])],
        ),
        opset_imports=[onnx.helper.make_opsetid("", 17)],
    )
    with pytest.raises(ValueError, match="no convolution"):
        quantise_int8(relu_only, _samples())
    with pytest.raises(ValueError, match="at least one sample"):
        quantise_int8(graphs.two_convs_x2(), [])
