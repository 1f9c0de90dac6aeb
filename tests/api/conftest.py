from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pixup.api.bridge import Api
from pixup.jobs.service import JobService
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from tests.engine import graphs


@pytest.fixture()
def x2_model(tmp_path: Path) -> str:
    return str(graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx"))


@pytest.fixture()
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    service = JobService(ModelSlot(), ConfigStore(tmp_path / "home" / "models"))
    made = Api(service, output_dir=str(tmp_path / "out"), uploads=True,
               settings_path=tmp_path / "home" / "config" / "settings.json")
    yield made
    made.close()
