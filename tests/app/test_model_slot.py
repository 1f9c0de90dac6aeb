"""ModelSlot: one session in memory, switching drops the old one first, debounced preload."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from pixup.engine.providers import Precision
from pixup.engine.session import ModelSession
from pixup.models import slot as slot_module
from pixup.models.catalogue import ResolvedModel
from pixup.models.slot import PRELOAD_DEBOUNCE_S, ModelSlot
from tests.engine import graphs
from tests.sessions import RecordingOpener


@pytest.fixture()
def models(tmp_path: Path) -> dict[str, str]:
    return {
        name: str(graphs.save(builder(), tmp_path / f"{name}.onnx"))
        for name, builder in {"a": graphs.pixel_shuffle_x2, "b": graphs.pixel_shuffle_x3,
                              "c": graphs.pixel_shuffle_x4}.items()
    }


def test_same_model_loads_once(models: dict[str, str]) -> None:
    opener = RecordingOpener()
    slot = ModelSlot(opener)
    _, first = slot.get(models["a"])
    _, again = slot.get(models["a"])
    assert first is again
    assert slot.loads == 1


def test_switching_closes_old_before_loading_new(models: dict[str, str]) -> None:
    opener = RecordingOpener()
    slot = ModelSlot(opener)
    _, session_a = slot.get(models["a"])
    ref = weakref.ref(session_a)
    del session_a
    model, session_b = slot.get(models["b"])
    assert opener.events == ["open a", "close a", "open b"]
    assert session_b.spec.scale == 3.0 and model.id == "b"
    gc.collect()
    assert ref() is None  # nothing keeps the old session alive


def test_rapid_preloads_load_only_the_last(models: dict[str, str]) -> None:
    opener = RecordingOpener()
    slot = ModelSlot(opener)
    for name in ("a", "b", "c", "a", "c"):
        assert slot.preload(models[name])
        time.sleep(PRELOAD_DEBOUNCE_S / 10)
    _, session = slot.get(models["c"])  # waits for the preload instead of loading again
    assert opener.events == ["open c"]
    assert slot.loads == 1
    assert session.spec.scale == 4.0


def test_upscale_during_preload_waits_and_never_loads_twice(models: dict[str, str]) -> None:
    opener = RecordingOpener(delay=0.5)
    slot = ModelSlot(opener)
    slot.preload(models["b"])
    time.sleep(PRELOAD_DEBOUNCE_S + 0.1)  # the preload is now loading
    _, session = slot.get(models["b"])
    assert slot.loads == 1 and opener.events == ["open b"]
    assert session.spec.scale == 3.0


def test_no_preload_with_little_ram(models: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slot_module, "total_ram", lambda: 1 * 1024**3)
    slot = ModelSlot(RecordingOpener())
    assert slot.preload(models["a"]) is False
    time.sleep(PRELOAD_DEBOUNCE_S + 0.2)
    assert slot.loads == 0


MEMORY_SCRIPT = r"""
import ctypes, gc, json, sys
import psutil
from pixup.models.slot import ModelSlot
libc = ctypes.CDLL("libc.so.6")
def rss():
    gc.collect(); libc.malloc_trim(0)
    return psutil.Process().memory_info().rss
slot = ModelSlot()
slot.get("realesr-animevideov3-x4", "exact"); first_small = rss()  # runtimes and plugins now loaded
slot.get("realesrgan-x4plus", "exact"); big = rss()
slot.get("realesr-animevideov3-x4", "exact"); small = rss()
for _ in range(2):
    slot.get("realesrgan-x4plus", "exact"); slot.get("realesr-animevideov3-x4", "exact")
again = rss()
print(json.dumps({"first_small": first_small, "big": big, "small": small, "again": again}))
"""


def test_switching_returns_memory(tmp_path: Path) -> None:
    import json
    import os

    env = dict(os.environ, PIXUP_HOME=str(tmp_path), PYTHONPATH=str(Path(__file__).parents[2] / "app"))
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    mb = {k: v / 2**20 for k, v in m.items()}
    big_cost = mb["big"] - mb["first_small"]
    assert big_cost > 60, mb  # x4plus (67 MB of weights) really was resident
    # Switching back to the small model hands most of the big one back (the runtimes' own
    # one-off allocations, made with the first model, are not what this measures)...
    assert mb["small"] < mb["first_small"] + big_cost / 2, mb
    # ...and switching back and forth does not pile sessions up.
    assert mb["again"] < mb["small"] + big_cost / 2, mb


def test_out_of_memory_fallback_goes_through_the_slot(models: dict[str, str]) -> None:
    """The successor session replaces the failed one in the slot (later files start there) and the
    failed one is closed, not leaked."""
    import numpy as np

    from pixup.errors import EngineError

    def opener(model: ResolvedModel, precision: Precision) -> ModelSession:
        return ModelSession.open(model.onnx_path, precision="exact",
                                 providers=["OpenVINOExecutionProvider", "CPUExecutionProvider"])

    slot = ModelSlot(opener)
    with slot.lease(models["a"]) as lease:
        first = lease.session
        assert first.provider == "OpenVINOExecutionProvider"
        successor = lease.fallback(first)
        assert successor is not None and successor.provider == "CPUExecutionProvider"
        assert lease.session is successor and slot.loaded_session is successor
        batch = np.zeros((1, 3, 8, 8), np.float32)
        with pytest.raises(EngineError, match="closed"):
            first.run(batch)
        assert successor.run(batch).shape == (1, 3, 16, 16)
        assert lease.fallback(successor) is None  # nothing after the CPU provider
    _, again = slot.get(models["a"])
    assert again is successor and slot.loads == 1
