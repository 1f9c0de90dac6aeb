"""The engine's sessions: every ONNX model pixup runs is opened here, on the provider plan.

`ModelSession` (an upscaler, behind the InferenceRunner protocol) and `GraphSession` (any other
model: the face detector, face restorers) walk the same provider plan (best first, with the
requested precision); a provider that fails to create the session (or, for an upscaler, to pass
the inspection probes) is skipped with a warning in the log and a line in `notices` for the user.
Runs turn ORT failures into OutOfMemory / EngineError and honour cancellation *during* an inference.
`ModelSession.run` adapts dtype and layout for the tiling pipeline, which moves to `fallback()` when
memory runs out; `GraphSession.run` takes and gives the model's own tensors and moves to the next
provider by itself.

Cancellation: RunOptions.terminate stops ORT between graph nodes (CPU, CUDA), but OpenVINO runs the
whole graph as one node and ignores it. So each inference runs on the session's own (daemon) worker
thread and the caller waits for either the result or the cancel: a cancelled caller returns at once
and an inference that cannot be stopped finishes in the background, its result dropped. The next run
queues behind it on the same worker, so the session never runs two inferences at once.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from pixup.engine import openvino_native
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.inspect import ProbeError, inspect_session, ort_error_line
from pixup.engine.openvino_native import CompiledOpenVino
from pixup.engine.providers import (
    OPENVINO,
    Precision,
    ProviderChoice,
    device_name,
    plan_for,
    provider_plan,
    session_options,
    short_name,
)
from pixup.engine.runner import OutOfMemory
from pixup.engine.spec import ModelSpec
from pixup.errors import EngineError, ModelError

VariantLoader = Callable[[], tuple[Path, ModelSpec | None]]
"""Makes (or finds) a variant of a model: its file and, if known, its spec. Raises ModelError or
ValueError when the variant cannot be made."""

log = logging.getLogger(__name__)

T = TypeVar("T")

_OOM_MARKERS = (
    "failed to allocate memory",
    "out of memory",
    "outofmemory",
    "bad_alloc",
    "cudaerrormemoryallocation",
    "cuda_error_out_of_memory",
    "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed",
    "e_outofmemory",
    "8007000e",  # DirectML's HRESULT for E_OUTOFMEMORY
    "hipErrorOutOfMemory".lower(),
)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an ORT (or numpy) failure means the device ran out of memory."""
    if isinstance(err, MemoryError):
        return True
    text = str(err).lower()
    return any(marker in text for marker in _OOM_MARKERS)


def compiled_cache_dir() -> Path | None:
    """Where providers keep compiled models between runs: the user cache folder (OpenVINO blobs in
    `openvino/`, TensorRT engines in `tensorrt/`). A new process then skips OpenVINO's compile
    (benchmarks/bench_startup.py: first tile 0.73× the time without it). None when the folder
    cannot be made (a read-only home only costs the compile)."""
    from pixup.paths import user_paths

    folder = user_paths().cache
    try:
        (folder / "openvino").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        log.info("no compiled-model cache: %s", err)
        return None
    return folder


class _InferenceWorker:
    """One daemon thread that runs a session's inferences in order.

    A daemon, unlike a ThreadPoolExecutor's worker: an abandoned OpenVINO inference (which ignores
    terminate) must not hold up interpreter exit after a Ctrl+C."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="pixup-infer", daemon=True)
            self._thread.start()
        self._jobs.put((future, job))
        return future

    def stop(self) -> None:
        """Let the thread end after the jobs already queued."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            del item  # an idle worker holds no job: its closure would keep a session (and its model) alive
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as err:  # delivered to the waiting caller, never lost
                    future.set_exception(err)
            del future, job


class _ProviderFailed(Exception):
    """This provider cannot run this model; try the next one."""


class _ProviderMissing(_ProviderFailed):
    """The runtime does not offer this provider at all."""


class _Skip(Exception):
    """Pass over this choice of the plan (a variant the model does not have); `notice`, when given,
    tells the user why."""

    def __init__(self, notice: str | None = None) -> None:
        super().__init__(notice)
        self.notice = notice


