"""A bundled model is inspected (probe runs) on its first load only; later loads, in any process,
read its spec from the cache by content, as a user's model does after its guarded inspection."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.models import probe
from pixup.models import slot as slot_module
from pixup.models.bundled import available_bundled
from pixup.models.catalogue import ResolvedModel, resolve_model
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


def test_the_default_models_first_load_uses_its_shipped_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PIXUP_HOME", str(home))
    path = resolve_model("realesr-animevideov3-x4").onnx_path
    assert not list(home.rglob("specs/*.json"))  # nothing cached in this fresh home
    seeded = cached_spec(path)
    assert seeded is not None, "models/bundled_specs.json is stale: run scripts/make_bundled_specs.py"
    assert seeded.context_radius is not None and seeded.scale == 4.0
    with ModelSession.open(path, precision="exact", providers=["CPUExecutionProvider"]) as session:
        assert session.spec == seeded  # what a fresh inspection measures


def test_every_installed_bundled_model_has_a_shipped_spec() -> None:
    seeds = probe._seeds()
    named = {fields.get("model") for fields in seeds.values()}
    missing = {m.id for m in available_bundled()} - named
    assert not missing, f"run scripts/make_bundled_specs.py: no shipped spec for {sorted(missing)}"


def test_a_seed_file_of_another_version_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    path = graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "bundled.onnx")
    for version, found in ((probe.SPEC_CACHE_VERSION - 1, False), (probe.SPEC_CACHE_VERSION, True)):
        seed = tmp_path / f"seed-{version}.json"
        with ModelSession.open(path, precision="exact", providers=["CPUExecutionProvider"]) as session:
            spec = {"model": "x", **dataclasses.asdict(session.spec)}
        seed.write_text(json.dumps({"version": version, "specs": {probe.content_digest(path): spec}}))
        monkeypatch.setattr(probe, "SEED_FILE", seed)
        probe._seeds.cache_clear()
        try:
            assert (cached_spec(path) is not None) == found
        finally:
            probe._seeds.cache_clear()
