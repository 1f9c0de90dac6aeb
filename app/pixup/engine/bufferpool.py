"""A small pool of equally shaped float32 tensors, reused for every batch of a pass."""

from __future__ import annotations

import threading

import numpy as np

from pixup.engine.cancel import CancelToken


class PoolStopped(Exception):  # a control-flow signal, not an error
    """Raised by `acquire` when the pipeline stopped while waiting for a buffer."""


class BufferPool:
    """Hands out at most `capacity` arrays of `shape`; `acquire` waits for a `release` beyond that.
    Arrays are allocated lazily and kept, so a pass allocates its tensors once."""

    def __init__(self, shape: tuple[int, ...], capacity: int, *, poll: float = 0.02) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._shape = shape
        self._capacity = capacity
        self._poll = poll
        self._free: list[np.ndarray] = []
        self._made = 0
        self._cond = threading.Condition()

    @property
    def allocated(self) -> int:
        """Arrays created so far (never more than the capacity)."""
        return self._made

    def acquire(self, stop: CancelToken) -> np.ndarray:
        """A free array (contents undefined); raises `PoolStopped` if `stop` is cancelled meanwhile."""
        with self._cond:
            while True:
                if stop.cancelled:
                    raise PoolStopped()
                if self._free:
                    return self._free.pop()
                if self._made < self._capacity:
                    self._made += 1
                    return np.empty(self._shape, dtype=np.float32)
                self._cond.wait(self._poll)

    def release(self, array: np.ndarray) -> None:
        with self._cond:
            self._free.append(array)
            self._cond.notify()
