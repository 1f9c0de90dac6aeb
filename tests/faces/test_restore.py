"""Face models recognised by signature; wrong ones refused with a reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from pixup.errors import ModelError
from pixup.faces import CodeFormerModel, GfpganModel, check_face_model, face_model_kind, load_face_model
from tests.faces import graphs


def _crop(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (512, 512, 3), dtype=np.uint8)


def test_gfpgan_signature(models: dict[str, Path]) -> None:
    assert face_model_kind(models["identity"]) == "gfpgan"
    model = load_face_model(models["identity"], ["CPUExecutionProvider"])
    assert isinstance(model, GfpganModel)
    crop = _crop()
    np.testing.assert_allclose(model.restore(crop), crop / 255.0, atol=1e-6)


@pytest.mark.parametrize(
    ("weight_type", "shape"),
    [(TensorProto.DOUBLE, [1]), (TensorProto.FLOAT, []), (TensorProto.DOUBLE, []), (TensorProto.FLOAT, [1])],
)
def test_codeformer_signature_and_fidelity(tmp_path: Path, weight_type: int, shape: list[int]) -> None:
    path = graphs.codeformer(tmp_path / "cf.onnx", weight_type, shape)
    signature = check_face_model(path)
    assert signature.kind == "codeformer" and signature.weight_input == "weight"
    crop = _crop(1)
    faithful = load_face_model(path, fidelity=1.0)
    assert isinstance(faithful, CodeFormerModel)
    np.testing.assert_allclose(faithful.restore(crop), crop / 255.0, atol=1e-6)  # output = x·w
    flat = load_face_model(path, fidelity=0.0).restore(crop)
    np.testing.assert_allclose(flat, 0.5, atol=1e-6)  # w = 0: x·0 = 0, mid-grey
    half = load_face_model(path).restore(crop)  # default fidelity 0.5
    np.testing.assert_allclose(half, (crop / 127.5 - 1) * 0.5 / 2 + 0.5, atol=1e-5)
    with pytest.raises(ValueError):
        load_face_model(path, fidelity=1.5)


def test_float16_face_model(tmp_path: Path) -> None:
    path = graphs.gfpgan_identity(tmp_path / "half.onnx", TensorProto.FLOAT16)
    crop = _crop(2)
    np.testing.assert_allclose(load_face_model(path).restore(crop), crop / 255.0, atol=2e-3)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda p: graphs.wrong_size(p, 256), "image input is 1×3×256×256; face models take 1×3×512×512"),
        (graphs.classifier, "no 1×3×512×512 image output (outputs: 1×3)"),
        (graphs.dynamic_upscaler, "image input is ?×3×?×?"),
        (graphs.extra_inputs, "besides the image it takes a (1), b (1)"),
    ],
)
def test_wrong_signatures_are_refused_with_a_reason(
    tmp_path: Path, build: Callable[[Path], Path], reason: str
) -> None:
    path = build(tmp_path / "wrong.onnx")
    assert face_model_kind(path) is None
    with pytest.raises(ModelError) as caught:
        load_face_model(path)
    message = str(caught.value)
    assert message.startswith("wrong.onnx: not a face model: ") and reason in message
    assert "\n" not in message


def test_not_onnx_or_missing(tmp_path: Path) -> None:
    text = tmp_path / "notes.onnx"
    text.write_text("hello")
    with pytest.raises(ModelError, match=r"^notes.onnx: not an ONNX model"):
        check_face_model(text)
    with pytest.raises(ModelError, match="no such file"):
        check_face_model(tmp_path / "absent.onnx")
    assert face_model_kind(text) is None


def test_crop_shape_is_checked(models: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="512×512×3"):
        load_face_model(models["identity"]).restore(np.zeros((256, 256, 3), np.uint8))


def test_face_models_open_on_the_engines_plan_with_its_fallback(models: dict[str, Path]) -> None:
    crop = _crop(3)
    on_openvino = load_face_model(models["identity"], ["OpenVINOExecutionProvider", "CPUExecutionProvider"],
                                  precision="exact")
    assert on_openvino.session.provider == "OpenVINOExecutionProvider" and on_openvino.notices == []
    np.testing.assert_allclose(on_openvino.restore(crop), crop / 255.0, atol=1e-5)
    fell_back = load_face_model(models["identity"], ["NoSuchProvider", "CPUExecutionProvider"])
    assert fell_back.session.provider == "CPUExecutionProvider"
    assert fell_back.notices[0] == "NoSuchProvider is not available in this ONNX Runtime build."
    np.testing.assert_allclose(fell_back.restore(crop), crop / 255.0, atol=1e-6)
