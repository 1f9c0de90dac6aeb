"""GraphSession: any ONNX model on the engine's provider plan, with its fallback and cancel."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from pixup.engine import session as session_module
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.providers import CPU, OPENVINO, ProviderChoice
from pixup.engine.session import GraphSession
from pixup.errors import EngineError, ModelError
from tests.engine import graphs
from tests.engine.cancelling import cancel_while_running


def _image(h: int = 12, w: int = 10, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, 3, h, w), dtype=np.float32)


def test_runs_a_model_that_is_no_upscaler_from_a_file_or_bytes(tmp_path: Path) -> None:
    model = graphs.classifier()
    x = _image()
    expected = ort.InferenceSession(graphs.to_bytes(model), providers=[CPU]).run(None, {"input": x})[0]
    path = graphs.save(model, tmp_path / "classifier.onnx")
    for source in (path, graphs.to_bytes(model)):
        with GraphSession.open(source, providers=[CPU]) as session:
            assert session.provider == CPU and session.notices == []
            assert session.input_names == ("input",) and session.output_names == ("output",)
            (out,) = session.run({"input": x})
            np.testing.assert_allclose(out, expected, rtol=1e-6)
            assert session.run({"input": x}, ["output"])[0].shape == (1, 10)


def test_takes_the_engines_plan_and_precision(tmp_path: Path) -> None:
    path = graphs.save(graphs.classifier(), tmp_path / "classifier.onnx")
    with GraphSession.open(path, "exact") as session:  # no providers: the machine's plan, best first
        assert session.provider == OPENVINO and session.choice.precision_label == "fp32"
        assert session.run({"input": _image()})[0].shape == (1, 10)


def test_unknown_provider_falls_back_with_a_notice(tmp_path: Path) -> None:
    path = graphs.save(graphs.classifier(), tmp_path / "classifier.onnx")
    with GraphSession.open(path, providers=["NoSuchProvider", CPU]) as session:
        assert session.provider == CPU
        assert session.notices == [
            "NoSuchProvider is not available in this ONNX Runtime build.",
            "Running on CPU (ONNX Runtime default), fp32 instead.",
        ]


def test_a_broken_model_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="not an ONNX model: the detector could not be parsed"):
        GraphSession.open(b"not a model", providers=[CPU], name="the detector")


def test_cancel_aborts_a_running_inference(tmp_path: Path) -> None:
    # ~2.5 s of convolutions on two cores; the caller must get Cancelled long before.
    x = np.random.default_rng(1).random((1, 3, 512, 512), dtype=np.float32)
    session = GraphSession.open(graphs.save(graphs.slow(), tmp_path / "slow.onnx"), providers=[CPU])
    result, seconds = cancel_while_running(lambda token: session.run({"input": x}, token=token))
    session.close()
    assert result == "cancelled" and seconds < 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):  # cancelled before: nothing runs
        GraphSession.open(graphs.save(graphs.classifier(), tmp_path / "c.onnx"), providers=[CPU]).run(
            {"input": _image()}, token=token
        )


def test_out_of_memory_moves_to_the_next_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = graphs.save(graphs.classifier(), tmp_path / "classifier.onnx")
    plan = [ProviderChoice(CPU, {}, "fp32", "first CPU"), ProviderChoice(CPU, {}, "fp32", "second CPU")]
    real = session_module._run_session
    calls: list[int] = []

    def first_runs_out(*args: object) -> list[np.ndarray]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Failed to allocate memory for requested buffer of size 123")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(session_module, "_run_session", first_runs_out)
    with GraphSession.open(path, plan=plan, name="the classifier") as session:
        assert session.choice.description == "first CPU"
        (out,) = session.run({"input": _image()})
        assert out.shape == (1, 10) and len(calls) == 2
        assert session.choice.description == "second CPU"
        assert session.notices == [
            "Out of memory on CPU; the classifier switched to the next device.",
            "Running on second CPU instead.",
        ]


def test_out_of_memory_on_the_last_provider_is_an_engine_error(tmp_path: Path) -> None:
    path = graphs.save(graphs.memory_hog(), tmp_path / "hog.onnx")
    with GraphSession.open(path, providers=[CPU]) as session:
        assert session.run({"input": np.ones((1, 3, 16, 4), np.float32)})[0].shape == (1, 3, 16, 4)
        with pytest.raises(EngineError, match=r"^Out of memory on CPU running hog\.onnx, and no other"):
            session.run({"input": np.ones((1, 3, 2048, 4), np.float32)})  # wants 512 GiB of scratch
        session.close()
        with pytest.raises(EngineError, match="closed"):
            session.run({"input": np.ones((1, 3, 16, 4), np.float32)})


def test_a_dropped_session_ends_its_worker_thread(tmp_path: Path) -> None:
    # Face models are job-scoped and never closed: their inference threads must not pile up.
    session = GraphSession.open(graphs.save(graphs.classifier(), tmp_path / "c.onnx"), providers=[CPU])
    session.run({"input": _image()})
    thread = session._worker._thread
    assert thread is not None and thread.is_alive()
    del session
    gc.collect()
    thread.join(timeout=10)
    assert not thread.is_alive()
