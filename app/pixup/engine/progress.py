"""Progress of one upscale job, counted in tiles over all model passes and channel runs."""

from __future__ import annotations

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
