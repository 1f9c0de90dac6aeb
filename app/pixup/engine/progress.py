"""Progress of one upscale job, counted in tiles over all model passes and channel runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job's progress."""

    tiles_done: int
    """Tiles stitched so far, over all passes."""
    tiles_total: int
    """Tiles the whole job needs (it can grow when an out-of-memory retry shrinks the tiles)."""
    pass_index: int
    """The model pass running now (0-based)."""
    passes: int
    """Model passes the job needs (2 when a 2× model is chained for 4×)."""

    @property
    def fraction(self) -> float:
        """Done ÷ total in [0, 1]."""
        return min(1.0, self.tiles_done / self.tiles_total) if self.tiles_total else 0.0


class ProgressMonitor:
    """A progress callback that keeps the latest snapshot, for callers that poll (the UI)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        with self._lock:
            self._latest = progress

    @property
    def latest(self) -> Progress | None:
        with self._lock:
            return self._latest
