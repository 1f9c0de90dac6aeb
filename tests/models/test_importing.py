"""import_model / import_models: ONNX and ncnn files into the user models folder (PyTorch
checkpoints: test_torch_import.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pixup.engine.session import ModelSession
from pixup.errors import ModelError, ModelNameTakenError
from pixup.models.bundled import bundled_model
from pixup.models.cache import is_cached
from pixup.models.catalogue import list_models, resolve_model
from pixup.models.importing import ImportedModel, import_model, import_models
from tests.models.reference import random_image, run_onnx, write_param


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def models(home: Path) -> Path:
    return home / "models"


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def _upscaler(path: Path, scale: int = 2, shape: tuple[object, ...] = ("N", 3, "H", "W")) -> Path:
    """A conv (3→3·s², fixed random weights) + DepthToSpace: an s× upscaler."""
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(
        (rng.standard_normal((3 * scale * scale, 3, 3, 3)) * 0.1).astype(np.float32), "weight"
    )
    nodes = [
        helper.make_node("Conv", ["input", "weight"], ["features"], pads=[1, 1, 1, 1]),
        helper.make_node("DepthToSpace", ["features"], ["output"], blocksize=scale, mode="CRD"),
    ]
    graph = helper.make_graph(
        nodes,
        "upscaler",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, None, None])],
        [weight],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _classifier(path: Path) -> Path:
    """Image in, 10 class scores out."""
    weight = numpy_helper.from_array(np.ones((10, 3), np.float32), "weight")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "weight"], ["output"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])],
        [weight],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def _ncnn_pair(folder: Path, stem: str, model_id: str = "realesr-animevideov3-x2") -> Path:
    """A copy of a bundled pack's ncnn files as `<stem>.param/.bin` in `folder`."""
    bundled = bundled_model(model_id)
    assert bundled is not None and bundled.available
    param, weights = bundled.files()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(weights, folder / f"{stem}.bin")
    return Path(shutil.copy(param, folder / f"{stem}.param"))


def _stored(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.is_dir() else []


# ---------------------------------------------------------------- ONNX


def test_onnx_import_is_stored_and_resolvable(home: Path, models: Path, tmp_path: Path) -> None:
    (tmp_path / "downloads").mkdir()
    source = _upscaler(tmp_path / "downloads" / "My-Upscaler.onnx")
    model = import_model(source)
    assert model == ImportedModel(
        id="My-Upscaler",
        kind="onnx",
        path=models / "My-Upscaler.onnx",
        source=source,
        scale=2.0,
        in_channels=3,
        out_channels=3,
        dtype="float32",
        layout="NCHW",
        fixed_shape=None,
        multiple=1,
        min_size=1,
        notes=(),
    )
    assert model.path.read_bytes() == source.read_bytes()
    assert _stored(models) == ["My-Upscaler.onnx"]  # no temporary files left behind
    resolved = resolve_model("My-Upscaler")
    assert (resolved.onnx_path, resolved.source) == (model.path, "onnx")
    assert [e.id for e in list_models() if e.source == "onnx"] == ["My-Upscaler"]
    # The stored model runs: same output as the source graph.
    image = random_image(3, 9, 11)
    with ModelSession.open(model.path, precision="exact", providers=["CPUExecutionProvider"]) as session:
        out = session.run(image[None])
    np.testing.assert_allclose(out[0], run_onnx(onnx.load(str(source)), image), atol=1e-6)


def test_fixed_shape_model_notes(home: Path, tmp_path: Path) -> None:
    model = import_model(_upscaler(tmp_path / "fixed.onnx", scale=4, shape=(1, 3, 64, 48)))
    assert (model.scale, model.fixed_shape, model.min_size) == (4.0, (64, 48), 48)
    assert model.notes == ("fixed input 64×48: tiles are exactly this size", "batch size fixed at 1")


def test_classifier_is_refused_with_its_reason(home: Path, models: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"^not an image-to-image model: output has shape \[1, 10\]$"):
        import_model(_classifier(tmp_path / "resnet.onnx"))
    assert _stored(models) == []


def test_wrong_rank_is_refused(home: Path, models: Path, tmp_path: Path) -> None:
    node = helper.make_node("Identity", ["input"], ["output"])
    graph = helper.make_graph(
        [node],
        "flat",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 768])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 768])],
    )
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "t.onnx")
    with pytest.raises(ModelError, match=r"^not an image-to-image model: input has shape \[N, 768\]$"):
        import_model(path)
    assert _stored(models) == []


def test_text_file_named_onnx(home: Path, models: Path, tmp_path: Path) -> None:
    path = tmp_path / "readme.onnx"
    path.write_text("This is not a model.\n")
    with pytest.raises(ModelError, match=r"^not an ONNX model: readme\.onnx could not be parsed$"):
        import_model(path)
    assert _stored(models) == []


