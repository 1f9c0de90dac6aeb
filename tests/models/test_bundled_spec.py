"""A bundled model is inspected (probe runs) on its first load only; later loads, in any process,
read its spec from the cache by content, as a user's model does after its guarded inspection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.models import slot as slot_module
from pixup.models.catalogue import ResolvedModel
from pixup.models.probe import cached_spec
from tests.engine import graphs


def test_a_bundled_models_spec_is_probed_once_then_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    path = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "bundled.onnx")
    model = ResolvedModel("bundled", "Bundled", path, "bundled", None)
    given: list[ModelSpec | None] = []
    real_open = ModelSession.open

    def recording_open(
        model_path: Path, precision: str = "fast", *, spec: ModelSpec | None = None, **_: object
    ) -> ModelSession:
        given.append(spec)
        return real_open(model_path, precision="exact", providers=["CPUExecutionProvider"], spec=spec)

    monkeypatch.setattr(ModelSession, "open", recording_open)
    assert cached_spec(path) is None
    with slot_module._open_session(model, "exact") as first:
        probed = first.spec
    assert given == [None]  # inspected in this process
    assert probed.scale == 2.0
    assert cached_spec(path) == probed
    with slot_module._open_session(model, "exact") as second:
        assert second.spec == probed
    assert given == [None, probed]  # the second load skipped the probe runs


def test_a_changed_file_is_probed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    path = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "bundled.onnx")
    model = ResolvedModel("bundled", "Bundled", path, "bundled", None)
    with slot_module._open_session(model, "exact"):
        pass
    graphs.save(graphs.pixel_shuffle_x3(), path)  # same path, other content
    assert cached_spec(path) is None
    with slot_module._open_session(model, "exact") as session:
        assert session.spec.scale == 3.0
