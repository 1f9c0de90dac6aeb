"""JobService writes file N while file N+1 infers: the overlap happens, one write at most is in
flight, files still finish in input order, and failures and cancels keep their meaning.

Real ONNX Runtime sessions on a tiny ×2 graph built by the tests. Ordering is proven with events,
never with timing: `FileRunner.infer`/`write` are wrapped to log when they start and end, and a
write can be held on a `threading.Event` that only the next file's progress releases; the job would
stall (and the test fail on its event timeout) if the service did not overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pixup.fileio import TEMP_SUFFIX
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.runner import FileRunner, Inferred
from pixup.jobs.service import JobService
from pixup.jobs.state import FileOutcome, JobView
from pixup.models.config import ConfigStore
from pixup.models.slot import ModelSlot
from tests.engine import graphs
from tests.jobs.test_job_service import TIMEOUT, Recorder, image, wait_until
from tests.sessions import RecordingOpener

HOLD = 60  # seconds a held write waits for its release before the test gives up (a failure)


class Trace:
    """Wraps FileRunner.infer/write: logs "infer start NAME", "write end NAME"... in order; a write
    can be held, once begun (inside its encode), until an event is set; `after` runs a hook right
    after an entry is logged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        self.lock = threading.Lock()
        self.hold_write: dict[str, threading.Event] = {}
        self.released: dict[str, bool] = {}
        self.after: dict[str, Callable[[], None]] = {}  # "infer end NAME" → called right after
        infer, write = FileRunner.infer, FileRunner.write

        def traced_infer(runner: FileRunner, item, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.add(f"infer start {item.source.stem}")
            outcome = infer(runner, item, *args, **kwargs)
            kind = "end" if isinstance(outcome, Inferred) else outcome.status
            self.add(f"infer {kind} {item.source.stem}")
            return outcome

        def traced_write(runner: FileRunner, inferred: Inferred, *args, **kwargs) -> FileOutcome:  # type: ignore[no-untyped-def]
            name = inferred.source.stem
            self.add(f"write start {name}")
            encode = inferred.encode

            def held_encode(pixels: object) -> Path:  # held once the write has begun
                if name in self.hold_write:
                    self.released[name] = self.hold_write[name].wait(HOLD)
                return encode(pixels)  # type: ignore[arg-type]

            inferred.encode = held_encode  # type: ignore[assignment]
            result = write(runner, inferred, *args, **kwargs)
            self.add(f"write {'end' if result.status == 'done' else result.status} {name}")
            return result

        monkeypatch.setattr(FileRunner, "infer", traced_infer)
        monkeypatch.setattr(FileRunner, "write", traced_write)

    def add(self, entry: str) -> None:
        with self.lock:
            self.log.append(entry)
        hook = self.after.get(entry)
        if hook is not None:
            hook()

    def index(self, entry: str) -> int:
        with self.lock:
            return self.log.index(entry)

    def has(self, entry: str) -> bool:
        with self.lock:
            return entry in self.log


@pytest.fixture()
def x2(tmp_path: Path) -> str:
    return str(graphs.save(graphs.pixel_shuffle_x2(), tmp_path / "x2.onnx"))


def make_service(tmp_path: Path, overlap: bool = True) -> JobService:
    config = ConfigStore(tmp_path / "user-models")
    return JobService(ModelSlot(RecordingOpener()), config, overlap_writes=overlap)


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[JobService]:
    svc = make_service(tmp_path)
    yield svc
    svc.shutdown()


def inputs(tmp_path: Path, count: int, size: int = 64) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return [image(folder / f"f{i}.png", size=size, seed=i) for i in range(count)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)) if folder.exists() else []


