"""Cancellation shared by the pipeline and the session: one flag per job, plus abort hooks."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised out of the engine when its job was cancelled. Never an error for the user."""


class CancelToken:
    """A job's cancel flag. `cancel()` is safe from any thread (signal handler included).

    Running inferences register an abort hook (`RunOptions.terminate = True`) so a cancel stops the
    work in flight, not only between tiles.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()
        with self._lock:
            hooks = list(self._hooks.values())
        for hook in hooks:
            hook()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds; True as soon as the job is cancelled."""
        return self._event.wait(timeout)

    def add_abort_hook(self, hook: Callable[[], None]) -> int:
        """Register `hook` to run on cancel; runs at once if already cancelled. Returns a handle."""
        with self._lock:
            handle = self._next
            self._next += 1
            self._hooks[handle] = hook
        if self._event.is_set():
            hook()
        return handle

    def remove_abort_hook(self, handle: int) -> None:
        with self._lock:
            self._hooks.pop(handle, None)
