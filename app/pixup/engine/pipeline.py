"""One model pass over one image: prepare → infer → stitch, on three threads with bounded queues.

- prepare (worker thread): cut each tile (mirrored context), normalise to float32 in [0, 1] straight
  into a pooled batch tensor; runs up to `QUEUE_DEPTH` batches ahead so inference never waits.
- infer (the caller's thread): `runner.run` on each batch. ONNX Runtime releases the GIL.
- stitch (worker thread): fit channels, crop, blend, quantise into the output buffer, report progress.

A cancel (the job's token) or an error anywhere stops all three promptly: the running inference is
aborted through the token, the workers see the stop flag within `_POLL_S`, every thread is joined and
the first real error (or `Cancelled`) is raised to the caller.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from pixup.engine.bufferpool import BufferPool, PoolStopped
from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.channels import Feed, fill_planes, reduce_output
from pixup.engine.runner import InferenceRunner
from pixup.engine.tiling import Stitcher, TileGrid, cut_tile
from pixup.errors import EngineError

log = logging.getLogger(__name__)

QUEUE_DEPTH = 4
"""Batches that may wait between two stages."""
_POLL_S = 0.02
"""How often a waiting stage looks at the stop flag (bounds cancel latency)."""

_T = TypeVar("_T")


class _Stopped(Exception):  # internal control flow
    """A stage noticed the stop flag."""


@dataclass(frozen=True)
class _Batch:
    items: tuple[tuple[int, int, int], ...]
    """(feed, tile row, tile column) of each real tile, in slot order."""
    tensor: np.ndarray
    """What the runner gets: N×C×H×W float32 (N may exceed len(items): static-batch padding)."""
    buffer: np.ndarray
    """The pool array behind `tensor`, returned after inference."""


def _put(q: queue.Queue[_T], item: _T, stop: CancelToken) -> None:
    while True:
        if stop.cancelled:
            raise _Stopped()
        try:
            q.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[_T], stop: CancelToken) -> _T:
    while True:
        if stop.cancelled:
            raise _Stopped()
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue


def _chunks(items: Sequence[tuple[int, int, int]], size: int) -> Iterator[tuple[tuple[int, int, int], ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


def run_pass(
    image: np.ndarray,
    runner: InferenceRunner,
    grid: TileGrid,
    feeds: Sequence[Feed],
    out: np.ndarray,
    *,
    batch: int = 1,
    token: CancelToken | None = None,
    on_tile: Callable[[], None] | None = None,
) -> None:
    """Run every feed of `image` (H×W×C uint8/uint16) through `runner` tile by tile and write the
    result into `out` (grid.out_shape × C, same dtype). `batch` tiles go per run; a model with a static
    batch gets exactly that many (the last batch padded with copies). `on_tile` is called from the
    stitch thread after each tile. Raises `Cancelled`, the runner's errors (`OutOfMemory` ...) or a
    worker's error; no thread outlives the call."""
    spec = runner.spec
    size = spec.static_batch or max(1, batch)
    tensor_n = spec.static_batch or size
    th, tw = grid.tile_shape
    top = float(np.iinfo(image.dtype).max)
    items = [(f, ky, kx) for f in range(len(feeds)) for ky, kx in grid.tiles()]
    pool = BufferPool((tensor_n, spec.in_channels, th, tw), capacity=QUEUE_DEPTH + 2)
    stitcher = Stitcher(grid, out)

    stop = CancelToken()
    hook = token.add_abort_hook(stop.cancel) if token is not None else None
    prepared: queue.Queue[_Batch | None] = queue.Queue(QUEUE_DEPTH)
    inferred: queue.Queue[tuple[_Batch, np.ndarray] | None] = queue.Queue(QUEUE_DEPTH)
    failures: list[BaseException] = []

    def prepare() -> None:
        for chunk in _chunks(items, size):
            buffer = pool.acquire(stop)
            for slot, (f, ky, kx) in enumerate(chunk):
                if stop.cancelled:
                    raise _Stopped()
                fill_planes(buffer[slot], cut_tile(image, grid, ky, kx), feeds[f].src, top)
            used = len(chunk)
            if spec.static_batch:
                buffer[used:] = buffer[used - 1]
                used = tensor_n
            _put(prepared, _Batch(chunk, buffer[:used], buffer), stop)
        _put(prepared, None, stop)

    def stitch() -> None:
        while (got := _get(inferred, stop)) is not None:
            done, result = got
            if result.ndim != 4 or result.shape[0] != done.tensor.shape[0]:
                raise EngineError(
                    f"The model returned a {result.shape} tensor for a {done.tensor.shape} batch."
                )
            if result.shape[2:] != grid.tile_out_shape:
                raise EngineError(
                    f"The model returned {result.shape[3]}×{result.shape[2]} px for a {tw}×{th} px tile; "
                    f"its inspected scale {spec.scale} predicts {grid.tile_out_shape[1]}×"
                    f"{grid.tile_out_shape[0]} px."
                )
            for slot, (f, ky, kx) in enumerate(done.items):
                if stop.cancelled:
                    raise _Stopped()
                feed = feeds[f]
                values = reduce_output(result[slot], feed)
                stitcher.add(f, ky, kx, values, feed.dst)
                if on_tile is not None:
                    on_tile()
        if stitcher.pending_blocks:
            raise AssertionError(f"{stitcher.pending_blocks} overlap blocks never completed")

    def guarded(stage: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            try:
                stage()
            except (_Stopped, PoolStopped):
                pass
            except BaseException as exc:
                log.debug("pipeline stage %s failed", stage.__name__, exc_info=True)
                failures.append(exc)
                stop.cancel()

        return body

    workers = [
        threading.Thread(target=guarded(prepare), name="pixup-prepare", daemon=True),
        threading.Thread(target=guarded(stitch), name="pixup-stitch", daemon=True),
    ]
    main_error: BaseException | None = None
    try:
        for worker in workers:
            worker.start()
        while (work := _get(prepared, stop)) is not None:
            result = runner.run(work.tensor, stop)
            pool.release(work.buffer)
            _put(inferred, (work, result), stop)
        _put(inferred, None, stop)
        while workers[1].is_alive():
            workers[1].join(_POLL_S)
            if stop.cancelled:
                raise _Stopped()
    except _Stopped:
        pass
    except BaseException as exc:
        main_error = exc
    finally:
        stop.cancel()  # releases any stage still waiting; harmless once everything finished
        for worker in workers:
            if worker.ident is not None:
                worker.join()
        if hook is not None and token is not None:
            token.remove_abort_hook(hook)
        for q in (prepared, inferred):  # drop tensors still queued
            while not q.empty():
                q.get_nowait()

    if token is not None and token.cancelled:
        raise Cancelled()
    errors = [e for e in (*failures, main_error) if e is not None and not isinstance(e, Cancelled)]
    if errors:
        raise errors[0]
    if main_error is not None:  # Cancelled by the stop flag with no other cause: should not happen
        raise main_error