def test_existing_name_needs_overwrite(home: Path, models: Path, tmp_path: Path) -> None:
    first = import_model(_upscaler(tmp_path / "a.onnx", scale=2), name="mine")
    before = first.path.read_bytes()
    other = _upscaler(tmp_path / "b.onnx", scale=3)
    with pytest.raises(ModelNameTakenError, match=r"^a model named mine already exists$") as taken:
        import_model(other, name="mine")
    assert taken.value.model_id == "mine" and not taken.value.bundled  # the CLI words the remedy
    assert first.path.read_bytes() == before
    # Another spelling of the same name is the same model on case-insensitive disks.
    with pytest.raises(ModelError, match="a model named MINE already exists"):
        import_model(other, name="MINE")
    replaced = import_model(other, name="mine", overwrite=True)
    assert replaced.path == first.path and replaced.scale == 3.0
    assert replaced.path.read_bytes() == other.read_bytes()
    assert _stored(models) == ["mine.onnx"]


def test_overwrite_replaces_a_model_of_the_other_kind(home: Path, models: Path, tmp_path: Path) -> None:
    import_model(_ncnn_pair(tmp_path / "pair", "anime"))
    assert _stored(models) == ["anime.bin", "anime.param"]
    model = import_model(_upscaler(tmp_path / "anime.onnx"), overwrite=True)
    assert _stored(models) == ["anime.onnx"]
    assert resolve_model("anime").onnx_path == model.path


def test_names(home: Path, tmp_path: Path) -> None:
    source = _upscaler(tmp_path / "x.onnx")
    for bad, reason in [
        ("", "the model name is empty"),
        ("../escape", "may hold letters, digits"),
        ("a/b", "may hold letters, digits"),
        (".hidden", "may hold letters, digits"),
        ("dots.", "may hold letters, digits"),
        ("model.onnx", "must not end like a file name"),
        ("x" * 101, "longer than 100 characters"),
        ("realesrgan-x4plus", "is the id of a bundled model"),
    ]:
        with pytest.raises(ModelError, match=reason):
            import_model(source, name=bad)
    assert import_model(source, name="4x Ultra Sharp (v2) [anime]").id == "4x Ultra Sharp (v2) [anime]"
    # Default names come from the file name, made safe.
    odd = _upscaler(tmp_path / "wéird name!@#.onnx.onnx")
    assert import_model(odd).id == "wéird name_"