def test_writing_file_n_overlaps_inference_of_file_n_plus_1(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = Trace(monkeypatch)
    # f0's write waits until f1's inference has ended: only an overlapping service gets there.
    trace.hold_write["f0"] = threading.Event()
    trace.after["infer end f1"] = trace.hold_write["f0"].set
    out = tmp_path / "out"
    files = inputs(tmp_path, 4)
    service.submit("job-overlap", files, UpscaleOptions(model=x2, output_dir=str(out)))
    assert service.wait("job-overlap", TIMEOUT)
    assert trace.released["f0"], trace.log
    final = service.status("job-overlap")
    assert [f.status for f in final.files] == ["done"] * 4
    assert sorted(p.name for p in out.iterdir()) == [f"f{i}_pixup_2x.png" for i in range(4)]
    # Overlap: f1 inferred while f0 was being written.
    assert trace.index("write start f0") < trace.index("infer start f1")
    assert trace.index("infer end f1") < trace.index("write end f0")
    # One write in flight at most: f1 is handed over (and f2 begins) only after f0's write ended,
    # so never more than two output images are alive.
    assert trace.index("write end f0") < trace.index("write start f1")
    assert trace.index("write end f0") < trace.index("infer start f2")
    for i in range(3):  # writes keep input order
        assert trace.index(f"write end f{i}") < trace.index(f"write start f{i + 1}")


def test_without_overlap_each_file_is_written_before_the_next_starts(
    tmp_path: Path, x2: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sequential path (`overlap_writes=False`, what bench_folder.py compares against)."""
    trace = Trace(monkeypatch)
    svc = make_service(tmp_path, overlap=False)
    try:
        svc.submit("job-seq", inputs(tmp_path, 3), UpscaleOptions(model=x2, output_dir=str(tmp_path / "out")))
        assert svc.wait("job-seq", TIMEOUT)
        assert [f.status for f in svc.status("job-seq").files] == ["done"] * 3
    finally:
        svc.shutdown()
    assert trace.log == [f"{step} f{i}" for i in range(3)
                         for step in ("infer start", "infer end", "write start", "write end")]


def test_events_finish_files_in_order_and_done_means_written(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = Trace(monkeypatch)
    trace.hold_write["f0"] = threading.Event()
    trace.after["infer end f1"] = trace.hold_write["f0"].set
    seen_done: dict[str, bool] = {}  # file → its output existed when "done" was first seen

    def check(snapshot: JobView) -> None:
        for f in snapshot.files:
            if f.status == "done" and f.input not in seen_done:
                seen_done[f.input] = f.output is not None and Path(f.output).is_file()

    recorder = Recorder()
    service.subscribe(recorder)
    service.subscribe(check)
    files = inputs(tmp_path, 4)
    service.submit("job-events", files, UpscaleOptions(model=x2, output_dir=str(tmp_path / "out")))
    assert service.wait("job-events", TIMEOUT)
    snapshots = [s for _, s in recorder.of("job-events")]
    assert seen_done == {str(f): True for f in files}

    def finished_at(index: int) -> int:
        return next(n for n, s in enumerate(snapshots) if s.files[index].stage == "finished")

    order = [finished_at(i) for i in range(4)]
    assert order == sorted(order) and len(set(order)) == 4  # one file at a time, in input order
    for i in range(4):
        stages = [s.files[i].stage for s in snapshots]
        assert stages.index("upscale") < stages.index("write") < stages.index("finished")
        after = snapshots[finished_at(i):]
        # Delivered in the order taken: a finished file never shows as running again.
        assert all(s.files[i].status == "done" and s.files[i].stage == "finished" for s in after)
    # While f0 was written, f1 was already running: the overlap as a user sees it.
    assert any(s.files[0].stage == "write" and s.files[1].status == "running" for s in snapshots)
    # The job's last event and `wait` come after the last write.
    assert snapshots[-1].status == "done"
    assert all(f.status == "done" for f in snapshots[-1].files)


def test_a_write_failure_is_one_line_for_that_file_and_the_job_goes_on(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = Trace(monkeypatch)
    out = tmp_path / "out"
    # A folder where f1's output goes: the checks before inference pass (overwrite is on), the
    # write itself fails, on the writer thread.
    (out / "f1_pixup_2x.png").mkdir(parents=True)
    files = inputs(tmp_path, 3)
    service.submit("job-wfail", files, UpscaleOptions(model=x2, output_dir=str(out), overwrite=True))
    assert service.wait("job-wfail", TIMEOUT)
    final = service.status("job-wfail")
    assert [f.status for f in final.files] == ["done", "failed", "done"]
    error = final.files[1].error or ""
    assert final.files[1].error_code == "unwritable" and error == "it is a folder"
    assert final.files[1].output == str(out / "f1_pixup_2x.png")  # where it would have gone
    assert final.status == "done"  # a file's failure is not the job's
    assert trace.has("write failed f1")
    assert (out / "f0_pixup_2x.png").is_file() and (out / "f2_pixup_2x.png").is_file()
    assert leftovers(out) == []


def test_a_file_failing_before_its_write_finishes_after_the_write_before_it(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = Trace(monkeypatch)
    files = inputs(tmp_path, 3)
    files[1].write_bytes(b"not an image")
    # f0's write is held until f1 has failed: f1's failure must still be reported after f0.
    trace.hold_write["f0"] = threading.Event()
    trace.after["infer failed f1"] = trace.hold_write["f0"].set
    recorder = Recorder()
    service.subscribe(recorder)
    service.submit("job-bad", files, UpscaleOptions(model=x2, output_dir=str(tmp_path / "out")))
    assert service.wait("job-bad", TIMEOUT)
    assert trace.released["f0"]
    final = service.status("job-bad")
    assert [f.status for f in final.files] == ["done", "failed", "done"]
    assert final.files[1].error_code == "not_an_image"
    assert str(files[1]) not in (final.files[1].error or "")  # front ends name the file
    snapshots = [s for _, s in recorder.of("job-bad")]
    first_finished = [next(n for n, s in enumerate(snapshots) if s.files[i].stage == "finished")
                      for i in range(3)]
    assert first_finished == sorted(first_finished)
    assert trace.index("write end f0") < trace.index("infer start f2")


def test_cancel_file_waiting_for_its_write_leaves_no_output(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """f0 is being written (held) and f1 has been inferred, waiting for the writer: cancelling both
    lets f0's write, already begun, complete (done) and gives f1 no output at all."""
    trace = Trace(monkeypatch)
    trace.hold_write["f0"] = threading.Event()
    out = tmp_path / "out"
    files = inputs(tmp_path, 3)
    service.submit("job-cf", files, UpscaleOptions(model=x2, output_dir=str(out)))
    wait_until(lambda: trace.has("infer end f1"))  # f0 held in its write, f1 waiting to be written
    service.cancel_file("job-cf", str(files[1]))
    service.cancel_file("job-cf", str(files[0]))
    assert not service.wait("job-cf", 0.2)  # not finished while a write is still going on
    trace.hold_write["f0"].set()
    assert service.wait("job-cf", TIMEOUT)
    final = service.status("job-cf")
    assert [f.status for f in final.files] == ["done", "cancelled", "done"]
    assert final.files[1].output is None
    assert sorted(p.name for p in out.iterdir()) == ["f0_pixup_2x.png", "f2_pixup_2x.png"]
    assert trace.has("write cancelled f1")  # checked before its write began


def test_cancel_job_during_a_write_ends_after_it(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = Trace(monkeypatch)
    trace.hold_write["f0"] = threading.Event()
    out = tmp_path / "out"
    # Big enough that f1 is still inferring (many 16 px tiles) when the job is cancelled.
    files = inputs(tmp_path, 3, size=256)
    recorder = Recorder()
    service.subscribe(recorder)
    service.submit("job-cj", files, UpscaleOptions(model=x2, tile=16, output_dir=str(out)))
    wait_until(lambda: service.status("job-cj").files[1].tiles_done >= 1)
    service.cancel("job-cj")
    assert not service.wait("job-cj", 0.2)  # f0's write is still held
    trace.hold_write["f0"].set()
    assert service.wait("job-cj", TIMEOUT)
    final = service.status("job-cj")
    assert final.status == "cancelled"
    assert [f.status for f in final.files] == ["done", "cancelled", "cancelled"]
    assert sorted(p.name for p in out.iterdir()) == ["f0_pixup_2x.png"]
    # The job's final event comes after f0's write.
    last = recorder.of("job-cj")[-1][1]
    assert last.status == "cancelled" and last.files[0].status == "done"


def test_a_bug_in_the_write_fails_that_file_only(
    service: JobService, x2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = FileRunner.infer

    def infer(runner: FileRunner, item, *args, **kwargs):  # type: ignore[no-untyped-def]
        outcome = original(runner, item, *args, **kwargs)
        if isinstance(outcome, Inferred) and item.source.stem == "f0":
            def broken(_: object) -> Path:
                raise RuntimeError("encoder exploded")

            outcome.encode = broken
        return outcome

    monkeypatch.setattr(FileRunner, "infer", infer)
    out = tmp_path / "out"
    service.submit("job-bug", inputs(tmp_path, 2), UpscaleOptions(model=x2, output_dir=str(out)))
    assert service.wait("job-bug", TIMEOUT)
    final = service.status("job-bug")
    assert [f.status for f in final.files] == ["failed", "done"]
    assert (final.files[0].error_code, final.files[0].error) == ("internal", "encoder exploded")
    assert [p.name for p in out.iterdir()] == ["f1_pixup_2x.png"]
