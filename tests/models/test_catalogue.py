"""resolve_model / list_models and the bundled catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pixup.errors import ModelError, UnknownModelError
from pixup.models.bundled import BUNDLED, DEFAULT_MODEL_ID, available_bundled, bundled_model
from pixup.models.catalogue import list_models, resolve_model
from tests.models.reference import ort_session, random_image, run_onnx


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    return tmp_path / "home"


def _tiny_onnx(path: Path) -> Path:
    """A 2× nearest upscaler."""
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node("Resize", ["input", "", "scales"], ["output"], mode="nearest")
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H2", "W2"])],
        [scales],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _ncnn_pair(folder: Path, stem: str) -> Path:
    """A copy of the AnimeVideo v3 2× ncnn files as `<stem>.param/.bin` in `folder`."""
    param, weights = bundled_model("realesr-animevideov3-x2").files()  # type: ignore[union-attr]
    shutil.copy(weights, folder / f"{stem}.bin")
    return Path(shutil.copy(param, folder / f"{stem}.param"))


def test_catalogue_ids_and_scenarios() -> None:
    ids = [m.id for m in BUNDLED]
    assert len(ids) == len(set(ids)) == 41
    assert DEFAULT_MODEL_ID == "realesr-animevideov3-x4" and DEFAULT_MODEL_ID in ids
    scenarios = {m.id: m.scenario for m in BUNDLED if m.scenario}
    assert scenarios == {
        "realesr-animevideov3-x4": "Universal Fast",
        "waifu2x-photo-x2": "Universal Balanced",
        "waifu2x-cunet-x2": "Universal Quality, Digital Art",
        # Fix compression: the repair paths measured by benchmarks/repair_table.py (models/repair.json).
        "waifu2x-cunet-x1-denoise3": "Fix Compression",
        "waifu2x-cunet-x2-denoise2": "Fix Compression",
        "waifu2x-cunet-x2-denoise3": "Fix Compression",
        "waifu2x-photo-x2-denoise3": "Fix Compression",
    }
    for model in BUNDLED:
        param, weights = model.files()  # every pack is installed in the dev environment
        assert param.suffix == ".param" and weights.stat().st_size > 0


def test_default_model_resolves_converts_and_runs(home: Path) -> None:
    resolved = resolve_model(DEFAULT_MODEL_ID)
    assert resolved.source == "bundled"
    assert resolved.scenario == "Universal Fast"
    assert resolved.display_name == "Real-ESRGAN AnimeVideo v3 4×"
    assert resolved.onnx_path.parent == home / "cache" / "onnx"
    out = run_onnx(ort_session(onnx.load(str(resolved.onnx_path))), random_image(3, 6, 9))
    assert out.shape == (3, 24, 36)
    assert resolve_model(DEFAULT_MODEL_ID) == resolved


def test_onnx_path(home: Path, tmp_path: Path) -> None:
    path = _tiny_onnx(tmp_path / "tiny.onnx")
    resolved = resolve_model(str(path))
    assert (resolved.source, resolved.id, resolved.onnx_path, resolved.scenario) == (
        "onnx",
        "tiny",
        path,
        None,
    )
    assert not (home / "cache" / "onnx").exists()  # nothing to convert


@pytest.mark.parametrize("suffix", [".param", ".bin"])
def test_ncnn_path_is_converted(home: Path, tmp_path: Path, suffix: str) -> None:
    param = _ncnn_pair(tmp_path, "custom-2x")
    resolved = resolve_model(str(param.with_suffix(suffix)))
    assert (resolved.source, resolved.id) == ("ncnn", "custom-2x")
    assert resolved.onnx_path.parent == home / "cache" / "onnx"
    out = run_onnx(ort_session(onnx.load(str(resolved.onnx_path))), random_image(3, 5, 7))
    assert out.shape == (3, 10, 14)


def test_user_model_by_name(home: Path) -> None:
    _tiny_onnx(home / "models" / "my-upscaler.onnx")
    resolved = resolve_model("my-upscaler")
    assert resolved.onnx_path == (home / "models" / "my-upscaler.onnx").resolve()
    image = random_image(3, 4, 5)
    np.testing.assert_array_equal(
        run_onnx(ort_session(onnx.load(str(resolved.onnx_path))), image), image.repeat(2, 1).repeat(2, 2)
    )


def test_param_without_bin(home: Path, tmp_path: Path) -> None:
    param = _ncnn_pair(tmp_path, "lonely")
    param.with_suffix(".bin").unlink()
    with pytest.raises(ModelError, match=r"lonely\.bin"):
        resolve_model(str(param))


def test_missing_file(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        resolve_model(str(tmp_path / "nope.onnx"))


def test_unknown_name_suggests_close_matches(home: Path) -> None:
    _tiny_onnx(home / "models" / "mine.onnx")
    with pytest.raises(UnknownModelError) as err:
        resolve_model("realesrgan-x4plu")
    message = str(err.value)
    assert message.startswith("unknown model 'realesrgan-x4plu' (did you mean realesrgan-x4plus")
    assert "\n" not in message and "pixup" not in message  # the front end says where to look
    assert err.value.code == "unknown_model"
    with pytest.raises(ModelError) as err:
        resolve_model("mien")
    assert "mine" in str(err.value)


def test_list_models(home: Path, tmp_path: Path) -> None:
    _tiny_onnx(home / "models" / "mine.onnx")
    _ncnn_pair(home / "models", "upscayl-custom")
    (home / "models" / "notes.txt").write_text("not a model")

    entries = list_models()
    ids = [e.id for e in entries]
    assert ids == [m.id for m in available_bundled()] + ["mine", "upscayl-custom"]
    by_id = {e.id: e for e in entries}
    assert by_id["waifu2x-cunet-x2"].scenario == "Universal Quality, Digital Art"
    assert by_id["realesrgan-x4plus"].scenario is None
    assert by_id["realesrgan-x4plus-anime"].scenario is None
    assert by_id[DEFAULT_MODEL_ID].nominal_scale == 4 and by_id[DEFAULT_MODEL_ID].path is None
    assert (by_id["mine"].source, by_id["mine"].converted) == ("onnx", True)
    assert (by_id["upscayl-custom"].source, by_id["upscayl-custom"].converted) == ("ncnn", False)
    assert not by_id[DEFAULT_MODEL_ID].converted

    resolve_model(DEFAULT_MODEL_ID)
    resolve_model("upscayl-custom")
    by_id = {e.id: e for e in list_models()}
    assert by_id[DEFAULT_MODEL_ID].converted and by_id["upscayl-custom"].converted
    assert not by_id["realesrgan-x4plus"].converted


def test_scenarios_follow_the_measured_table() -> None:
    """bundled.py serves the scenarios that benchmarks/model_table.py measured and stored."""
    import json

    from pixup.models.bundled import SCENARIO_MODELS

    stored = json.loads((Path(__file__).parents[2] / "models" / "scenarios.json").read_text())["scenarios"]
    assert {k: v["model"] for k, v in stored.items() if k != "Fix Compression"} == SCENARIO_MODELS
    # Fix compression follows models/repair.json instead: tests/models/test_repair_table.py.
