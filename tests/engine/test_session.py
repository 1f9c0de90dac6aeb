"""ModelSession on real ORT sessions: adaptation, batch override, cancel, fallback, OOM, precision."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from pixup.engine import openvino_native
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.openvino_native import CompiledOpenVino, InferCancelled
from pixup.engine.providers import CPU, OPENVINO, ProviderChoice, provider_plan
from pixup.engine.runner import InferenceRunner, OutOfMemory
from pixup.engine.session import ModelSession, is_out_of_memory
from pixup.errors import EngineError
from tests.engine import graphs
from tests.engine.cancelling import cancel_while_running

PROVIDERS = [CPU, OPENVINO]


def _open(tmp_path: Path, model: onnx.ModelProto, name: str, **kwargs: object) -> ModelSession:
    path = graphs.save(model, tmp_path / f"{name}.onnx")
    return ModelSession.open(path, **kwargs)  # type: ignore[arg-type]


def _image(n: int = 1, c: int = 3, h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def test_is_an_inference_runner(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[CPU]) as session:
        runner: InferenceRunner = session  # the protocol the pipeline talks to
        assert runner.provider == CPU
        assert runner.spec.scale == 2.0


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_matches_numpy_reference(tmp_path: Path, provider: str, scale: int) -> None:
    x = _image(n=2)
    with _open(tmp_path, graphs.pixel_shuffle(scale), f"x{scale}", providers=[provider]) as session:
        y = session.run(x)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    assert y.shape == (2, 3, 12 * scale, 10 * scale)
    np.testing.assert_allclose(y, graphs.pixel_shuffle_reference(x, scale), atol=2e-5)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_nhwc_model_takes_and_returns_nchw(tmp_path: Path, provider: str) -> None:
    x = _image()
    with _open(tmp_path, graphs.nhwc(), "nhwc", providers=[provider]) as session:
        assert session.spec.layout == "NHWC"
        y = session.run(x)
    assert y.shape == (1, 3, 24, 20)
    np.testing.assert_allclose(y, graphs.pixel_shuffle_reference(x, 2), atol=2e-5)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_fp16_model_is_fed_fp16_and_returns_float32(tmp_path: Path, provider: str) -> None:
    x = _image()
    with _open(tmp_path, graphs.fp16_io(), "fp16", providers=[provider]) as session:
        assert session.spec.dtype == "float16"
        y = session.run(x)
    assert y.dtype == np.float32
    # fp16 rounding of input and output: relative error ~1e-3 at values around 1.
    np.testing.assert_allclose(y, graphs.pixel_shuffle_reference(x, 2), atol=4e-3)


def test_grey_model(tmp_path: Path) -> None:
    x = _image(c=1)
    with _open(tmp_path, graphs.one_channel(), "grey", providers=[CPU]) as session:
        y = session.run(x)
    np.testing.assert_allclose(y, graphs.pixel_shuffle_reference(x, 2, channels=1), atol=2e-5)


def test_wrong_channel_count_is_a_caller_bug(tmp_path: Path) -> None:
    with (
        _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[CPU]) as session,
        pytest.raises(ValueError, match=r"expected an N×3×H×W batch"),
    ):
        session.run(_image(c=4))


def test_static_batch_override_message(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.static_batch(1), "b1", providers=[CPU]) as session:
        assert (
            session.batch_override_message(4) == "Model requires batch size 1. Overriding your setting of 4."
        )
        assert session.batch_override_message(1) is None
        with pytest.raises(ValueError, match="needs batches of exactly 1, got 2"):
            session.run(_image(n=2))
    with _open(tmp_path, graphs.static_batch(4), "b4", providers=[CPU]) as session:
        assert (
            session.batch_override_message(2) == "Model requires batch size 4. Overriding your setting of 2."
        )
        y = session.run(_image(n=4))
        assert y.shape == (4, 3, 24, 20)
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "dyn", providers=[CPU]) as session:
        assert session.batch_override_message(6) is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel_aborts_a_running_inference(tmp_path: Path, provider: str) -> None:
    # 8 convs of 64 channels on 1×3×512×512: ~2.5 s on two cores with either provider.
    # CPU EP honours RunOptions.terminate between nodes; OpenVINO runs the graph as one node and
    # ignores it, so the session abandons that inference to its worker thread. Either way the caller
    # must get Cancelled promptly.
    x = np.random.default_rng(1).random((1, 3, 512, 512), dtype=np.float32)
    session = _open(tmp_path, graphs.slow(), "slow", providers=[provider])
    result, seconds = cancel_while_running(lambda token: session.run(x, token))
    session.close()
    assert result == "cancelled"
    # Generous bound (the SPEC target is 100 ms; measured: < 10 ms) so a loaded CI machine cannot
    # flake it, yet well below the ~2.5 s the inference would have taken.
    assert seconds < 1.0


def test_openvino_cancel_stops_the_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On OpenVINO CPU a cancel stops the inference itself (its own infer request, cancelled between
    graph nodes), not only the caller's wait: the abandoned run ends in InferCancelled instead of
    computing to the end on the worker thread, and the session runs the next batch."""
    endings: list[str] = []
    real_infer = CompiledOpenVino.infer

    def infer(self: CompiledOpenVino, feed: np.ndarray, stop: object = None) -> np.ndarray:
        try:
            result = real_infer(self, feed, stop)  # type: ignore[arg-type]
        except InferCancelled:
            endings.append("cancelled")
            raise
        endings.append("finished")
        return result

    monkeypatch.setattr(CompiledOpenVino, "infer", infer)
    x = np.random.default_rng(1).random((1, 3, 1024, 1024), dtype=np.float32)  # cut short at 0.3 s
    small = _image(h=16, w=16)
    with _open(tmp_path, graphs.slow(), "slow", providers=[OPENVINO]) as session:
        assert session.honours_terminate
        before = session.run(small)
        token = CancelToken()
        timer = threading.Timer(0.3, token.cancel)
        timer.start()
        with pytest.raises(Cancelled):
            session.run(x, token)
        timer.join()
        y = session.run(small)  # queued behind the abandoned run on the same worker
        np.testing.assert_array_equal(y, before)  # not the cancelled run's buffers
    assert endings == ["finished", "cancelled", "finished"]


