"""A model that crashes ONNX Runtime natively (SIGFPE at small sizes) cannot take pixup down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pixup.errors import ModelError
from pixup.models.importing import import_model
from pixup.models.probe import guarded_spec
from tests.engine import graphs

REPO = Path(__file__).resolve().parents[2]


def crashing_model(path: Path) -> Path:
    """Identity ×1, plus 0 · (100 ÷ max(H − 8, 0)) in int64: an integer division by zero, which
    traps (SIGFPE) on x86, whenever the input is 8 px high or less."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])
    inits = [
        helper.make_tensor("idx", TensorProto.INT64, [], [2]),
        helper.make_tensor("eight", TensorProto.INT64, [], [8]),
        helper.make_tensor("zero", TensorProto.INT64, [], [0]),
        helper.make_tensor("hundred", TensorProto.INT64, [], [100]),
        helper.make_tensor("fzero", TensorProto.FLOAT, [], [0.0]),
    ]
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Gather", ["shape", "idx"], ["h"], axis=0),
        helper.make_node("Sub", ["h", "eight"], ["hm8"]),
        helper.make_node("Max", ["hm8", "zero"], ["divisor"]),
        helper.make_node("Div", ["hundred", "divisor"], ["q"]),
        helper.make_node("Cast", ["q"], ["qf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["qf", "fzero"], ["nothing"]),
        helper.make_node("Add", ["input", "nothing"], ["output"]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "crasher", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)
    return path


CRASH_SCRIPT = """
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
s.run(None, {"input": np.zeros((1, 3, int(sys.argv[2]), 16), np.float32)})
print("ran")
"""


def test_the_model_really_crashes_onnxruntime(tmp_path: Path) -> None:
    model = crashing_model(tmp_path / "crash.onnx")
    def run(height: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(model), height],
                              capture_output=True, text=True)

    ok = run("16")
    assert ok.returncode == 0 and "ran" in ok.stdout
    bad = run("4")
    assert bad.returncode == -signal.SIGFPE


def test_guarded_spec_reports_the_crash_as_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    model = crashing_model(tmp_path / "crash.onnx")
    with pytest.raises(ModelError) as err:
        guarded_spec(model)
    assert "crash.onnx" in str(err.value) and "SIGFPE" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelError):
        import_model(model)
    assert not (tmp_path / "home" / "models" / "crash.onnx").exists()


def test_upscale_with_a_crashing_model_fails_cleanly(tmp_path: Path) -> None:
    from PIL import Image

    model = crashing_model(tmp_path / "crash.onnx")
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(src)
    env = dict(os.environ, PIXUP_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO / "app"))
    proc = subprocess.run([sys.executable, "-m", "pixup", "upscale", str(src), "--model", str(model),
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "crashed ONNX Runtime" in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
    info = subprocess.run([sys.executable, "-m", "pixup", "models", "info", str(model)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert info.returncode == 1 and "crashed ONNX Runtime" in info.stderr.strip(), info.stderr


def test_guarded_spec_is_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    model = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "ok.onnx")
    spec = guarded_spec(model)
    assert spec.scale == 2.0 and spec.in_channels == 3
    cached = list((tmp_path / "home" / "cache" / "specs").glob("*.json"))
    assert len(cached) == 1
    # With no way to start a child, the cached answer still comes back.
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert guarded_spec(model) == spec
