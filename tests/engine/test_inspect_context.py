"""The context radius inspection measures, on tiny graphs whose receptive field is known, and how the
tiler turns it into the context of every cut."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from pixup.engine.inspect import inspect_session
from pixup.engine.spec import ModelSpec
from pixup.engine.tiling import DEFAULT_PAD, context_for, plan_grid
from tests.engine import graphs
from tests.engine.ort_runner import spec_for


def _spec_of(model: onnx.ModelProto, provider: str = "CPUExecutionProvider") -> ModelSpec:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return inspect_session(ort.InferenceSession(model.SerializeToString(), options, providers=[provider]))


def _radius(model: onnx.ModelProto, provider: str = "CPUExecutionProvider") -> int | None:
    return _spec_of(model, provider).context_radius


@pytest.mark.parametrize(("radius", "scale"), [(1, 2), (3, 2), (6, 2), (3, 4), (5, 1)])
def test_measured_radius_brackets_the_true_one(radius: int, scale: int) -> None:
    # `radius` padded 3×3 convolutions: nothing beyond `radius` px can matter; the last pixel of the
    # field carries only the weakest path, which may stay under half a level.
    model = graphs.receptive_field(radius, scale=scale) if scale > 1 else graphs.slow(layers=radius, width=8)
    measured = _radius(model)
    assert measured is not None
    assert radius - 1 <= measured <= radius


def test_measured_radius_on_openvino_equals_cpu() -> None:
    if "OpenVINOExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no OpenVINO provider")
    model = graphs.receptive_field(4)
    assert _radius(model, "OpenVINOExecutionProvider") == _radius(model)


def test_unpadded_convolutions_need_no_context_beyond_their_border() -> None:
    # Valid convolutions: the border the tiler already adds is the whole receptive field.
    spec = _spec_of(graphs.unpadded())
    assert spec.border == 2
    assert spec.context_radius == 0


def test_size_rules_and_fractional_scales_are_respected() -> None:
    assert _radius(graphs.multiple_of(16)) in (0, 1)
    assert _radius(graphs.fractional(1.5)) in (0, 1, 2)  # bilinear: a pixel and its neighbour


def _squeeze_excite() -> onnx.ModelProto:
    """×1: x · sigmoid(mean over the whole image of a conv of x): every output pixel depends on every
    input pixel, as in waifu2x CUNet's and Real-CUGAN's squeeze-and-excitation blocks."""
    rng = np.random.default_rng(7)
    w = rng.normal(0.0, 0.5, size=(3, 3, 3, 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["f"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["f"], ["pooled"]),
        helper.make_node("Sigmoid", ["pooled"], ["gate"]),
        helper.make_node("Mul", ["input", "gate"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "squeeze_excite",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        initializer=[helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.flatten().tolist()),
                     helper.make_tensor("b", TensorProto.FLOAT, b.shape, b.tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", graphs.OPSET)])
    model.ir_version = graphs.IR_VERSION
    return model


def test_global_pooling_has_no_finite_radius() -> None:
    assert _radius(_squeeze_excite()) is None


def test_fixed_shape_models_are_not_measured() -> None:
    assert _radius(graphs.fixed_shape_64()) is None


# ---------------------------------------------------------------- from radius to context


def test_context_is_the_radius_plus_a_margin() -> None:
    assert context_for(spec_for()) == DEFAULT_PAD  # not measured: today's 32 px
    assert context_for(spec_for(context_radius=None), 48) == 48
    assert context_for(spec_for(context_radius=0)) == 4
    assert context_for(spec_for(context_radius=14)) == 18
    assert context_for(spec_for(context_radius=14), 32) == 32  # the caller's pad is a minimum
    assert context_for(spec_for(context_radius=50)) == 63  # wide fields get more than 32


@pytest.mark.parametrize(("radius", "pad"), [(14, 18), (0, 4), (50, 63), (None, 32)])
def test_grid_gives_every_cut_the_models_context(radius: int | None, pad: int) -> None:
    grid = plan_grid(700, 900, spec_for(scale=4.0, context_radius=radius), tile=200, pad=0)
    assert grid.count > 1 and grid.pad == pad
    budget = (200 + 2 * 32) ** 2  # the tile budget does not depend on the context
    assert grid.tile_shape[0] * grid.tile_shape[1] <= budget


def test_less_context_computes_fewer_pixels() -> None:
    def computed(radius: int | None) -> int:
        return plan_grid(1500, 2000, spec_for(scale=4.0, context_radius=radius), tile=448, pad=0).computed

    assert computed(14) < computed(None) < computed(50)


def test_fractional_scale_context_is_aligned() -> None:
    grid = plan_grid(301, 257, spec_for(scale=1.5, context_radius=3), tile=40, pad=0)
    assert grid.count > 1 and grid.pad == 8  # 3 + 4 = 7, up to a multiple of q = 2


def test_fixed_shape_still_shrinks_the_context() -> None:
    spec = replace(spec_for(scale=2.0, fixed_height=64, fixed_width=64), context_radius=40)
    grid = plan_grid(300, 300, spec, tile=256, pad=0)
    assert grid.pad == 16  # a quarter of the fixed input, as before
