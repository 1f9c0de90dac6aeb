"""JobService: submit returns at once, one job after another, per-file state, cancel, events, leases.

Real ONNX Runtime sessions on small graphs built by the tests (CPU provider, fp32) and images made
with Pillow."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixup.errors import ConflictError, NotFoundError, PixupError, UnavailableError
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.service import EVENT_INTERVAL_S, JobService
from pixup.jobs.state import JobView
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from tests.engine import graphs
from tests.sessions import RecordingOpener

TIMEOUT = 120


def image(path: Path, size: int = 128, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), "RGB").save(path)
    return path


@pytest.fixture()
def models(tmp_path: Path) -> dict[str, str]:
    return {
        "slow": str(graphs.save(graphs.slow(), tmp_path / "slow.onnx")),
        "x2": str(graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx")),
    }


@pytest.fixture()
def opener() -> RecordingOpener:
    return RecordingOpener()


@pytest.fixture()
def service(tmp_path: Path, opener: RecordingOpener) -> Iterator[JobService]:
    config = ConfigStore(tmp_path / "user-models")
    svc = JobService(ModelSlot(opener), config)
    yield svc
    svc.shutdown()


class Recorder:
    def __init__(self) -> None:
        self.snapshots: list[tuple[float, JobView]] = []
        self.lock = threading.Lock()

    def __call__(self, snapshot: JobView) -> None:
        with self.lock:
            self.snapshots.append((time.monotonic(), snapshot))

    def of(self, job_id: str) -> list[tuple[float, JobView]]:
        with self.lock:
            return [(t, s) for t, s in self.snapshots if s.job_id == job_id]


def wait_until(predicate: object, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def slow_options(models: dict[str, str], out: Path, **extra: object) -> UpscaleOptions:
    return UpscaleOptions(model=models["slow"], tile=32, output_dir=str(out), **extra)  # type: ignore[arg-type]


def test_submit_returns_at_once_and_files_progress_to_done(
    service: JobService, models: dict[str, str], tmp_path: Path
) -> None:
    inputs = [image(tmp_path / f"in{i}.png", seed=i) for i in range(2)]
    out = tmp_path / "out"
    recorder = Recorder()
    service.subscribe(recorder)
    snapshot = service.submit("job-00001", inputs, slow_options(models, out))
    assert snapshot.status == "queued"
    assert [f.status for f in snapshot.files] == ["queued", "queued"]
    assert [f.name for f in snapshot.files] == ["in0.png", "in1.png"]
    assert not service.wait("job-00001", 0)  # returned before the work was done
    assert service.wait("job-00001", TIMEOUT)
    final = service.status("job-00001")
    assert final.status == "done"
    assert [f.status for f in final.files] == ["done", "done"]
    assert all(f.tiles_done == f.tiles_total > 1 for f in final.files)  # 128² at a 32 px budget: cut
    assert sorted(p.name for p in out.iterdir()) == ["in0_pixup_1x.png", "in1_pixup_1x.png"]
    # Seen along the way: a running file with partial progress and an ETA.
    running = [f for _, s in recorder.of("job-00001") for f in s.files if f.status == "running"]
    assert any(0 < f.tiles_done < f.tiles_total and f.eta_s is not None and f.eta_s > 0 for f in running)
    assert [s.job_id for s in service.list()] == ["job-00001"]


def test_jobs_run_one_after_another(service: JobService, models: dict[str, str], tmp_path: Path) -> None:
    recorder = Recorder()
    service.subscribe(recorder)
    service.submit("job-first", [image(tmp_path / "a.png")], slow_options(models, tmp_path / "o1"))
    second = service.submit("job-second", [image(tmp_path / "b.png")], slow_options(models, tmp_path / "o2"))
    assert second.status == "queued"
    assert service.wait("job-second", TIMEOUT)
    first_done = min(t for t, s in recorder.of("job-first") if s.status == "done")
    second_started = min(t for t, s in recorder.of("job-second") if s.status == "running")
    assert second_started >= first_done
    assert service.status("job-first").status == service.status("job-second").status == "done"


def test_cancel_one_queued_file_and_the_running_one(
    service: JobService, models: dict[str, str], tmp_path: Path
) -> None:
    inputs = [image(tmp_path / f"f{i}.png", seed=i) for i in range(3)]
    out = tmp_path / "out"
    service.submit("job-cancel", inputs, slow_options(models, out))
    # The last file is still queued: cancelling it is immediate.
    snap = service.cancel_file("job-cancel", str(inputs[2]))
    assert snap.files[2].status == "cancelled"
    # The first file is cancelled mid-inference, once it has made progress.
    wait_until(lambda: service.status("job-cancel").files[0].tiles_done >= 2)
    service.cancel_file("job-cancel", str(inputs[0]))
    assert service.wait("job-cancel", TIMEOUT)
    final = service.status("job-cancel")
    assert [f.status for f in final.files] == ["cancelled", "done", "cancelled"]
    assert final.status == "done"
    assert [p.name for p in out.iterdir()] == ["f1_pixup_1x.png"]  # nothing partial of the others


def test_cancel_job_stops_the_rest(service: JobService, models: dict[str, str], tmp_path: Path) -> None:
    inputs = [image(tmp_path / f"g{i}.png", seed=i) for i in range(3)]
    out = tmp_path / "out"
    service.submit("job-all", inputs, slow_options(models, out))
    wait_until(lambda: service.status("job-all").files[0].tiles_done >= 1)
    started = time.monotonic()
    service.cancel("job-all")
    assert service.wait("job-all", TIMEOUT)
    assert time.monotonic() - started < 5  # one tile at most, not the rest of the job
    final = service.status("job-all")
    assert final.status == "cancelled"
    assert [f.status for f in final.files] == ["cancelled"] * 3
    assert not out.exists() or list(out.iterdir()) == []


def test_cancel_a_queued_job(service: JobService, models: dict[str, str], tmp_path: Path) -> None:
    service.submit("job-busy", [image(tmp_path / "a.png")], slow_options(models, tmp_path / "o1"))
    service.submit("job-wait", [image(tmp_path / "b.png")], slow_options(models, tmp_path / "o2"))
    assert service.cancel("job-wait").status == "cancelled"
    assert service.wait("job-busy", TIMEOUT)
    assert service.status("job-wait").files[0].status == "cancelled"
    assert not (tmp_path / "o2").exists()


def test_progress_events_are_throttled(service: JobService, models: dict[str, str], tmp_path: Path) -> None:
    recorder = Recorder()
    service.subscribe(recorder)
    # Many quick tiles: far more than 10 a second without throttling.
    opts = UpscaleOptions(model=models["x2"], tile=16, output_dir=str(tmp_path / "o"))
    # 1536 px: the x2 graph needs 5 px of context (not 32), so 512 px gave only 54 tiles
    service.submit("job-fast", [image(tmp_path / "big.png", size=1536)], opts)
    assert service.wait("job-fast", TIMEOUT)
    events = recorder.of("job-fast")
    final = service.status("job-fast")
    assert final.files[0].status == "done" and final.files[0].tiles_total > 400
    # Progress-only events (same statuses and stages as the previous event) come at most every
    # EVENT_INTERVAL_S; state changes are always sent.
    def state(snapshot: JobView) -> list[tuple[str, str]]:
        return [(snapshot.status, "")] + [(f.status, f.stage) for f in snapshot.files]

    progress_times = [
        t for (t, s), (_, prev) in zip(events[1:], events, strict=False) if state(s) == state(prev)
    ]
    gaps = np.diff(progress_times)
    assert len(progress_times) >= 2
    assert (gaps >= EVENT_INTERVAL_S * 0.9).all(), gaps.min()
    assert len(events) < final.files[0].tiles_total / 4


def test_request_errors_are_typed(service: JobService, models: dict[str, str], tmp_path: Path) -> None:
    src = image(tmp_path / "a.png", size=16)
    opts = UpscaleOptions(model=models["x2"], output_dir=str(tmp_path / "o"))
    service.submit("job-dupe", [src], opts)
    with pytest.raises(ConflictError):
        service.submit("job-dupe", [src], opts)
    with pytest.raises(NotFoundError):
        service.status("no-such-job")
    with pytest.raises(NotFoundError):
        service.cancel_file("job-dupe", str(tmp_path / "other.png"))
    with pytest.raises(UnavailableError):
        service.submit("job-faces", [src], opts.model_copy(update={"faces": True}))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PixupError, match="no image files"):
        service.submit("job-empty", [empty], opts)


def test_bad_model_fails_the_job_with_one_line(service: JobService, tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_text("not a model")
    src = image(tmp_path / "a.png", size=16)
    service.submit("job-bad", [src, src.with_name("b.png")], UpscaleOptions(model=str(model)))
    assert service.wait("job-bad", TIMEOUT)
    final = service.status("job-bad")
    assert final.status == "failed"
    assert final.error and "\n" not in final.error and "broken.onnx" in final.error
    assert all(f.status == "failed" for f in final.files)


def test_switching_model_during_a_job_never_closes_its_session(
    service: JobService, models: dict[str, str], tmp_path: Path, opener: RecordingOpener
) -> None:
    inputs = [image(tmp_path / f"h{i}.png", seed=i) for i in range(2)]
    service.submit("job-lease", inputs, slow_options(models, tmp_path / "out"))
    wait_until(lambda: service.status("job-lease").files[0].status == "running")
    service.slot.get(models["x2"])  # what a preload of another model does
    assert "close slow" not in opener.events  # the job still holds it
    assert service.wait("job-lease", TIMEOUT)
    assert [f.status for f in service.status("job-lease").files] == ["done", "done"]
    wait_until(lambda: "close slow" in opener.events)  # closed once the job let go
    assert opener.events.index("close slow") > opener.events.index("open x2")


def test_face_recovery_is_a_stage_of_the_file(
    tmp_path: Path, opener: RecordingOpener, models: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from skimage import data

    from tests.faces import graphs as face_graphs

    monkeypatch.setenv("PIXUP_HOME", str(tmp_path / "home"))
    faces_dir = tmp_path / "home" / "models" / "faces"
    faces_dir.mkdir(parents=True)
    face_graphs.gfpgan_identity(faces_dir / "identity.onnx")
    src = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()[::2, ::2]).save(src)
    svc = JobService(ModelSlot(opener), ConfigStore(tmp_path / "user-models"))
    recorder = Recorder()
    svc.subscribe(recorder)
    try:
        opts = UpscaleOptions(model=models["x2"], output_dir=str(tmp_path / "out"), faces=True)
        svc.submit("job-faces", [src], opts)
        assert svc.wait("job-faces", TIMEOUT)
        final = svc.status("job-faces")
        assert final.files[0].status == "done", final
        assert "Face recovery restored 1 face." in final.files[0].notices
        stages = [s.files[0].stage for _, s in recorder.of("job-faces")]
        assert stages.index("upscale") < stages.index("faces") < stages.index("write")
        assert stages[-1] == "finished"
    finally:
        svc.shutdown()