def _plan(
    precision: Precision,
    providers: Sequence[str] | None,
    threads: int | None,
    plan: Sequence[ProviderChoice] | None,
) -> list[ProviderChoice]:
    """The choices a session tries, best first: `plan` as given, else the machine's plan for
    `precision`, restricted to and ordered by `providers` when given."""
    if plan is not None:
        return list(plan)
    if providers is None:
        return provider_plan(precision, threads=threads, cache_dir=compiled_cache_dir())
    return plan_for(providers, precision, threads=threads, cache_dir=compiled_cache_dir())


def _walk_plan(
    name: str,
    plan: Sequence[ProviderChoice],
    start: int,
    notices: list[str],
    load: Callable[[ProviderChoice], T],
) -> tuple[int, T]:
    """The one opener: the index of the first choice of `plan` (from `start`) that `load` can open,
    and what it opened. A choice that fails is logged and told in `notices`; ModelError when the
    model itself is the problem (the default CPU provider runs every standard op), else EngineError
    when no choice was left."""
    last_error: ModelError | None = None
    for index in range(start, len(plan)):
        choice = plan[index]
        try:
            made = load(choice)
        except _Skip as skip:
            if skip.notice:
                notices.append(skip.notice)
            continue
        except (_ProviderFailed, ProbeError) as err:
            last_error = err if isinstance(err, ProbeError) else None
            log.warning("%s failed for %s: %s", choice.description, name, err)
            if isinstance(err, _ProviderMissing):
                notices.append(str(err))
            else:
                notices.append(f"{device_name(choice)} could not run this model: {err}")
            if isinstance(err, _ProviderFailed) and choice.name == "CPUExecutionProvider":
                last_error = ModelError(f"cannot load {name}: {err}")
            continue
        if notices:  # something failed before this provider: say where we ended up
            notices.append(f"Running on {choice.description} instead.")
        return index, made
    if last_error is not None:
        raise last_error
    raise EngineError(f"no execution provider could run {name}")


def _create(
    model: Path | bytes, choice: ProviderChoice, threads: int | None, name: str | None = None
) -> ort.InferenceSession:
    """A session on exactly `choice` (plus ORT's implicit CPU provider for unsupported nodes) for the
    model file, or the serialised model; `name` names it in errors (default: the file's name)."""
    if choice.name not in ort.get_available_providers():
        raise _ProviderMissing(f"{short_name(choice.name)} is not available in this ONNX Runtime build.")
    options = session_options(choice, threads)
    name = name or (model.name if isinstance(model, Path) else "the model")
    try:
        # enable_fallback=0: ORT's own fallback would print to stdout and hide which provider runs.
        session = ort.InferenceSession(
            str(model) if isinstance(model, Path) else model,
            sess_options=options,
            providers=[(choice.name, choice.options)],
            enable_fallback=0,
        )
    # The file itself is the problem in these cases: no other provider will do better.
    except (ort_state.InvalidProtobuf, ort_state.NoModel) as err:
        raise ModelError(f"not an ONNX model: {name} could not be parsed") from err
    except ort_state.NoSuchFile as err:
        raise ModelError(f"model file not found: {model if isinstance(model, Path) else name}") from err
    except ort_state.InvalidGraph as err:
        raise ModelError(f"broken ONNX model ({name}): {ort_error_line(err)}") from err
    except Exception as err:
        raise _ProviderFailed(ort_error_line(err)) from err
    session.disable_fallback()
    running = session.get_providers()
    # ORT quietly drops a provider it cannot start (missing CUDA, no NPU): that is a failure here.
    if not running or running[0] != choice.name:
        raise _ProviderFailed(f"{short_name(choice.name)} could not start on this machine")
    return session


def _load(
    model_path: Path, choice: ProviderChoice, threads: int | None, spec: ModelSpec | None
) -> tuple[ort.InferenceSession | None, CompiledOpenVino | None]:
    """What runs the model on `choice`: OpenVINO CPU through its own API when the spec is known
    (its infer requests can be cancelled; ONNX Runtime's provider ignores terminate), else an ONNX
    Runtime session. The native path falls back to ONNX Runtime on any failure."""
    if spec is not None and choice.name == OPENVINO and choice.device == "CPU":
        native = _native_openvino(model_path, choice, threads, spec)
        if native is not None:
            return None, native
    return _create(model_path, choice, threads), None