def test_native_openvino_matches_the_provider_and_honours_stop(tmp_path: Path) -> None:
    """OpenVINO's own API on the bundled runtime computes what ONNX Runtime's OpenVINO provider
    computes; a stop raised before the start runs nothing, one seen while it runs cancels it, and a
    run at the shape of the last finished one after such a cancel still gets its own result."""
    lib = openvino_native.library()
    assert lib is not None  # the onnxruntime-openvino wheel ships libopenvino_c
    path = graphs.save(graphs.slow(), tmp_path / "slow.onnx")
    x = _image(h=40, w=24, seed=7)
    big = np.random.default_rng(2).random((1, 3, 1024, 1024), dtype=np.float32)  # seconds of work
    # Both sides pinned to f32: left alone, OpenVINO's own default is bf16 on AVX512_BF16 CPUs while
    # the provider's is f32.
    f32 = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "f32"}})
    properties = openvino_native.cpu_properties({"num_of_threads": "2", "load_config": f32}, None)
    native = CompiledOpenVino(lib, path, properties, "input", "output", lambda shape: (1, 3, 8, 8))
    polls: list[int] = []

    def stop_at_first_poll() -> bool:
        polls.append(1)
        return len(polls) > 1  # the check before the start says go, the first poll while it runs stops

    try:
        got = native.infer(x)
        with pytest.raises(InferCancelled):
            native.infer(big, stop=lambda: True)
        with pytest.raises(InferCancelled):
            native.infer(big, stop=stop_at_first_poll)
        assert len(polls) == 2
        again = native.infer(x)  # same shape as the last finished run, after a cancelled one
    finally:
        native.close()
    provider = ort.InferenceSession(
        str(path), providers=[(OPENVINO, {"device_type": "CPU", "load_config": f32})]
    )
    want = provider.run(None, {"input": x})[0]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again, want)


