"""Single-slot model cache with debounced background preload.

Exactly one model session lives in memory: switching drops the old session before the new one loads
(upscale models are large; two at once can exhaust RAM or VRAM). Selecting a model in a UI calls
`preload`, debounced so rapid selections load only the last one; an upscale that starts while that
load is in flight waits for it instead of loading a second time.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from pixup.engine.providers import Precision
from pixup.engine.session import ModelSession
from pixup.models.catalogue import ResolvedModel, resolve_model
from pixup.models.probe import guarded_spec

log = logging.getLogger(__name__)

PRELOAD_DEBOUNCE_S = 0.3
MIN_RAM_FOR_PRELOAD = 2 * 1024**3

SessionOpener = Callable[[ResolvedModel, Precision], ModelSession]


def _open_session(model: ResolvedModel, precision: Precision) -> ModelSession:
    # A user's model is inspected in a child process first (cached): if it crashes ONNX Runtime
    # at a probe size, only the child dies. pixup's own conversions need no guard.
    spec = guarded_spec(model.onnx_path) if model.source != "bundled" else None
    return ModelSession.open(model.onnx_path, precision=precision, spec=spec)


def total_ram() -> int:
    """Total system RAM in bytes (a function so the low-RAM rule can be exercised)."""
    return int(psutil.virtual_memory().total)


@dataclass(frozen=True)
class _Key:
    onnx_path: Path
    precision: Precision


class ModelSlot:
    """Holds at most one loaded model session; thread-safe."""

    def __init__(self, opener: SessionOpener = _open_session) -> None:
        self._opener = opener
        self._lock = threading.Lock()  # guards the fields below
        self._load_lock = threading.Lock()  # one load at a time
        self._key: _Key | None = None
        self._session: ModelSession | None = None
        self._model: ResolvedModel | None = None
        self._timer: threading.Timer | None = None
        self._pending: threading.Event | None = None
        self.loads = 0
        """How many sessions were actually created (tests check there is never a double load)."""

    @property
    def loaded(self) -> ResolvedModel | None:
        return self._model

    def get(self, ref: str, precision: Precision = "fast") -> tuple[ResolvedModel, ModelSession]:
        """The session for `ref`, loading it now unless it is loaded (or being preloaded)."""
        pending = self._pending
        if pending is not None:
            pending.wait()
        model = resolve_model(ref)
        key = _Key(model.onnx_path, precision)
        with self._load_lock:
            with self._lock:
                if self._key == key and self._session is not None:
                    return model, self._session
            self._drop()
            session = self._opener(model, precision)
            with self._lock:
                self._key, self._session, self._model = key, session, model
                self.loads += 1
            return model, session

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
        with self._lock:
            session, self._session, self._key, self._model = self._session, None, None, None
        if session is not None:
            session.close()
            del session
            gc.collect()

    def clear(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            pending, self._pending = self._pending, None
        if pending is not None:
            pending.set()
        with self._load_lock:
            self._drop()
