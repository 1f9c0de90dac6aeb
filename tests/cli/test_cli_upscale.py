"""The headless CLI end to end, with the real bundled default model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from tests.cli.conftest import RunCli, cli_env, photo


def _only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_upscale_default_model_writes_4x_png(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "in.png", (24, 20))
    out = tmp_path / "out"
    proc = run_cli("upscale", src, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["status"] == "done"
    assert (record["out_width"], record["out_height"]) == (96, 80)
    result = Image.open(record["output"])
    assert result.size == (96, 80)
    assert Path(record["output"]) == out / "in_pixup_4x.png"
    # The model really upscaled the image: downscaled back, it resembles the source.
    back = np.asarray(result.convert("RGB").resize((24, 20), Image.Resampling.BOX), dtype=np.float32)
    src_px = np.asarray(Image.open(src).convert("RGB"), dtype=np.float32)
    assert np.abs(back - src_px).mean() < 12
    assert _only_files(out) == ["in_pixup_4x.png"]


def test_scale_2_runs_model_then_lanczos(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "a.png", (30, 18))
    proc = run_cli("upscale", src, "-o", tmp_path / "o", "--scale", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (record["out_width"], record["out_height"]) == (60, 36)
    assert Path(record["output"]).name == "a_pixup_2x.png"


def test_existing_output_is_not_overwritten(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "b.png")
    out = tmp_path / "o"
    out.mkdir()
    existing = out / "b_pixup_4x.png"
    existing.write_bytes(b"precious")
    proc = run_cli("upscale", src, "-o", out)
    assert proc.returncode == 1
    # The library says what is wrong; the CLI adds its flag.
    assert proc.stderr.strip().endswith(f"{existing} already exists; use --overwrite to replace it")
    assert existing.read_bytes() == b"precious"
    proc = run_cli("upscale", src, "-o", out, "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert Image.open(existing).size == (96, 80)


def _classifier(path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    w = helper.make_tensor("w", TensorProto.FLOAT, [3072, 10], np.zeros(30720, np.float32).tolist())
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [-1, 3072])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["y"])],
        "classifier", [x], [y], [w, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what ONNX Runtime 1.2x reads
    onnx.save(model, path)
    return path


def _bomb(path: Path) -> Path:
    Image.new("1", (20000, 20000)).save(path)  # 400 MP declared, a few hundred KB on disk
    return path


def _truncated(path: Path, tmp: Path) -> Path:
    full = photo(tmp / "full.png", (64, 64))
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_INPUTS = {
    "missing": (lambda p, t: p, "not found"),
    "zero_byte": (lambda p, t: (p.write_bytes(b""), p)[1], "empty"),
    "text_as_png": (lambda p, t: (p.write_text("hello, not an image\n"), p)[1], "not an image"),
    "truncated": (_truncated, "truncated"),
    "bomb": (lambda p, t: _bomb(p), "--allow-large"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_line_error_no_output(run_cli: RunCli, tmp_path: Path, case: str) -> None:
    make, expected = BAD_INPUTS[case]
    src = make(tmp_path / "bad.png", tmp_path)
    out = tmp_path / "out"
    proc = run_cli("upscale", src, "-o", out)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "bad.png" in lines[0]
    assert expected.lower() in lines[0].lower()
    assert not out.exists() or _only_files(out) == []


def test_batch_keeps_going_after_a_bad_file(run_cli: RunCli, tmp_path: Path) -> None:
    good = photo(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    proc = run_cli("upscale", bad, good, "-o", out, "--json")
    assert proc.returncode == 1
    statuses = [json.loads(line)["status"] for line in proc.stdout.splitlines()]
    assert statuses == ["failed", "done"]
    assert _only_files(out) == ["good_pixup_4x.png"]


@pytest.mark.parametrize("kind", ["not_a_model", "classifier"])
def test_bad_model_one_line_error(run_cli: RunCli, tmp_path: Path, kind: str) -> None:
    model = tmp_path / "model.onnx"
    if kind == "not_a_model":
        model.write_text("definitely not protobuf")
    else:
        _classifier(model)
    src = photo(tmp_path / "in.png")
    out = tmp_path / "out"
    proc = run_cli("upscale", src, "-o", out, "--model", model)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "model" in lines[0].lower()
    assert not out.exists() or _only_files(out) == []


@pytest.mark.skipif(os.geteuid() == 0 and sys.platform != "linux", reason="root ignores permissions")
def test_unwritable_output_folder(run_cli: RunCli, tmp_path: Path) -> None:
    src = photo(tmp_path / "in.png")
    # A path under a regular file can never be created, even by root.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("upscale", src, "-o", blocker / "sub")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert blocker.read_text() == "x"


def test_ctrl_c_cancels_fast_and_leaves_nothing(run_cli: RunCli, pixup_home: Path, tmp_path: Path) -> None:
    # Warm the converted-model cache so the interrupt lands during inference.
    assert run_cli("upscale", photo(tmp_path / "warm.png"), "-o", tmp_path / "warm").returncode == 0
    # fp32 ("exact"): int8, "fast" on CPUs without AMX, finishes a 1024² job in about 3 s.
    src = photo(tmp_path / "big.png", (1536, 1536))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixup", "upscale", str(src), "-o", str(out), "--tile", "128",
         "--precision", "exact"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(pixup_home),
    )
    try:
        time.sleep(4.0)  # load + a few tiles of a job that takes well over 10 s here
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "cancelled" in stderr
    assert "Traceback" not in stderr
    assert _only_files(out) == []
    # Generous bound (the engine's own target is 100 ms, measured in benchmarks/); this only
    # catches a cancel that waits for the whole image.
    assert elapsed < 3.0


def test_progress_bar_follows_the_file_being_computed(capsys: pytest.CaptureFixture[str]) -> None:
    """With writes overlapping the next inference, file 1 can finish while file 2 upscales: its
    report must not close file 2's bar (which would flicker a new bar on every event)."""
    from dataclasses import replace

    from pixup.cli import _ProgressBar
    from pixup.jobs.state import FileView

    bar = _ProgressBar(enabled=True)
    second = FileView(input="/in/b.png", name="b.png", status="running", stage="upscale",
                       tiles_done=1, tiles_total=4)
    bar.update(second, 1, 2)
    shown = bar._bar
    assert shown is not None and shown.n == 1
    bar.file_done("/in/a.png")  # the previous file's write finished
    assert bar._bar is shown
    bar.update(replace(second, tiles_done=3), 1, 2)
    assert bar._bar is shown and shown.n == 3
    bar.file_done("/in/b.png")
    assert bar._bar is None
    bar.close()


