"""A model-slot opener for tests: real CPU sessions (fp32), with every open and close recorded."""

from __future__ import annotations

import threading
import time

from pixup.engine.providers import Precision
from pixup.engine.session import ModelSession
from pixup.models.catalogue import ResolvedModel


class RecordingOpener:
    """Opens real sessions on the default CPU provider and records "open NAME" / "close NAME" in order
    (NAME: the model file's stem)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.events: list[str] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, model: ResolvedModel, precision: Precision) -> ModelSession:
        path = model.onnx_path
        time.sleep(self.delay)  # stands in for a big model's load time
        session = ModelSession.open(path, precision="exact", providers=["CPUExecutionProvider"])
        with self.lock:
            self.events.append(f"open {path.stem}")
        original_close = session.close

        def close() -> None:
            with self.lock:
                self.events.append(f"close {path.stem}")
            original_close()

        session.close = close  # type: ignore[method-assign]
        return session
