"""The default model's int8 variant, as "fast" runs it on OpenVINO CPU without AMX (issue 8): made
once from the calibration tiles pixup ships and cached, close to fp32, seamless when tiled, and
never loaded by the default CPU provider or for "exact"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from pixup.engine import hardware
from pixup.engine.providers import CPU, OPENVINO, ProviderChoice, plan_for, provider_plan
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models import slot as slot_module
from pixup.models.bundled import available_bundled
from pixup.models.catalogue import ResolvedModel, resolve_model
from pixup.models.int8 import TILE, calibration_samples, int8_model

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DEFAULT = "realesr-animevideov3-x4"


@pytest.fixture(scope="module", params=[DEFAULT, "realesr-animevideov3-x3"])
def model(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ResolvedModel]:
    """Each bundled model flagged int8 (bench_int8.py measured them within the rule)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXUP_HOME", str(tmp_path_factory.mktemp("int8-home")))
        yield resolve_model(request.param)


def test_only_the_measured_models_are_flagged() -> None:
    flagged = {m.id for m in available_bundled() if m.int8}
    assert flagged == {DEFAULT, "realesr-animevideov3-x3"}  # ×2 measured −0.11/−0.12 dB: fp32


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    with Image.open(SAMPLES / "astronaut-256.png") as opened:
        return np.asarray(opened.convert("RGB"))[40:136, 60:180].copy()  # 96×120, the face


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = a.astype(np.float64) - b.astype(np.float64)
    return float(10 * np.log10(255.0**2 / max(float((error**2).mean()), 1e-12)))


def _plan_without_amx(monkeypatch: pytest.MonkeyPatch) -> list[ProviderChoice]:
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    return provider_plan("fast", available=[OPENVINO, CPU], openvino_devices=["CPU"], cpu_bf16=False)


def test_calibration_tiles_are_photos_as_the_model_takes_them() -> None:
    samples = calibration_samples()
    assert len(samples) == 8
    for sample in samples:
        assert sample.shape == (1, 3, TILE, TILE) and sample.dtype == np.float32
        assert float(sample.min()) >= 0.0 and float(sample.max()) <= 1.0
        assert float(sample.std()) > 0.05  # detailed windows, not flat ones


def test_the_variant_is_made_once_and_cached(model: ResolvedModel) -> None:
    path = int8_model(model.onnx_path)
    assert path.parent == model.onnx_path.parent and path != model.onnx_path
    made = path.stat().st_mtime_ns
    assert int8_model(model.onnx_path) == path
    assert path.stat().st_mtime_ns == made
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("QuantizeLinear") == ops.count("Conv") == 18
    assert path.stat().st_size < model.onnx_path.stat().st_size / 3  # int8 weights, no fp32 copies


def test_fast_without_amx_runs_int8_close_to_fp32_and_seamless(
    model: ResolvedModel, photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = {"int8": lambda: (int8_model(model.onnx_path), None)}
    with (
        ModelSession.open(model.onnx_path, plan=_plan_without_amx(monkeypatch), variants=variants) as int8,
        ModelSession.open(model.onnx_path, precision="exact", providers=[OPENVINO]) as fp32,
    ):
        assert int8.loaded_path == int8_model(model.onnx_path)
        assert (int8.precision_label, int8.description) == ("int8", "OpenVINO CPU, int8")
        assert fp32.loaded_path == model.onnx_path
        want = upscale_array(photo, fp32)
        got = upscale_array(photo, int8)
        assert got.shape == want.shape
        # Measured 43 dB on photos (benchmarks/bench_int8.py); a broken scale or sign gives < 25.
        assert 36.0 < _psnr(got, want) < 60.0
        tiled = upscale_array(photo, int8, tile=48)
        assert int(np.abs(tiled.astype(np.int16) - got).max()) <= 1


def test_a_failing_int8_session_falls_back_to_the_fp32_file(
    model: ResolvedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = {"int8": lambda: (int8_model(model.onnx_path), None)}
    with ModelSession.open(model.onnx_path, plan=_plan_without_amx(monkeypatch), variants=variants) as int8:
        fallback = int8.fallback()
    assert fallback is not None
    with fallback:
        assert fallback.loaded_path == model.onnx_path
        assert (fallback.provider, fallback.choice.variant) == (OPENVINO, None)
        assert fallback.precision_label == "fp32"


def test_a_variant_that_cannot_be_made_is_skipped_with_a_notice(
    model: ResolvedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> tuple[Path, None]:
        raise ValueError("the model has no convolution with constant weights")

    plan = _plan_without_amx(monkeypatch)
    with ModelSession.open(model.onnx_path, plan=plan, variants={"int8": broken}) as session:
        assert session.loaded_path == model.onnx_path
        assert session.choice.variant is None
        assert any("no convolution" in line for line in session.notices)
    with ModelSession.open(model.onnx_path, plan=plan) as plain:  # no variant offered: silently fp32
        assert plain.loaded_path == model.onnx_path and plain.notices == []


def test_the_slot_uses_int8_for_fast_only_where_the_plan_asks(model: ResolvedModel) -> None:
    amx = "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
    with slot_module._open_session(model, "fast") as fast:
        assert fast.loaded_path == (model.onnx_path if amx else int8_model(model.onnx_path))
    with slot_module._open_session(model, "exact") as exact:
        assert exact.loaded_path == model.onnx_path and exact.precision_label == "fp32"


def test_the_default_cpu_provider_never_loads_the_variant(model: ResolvedModel) -> None:
    assert all(c.variant is None for c in plan_for([CPU], "fast"))
    variants = {"int8": lambda: (int8_model(model.onnx_path), None)}
    with ModelSession.open(model.onnx_path, providers=[CPU], variants=variants) as session:
        assert session.loaded_path == model.onnx_path  # ORT's CPU provider ran the int8 graph 0.66× fp32
