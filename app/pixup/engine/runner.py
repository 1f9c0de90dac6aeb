"""The contract between the tiling pipeline and whatever runs the model.

`engine.session.ModelSession` implements it with ONNX Runtime. The pipeline only ever talks to this
protocol, so it stays ignorant of providers, precision and fallback.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pixup.engine.cancel import CancelToken
from pixup.engine.spec import ModelSpec


class OutOfMemory(Exception):  # a signal, like chaiNNer's "split the tile" sentinel
    """The run did not fit in device memory; the caller should retry with smaller tiles."""


class InferenceRunner(Protocol):
    @property
    def spec(self) -> ModelSpec:
        """What the model needs (inspected once at load)."""
        ...

    @property
    def provider(self) -> str:
        """The execution provider actually running (e.g. "OpenVINOExecutionProvider")."""
        ...

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        """Run one batch.

        `batch` is float32, NCHW, values in [0, 1], with exactly `spec.in_channels` channels, and
        N == `spec.static_batch` when the model fixes it (the caller pads the batch). H/W are whatever
        the model accepts (the caller respects fixed shape, multiple and minimum). The runner converts
        to the model's dtype and layout and back: the result is float32 NCHW (not clipped).

        Raises `OutOfMemory` when the device ran out of memory, `Cancelled` when `token` was
        cancelled (the running inference is aborted through RunOptions.terminate).
        """
        ...

    def fallback(self) -> InferenceRunner | None:
        """A runner for the same model on the next provider in the ranking, or None when none is
        left. Used after `OutOfMemory` persists at the smallest tile size, or a provider fails."""
        ...
