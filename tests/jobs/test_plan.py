"""A job's plan: made once, when the job is submitted; the runner only carries it out. A request that
cannot be planned fails at submit with a typed error, and nothing starts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pixup.jobs.plan as plan_module
import pixup.jobs.service as service_module
from pixup.errors import ImageWriteError, ModelError, PixupError, UnavailableError, UnknownModelError
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.plan import JobPlan, plan_job
from pixup.jobs.runner import FileRunner, JobTools
from pixup.jobs.service import JobService
from pixup.models.config import ConfigStore, ModelOverride
from pixup.models.slot import ModelSlot
from tests.engine import graphs
from tests.jobs.test_job_service import TIMEOUT, image
from tests.sessions import RecordingOpener


@pytest.fixture()
def opener() -> RecordingOpener:
    return RecordingOpener()


@pytest.fixture()
def service(tmp_path: Path, opener: RecordingOpener, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobService]:
    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))  # no face model imported here
    svc = JobService(ModelSlot(opener), ConfigStore(tmp_path / "home" / "models"))
    yield svc
    svc.shutdown()


@pytest.fixture()
def x2(tmp_path: Path) -> str:
    return str(graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx"))


def _counting(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[object]:
    """Replace `module.name` by a wrapper that records each call's result."""
    calls: list[object] = []
    real: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(result)
        return result

    monkeypatch.setattr(module, name, counted)
    return calls


def test_a_job_is_planned_once_and_every_file_follows_that_plan(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans = _counting(monkeypatch, service_module, "plan_job")
    repairs = _counting(monkeypatch, plan_module, "plan_repair")
    models = _counting(monkeypatch, plan_module, "find_model")
    seen: list[JobPlan] = []
    infer = FileRunner.infer

    def traced(runner: FileRunner, item: Any, tools: JobTools, *args: Any, **kwargs: Any) -> Any:
        seen.append(tools.plan)
        return infer(runner, item, tools, *args, **kwargs)

    monkeypatch.setattr(FileRunner, "infer", traced)
    inputs = [image(tmp_path / f"in{i}.png", size=16, seed=i) for i in range(3)]
    service.submit("job-plan-1", inputs, UpscaleOptions(model=x2, output_dir=str(tmp_path / "out")))
    assert service.wait("job-plan-1", TIMEOUT)
    assert [f.status for f in service.status("job-plan-1").files] == ["done"] * 3
    assert (len(plans), len(repairs), len(models)) == (1, 1, 1)  # once per job, not per file
    assert len(seen) == 3 and all(plan is plans[0] for plan in seen)


def test_the_plan_holds_what_the_request_and_model_config_decide(tmp_path: Path, x2: str) -> None:
    config = ConfigStore(tmp_path / "models")
    config.set_override("x2", ModelOverride(tile_size=256, batch_size=2))
    src = image(tmp_path / "a.png", size=16)
    plan = plan_job([src], UpscaleOptions(model=x2, output_dir=str(tmp_path / "out"), background="#102030",
                                          allow_large=True, format="jpg"), config)
    assert (plan.model.id, plan.model.path) == ("x2", Path(x2).resolve())
    assert [item.source for item in plan.files] == [src]
    assert (plan.tile, plan.repair_tile, plan.batch) == (256, None, 2)  # the override is the upscaler's
    assert (plan.format, plan.encode.background, plan.max_pixels) == ("jpg", (16, 32, 48), None)
    assert (plan.output_dir, plan.face_model, plan.repair, plan.scale) == (tmp_path / "out", None, None, None)
    assert plan.scale_steps(2.0).passes == 1


@pytest.mark.parametrize(
    ("options", "error", "code"),
    [
        ({"model": "no-such-model"}, UnknownModelError, "unknown_model"),
        ({"model": "nowhere/missing.onnx"}, ModelError, "unknown_model"),
        ({"faces": True}, UnavailableError, "no_face_model"),
        ({"faces": True, "face_model": "nobody"}, UnavailableError, "no_face_model"),
        ({"name_template": "{nope}.{ext}"}, ImageWriteError, "bad_template"),
        ({"name_template": "sub/{name}.{ext}"}, ImageWriteError, "bad_template"),
    ],
)
def test_a_request_that_cannot_be_planned_fails_at_submit_and_starts_nothing(
    service: JobService, opener: RecordingOpener, x2: str, tmp_path: Path,
    options: dict[str, object], error: type[PixupError], code: str,
) -> None:
    src = image(tmp_path / "a.png", size=16)
    request = UpscaleOptions.model_validate({"model": x2, "output_dir": str(tmp_path / "out"), **options})
    with pytest.raises(error) as info:
        service.submit("job-refused", [src], request)
    assert info.value.code == code
    assert service.list() == []  # nothing queued ...
    assert opener.events == []  # ... no model loaded ...
    assert not (tmp_path / "out").exists()  # ... nothing written
    service.submit("job-refused", [src], UpscaleOptions(model=x2, output_dir=str(tmp_path / "o2")))  # id free


def test_no_images_is_a_typed_failure_too(service: JobService, x2: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PixupError) as info:
        service.submit("job-empty", [empty], UpscaleOptions(model=x2))
    assert info.value.code == "no_images" and service.list() == []