def test_cancelled_token_runs_nothing(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    with (
        _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[CPU]) as session,
        pytest.raises(Cancelled),
    ):
        session.run(_image(), token)


def test_session_usable_after_a_cancel(tmp_path: Path) -> None:
    x = _image()
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[CPU]) as session:
        token = CancelToken()
        token.cancel()
        with pytest.raises(Cancelled):
            session.run(x, token)
        np.testing.assert_allclose(
            session.run(x, CancelToken()), graphs.pixel_shuffle_reference(x, 2), atol=2e-5
        )


def test_openvino_is_the_default_here(tmp_path: Path) -> None:
    # This machine's runtime offers OpenVINO and the default CPU provider: OpenVINO CPU must win.
    x = _image()
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2") as session:
        assert session.provider == OPENVINO
        assert session.choice.device == "CPU"
        assert session.notices == []
        np.testing.assert_allclose(session.run(x), graphs.pixel_shuffle_reference(x, 2), atol=2e-5)


def test_openvino_keeps_compiled_models_in_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PIXUP_HOME", str(home))
    x = _image()
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2") as session:
        assert session.choice.options["cache_dir"] == str(home / "cache" / "openvino")
        session.run(x)
    blobs = list((home / "cache" / "openvino").glob("*.blob"))
    assert blobs  # compiled once; the next process loads it
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2") as again:
        np.testing.assert_allclose(again.run(x), graphs.pixel_shuffle_reference(x, 2), atol=2e-5)
    assert sorted(home.joinpath("cache", "openvino").glob("*.blob")) == sorted(blobs)


def test_unwritable_cache_folder_only_costs_the_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PIXUP_HOME", str(blocker))
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2") as session:
        assert session.provider == OPENVINO and "cache_dir" not in session.choice.options
        assert session.notices == []


def test_unknown_provider_falls_back_with_a_notice(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=["NoSuchProvider", CPU]) as session:
        assert session.provider == CPU
        assert session.notices == [
            "NoSuchProvider is not available in this ONNX Runtime build.",
            "Running on CPU (ONNX Runtime default), fp32 instead.",
        ]


def test_broken_provider_options_fall_back(tmp_path: Path) -> None:
    path = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")
    plan = [
        ProviderChoice(
            OPENVINO, {"device_type": "CPU", "no_such_option": "1"}, "fp32", "OpenVINO CPU (broken)"
        ),
        ProviderChoice(CPU, {}, "fp32", "CPU"),
    ]
    with ModelSession.open(path, plan=plan) as session:
        assert session.provider == CPU
        assert len(session.notices) == 2
        assert session.notices[0].startswith("OpenVINO CPU could not run this model: ")
        assert "no_such_option" in session.notices[0]


def test_provider_that_fails_the_probes_falls_back(tmp_path: Path) -> None:
    # OpenVINO cannot run a model whose sides must be multiples of 256 at any probe size, and neither
    # can the CPU provider: the last provider's ProbeError surfaces as the ModelError.
    path = graphs.save(graphs.multiple_of(256), tmp_path / "m256.onnx")
    with pytest.raises(Exception, match="did not run at any size") as info:
        ModelSession.open(path, providers=[OPENVINO, CPU])
    assert type(info.value).__name__ == "ProbeError"


def test_fallback_walks_the_plan(tmp_path: Path) -> None:
    x = _image()
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[OPENVINO, CPU]) as first:
        assert first.provider == OPENVINO
        second = first.fallback()
        assert second is not None
        with second:
            assert second.provider == CPU
            assert second.notices == [
                "OpenVINO CPU failed; switching to the next device.",
                "Running on CPU (ONNX Runtime default), fp32 instead.",
            ]
            np.testing.assert_allclose(second.run(x), graphs.pixel_shuffle_reference(x, 2), atol=2e-5)
            assert second.fallback() is None


def test_out_of_memory_is_signalled(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.memory_hog(), "hog", providers=[CPU]) as session:
        assert session.run(np.ones((1, 3, 16, 4), np.float32)).shape == (1, 3, 16, 4)
        with pytest.raises(OutOfMemory, match="Failed to allocate memory"):
            session.run(np.ones((1, 3, 2048, 4), np.float32))  # wants 512 GiB of scratch


