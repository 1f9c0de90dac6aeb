"""The job service: caller-made ids, a queue worked by one thread, per-file state, cancel, events.

`submit` returns at once; jobs run one after another (one model session in memory, SPEC §4). Every
read returns an immutable `JobView` (pixup.jobs.state), so callers never share mutable state with the
worker; the bridge maps it to its wire model. The CLI, the bridge and the HTTP server all drive
upscales through this class.

Within a job, file N is encoded and written on a writer thread while file N+1 decodes and infers
(`_WriteBehind`): a folder of small images runs at the speed of back-to-back inference. At most one
write is in flight, so at most two output images are alive (the one being written, the one being
made); files still finish in input order, and a job is finished only after its last write.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pixup.choices import JobStatus, Precision, Stage
from pixup.engine.cancel import CancelToken
from pixup.errors import ConflictError, FailureCode, NotFoundError, PixupError, one_line
from pixup.imaging.naming import InputItem
from pixup.jobs.options import UpscaleOptions
from pixup.jobs.plan import JobPlan, check_faces, plan_job
from pixup.jobs.repair import RepairPass
from pixup.jobs.runner import FaceTools, FileRunner, Inferred, JobTools
from pixup.jobs.state import FileOutcome, FileView, JobView
from pixup.models.config import ConfigStore
from pixup.models.slot import Lease, ModelSlot
from pixup.paths import user_paths

if TYPE_CHECKING:
    from pixup.faces import FaceDetector

log = logging.getLogger(__name__)

Listener = Callable[[JobView], None]

EVENT_INTERVAL_S = 0.1
"""Progress events per job are throttled to at most one per this many seconds (state changes are
always sent)."""

def faces_unavailable(face_model: str = "") -> str | None:
    """Why face recovery cannot run (no detector, no face model), or None when it can."""
    try:
        check_faces(face_model)
    except PixupError as err:
        return str(err)
    return None


_FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class _WriteBehind:
    """One job's writes, one at a time on the service's writer thread (None: on the caller's
    thread, the sequential path). `submit` first waits for the previous write, so one write at most
    is in flight and the caller never gets more than one file ahead of the writer."""

    def __init__(self, executor: ThreadPoolExecutor | None) -> None:
        self._executor = executor
        self._pending: Future[None] | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.wait()
        if self._executor is None:
            write()
        else:
            self._pending = self._executor.submit(write)

    def wait(self) -> None:
        """Block until the write in flight (if any) has finished; re-raises what it raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


@dataclass
class _File:
    item: InputItem
    state: FileView
    """Replaced, never changed, under the service's lock: a view handed out stays as it was."""
    token: CancelToken = field(default_factory=CancelToken)
    started: float | None = None


@dataclass
class _Job:
    job_id: str
    options: UpscaleOptions
    plan: JobPlan
    files: list[_File]
    created: float
    status: JobStatus = "queued"
    error: str | None = None
    error_code: FailureCode | None = None
    cancel_requested: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    last_event: float = 0.0

    def snapshot(self) -> JobView:
        return JobView(
            job_id=self.job_id,
            status=self.status,
            files=tuple(f.state for f in self.files),
            error=self.error,
            error_code=self.error_code,
            notices=tuple(dict.fromkeys(n for f in self.files for n in f.state.notices)),
            output_dir=self.options.output_dir,
            created=self.created,
        )


