"""Single-slot model cache with debounced background preload.

Exactly one model session lives in memory: switching drops the old session before the new one loads
(upscale models are large; two at once can exhaust RAM or VRAM). A job holds a `Lease`: a
switch while it runs detaches its session and closes it when the job lets go. Selecting a model in
a UI calls `preload`, debounced so rapid selections load only the last one; an upscale that starts while that
load is in flight waits for it instead of loading a second time.
"""

from __future__ import annotations

import functools
import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from pixup.engine.providers import Precision
from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.models.catalogue import FoundModel, ResolvedModel, resolve_model
from pixup.models.probe import cached_spec, guarded_spec, remember_spec

log = logging.getLogger(__name__)

PRELOAD_DEBOUNCE_S = 0.3
MIN_RAM_FOR_PRELOAD = 2 * 1024**3

SessionOpener = Callable[[ResolvedModel, Precision], ModelSession]


def _open_session(model: ResolvedModel, precision: Precision) -> ModelSession:
    # A user's model is inspected in a child process first (cached): if it crashes ONNX Runtime
    # at a probe size, only the child dies. pixup's own conversions need no guard: they are
    # inspected in-process on first load and their spec cached by content like a user's, which
    # spares every later process the probe runs and, on OpenVINO, a second session (~0.3 s).
    if model.source != "bundled":
        return ModelSession.open(model.onnx_path, precision=precision, spec=guarded_spec(model.onnx_path))
    variants = {"int8": functools.partial(_int8_variant, model.onnx_path)} if model.int8 else {}
    session = ModelSession.open(
        model.onnx_path, precision=precision, spec=cached_spec(model.onnx_path), variants=variants
    )
    if session.spec_inspected:
        remember_spec(session.loaded_path, session.spec)
    return session


def _int8_variant(onnx_path: Path) -> tuple[Path, ModelSpec | None]:
    from pixup.models.int8 import int8_model

    path = int8_model(onnx_path)
    return path, cached_spec(path)


def total_ram() -> int:
    """Total system RAM in bytes (a function so the low-RAM rule can be exercised)."""
    return int(psutil.virtual_memory().total)


@dataclass(frozen=True)
class _Key:
    onnx_path: Path
    precision: Precision


class _Entry:
    """One loaded session and the leases out on it. Closed when it is neither current nor leased."""

    def __init__(self, key: _Key, model: ResolvedModel, session: ModelSession) -> None:
        self.key = key
        self.model = model
        self.session = session
        self.leases = 0
        self.current = True


class Lease:
    """A job's hold on a session: the slot never closes it while held (a preload of another model
    detaches it instead, and it closes on release). Use as a context manager."""

    def __init__(self, slot: ModelSlot, entry: _Entry) -> None:
        self._slot = slot
        self._entry = entry
        self._released = False

    @property
    def model(self) -> ResolvedModel:
        return self._entry.model

    @property
    def session(self) -> ModelSession:
        return self._entry.session

    def fallback(self, failed: object) -> ModelSession | None:
        """After out-of-memory at the smallest tile: the same model on the next provider, installed
        in the slot (so later files start there instead of failing over again), the old one closed."""
        return self._slot._fallback(self._entry)

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slot._release(self._entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class ModelSlot:
    """Holds at most one current model session; thread-safe.

    Sessions leased by running jobs outlive a switch (detached, closed on release), so a preload can
    never pull a session from under a job."""

    def __init__(self, opener: SessionOpener = _open_session) -> None:
        self._opener = opener
        self._lock = threading.Lock()  # guards the fields below and every _Entry
        self._load_lock = threading.Lock()  # one load at a time
        self._entry: _Entry | None = None
        self._timer: threading.Timer | None = None
        self._pending: threading.Event | None = None
        self.loads = 0
        """How many sessions were actually created (tests check there is never a double load)."""

    @property
    def loaded(self) -> ResolvedModel | None:
        entry = self._entry
        return entry.model if entry is not None else None

    @property
    def loaded_session(self) -> ModelSession | None:
        entry = self._entry
        return entry.session if entry is not None else None

    def get(self, ref: str | FoundModel, precision: Precision = "fast") -> tuple[ResolvedModel, ModelSession]:
        """The session for `ref`, loading it now unless it is loaded (or being preloaded). Unleased:
        a later switch may close it; jobs use `lease`."""
        entry = self._current(ref, precision, lease=False)
        return entry.model, entry.session

    def lease(self, ref: str | FoundModel, precision: Precision = "fast") -> Lease:
        """Like `get`, but the session stays open until the lease is released."""
        return Lease(self, self._current(ref, precision, lease=True))

    def _current(self, ref: str | FoundModel, precision: Precision, lease: bool) -> _Entry:
        pending = self._pending
        if pending is not None:
            pending.wait()
        model = resolve_model(ref)
        key = _Key(model.onnx_path, precision)
        with self._load_lock:
            with self._lock:
                entry = self._entry
                if entry is not None and entry.key == key:
                    entry.leases += lease
                    return entry
            self._drop()
            session = self._opener(model, precision)
            entry = _Entry(key, model, session)
            with self._lock:
                entry.leases += lease
                self._entry = entry
                self.loads += 1
            return entry

    def preload(self, ref: str, precision: Precision = "fast") -> bool:
        """Start loading `ref` after the debounce delay; False when skipped (little RAM).

        A newer call within the delay replaces the older one.
        """
        if total_ram() < MIN_RAM_FOR_PRELOAD:
            log.info("not preloading %s: less than 2 GB of RAM", ref)
            return False
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            done = self._pending if self._pending is not None else threading.Event()
            self._pending = done

            def fire() -> None:
                try:
                    self._pending = None  # let get() through; it serialises on the load lock
                    self.get(ref, precision)
                except Exception as err:  # a failed preload is retried (and reported) by the upscale
                    log.warning("preload of %s failed: %s", ref, err)
                finally:
                    done.set()

            # The event is cleared only by `fire`, so a waiting get() sees the load through.
            self._timer = threading.Timer(PRELOAD_DEBOUNCE_S, fire)
            self._timer.daemon = True
            self._timer.start()
        return True

    def _drop(self) -> None:
        """Detach the current entry; close it now unless a job still holds it."""
        with self._lock:
            entry, self._entry = self._entry, None
            if entry is None:
                return
            entry.current = False
            close_now = entry.leases == 0
        if close_now:
            _close(entry.session)

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            close_now = entry.leases == 0 and not entry.current
        if close_now:
            _close(entry.session)

    def _fallback(self, entry: _Entry) -> ModelSession | None:
        with self._load_lock:
            old = entry.session
            successor = old.fallback()
            if successor is None:
                return None
            with self._lock:
                entry.session = successor
            _close(old)  # its pipeline has stopped: the caller restarts the pass on the successor
            return successor

    def clear(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.set()
        with self._load_lock:
            self._drop()


def _close(session: ModelSession) -> None:
    session.close()
    del session
    gc.collect()
