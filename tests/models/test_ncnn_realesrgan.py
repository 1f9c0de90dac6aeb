"""Every model of the Real-ESRGAN pack: pixup's ONNX conversion against the ncnn runtime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from pixup.models.bundled import BUNDLED, REALESRGAN, BundledModel
from pixup.models.importers.ncnn import convert_ncnn
from tests.models.reference import ort_session, random_image, run_ncnn_all, run_onnx

PACK = [model for model in BUNDLED if model.pack == REALESRGAN]
# Non-square, and odd sizes; x4plus (16.7M parameters) is kept small so the test stays quick.
SIZES = {"realesrgan-x4plus": [(12, 20), (9, 13)]}
DEFAULT_SIZES = [(24, 40), (37, 29)]


def test_the_pack_has_five_models() -> None:
    assert sorted(m.resource for m in PACK) == [
        "REALESRGAN_ANIMAVIDEOV3_UP2X",
        "REALESRGAN_ANIMAVIDEOV3_UP3X",
        "REALESRGAN_ANIMAVIDEOV3_UP4X",
        "REALESRGAN_X4PLUSANIME_UP4X",
        "REALESRGAN_X4PLUS_UP4X",
    ]


@pytest.mark.parametrize("model", PACK, ids=lambda m: m.id)
def test_matches_ncnn(model: BundledModel) -> None:
    param, weights = model.files()
    converted = convert_ncnn(param, weights)
    session = ort_session(converted)
    sizes = SIZES.get(model.id, DEFAULT_SIZES)
    images = [random_image(3, h, w, seed=seed) for seed, (h, w) in enumerate(sizes)]
    expected_all = run_ncnn_all(param, weights, images)
    for image, expected in zip(images, expected_all, strict=True):
        actual = run_onnx(session, image)
        _, height, width = image.shape
        scale = model.nominal_scale
        assert actual.shape == expected.shape == (3, height * scale, width * scale)
        assert float(np.abs(actual - expected).max()) <= 1e-3


@pytest.mark.parametrize("model", PACK[:1], ids=lambda m: m.id)
def test_graph_interface(model: BundledModel) -> None:
    converted = convert_ncnn(*model.files())
    onnx.checker.check_model(converted)
    assert converted.opset_import[0].version == 17
    (inp,) = converted.graph.input
    (out,) = converted.graph.output
    assert (inp.name, out.name) == ("input", "output")
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 3, "H", "W"]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 3, "H_out", "W_out"]


def test_batch_of_two_equals_two_single_runs() -> None:
    model = next(m for m in PACK if m.id == "realesr-animevideov3-x2")
    session = ort_session(convert_ncnn(*model.files()))
    a, b = random_image(3, 16, 20, seed=5), random_image(3, 16, 20, seed=6)
    (both,) = session.run(["output"], {"input": np.stack([a, b])})
    np.testing.assert_allclose(both[0], run_onnx(session, a), atol=1e-5, rtol=0)
    np.testing.assert_allclose(both[1], run_onnx(session, b), atol=1e-5, rtol=0)
