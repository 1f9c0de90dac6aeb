"""Every file pixup writes goes through pixup.fileio.atomic_write: a write that fails leaves the old
file as it was and no temporary file, whichever caller wrote it."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from pixup.engine.spec import ModelSpec
from pixup.errors import ImageWriteError, ModelError
from pixup.fileio import TEMP_SUFFIX
from pixup.imaging.atomic import atomic_write
from pixup.models import probe
from pixup.models.bundled import bundled_model
from pixup.models.cache import cache_entry, converted_model
from pixup.models.config import ConfigStore, ModelConfig, ModelOverride

OLD = b"old content\n"


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)]


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync of the written temp file fails as on a full disk: after the bytes went out."""

    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)


def _write_image(target: Path) -> None:
    def writer(f: BinaryIO) -> None:
        f.write(b"new pixels")

    atomic_write(target, writer, overwrite=True)


def _write_config(target: Path) -> None:
    ConfigStore(target.parent).save(ModelConfig(models={"m": ModelOverride(tile_size=256)}))


def _write_spec(target: Path) -> None:
    spec = ModelSpec("in", "out", "float32", "NCHW", 3, 3, None, None, None, 1, 1, 0, 2.0)
    probe._store(target, spec)


CALLERS: dict[str, tuple[str, Callable[[Path], None], type[Exception]]] = {
    "image": ("out.png", _write_image, ImageWriteError),
    "model config": ("model_config.json", _write_config, OSError),
    "probe spec cache": ("spec.json", _write_spec, OSError),
}


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, full_disk: None, caller: str) -> None:
    name, write, error = CALLERS[caller]
    target = tmp_path / name
    target.write_bytes(OLD)
    with pytest.raises(error):
        write(target)
    assert target.read_bytes() == OLD
    assert _leftovers(tmp_path) == []


def test_converted_model_cache_write_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache entry being rebuilt (its sidecar is missing) whose write fails: ModelError, the old
    file untouched, no temp file in the cache folder."""
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    found = bundled_model("realesr-animevideov3-x2")
    assert found is not None
    folder = tmp_path / "model"
    folder.mkdir()
    param, weights = (Path(shutil.copy(p, folder)) for p in found.files())
    entry = cache_entry(param, weights)
    entry.onnx_path.parent.mkdir(parents=True)
    entry.onnx_path.write_bytes(OLD)

    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(ModelError, match="cannot write the converted model"):
        converted_model(param, weights)
    assert entry.onnx_path.read_bytes() == OLD
    assert _leftovers(entry.onnx_path.parent) == []


def test_spec_cache_is_written_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec cache (written without fsync or cleanup before) goes through the helper too."""
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    target = tmp_path / "spec.json"
    _write_spec(target)
    assert b'"scale": 2.0' in target.read_bytes()
    assert _leftovers(tmp_path) == []
