"""The engine's one public entry point: upscale a pixel array with a loaded model."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import psutil

from pixup.engine import hardware
from pixup.engine.cancel import CancelToken
from pixup.engine.channels import alpha_channel, plan_feeds
from pixup.engine.pipeline import run_pass
from pixup.engine.progress import Progress
from pixup.engine.providers import short_name
from pixup.engine.runner import InferenceRunner, OutOfMemory
from pixup.engine.scaling import plan_scale, resize_lanczos
from pixup.engine.tiling import MIN_PAD, TileGrid, context_for, plan_grid
from pixup.errors import EngineError

log = logging.getLogger(__name__)

TILE_FLOOR = 64
"""Out-of-memory retries halve the tile down to this, then move to the next provider."""


def auto_tile_size(runner: InferenceRunner, batch: int = 1, output_bytes: int = 0) -> int:
    """Core tile size when the caller gives none: from free VRAM on GPU providers, free RAM on CPU
    providers, and on OpenVINO CPU also the size of the output (`hardware.auto_tile_size`)."""
    provider = runner.provider
    free_vram: int | None = None
    if provider in hardware.GPU_PROVIDERS:
        gpus = hardware.system_info().gpus
        free_vram = gpus[0].free_vram if gpus else None
    free_ram = int(psutil.virtual_memory().available)
    spec = runner.spec
    return hardware.auto_tile_size(
        provider, free_vram, free_ram, spec.scale, spec.in_channels, batch=batch, output_bytes=output_bytes
    )


def _as_hwc(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype not in (np.uint8, np.uint16):
        raise EngineError(f"Pixels of type {pixels.dtype} are not supported (8 or 16 bits per channel).")
    image = pixels[:, :, None] if pixels.ndim == 2 else pixels
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise EngineError(f"An image of shape {pixels.shape} is not supported.")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise EngineError("The image is empty.")
    return image


def _uniform_alpha(image: np.ndarray) -> int | None:
    """The alpha value when the image has alpha and it is the same everywhere."""
    index = alpha_channel(image.shape[2])
    if index is None:
        return None
    plane = image[:, :, index]
    low = int(plane.min())
    return low if low == int(plane.max()) else None


class _Job:
    """Counts tiles over all passes and turns them into Progress reports."""

    def __init__(self, passes: int, callback: Callable[[Progress], None] | None) -> None:
        self.passes = passes
        self.callback = callback
        self.done = 0
        self.total = 0
        self.pass_index = 0

    def tile_done(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(Progress(self.done, self.total, self.pass_index, self.passes))


def upscale_array(
    pixels: np.ndarray,
    runner: InferenceRunner,
    *,
    target_scale: float | None = None,
    tile: int | None = None,
    pad: int = 0,
    batch: int = 1,
    token: CancelToken | None = None,
    progress: Callable[[Progress], None] | None = None,
    notices: list[str] | None = None,
    fallback: Callable[[InferenceRunner], InferenceRunner | None] | None = None,
) -> np.ndarray:
    """Upscale `pixels` (H×W or H×W×C, C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; uint8 or uint16)
    with the model behind `runner`, to `target_scale` (None: the model's own scale).

    Returns a new array of the same dtype and channel count, round(H·scale)×round(W·scale).
    `tile`: tile budget in pixels (None: automatic from free memory): a tile holds at most
    (tile + 64)² input pixels, an image within that runs as one tile (`tiling.plan_grid`).
    `pad`: context on each side of a cut between tiles, at least (0: what the model needs, its
    measured context radius plus a margin, or 32 px when unknown: `tiling.context_for`).
    `batch`: tiles per run (a model with a static batch overrides it). `progress` is called from a
    worker thread after every tile. `fallback` replaces `runner.fallback()` when the caller owns the
    sessions (the model slot installs the successor and closes the failed one).
    One-line explanations of what the engine adapted (smaller tiles,
    another provider, less padding) are appended to `notices`.

    Raises `Cancelled` when `token` is cancelled, `EngineError` when nothing could run it, and
    whatever the runner raises otherwise.
    """
    image = _as_hwc(pixels)
    notes = notices if notices is not None else []
    if token is not None:
        token.raise_if_cancelled()
    if tile is not None and tile < 1:
        raise EngineError(f"Tile size {tile} is not usable.")
    height, width, channels = image.shape
    active = runner
    plan = plan_scale(active.spec.scale, target_scale)
    alpha_value = _uniform_alpha(image)
    feeds = plan_feeds(channels, active.spec.in_channels, alpha_uniform=alpha_value is not None)
    sizes = [(height, width), *plan.pass_sizes(height, width)]
    # The largest pass output: it is alive, filling up, while the tiles run.
    output_bytes = max(h * w for h, w in sizes[1:]) * channels * image.itemsize
    tile_size = tile if tile is not None else auto_tile_size(active, batch, output_bytes)
    job = _Job(plan.passes, progress)
    pad_told = False

    current = image
    for index in range(plan.passes):
        job.pass_index = index
        while True:
            grid = plan_grid(*sizes[index], active.spec, tile=tile_size, pad=pad)
            wanted_pad = context_for(active.spec, pad)
            if grid.pad < wanted_pad and not pad_told:
                notes.append(
                    f"The model's fixed {grid.rows.tile_in}×{grid.cols.tile_in} px input leaves room for "
                    f"{grid.pad} px of tile padding instead of {wanted_pad} px."
                )
                pad_told = True
            passed = job.done
            job.total = passed + len(feeds) * sum(
                plan_grid(*sizes[k], active.spec, tile=tile_size, pad=pad).count
                for k in range(index, plan.passes)
            )
            out = np.empty((*grid.out_shape, channels), dtype=image.dtype)
            try:
                run_pass(current, active, grid, feeds, out, batch=batch, token=token, on_tile=job.tile_done)
                break
            except OutOfMemory:
                del out
                job.done = passed
                active, tile_size = _recover(active, grid, tile, batch, notes, fallback, output_bytes)
                log.info("out of memory: retrying pass %d on %s, tile %d", index, active.provider, tile_size)
        current = out

    result = resize_lanczos(current, *plan.output_size(height, width))
    if alpha_value is not None:
        index_a = alpha_channel(channels)
        assert index_a is not None
        result[:, :, index_a] = alpha_value
    return result[:, :, 0] if pixels.ndim == 2 else result


def _recover(
    active: InferenceRunner,
    grid: TileGrid,
    tile: int | None,
    batch: int,
    notes: list[str],
    fallback: Callable[[InferenceRunner], InferenceRunner | None] | None,
    output_bytes: int,
) -> tuple[InferenceRunner, int]:
    """After OutOfMemory: halve the tile while it can shrink, then move to the next provider.

    The next tile budget is always below the failed tile's input area (an image that ran as one tile
    gets a grid), so every retry runs smaller tiles, down to the floor's budget."""
    core = max(grid.rows.core, grid.cols.core)
    device = short_name(active.provider)  # "CUDA", as pixup names providers everywhere it speaks
    area = grid.rows.tile_in * grid.cols.tile_in
    if not active.spec.fixed_shape and area > (TILE_FLOOR + 2 * MIN_PAD) ** 2:
        smaller = max(TILE_FLOOR, min(core // 2, math.isqrt(area // 2) - 2 * MIN_PAD))
        notes.append(f"Out of memory on {device} with {core} px tiles; retrying with {smaller} px tiles.")
        return active, smaller
    successor = fallback(active) if fallback is not None else active.fallback()
    if successor is None:
        raise EngineError(
            f"Out of memory on {device} even with {core} px tiles, and no other device is left."
        )
    notes.append(f"Out of memory on {device}; switched to {short_name(successor.provider)}.")
    return successor, tile if tile is not None else auto_tile_size(successor, batch, output_bytes)