class JobService:
    """Queue and run upscale jobs on one worker thread. Thread-safe."""

    def __init__(
        self, slot: ModelSlot | None = None, config: ConfigStore | None = None, *, overlap_writes: bool = True
    ) -> None:
        """`overlap_writes=False` writes each file before the next starts (what benchmarks compare
        against); the default writes file N while file N+1 infers."""
        self.slot = slot or ModelSlot()
        if config is None:
            config = ConfigStore(user_paths().models)
            config.load()
        self.config = config
        self._runner = FileRunner()
        self._faces_lock = threading.Lock()
        self._detector: FaceDetector | None = None  # loaded at the first face job, then kept
        self._lock = threading.Lock()  # guards _jobs and every _Job/_File record
        self._jobs: dict[str, _Job] = {}
        self._listeners_lock = threading.Lock()
        self._listeners: list[Listener] = []
        # Held while a snapshot is taken and delivered: listeners are never called concurrently (the
        # worker and the writer both send events) and see snapshots in the order they were taken.
        # Reentrant, so a listener may call cancel(). Taken before _lock, never after it.
        self._events = threading.RLock()
        self._writes = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixup-write")
                        if overlap_writes else None)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="pixup-jobs", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ public surface

    def submit(self, job_id: str, inputs: list[Path], options: UpscaleOptions) -> JobView:
        """Plan a job and queue it; return at once. Raises ConflictError for an id in use, and what
        `plan_job` raises for a request that cannot be planned (unknown model, no face model, bad
        name template, no images found): then nothing is queued."""
        with self._lock:
            if job_id in self._jobs:
                raise ConflictError(f"job id {job_id} is already in use")
        plan = plan_job(inputs, options, self.config)
        files = [_File(item, FileView(input=str(item.source), name=item.source.name, status="queued"))
                 for item in plan.files]
        job = _Job(job_id, options, plan, files, created=time.time())
        with self._events:
            with self._lock:
                if job_id in self._jobs:
                    raise ConflictError(f"job id {job_id} is already in use")
                self._jobs[job_id] = job
                snapshot = job.snapshot()
            self._queue.put(job_id)
            self._notify(snapshot)
        return snapshot

    def status(self, job_id: str) -> JobView:
        with self._lock:
            return self._get(job_id).snapshot()

    def list(self) -> list[JobView]:
        """Every job of this session, oldest first."""
        with self._lock:
            return [job.snapshot() for job in self._jobs.values()]

    def cancel(self, job_id: str) -> JobView:
        """Cancel every file not finished yet; the file in flight stops within one inference (a
        write already begun completes: that file is done)."""
        with self._events:
            with self._lock:
                job = self._get(job_id)
                if job.status not in _FINISHED:
                    job.cancel_requested = True
                    for record in job.files:
                        self._cancel_file(record)
                    if job.status == "queued":
                        job.status = "cancelled"
                        job.finished.set()
                snapshot = job.snapshot()
            self._notify(snapshot)
        return snapshot

    def cancel_file(self, job_id: str, file: str) -> JobView:
        with self._events:
            with self._lock:
                job = self._get(job_id)
                matches = [r for r in job.files if r.state.input == file]
                if not matches:
                    raise NotFoundError(f"job {job_id} has no file {file}")
                for record in matches:
                    self._cancel_file(record)
                snapshot = job.snapshot()
            self._notify(snapshot)
        return snapshot

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job has finished (True) or `timeout` passed (False)."""
        with self._lock:
            finished = self._get(job_id).finished
        return finished.wait(timeout)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with a snapshot on every state change and, throttled, on progress.
        Listeners run on the service's threads (worker, writer; one call at a time) and must be quick.
        Returns the unsubscribe function."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def busy(self) -> bool:
        with self._lock:
            return any(job.status not in _FINISHED for job in self._jobs.values())

    def shutdown(self) -> None:
        """Cancel everything, stop the worker, release the model."""
        with self._lock:
            ids = [job.job_id for job in self._jobs.values() if job.status not in _FINISHED]
        for job_id in ids:
            self.cancel(job_id)
        self._queue.put(None)
        self._worker.join(timeout=5)
        if self._writes is not None:
            self._writes.shutdown(wait=False)  # idle: the worker drains a job's writes before it ends
        self.slot.clear()

    # ------------------------------------------------------------------ worker

    def _get(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    @staticmethod
    def _cancel_file(record: _File) -> None:
        if record.state.status == "queued":
            record.state = _cancelled(record.state)
        if record.state.status in ("queued", "running", "cancelled"):
            record.token.cancel()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs[job_id]
                if job.status != "queued":
                    continue  # cancelled while queued
                job.status = "running"
            try:
                self._run(job)
            except Exception as err:  # a bug: the job fails with one line, the worker lives on
                log.exception("job %s failed", job_id)
                self._fail(job, "internal", one_line(err))
            finally:
                with self._events:
                    with self._lock:
                        if job.status == "running":
                            job.status = "cancelled" if job.cancel_requested else "done"
                        job.finished.set()
                        snapshot = job.snapshot()
                    self._notify(snapshot)

    def _run(self, job: _Job) -> None:
        plan = job.plan
        self._notify_job(job, force=True)
        try:
            # Load once, up front: a bad model is one error for the job, not one per file.
            lease = self.slot.lease(plan.model, plan.precision)
        except PixupError as err:
            self._fail(job, err.code, str(err))
            return
        try:
            tools = self._tools(plan, lease)
        except PixupError as err:
            lease.release()
            self._fail(job, err.code, str(err))
            return
        except BaseException:  # a bug: the job fails (see _work), the session is not held
            lease.release()
            raise
        try:
            self._run_files(job, tools)
        finally:
            if tools.repair is not None:
                tools.repair.close()

    def _tools(self, plan: JobPlan, lease: Lease) -> JobTools:
        """What the job's files share, loaded once the model is: the scale steps for its real scale,
        face recovery's models, the Fix compression pre-pass (a job-scoped auxiliary session: the
        slot keeps its one upscale session)."""
        provider = lease.session.provider
        steps = plan.scale_steps(lease.session.spec.scale)
        faces = (self._face_tools(plan.face_model, provider, plan.precision)
                 if plan.face_model is not None else None)
        prepass = plan.prepass
        repair = RepairPass.open(prepass, provider, plan.precision) if prepass is not None else None
        return JobTools(plan, lease, steps, faces, repair)

    def _run_files(self, job: _Job, tools: JobTools) -> None:
        used: set[Path] = set()  # names are reserved here, on this thread, in input order
        writes = _WriteBehind(self._writes)
        with tools.lease:
            try:
                for record in job.files:
                    with self._lock:
                        if record.token.cancelled:
                            record.state = _cancelled(record.state)
                            continue
                        record.state = replace(record.state, status="running", stage="loading")
                        record.started = time.perf_counter()
                    self._notify_job(job, force=True)
                    outcome = self._runner.infer(
                        record.item, tools, record.token, functools.partial(self._on_stage, job, record), used
                    )
                    if isinstance(outcome, Inferred):
                        # Waits for file N-1's write first: two output images alive at most.
                        writes.submit(functools.partial(self._write_file, job, record, outcome))
                    else:  # failed or cancelled before its write; still after the file before it
                        writes.wait()
                        self._file_finished(job, record, outcome)
                    del outcome  # the writer holds the only reference to the output now
            finally:
                writes.wait()  # the job ends after its last write

    def _write_file(self, job: _Job, record: _File, inferred: Inferred) -> None:
        """The writer thread's part of a file: its write, then its result."""
        result = self._runner.write(inferred, record.token, functools.partial(self._on_stage, job, record))
        del inferred  # the output can go before the listeners run
        self._file_finished(job, record, result)

    def _file_finished(self, job: _Job, record: _File, result: FileOutcome) -> None:
        with self._lock:
            self._finish_file(record, result)
        self._notify_job(job, force=True)

    def _on_stage(self, job: _Job, record: _File, stage: Stage, done: int, total: int) -> None:
        with self._lock:
            state = record.state
            changed = state.stage != stage
            eta_s = state.eta_s
            if stage in ("repair", "upscale") and record.started is not None and done > 0:
                elapsed = time.perf_counter() - record.started
                eta_s = round(elapsed / done * (total - done), 1)
            elif stage not in ("repair", "upscale"):
                eta_s = None
            if stage in ("repair", "upscale", "faces"):
                state = replace(state, tiles_done=done, tiles_total=total)
            record.state = replace(state, stage=stage, eta_s=eta_s)
        self._notify_job(job, force=changed)

    def _face_tools(self, face_model: Path, provider: str, precision: Precision) -> FaceTools:
        from pixup.faces import FaceDetector, load_face_model

        with self._faces_lock:
            if self._detector is None:
                self._detector = FaceDetector()
            detector = self._detector
        providers = list(dict.fromkeys([provider, "CPUExecutionProvider"]))
        model = load_face_model(face_model, providers, precision=precision)
        return FaceTools(detector, model)

    @staticmethod
    def _finish_file(record: _File, result: FileOutcome) -> None:
        state = record.state
        done = result.status == "done"
        record.state = replace(
            state,
            **{f.name: getattr(result, f.name) for f in fields(FileOutcome)},
            stage="finished",
            eta_s=0.0 if done else None,
            tiles_done=state.tiles_total if done else state.tiles_done,
        )

    def _fail(self, job: _Job, code: FailureCode, message: str) -> None:
        """The whole job failed (its model did not load...): so did every file not finished."""
        with self._lock:
            job.status = "failed"
            job.error, job.error_code = message, code
            for record in job.files:
                if record.state.status in ("queued", "running"):
                    record.state = replace(record.state, status="failed", error=message, error_code=code)

    # ------------------------------------------------------------------ events

    def _notify_job(self, job: _Job, force: bool) -> None:
        with self._events:
            now = time.monotonic()
            with self._lock:
                if not force and now - job.last_event < EVENT_INTERVAL_S:
                    return
                job.last_event = now
                snapshot = job.snapshot()
            self._notify(snapshot)

    def _notify(self, snapshot: JobView) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(snapshot)
            except Exception:  # a front end's bug must not stop the job
                log.exception("job listener failed")


def _cancelled(state: FileView) -> FileView:
    """A file cancelled before it ran."""
    return replace(state, status="cancelled", stage="finished", error_code="cancelled")