def test_not_a_model_file(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(ModelError, match=r"photo\.png: not a model file pixup can import"):
        import_model(path)
    with pytest.raises(ModelError, match="model file not found"):
        import_model(tmp_path / "missing.onnx")


def test_external_data_is_merged(home: Path, models: Path, tmp_path: Path) -> None:
    source_dir = tmp_path / "ext"
    source_dir.mkdir()
    plain = _upscaler(tmp_path / "plain.onnx")
    path = source_dir / "ext.onnx"
    onnx.save(
        onnx.load(str(plain)), str(path), save_as_external_data=True, location="ext.weights", size_threshold=0
    )
    assert (source_dir / "ext.weights").is_file()
    model = import_model(path)
    assert _stored(models) == ["ext.onnx"]
    assert model.notes == ("external weight files merged into the stored .onnx",)
    stored = onnx.load(str(model.path), load_external_data=False)
    assert not any(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer)
    image = random_image(3, 6, 7)
    np.testing.assert_allclose(run_onnx(stored, image), run_onnx(onnx.load(str(plain)), image), atol=0)


# ---------------------------------------------------------------- ncnn


def test_ncnn_pair_is_stored_and_resolvable(home: Path, models: Path, tmp_path: Path) -> None:
    param = _ncnn_pair(tmp_path / "src", "anime-2x")
    model = import_model(param.with_suffix(".bin"))  # the .bin stands for its pair
    assert (model.id, model.kind, model.path, model.source) == (
        "anime-2x",
        "ncnn",
        models / "anime-2x.param",
        param,
    )
    assert (model.scale, model.in_channels, model.out_channels, model.fixed_shape) == (2.0, 3, 3, None)
    assert model.notes == ("ncnn model: converted to ONNX (kept in pixup's cache)",)
    assert _stored(models) == ["anime-2x.bin", "anime-2x.param"]
    assert (models / "anime-2x.bin").read_bytes() == param.with_suffix(".bin").read_bytes()
    # The conversion done to check the model is the one the catalogue finds: no second conversion.
    assert is_cached(models / "anime-2x.param", models / "anime-2x.bin")
    entry = next(e for e in list_models() if e.id == "anime-2x")
    assert (entry.source, entry.converted) == ("ncnn", True)
    assert resolve_model("anime-2x").onnx_path.is_file()


def test_ncnn_unknown_op_is_named(home: Path, models: Path, tmp_path: Path) -> None:
    param = write_param(
        tmp_path / "odd.param",
        ["Input data 0 1 data 0=8 1=8 2=3", "FancyUpsampler up 1 1 data out 0=2"],
    )
    param.with_suffix(".bin").write_bytes(b"")
    with pytest.raises(ModelError, match=r"unsupported ncnn op 'FancyUpsampler' in layer 'up'"):
        import_model(param)
    assert _stored(models) == []


def test_ncnn_without_weights(home: Path, tmp_path: Path) -> None:
    param = _ncnn_pair(tmp_path, "lonely")
    param.with_suffix(".bin").unlink()
    with pytest.raises(
        ModelError, match=r"^ncnn model lonely\.param needs its weights file lonely\.bin beside it$"
    ):
        import_model(param)


def test_upscayl_folder_imports_every_pair(home: Path, models: Path, tmp_path: Path) -> None:
    folder = tmp_path / "upscayl-custom-models"
    _ncnn_pair(folder, "animevideo-x2", "realesr-animevideov3-x2")
    _ncnn_pair(folder, "animevideo-x3", "realesr-animevideov3-x3")
    (folder / "README.txt").write_text("custom models for Upscayl\n")
    outcomes = import_models(folder)
    assert [(o.source.name, o.ok, o.error) for o in outcomes] == [
        ("animevideo-x2.param", True, None),
        ("animevideo-x3.param", True, None),
    ]
    assert [o.model.scale for o in outcomes if o.model] == [2.0, 3.0]
    assert _stored(models) == [
        "animevideo-x2.bin",
        "animevideo-x2.param",
        "animevideo-x3.bin",
        "animevideo-x3.param",
    ]
    assert {e.id for e in list_models() if e.source == "ncnn"} == {"animevideo-x2", "animevideo-x3"}
    # Upscayl's own folder (with models/ inside) stands for that subfolder.
    (tmp_path / "install").mkdir()
    shutil.move(folder, tmp_path / "install" / "models")
    again = import_models(tmp_path / "install")
    assert [o.error for o in again] == [
        "a model named animevideo-x2 already exists",
        "a model named animevideo-x3 already exists",
    ]
    assert all(isinstance(o.failure, ModelNameTakenError) for o in again)


def test_folder_reports_each_failure(home: Path, models: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    _ncnn_pair(folder, "good")
    _classifier(folder / "classifier.onnx")
    (folder / "orphan.bin").write_bytes(b"\0" * 16)
    outcomes = import_models(folder)
    assert [(o.source.name, o.error) for o in outcomes] == [
        ("classifier.onnx", "not an image-to-image model: output has shape [1, 10]"),
        ("good.param", None),
        ("orphan.bin", "orphan.bin is ncnn weights without its orphan.param beside it"),
    ]
    assert _stored(models) == ["good.bin", "good.param"]
    with pytest.raises(ModelError, match=r"^one name cannot be given to the 3 models in "):
        import_models(folder, name="x")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="no model files"):
        import_models(empty)
    with pytest.raises(ModelError, match="is a folder"):
        import_model(folder)


def test_upscayl_folder_named_like_bundled_models(home: Path, models: Path, tmp_path: Path) -> None:
    """Upscayl's own models folder names its files like pixup's bundled models: the same weights are
    reported as already bundled (nothing copied), other weights are stored under a free id."""
    upscayl = tmp_path / "Upscayl" / "resources" / "models"
    _ncnn_pair(upscayl, "realesr-animevideov3-x4", "realesr-animevideov3-x4")
    changed = _ncnn_pair(upscayl, "realesr-animevideov3-x2", "realesr-animevideov3-x2").with_suffix(".bin")
    data = bytearray(changed.read_bytes())
    data[-4] ^= 0x01  # the lowest mantissa bit of the last bias: other weights, still a model
    changed.write_bytes(bytes(data))

    outcomes = import_models(upscayl.parent)  # the install folder stands for its models/
    assert [(o.source.name, o.ok, o.error) for o in outcomes] == [
        ("realesr-animevideov3-x2.param", True, None),
        ("realesr-animevideov3-x4.param", True, None),
    ]
    other, same = (o.model for o in outcomes)
    assert other is not None and same is not None
    assert (other.id, other.already_bundled, other.scale) == ("realesr-animevideov3-x2-2", False, 2.0)
    assert other.notes[0] == (
        "realesr-animevideov3-x2 is the id of a bundled model with other weights; "
        "stored as realesr-animevideov3-x2-2"
    )
    assert (same.id, same.already_bundled, same.scale) == ("realesr-animevideov3-x4", True, 4.0)
    assert same.notes == ("same weights as the bundled model realesr-animevideov3-x4: nothing copied",)
    assert _stored(models) == ["realesr-animevideov3-x2-2.bin", "realesr-animevideov3-x2-2.param"]
    assert (models / "realesr-animevideov3-x2-2.bin").read_bytes() == bytes(data)

    # Importing the folder again adds nothing: the changed model is the one stored before.
    again = import_models(upscayl.parent)
    assert [(o.ok, o.error) for o in again] == [
        (False, "a model named realesr-animevideov3-x2-2 already exists"),
        (True, None),
    ]
    assert _stored(models) == ["realesr-animevideov3-x2-2.bin", "realesr-animevideov3-x2-2.param"]
