"""model_config.json: validation keeps the last good config; the watcher ignores pixup's own writes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pixup.errors import PixupError
from pixup.models.config import ConfigStore, ModelConfig, ModelOverride
from pixup.models.watcher import ModelFolderWatcher


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)


def test_valid_file_loads(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    _write(store.path, {"models": {"m1": {"display_name": "Mine", "batch_size": 4, "tile_size": 256}}})
    assert store.load() is True
    assert store.override_for("m1") == ModelOverride(display_name="Mine", batch_size=4, tile_size=256)
    assert store.override_for("other") == ModelOverride()
    assert store.error is None


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("{not json", "file"),
        ({"models": {"m1": {"batch_size": 9}}}, "models.m1.batch_size"),
        ({"models": {"m1": {"batch_size": "four"}}}, "models.m1.batch_size"),
        ({"models": {"m1": {"tile_size": 8}}}, "models.m1.tile_size"),
        ({"models": {"m1": {"scenario": "Sharpest"}}}, "models.m1.scenario"),
        ({"models": {"m1": {"colour": "red"}}}, "models.m1.colour"),
    ],
)
def test_invalid_file_keeps_last_good_and_is_not_overwritten(
    tmp_path: Path, content: object, where: str
) -> None:
    store = ConfigStore(tmp_path)
    _write(store.path, {"models": {"m1": {"batch_size": 2}}})
    assert store.load()
    _write(store.path, content)
    broken = store.path.read_bytes()
    assert store.load() is False
    assert store.override_for("m1").batch_size == 2  # last good kept
    assert store.error is not None and "\n" not in store.error
    assert str(store.path) in store.error
    if where != "file":
        assert where in store.error
    with pytest.raises(PixupError):
        store.set_override("m2", ModelOverride(batch_size=1))
    assert store.path.read_bytes() == broken  # never overwritten by pixup


def test_save_round_trip(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.set_override("m1", ModelOverride(display_name="A", scenario="Digital Art"))
    other = ConfigStore(tmp_path)
    assert other.load()
    assert other.config == ModelConfig(models={"m1": ModelOverride(display_name="A", scenario="Digital Art")})
    assert list(tmp_path.iterdir()) == [store.path]  # no temp file left


class _Counter:
    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self, *_: object) -> None:
        self.count += 1
        self.event.set()


def test_watcher_ignores_own_writes_and_reloads_once_on_outside_edit(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.set_override("m1", ModelOverride(batch_size=2))
    reloads, models = _Counter(), _Counter()
    watcher = ModelFolderWatcher(store, on_config=reloads, on_models=models)
    watcher.start()
    try:
        store.set_override("m1", ModelOverride(batch_size=3))  # pixup's own write
        store.set_override("m1", ModelOverride(batch_size=4))
        time.sleep(1.0)
        assert reloads.count == 0

        # An outside edit written in several steps, like an editor does.
        with store.path.open("w") as handle:
            handle.write('{"models": {"m1": ')
            handle.flush()
            handle.write('{"batch_size": 7}}}')
        assert reloads.event.wait(5)
        time.sleep(1.0)
        assert reloads.count == 1
        assert store.override_for("m1").batch_size == 7

        (tmp_path / "new.onnx").write_bytes(b"x")
        assert models.event.wait(5)
        assert reloads.count == 1
    finally:
        watcher.stop()
