"""inspect_session on real ORT sessions of the tiny graphs: exact specs, and clear refusals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from pixup.engine.inspect import ProbeError, inspect_session
from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.errors import ModelError
from tests.engine import graphs

PROVIDERS = ["CPUExecutionProvider", "OpenVINOExecutionProvider"]

BASE = ModelSpec(
    input_name="input",
    output_name="output",
    dtype="float32",
    layout="NCHW",
    in_channels=3,
    out_channels=3,
    static_batch=None,
    fixed_height=None,
    fixed_width=None,
    multiple=1,
    min_size=1,
    border=0,
    scale=2.0,
)

CASES: list[tuple[str, Callable[[], onnx.ModelProto], ModelSpec]] = [
    ("x2", graphs.pixel_shuffle_x2, BASE),
    ("x3", graphs.pixel_shuffle_x3, replace(BASE, scale=3.0)),
    ("x4", graphs.pixel_shuffle_x4, replace(BASE, scale=4.0)),
    ("x1", graphs.one_x, replace(BASE, scale=1.0)),
    ("x1.5", graphs.fractional, replace(BASE, scale=1.5)),
    # 1.25 looks like 1× at 1 and 2 px (floor(1.25) = 1, floor(2.5) = 2): the larger probe must catch it.
    ("x1.25", lambda: graphs.fractional(1.25), replace(BASE, scale=1.25)),
    ("x2.5", lambda: graphs.fractional(2.5), replace(BASE, scale=2.5)),
    # floor(0.5) = 0: a 1-px input gives an empty output, so the smallest side is 2.
    # floor(n / 2) is exactly half only at even sizes: multiple 2.
    ("x0.5", lambda: graphs.fractional(0.5), replace(BASE, scale=0.5, min_size=2, multiple=2)),
    ("fp16", graphs.fp16_io, replace(BASE, dtype="float16")),
    ("batch1", lambda: graphs.static_batch(1), replace(BASE, static_batch=1)),
    ("batch4", lambda: graphs.static_batch(4), replace(BASE, static_batch=4)),
    (
        "fixed64",
        graphs.fixed_shape_64,
        replace(BASE, static_batch=1, fixed_height=64, fixed_width=64, min_size=64),
    ),
    ("nhwc", graphs.nhwc, replace(BASE, layout="NHWC")),
    ("grey", graphs.one_channel, replace(BASE, in_channels=1, out_channels=1)),
    ("rgba", graphs.four_channel, replace(BASE, in_channels=4, out_channels=4)),
    ("mult8", graphs.multiple_of_8, replace(BASE, multiple=8, min_size=8)),
    ("mult16", lambda: graphs.multiple_of(16), replace(BASE, multiple=16, min_size=16)),
    # out = 2·(in − 4): a 4-px input gives nothing, 5 px is the smallest.
    ("unpadded", graphs.unpadded, replace(BASE, border=2, min_size=5)),
    ("receptive3", lambda: graphs.receptive_field(3), BASE),
    ("receptive3x4", lambda: graphs.receptive_field(3, scale=4), replace(BASE, scale=4.0)),
]


def _session(model: onnx.ModelProto, provider: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=[provider])


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("name", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_inspect_exact_spec(
    name: str, build: Callable[[], onnx.ModelProto], expected: ModelSpec, provider: str
) -> None:
    spec = inspect_session(_session(build(), provider))
    assert replace(spec, context_radius=None) == expected  # the radius: test_inspect_context.py


def test_int_scale_property() -> None:
    assert replace(BASE, scale=4.0).int_scale == 4
    assert replace(BASE, scale=1.5).int_scale is None


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (graphs.classifier, "not an image-to-image model: output has shape [N, 10]"),
        (graphs.bad_rank, "not an image-to-image model: input has shape [3, H, W]"),
        (graphs.int_input, "unsupported input type tensor(uint8): pixup feeds float32 or float16 images"),
    ],
    ids=["classifier", "bad_rank", "uint8"],
)
def test_not_an_upscaler(build: Callable[[], onnx.ModelProto], message: str) -> None:
    with pytest.raises(ModelError) as info:
        inspect_session(_session(build(), "CPUExecutionProvider"))
    assert str(info.value) == message
    assert not isinstance(info.value, ProbeError)  # metadata refusals: no provider will do better


def test_model_that_runs_at_no_probe_size_is_a_probe_error() -> None:
    # Needs sides that are multiples of 256: every probe (1-128 px) fails.
    with pytest.raises(ProbeError, match=r"did not run at any size from 1 to 128 px: .*SpaceToDepth"):
        inspect_session(_session(graphs.multiple_of(256), "CPUExecutionProvider"))


def test_text_file_renamed_onnx(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\n", encoding="utf-8")
    with pytest.raises(ModelError) as info:
        ModelSession.open(path)
    assert str(info.value) == "not an ONNX model: notes.onnx could not be parsed"


def test_classifier_refused_by_session(tmp_path: Path) -> None:
    path = graphs.save(graphs.classifier(), tmp_path / "classifier.onnx")
    with pytest.raises(ModelError, match=r"^not an image-to-image model: output has shape \[N, 10\]$"):
        ModelSession.open(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        ModelSession.open(tmp_path / "nope.onnx")
