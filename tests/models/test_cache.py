"""The converted-model cache: converts once, reuses, rebuilds broken entries, safe under concurrency."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import pytest

from pixup.fileio import TEMP_SUFFIX
from pixup.models import cache
from pixup.models.bundled import bundled_model
from pixup.models.cache import cache_entry, cache_key, converted_model, is_cached
from pixup.models.importers.ncnn import convert_ncnn
from tests.models.reference import ort_session, random_image, run_onnx

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A private copy of the small AnimeVideo v3 2× model, with PIXUP_HOME in tmp_path."""
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    param, weights = bundled_model("realesr-animevideov3-x2").files()  # type: ignore[union-attr]
    folder = tmp_path / "model"
    folder.mkdir()
    return Path(shutil.copy(param, folder)), Path(shutil.copy(weights, folder))


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def _forget_verified() -> None:
    # What a fresh process knows: nothing verified yet.
    cache._verified.clear()
    cache._input_keys.clear()


def test_first_use_converts_into_the_user_cache(pair: tuple[Path, Path], tmp_path: Path) -> None:
    param, weights = pair
    assert not is_cached(param, weights)
    path = converted_model(param, weights)
    assert path.parent == tmp_path / "home" / "cache" / "onnx"
    assert path.name == f"{cache_key(param, weights)}.onnx" and len(path.stem) == 16
    assert path.read_bytes() == convert_ncnn(param, weights).SerializeToString()
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["size"] == path.stat().st_size
    assert is_cached(param, weights)
    assert not list(path.parent.glob(f".*{TEMP_SUFFIX}"))
    out = run_onnx(ort_session(onnx.load(str(path))), random_image(3, 8, 10))
    assert out.shape == (3, 16, 20)


def test_second_use_reuses_the_file(pair: tuple[Path, Path]) -> None:
    param, weights = pair
    path = converted_model(param, weights)
    before = _stamp(path)
    assert converted_model(param, weights) == path
    _forget_verified()  # and again with the sidecar check done from scratch
    assert converted_model(param, weights) == path
    assert _stamp(path) == before


def test_another_process_reuses_the_file(pair: tuple[Path, Path]) -> None:
    param, weights = pair
    path = converted_model(param, weights)
    before = _stamp(path)
    code = (
        "import sys; from pathlib import Path; from pixup.models.cache import converted_model as c; "
        "print(c(Path(sys.argv[1]), Path(sys.argv[2])))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "app"), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(param), str(weights)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(result.stdout.strip()) == path
    assert _stamp(path) == before


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-sidecar", "bad-sidecar"])
def test_a_broken_entry_is_rebuilt(pair: tuple[Path, Path], damage: str) -> None:
    param, weights = pair
    path = converted_model(param, weights)
    good = path.read_bytes()
    sidecar = path.with_suffix(".json")
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        data = bytearray(good)
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        os.utime(path, ns=(1, 1))  # a different mtime, same size
    elif damage == "no-sidecar":
        sidecar.unlink()
    else:
        sidecar.write_text("{not json")
    _forget_verified()
    assert not is_cached(param, weights)
    assert converted_model(param, weights) == path
    assert path.read_bytes() == good
    assert json.loads(sidecar.read_text())["sha256"] == hashlib.sha256(good).hexdigest()


def test_changed_weights_get_a_new_entry(pair: tuple[Path, Path]) -> None:
    param, weights = pair
    first = converted_model(param, weights)
    data = bytearray(weights.read_bytes())
    data[-4:] = np.float32(0.125).tobytes()  # last bias value of the last conv
    weights.write_bytes(bytes(data))
    second = converted_model(param, weights)
    assert second != first
    assert first.exists() and second.exists()


def test_the_key_includes_the_converter_version(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    param, weights = pair
    key = cache_key(param, weights)
    monkeypatch.setattr(cache, "CONVERTER_VERSION", "test-next")
    assert cache_key(param, weights) != key


def _convert_in_child(param: str, weights: str, home: str, start: threading.Barrier) -> tuple[str, int]:
    os.environ["PIXUP_HOME"] = home
    conversions = []
    handler = logging.Handler()
    handler.emit = lambda record: conversions.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("pixup.models.cache")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    start.wait(60)  # both children reach this line, then convert at the same moment
    path = converted_model(Path(param), Path(weights))
    return str(path), sum(message.startswith("converted") for message in conversions)


def test_two_processes_converting_at_once(pair: tuple[Path, Path], tmp_path: Path) -> None:
    param, weights = pair
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start = manager.Barrier(2)
        with ctx.Pool(2) as pool:
            jobs = [
                pool.apply_async(_convert_in_child, (str(param), str(weights), str(tmp_path / "home"), start))
                for _ in range(2)
            ]
            results = [job.get(timeout=120) for job in jobs]
    paths = {p for p, _ in results}
    assert len(paths) == 1
    assert sum(n for _, n in results) == 1  # one converted, the other waited and reused it
    path = Path(paths.pop())
    assert path.read_bytes() == convert_ncnn(param, weights).SerializeToString()
    assert is_cached(param, weights)


def test_threads_converting_at_once(pair: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pixup.models.cache")
    param, weights = pair
    results: list[Path] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append(converted_model(param, weights))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 and len(set(results)) == 1
    assert sum(r.getMessage().startswith("converted") for r in caplog.records) == 1
    entry = cache_entry(param, weights)
    assert results[0] == entry.onnx_path
    assert (
        json.loads(entry.sidecar.read_text())["sha256"]
        == hashlib.sha256(entry.onnx_path.read_bytes()).hexdigest()
    )