def _native_openvino(
    model_path: Path, choice: ProviderChoice, threads: int | None, spec: ModelSpec
) -> CompiledOpenVino | None:
    lib = openvino_native.library()
    if lib is None:
        return None
    properties = openvino_native.cpu_properties(choice.options, threads)
    try:
        other = None if spec.fixed_shape else functools.partial(_small_shape, spec)
        return CompiledOpenVino(lib, model_path, properties, spec.input_name, spec.output_name, other)
    except openvino_native.OpenVinoError as err:
        log.info("OpenVINO's own API cannot run %s (%s); using ONNX Runtime's provider", model_path.name, err)
        return None


def _small_shape(spec: ModelSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The smallest square input the model accepts, in its layout, with `shape`'s batch and
    channels; one step larger if that is `shape` itself."""
    step = max(1, spec.multiple)
    side = -(-max(spec.min_size, step) // step) * step
    spatial = shape[1:3] if spec.layout == "NHWC" else shape[2:4]
    if tuple(spatial) == (side, side):
        side += step
    if spec.layout == "NHWC":
        return (shape[0], side, side, shape[3])
    return (shape[0], shape[1], side, side)


def _closed(native: CompiledOpenVino) -> None:
    native.close()


def _run_cancellable(
    worker: _InferenceWorker,
    infer: Callable[[ort.RunOptions], T],
    token: CancelToken | None,
    choice: ProviderChoice,
    native: CompiledOpenVino | None = None,
) -> T:
    """`infer(run_options)` on `worker`, its result; failures translated (`_translate`).

    A cancel of `token` sets the run's terminate flag (and cancels `native`'s request) and returns
    at once with Cancelled: a provider that ignores terminate (OpenVINO) finishes the inference on
    the worker, its result dropped."""
    if token is not None:
        token.raise_if_cancelled()
    options = ort.RunOptions()  # fresh per call: a terminate flag must not leak to the next run
    done = threading.Event()
    future = worker.submit(functools.partial(infer, options))
    future.add_done_callback(lambda _: done.set())
    hook = None
    if token is not None:

        def abort() -> None:
            options.terminate = True
            if native is not None:
                native.cancel()  # stops within one graph node
            done.set()

        hook = token.add_abort_hook(abort)
    try:
        done.wait()
    finally:
        if token is not None and hook is not None:
            token.remove_abort_hook(hook)
    if token is not None and token.cancelled:
        # Do not wait: the provider may not honour terminate (OpenVINO); the worker finishes it.
        raise Cancelled()
    try:
        return future.result()
    except Exception as err:
        raise _translate(err, choice) from err


def _translate(err: BaseException, choice: ProviderChoice) -> Exception:
    if is_out_of_memory(err):
        log.info("%s ran out of memory: %s", choice.description, ort_error_line(err))
        return OutOfMemory(ort_error_line(err))
    log.error("inference failed on %s: %s", choice.description, err)
    return EngineError(f"inference failed on {device_name(choice)}: {ort_error_line(err)}")


class ModelSession:
    """A loaded model on one execution provider. Implements `InferenceRunner`.

    Not for concurrent use: `run` serialises callers (one pipeline at a time)."""

    def __init__(
        self,
        model_path: Path,
        session: ort.InferenceSession,
        spec: ModelSpec,
        plan: Sequence[ProviderChoice],
        index: int,
        precision: Precision,
        threads: int | None,
        notices: list[str],
    ) -> None:
        """Use `ModelSession.open`."""
        self.model_path = model_path
        self.loaded_path = model_path
        """The file actually running: `model_path`, or a variant of it (`ProviderChoice.variant`)."""
        self._variants: Mapping[str, VariantLoader] = {}
        self._base_spec: ModelSpec | None = None  # the spec the caller knew for model_path
        self._session: ort.InferenceSession | None = session
        self._native: CompiledOpenVino | None = None
        """OpenVINO CPU through its own API (engine.openvino_native): used instead of `_session`."""
        self._spec = spec
        self._spec_known = False  # True when the spec came from a guarded inspection
        self._plan = tuple(plan)
        self._index = index
        self.precision: Precision = precision
        self._threads = threads
        self._seconds_per_pixel: float | None = None
        self.notices: list[str] = notices
        """User-visible lines about this load (providers skipped, fallbacks)."""
        self._lock = threading.Lock()
        self._worker = _InferenceWorker()

    # ------------------------------------------------------------ construction

    @classmethod
    def open(
        cls,
        model_path: Path,
        precision: Precision = "fast",
        providers: list[str] | None = None,
        threads: int | None = None,
        *,
        plan: Sequence[ProviderChoice] | None = None,
        spec: ModelSpec | None = None,
        variants: Mapping[str, VariantLoader] | None = None,
    ) -> ModelSession:
        """Load `model_path` on the best provider that works.

        `spec`: a ModelSpec already known for this file (inspected earlier, e.g. in a child process
        that a crashing model could not take down); the probe runs are then skipped.

        `providers` restricts and orders the providers tried (names as ONNX Runtime spells them);
        None = every provider this machine offers, best first (`providers.provider_plan`).
        `plan` overrides both with explicit choices (benchmarks, tests).
        `variants`: how to get each variant of the model ("int8" → its file and known spec) that a
        plan's choice may ask for; a choice whose variant is not offered is skipped.
        Raises ModelError when the file is not a usable image-to-image model (on any provider)."""
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        plan = _plan(precision, providers, threads, plan)
        return cls._open_from(model_path, plan, 0, precision, threads, [], spec, variants or {})

    @classmethod
    def _open_from(
        cls,
        model_path: Path,
        plan: Sequence[ProviderChoice],
        start: int,
        precision: Precision,
        threads: int | None,
        notices: list[str],
        known_spec: ModelSpec | None = None,
        variants: Mapping[str, VariantLoader] | None = None,
    ) -> ModelSession:
        variants = variants or {}

        def load(
            choice: ProviderChoice,
        ) -> tuple[Path, ort.InferenceSession | None, CompiledOpenVino | None, ModelSpec, bool]:
            path, choice_spec = model_path, known_spec
            if choice.variant is not None:
                loader = variants.get(choice.variant)
                if loader is None:  # no such variant: the next choice is the same device without it
                    raise _Skip()
                try:
                    path, choice_spec = loader()
                except (ModelError, ValueError) as err:
                    log.warning("no %s variant of %s: %s", choice.variant, model_path.name, err)
                    why = f"The {choice.variant} version of this model could not be made: {err}"
                    raise _Skip(why) from err
            session, native = _load(path, choice, threads, choice_spec)
            spec = choice_spec
            if spec is None:
                assert session is not None  # no spec: _load always gives an ORT session
                spec = inspect_session(session)
                if choice.name == OPENVINO:
                    # Failed probe runs at sizes the model refuses leave OpenVINO's compiled model
                    # in a bad state (later valid runs return NaN or ~1e25, seen on Real-CUGAN):
                    # start from a fresh one for the real work.
                    del session
                    session, native = _load(path, choice, threads, spec)
            return path, session, native, spec, choice_spec is not None

        index, (path, session, native, spec, spec_known) = _walk_plan(
            model_path.name, plan, start, notices, load
        )
        log.info("loaded %s on %s", path.name, plan[index].description)
        made = cls(model_path, session, spec, plan, index, precision, threads, notices)
        made.loaded_path = path
        made._variants = variants
        made._base_spec = known_spec
        made._native = native
        made._spec_known = spec_known
        return made

    # ------------------------------------------------------------ InferenceRunner

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def provider(self) -> str:
        return self.choice.name

    @property
    def choice(self) -> ProviderChoice:
        """The provider, options and precision this session runs with."""
        return self._plan[self._index]

    @property
    def precision_label(self) -> str:
        """ "bf16", "fp16", "fp32" or "auto": the arithmetic actually used. An fp16 model computes in
        fp16 everywhere but on OpenVINO CPU, which converts it to its own precision."""
        if self._spec.dtype == "float16" and self.choice.device != "CPU":
            return "fp16"
        return self.choice.precision_label

    @property
    def description(self) -> str:
        """One line for the UI: "OpenVINO CPU, bf16"."""
        return self.choice.description

    @property
    def spec_inspected(self) -> bool:
        """Whether this load measured the spec of `loaded_path` (none was known): worth caching."""
        return not self._spec_known

    @property
    def honours_terminate(self) -> bool:
        """Whether a cancel stops the computation itself. ONNX Runtime's OpenVINO provider runs the
        graph as one node and ignores RunOptions.terminate: `run` still returns at once, but the
        device stays busy until the abandoned inference ends. OpenVINO CPU through its own API
        (`openvino_native`, used whenever the spec is known) cancels between graph nodes."""
        return self.choice.name != OPENVINO or self._native is not None

    @property
    def seconds_per_pixel(self) -> float | None:
        """Measured inference cost per input pixel (smoothed over completed runs); None before any."""
        return self._seconds_per_pixel

    def batch_override_message(self, requested: int) -> str | None:
        """The toast text when the model fixes a batch size other than `requested`, else None."""
        fixed = self._spec.static_batch
        if fixed is None or fixed == requested:
            return None
        return f"Model requires batch size {fixed}. Overriding your setting of {requested}."

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        """Run one float32 NCHW batch; see `InferenceRunner.run`."""
        feed = self._to_model(batch)
        with self._lock:
            session, native = self._session, self._native
            if session is None and native is None:
                raise EngineError("the model session is closed")
            infer = functools.partial(self._infer, session, native, feed)
            result = _run_cancellable(self._worker, infer, token, self.choice, native)
        return self._from_model(result)

    def fallback(self) -> ModelSession | None:
        """The same model on the next provider of the plan that works, or None. This session stays
        open: the caller closes it once it has switched."""
        if self._index + 1 >= len(self._plan):
            return None
        notices = [*self.notices, f"{device_name(self.choice)} failed; switching to the next device."]
        try:
            return ModelSession._open_from(
                self.model_path, self._plan, self._index + 1, self.precision, self._threads, notices,
                self._base_spec, self._variants,
            )
        except (ModelError, EngineError) as err:
            log.warning("no fallback provider for %s: %s", self.model_path.name, err)
            return None

    def close(self) -> None:
        """Release the ORT session (an abandoned inference finishes in the background first)."""
        with self._lock:
            self._session = None
            native, self._native = self._native, None
        if native is not None:
            # After the worker's queued jobs (an abandoned inference stops within a node).
            self._worker.submit(lambda: _closed(native))
        self._worker.stop()

    def __enter__(self) -> ModelSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _infer(
        self,
        session: ort.InferenceSession | None,
        native: CompiledOpenVino | None,
        feed: np.ndarray,
        options: ort.RunOptions,
    ) -> np.ndarray:
        spec = self._spec
        started = time.perf_counter()
        if native is not None:
            outputs: list[Any] = [native.infer(feed, stop=lambda: options.terminate)]
        else:
            assert session is not None
            outputs = session.run([spec.output_name], {spec.input_name: feed}, options)
        pixels = feed.shape[0] * (
            feed.shape[2] * feed.shape[3] if spec.layout == "NCHW" else feed.shape[1] * feed.shape[2]
        )
        measured = (time.perf_counter() - started) / max(1, pixels)
        previous = self._seconds_per_pixel
        # Smoothed: the first run of a new shape pays for compilation/algorithm search.
        self._seconds_per_pixel = measured if previous is None else 0.7 * previous + 0.3 * measured
        return np.asarray(outputs[0])

    def _to_model(self, batch: np.ndarray) -> np.ndarray:
        spec = self._spec
        if batch.ndim != 4 or batch.shape[1] != spec.in_channels:
            raise ValueError(f"expected an N×{spec.in_channels}×H×W batch, got shape {batch.shape}")
        if spec.static_batch is not None and batch.shape[0] != spec.static_batch:
            raise ValueError(f"the model needs batches of exactly {spec.static_batch}, got {batch.shape[0]}")
        x = batch.transpose(0, 2, 3, 1) if spec.layout == "NHWC" else batch
        return np.ascontiguousarray(x, dtype=np.float16 if spec.dtype == "float16" else np.float32)

    def _from_model(self, result: np.ndarray) -> np.ndarray:
        y = result.transpose(0, 3, 1, 2) if self._spec.layout == "NHWC" else result
        y = np.ascontiguousarray(y, dtype=np.float32)
        # NaN or inf would be cast to arbitrary pixels: refuse them (a broken model or device).
        if not np.isfinite(y).all():
            raise EngineError(
                f"the model produced invalid values (NaN/inf) on {device_name(self.choice)}"
            )
        return y



class GraphSession:
    """Any ONNX model on the engine's provider plan: for models that are not image-to-image
    upscalers (the face detector, face restorers), with the provider choice, precision, fallback and
    cancellable runs of `ModelSession` but none of its inspection or tensor adaptation.

    Not for concurrent use: `run` serialises callers."""

    def __init__(
        self,
        model: Path | bytes,
        name: str,
        session: ort.InferenceSession,
        plan: Sequence[ProviderChoice],
        index: int,
        threads: int | None,
        notices: list[str],
    ) -> None:
        """Use `GraphSession.open`."""
        self._model = model
        self.name = name
        self._session: ort.InferenceSession | None = session
        self._plan = tuple(plan)
        self._index = index
        self._threads = threads
        self.notices = notices
        """User-visible lines about this session (providers skipped, fallbacks)."""
        self.input_names: tuple[str, ...] = tuple(i.name for i in session.get_inputs())
        self.output_names: tuple[str, ...] = tuple(o.name for o in session.get_outputs())
        self._lock = threading.Lock()
        self._worker = _InferenceWorker()
        # Face models live as long as their job and nobody closes them: the worker thread ends
        # with the session.
        weakref.finalize(self, self._worker.stop)

    @classmethod
    def open(
        cls,
        model: Path | bytes,
        precision: Precision = "fast",
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        *,
        plan: Sequence[ProviderChoice] | None = None,
        name: str | None = None,
    ) -> GraphSession:
        """Load `model` (a file, or the serialised model) on the best provider that can, as
        `ModelSession.open` does (`providers`, `plan`: the same meaning; choices for a model
        variant, int8, are passed over). `name` names the model in messages (default: the file's
        name). Raises ModelError when the model cannot be loaded on any provider."""
        name = name or (model.name if isinstance(model, Path) else "the model")
        plan = _plan(precision, providers, threads, plan)
        notices: list[str] = []
        index, session = cls._open_on(model, name, plan, 0, threads, notices)
        return cls(model, name, session, plan, index, threads, notices)

    @staticmethod
    def _open_on(
        model: Path | bytes,
        name: str,
        plan: Sequence[ProviderChoice],
        start: int,
        threads: int | None,
        notices: list[str],
    ) -> tuple[int, ort.InferenceSession]:
        def load(choice: ProviderChoice) -> ort.InferenceSession:
            if choice.variant is not None:
                raise _Skip()  # variants are made for upscalers only
            return _create(model, choice, threads, name)

        index, session = _walk_plan(name, plan, start, notices, load)
        log.info("loaded %s on %s", name, plan[index].description)
        return index, session

    @property
    def choice(self) -> ProviderChoice:
        """The provider, options and precision this session runs with."""
        return self._plan[self._index]

    @property
    def provider(self) -> str:
        return self.choice.name

    def run(
        self,
        feed: Mapping[str, np.ndarray],
        outputs: Sequence[str] | None = None,
        token: CancelToken | None = None,
    ) -> list[np.ndarray]:
        """The model's `outputs` (default all) for `feed`. Cancelling `token` aborts the inference
        and raises Cancelled at once. Out of memory on this provider, the model moves to the next
        one of the plan and runs again (a line in `notices` says so); EngineError when none is left
        or the inference failed otherwise."""
        names = list(outputs) if outputs is not None else None
        with self._lock:
            while True:
                session = self._session
                if session is None:
                    raise EngineError(f"the session of {self.name} is closed")
                infer = functools.partial(_run_session, session, names, dict(feed))
                try:
                    return _run_cancellable(self._worker, infer, token, self.choice)
                except OutOfMemory:
                    self._fall_back()

    def _fall_back(self) -> None:
        """Reopen on the next provider after running out of memory; EngineError when none is left."""
        device = device_name(self.choice)
        notices = [f"Out of memory on {device}; {self.name} switched to the next device."]
        try:
            index, session = self._open_on(self._model, self.name, self._plan, self._index + 1,
                                           self._threads, notices)
        except (ModelError, EngineError) as err:
            log.warning("no fallback provider for %s: %s", self.name, err)
            message = f"Out of memory on {device} running {self.name}, and no other device is left."
            raise EngineError(message) from err
        self._session, self._index = session, index
        self.notices.extend(notices)

    def close(self) -> None:
        """Release the ORT session (an abandoned inference finishes in the background first)."""
        with self._lock:
            self._session = None
        self._worker.stop()

    def __enter__(self) -> GraphSession:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _run_session(
    session: ort.InferenceSession,
    outputs: list[str] | None,
    feed: dict[str, np.ndarray],
    options: ort.RunOptions,
) -> list[np.ndarray]:
    return [np.asarray(out) for out in session.run(outputs, feed, options)]