def _x2(tmp_path: Path) -> Path:
    from tests.engine import graphs

    return graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")


def test_json_failures_carry_their_codes(run_cli: RunCli, tmp_path: Path) -> None:
    """--json: each failed file's object has its error_code and a line without its path."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "text.png").write_text("hello, not an image\n")
    _truncated(src / "cut.png", tmp_path)
    photo(src / "good.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "good_pixup_2x.png").write_bytes(b"precious")
    inputs = [src / "missing.png", src / "text.png", src / "cut.png", src / "good.png"]
    proc = run_cli("upscale", *inputs, "-o", out, "--model", _x2(tmp_path), "--json")
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["status"], r["error_code"]) for r in records] == [
        ("missing.png", "failed", "not_found"),
        ("text.png", "failed", "not_an_image"),
        ("cut.png", "failed", "truncated"),
        ("good.png", "failed", "output_exists"),
    ]
    assert all(r["input"] not in r["error"] for r in records)
    assert records[3]["output"] == str(out / "good_pixup_2x.png")
    assert (out / "good_pixup_2x.png").read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("case", "code"),
    [("ok", 0), ("bad_file", 1), ("unknown_model", 1), ("bad_template", 1), ("bad_value", 2),
     ("no_command", 2)],
)
def test_exit_codes(run_cli: RunCli, tmp_path: Path, case: str, code: int) -> None:
    """0 only when every input succeeded; 1 for a failure (a file, or a request refused before it
    started); 2 for a usage error. (130, cancelled: test_ctrl_c_cancels_fast_and_leaves_nothing.)"""
    good, bad = photo(tmp_path / "good.png"), tmp_path / "bad.png"
    bad.write_bytes(b"")
    model = str(_x2(tmp_path))
    out = tmp_path / "out"
    args: dict[str, list[str | Path]] = {
        "ok": ["upscale", good, "-o", out, "--model", model],
        "bad_file": ["upscale", good, bad, "-o", out, "--model", model],
        "unknown_model": ["upscale", good, "-o", out, "--model", "no-such-model"],
        "bad_template": ["upscale", good, "-o", out, "--model", model, "--name", "{nope}"],
        "bad_value": ["upscale", good, "-o", out, "--quality", "500"],
        "no_command": ["-v", "--verbose"],  # options but no command: the usage, not the window
    }
    proc = run_cli(*args[case])
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