def test_other_failures_are_one_line_engine_errors(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.multiple_of_8(), "m8", providers=[CPU]) as session:
        with pytest.raises(EngineError) as info:
            session.run(_image(h=12, w=12))
        assert str(info.value) == (
            "inference failed on CPU: SpaceToDepth requires input height to be a multiple of block_size"
        )
        session.close()
        with pytest.raises(EngineError, match="closed"):
            session.run(_image(h=8, w=8))


def test_oom_markers() -> None:
    assert is_out_of_memory(RuntimeError("CUDA error cudaErrorMemoryAllocation:out of memory"))
    assert is_out_of_memory(RuntimeError("std::bad_alloc"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("SpaceToDepth requires input height to be a multiple"))


def test_fast_and_exact_agree_within_bf16_tolerance(tmp_path: Path) -> None:
    # Force the bf16 plan even on CPUs without native bf16 (OpenVINO then emulates it or, on CPUs
    # without AVX-512, ignores the hint): the outputs must stay within bf16 rounding of fp32.
    path = graphs.save(graphs.receptive_field(4), tmp_path / "rf4.onnx")
    x = _image(h=32, w=32, seed=3)
    fast_plan = provider_plan("fast", available=[OPENVINO], openvino_devices=["CPU"], cpu_bf16=True)
    exact_plan = provider_plan("exact", available=[OPENVINO], openvino_devices=["CPU"], cpu_bf16=True)
    with ModelSession.open(path, plan=fast_plan) as fast, ModelSession.open(path, plan=exact_plan) as exact:
        assert (fast.provider, fast.precision_label) == (OPENVINO, "bf16")
        assert (exact.provider, exact.precision_label) == (OPENVINO, "fp32")
        y_fast, y_exact = fast.run(x), exact.run(x)
    with _open(tmp_path, graphs.receptive_field(4), "rf4_cpu", providers=[CPU]) as reference:
        y_ref = reference.run(x)
    np.testing.assert_allclose(y_exact, y_ref, atol=1e-5)
    assert np.abs(y_fast - y_exact).max() < 0.03
    assert np.abs(y_fast - y_exact).mean() < 0.005


def test_fp16_model_label(tmp_path: Path) -> None:
    with _open(tmp_path, graphs.fp16_io(), "fp16", providers=[CPU]) as session:
        assert session.precision_label == "fp16"
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[CPU]) as session:
        assert session.precision_label == "fp32"


@pytest.mark.parametrize(("provider", "honours"), [(CPU, True), (OPENVINO, True)])
def test_terminate_support_and_measured_cost(tmp_path: Path, provider: str, honours: bool) -> None:
    with _open(tmp_path, graphs.pixel_shuffle_x2(), "x2", providers=[provider]) as session:
        assert session.honours_terminate is honours
        assert session.seconds_per_pixel is None
        session.run(_image(n=2, h=32, w=32))
        cost = session.seconds_per_pixel
        assert cost is not None and 0 < cost < 1e-3


def test_native_openvino_errors_keep_the_memory_line() -> None:
    """OpenVINO's messages are several lines; an allocation failure must still read as out of
    memory (the engine retries smaller tiles on it) and the user sees one line."""

    class FakeLibrary:
        @staticmethod
        def ov_get_last_err_msg() -> bytes:
            return (b"Exception from src/inference/src/cpp/infer_request.cpp:224:\n"
                    b"std::bad_alloc: could not allocate 1073741824 bytes\n"
                    b"\n[ CPU ] node Conv_12 failed\n")

    with pytest.raises(openvino_native.OpenVinoError) as caught:
        openvino_native._check(FakeLibrary(), -1, "inference")  # type: ignore[arg-type]
    assert str(caught.value) == "inference: std::bad_alloc: could not allocate 1073741824 bytes"
    assert is_out_of_memory(caught.value)
    with pytest.raises(InferCancelled):
        openvino_native._check(FakeLibrary(), -13, "inference")  # type: ignore[arg-type]
