"""The tile grid: uniform tile shapes, reflect-101 context, valid regions, blend ramps and stitching.

Coordinates: a tile's *core* is the part of the input whose output it owns; around it sits `pad`
pixels of context on each side (plus the model's `border` for unpadded models). Every tile has the
same input shape, so batches are uniform and nothing is stretched. Context outside the image is
mirrored (reflect-101). Cores partition the image except where the last tile of a row or column is
shifted back inside the image; there the two tiles' outputs are cross-faded with a linear ramp.

Fractional scales a/q: core starts, core sizes and pads are multiples of q, so every tile maps onto
whole output pixels and an output pixel always comes from the same place in the model's view.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from pixup.engine.spec import ModelSpec
from pixup.errors import EngineError

_WRITE_BAND = 128  # rows quantised at once by the stitcher
MIN_PAD = 32
"""Context on each side of a tile never drops below this (except where a fixed input forbids it)."""


def reflect101(index: np.ndarray, size: int) -> np.ndarray:
    """Map any integer indices onto [0, size) by reflect-101 mirroring (x = −5 reads x = 5), repeated
    as often as needed, so any overshoot works; a size-1 axis maps everything to 0."""
    if size < 1:
        raise ValueError("size must be >= 1")
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    folded = np.mod(index, period)
    mirrored: np.ndarray = np.where(folded >= size, period - folded, folded)
    return mirrored


def scale_fraction(scale: float) -> Fraction:
    """The model scale as an exact fraction a/q (4.0 → 4, 1.5 → 3/2, 1.3333333 → 4/3)."""
    if not math.isfinite(scale) or scale <= 0:
        raise EngineError(f"The model's scale {scale} is not usable.")
    fraction = Fraction(scale).limit_denominator(64)
    if abs(float(fraction) - scale) > 1e-6 * scale:
        raise EngineError(f"The model's scale {scale} is not a simple fraction; it cannot be tiled.")
    return fraction


def scaled_length(length: int, scale: Fraction) -> int:
    """Output length for `length` input pixels at `scale`, rounded half up."""
    return math.floor(length * scale + Fraction(1, 2))


def _align_up(value: int, step: int) -> int:
    return -(-value // step) * step


def _align_down(value: int, step: int) -> int:
    return (value // step) * step


@dataclass(frozen=True)
class AxisPlan:
    """How one axis (rows or columns) of the image is cut into tiles."""

    length: int
    """Input length of the axis, in pixels."""
    tile_in: int
    """Length of every tile's input along this axis (core + context + border)."""
    core: int
    """Length of each tile's core (the part of the input whose output it owns)."""
    pad_before: int
    """Context before the core (border excluded); the context after it is at least as long."""
    border: int
    """Pixels the model drops on each side of its input (unpadded convolutions)."""
    starts: tuple[int, ...]
    """Input position where each tile's core starts."""
    scale: Fraction
    """The model's scale along this axis."""

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def out_length(self) -> int:
        """Output length of the whole axis."""
        return scaled_length(self.length, self.scale)

    @property
    def tile_out(self) -> int:
        """Output length of one tile, as the model must return it."""
        return int((self.tile_in - 2 * self.border) * self.scale)

    def window_start(self, k: int) -> int:
        """Input position of tile k's first pixel (may be negative: mirrored context)."""
        return self.starts[k] - self.pad_before - self.border

    def out_origin(self, k: int) -> int:
        """Output position of tile k's first output pixel (may be negative)."""
        return int((self.starts[k] - self.pad_before) * self.scale)

    def valid_out(self, k: int) -> tuple[int, int]:
        """Output range tile k owns (its core, cut at the image's end)."""
        start = self.starts[k]
        return int(start * self.scale), min(int((start + self.core) * self.scale), self.out_length)


def plan_axis(
    length: int,
    *,
    tile: int,
    pad: int,
    scale: Fraction,
    border: int = 0,
    multiple: int = 1,
    min_size: int = 1,
    fixed: int | None = None,
) -> AxisPlan:
    """Cut an axis of `length` pixels into uniform tiles.

    Dynamic axis: the core is at most `tile` (about), balanced so the tiles cover the axis with
    little overlap; a small image gets one tile no bigger than needed. The tile input is rounded up to
    `multiple` and `min_size`; the slack widens the core. Fixed axis: the tile input is exactly
    `fixed`, and `pad` shrinks when it would leave less than half of the input as core.
    """
    if length < 1:
        raise EngineError("The image is empty.")
    q = scale.denominator
    multiple = max(multiple, 1)
    pad = _align_up(max(pad, 0), q)
    if fixed is None:
        count = math.ceil(length / max(tile, 1))
        core = _align_up(math.ceil(length / count), q)
        tile_in = max(core + 2 * pad + 2 * border, min_size)
        while tile_in % multiple or (tile_in - 2 * border) % q:
            tile_in += 1
        core = _align_down(tile_in - 2 * border - 2 * pad, q)
    else:
        tile_in = fixed
        usable = fixed - 2 * border
        if usable % q:
            raise EngineError(f"The model's fixed input of {fixed} px does not map onto whole output pixels.")
        if 4 * pad > usable:  # keep at least half of the input as core
            pad = _align_down(usable // 4, q)
        core = _align_down(usable - 2 * pad, q)
        if core < 1:
            raise EngineError(f"The model's fixed input of {fixed} px is too small to tile.")
    count = math.ceil(length / core)
    starts = [k * core for k in range(count - 1)]
    # The last core ends at (or just past) the image's end; it overlaps its neighbour if it must.
    starts.append(0 if count == 1 else _align_up(length - core, q))
    return AxisPlan(
        length=length,
        tile_in=tile_in,
        core=core,
        pad_before=pad,
        border=border,
        starts=tuple(starts),
        scale=scale,
    )


@dataclass(frozen=True)
class TileGrid:
    """The tiles of one model pass over one image."""

    rows: AxisPlan
    """How the height is cut."""
    cols: AxisPlan
    """How the width is cut."""

    @property
    def count(self) -> int:
        return self.rows.count * self.cols.count

    @property
    def pad(self) -> int:
        """Context actually used before each core (may be less than asked for fixed-shape models)."""
        return min(self.rows.pad_before, self.cols.pad_before)

    @property
    def tile_shape(self) -> tuple[int, int]:
        """(height, width) of every tile fed to the model."""
        return self.rows.tile_in, self.cols.tile_in

    @property
    def tile_out_shape(self) -> tuple[int, int]:
        """(height, width) the model must return for one tile."""
        return self.rows.tile_out, self.cols.tile_out

    @property
    def out_shape(self) -> tuple[int, int]:
        """(height, width) of the pass's output image."""
        return self.rows.out_length, self.cols.out_length

    def tiles(self) -> Iterator[tuple[int, int]]:
        """(row, column) of every tile, in raster order."""
        for ky in range(self.rows.count):
            for kx in range(self.cols.count):
                yield ky, kx


def plan_grid(height: int, width: int, spec: ModelSpec, *, tile: int, pad: int) -> TileGrid:
    """The grid for an `height`×`width` image through the model `spec` describes, with cores of about
    `tile` pixels and `max(pad, MIN_PAD)` pixels of context."""
    scale = scale_fraction(spec.scale)
    pad = max(pad, MIN_PAD)
    rows = plan_axis(
        height,
        tile=tile,
        pad=pad,
        scale=scale,
        border=spec.border,
        multiple=spec.multiple,
        min_size=spec.min_size,
        fixed=spec.fixed_height,
    )
    cols = plan_axis(
        width,
        tile=tile,
        pad=pad,
        scale=scale,
        border=spec.border,
        multiple=spec.multiple,
        min_size=spec.min_size,
        fixed=spec.fixed_width,
    )
    return TileGrid(rows=rows, cols=cols)


def cut_tile(image: np.ndarray, grid: TileGrid, ky: int, kx: int) -> np.ndarray:
    """Tile (ky, kx)'s input pixels, H×W×C in the image's dtype, mirrored where it leaves the image.
    A view when the tile lies inside the image."""
    height, width = image.shape[:2]
    th, tw = grid.tile_shape
    y0, x0 = grid.rows.window_start(ky), grid.cols.window_start(kx)
    rows: slice | np.ndarray = (
        slice(y0, y0 + th) if y0 >= 0 and y0 + th <= height else reflect101(np.arange(y0, y0 + th), height)
    )
    cols: slice | np.ndarray = (
        slice(x0, x0 + tw) if x0 >= 0 and x0 + tw <= width else reflect101(np.arange(x0, x0 + tw), width)
    )
    tile: np.ndarray = (
        image[np.ix_(rows, cols)]
        if isinstance(rows, np.ndarray) and isinstance(cols, np.ndarray)
        else image[rows, cols]  # a slice on either axis: gathers only the tile's pixels
    )
    return tile


# ---------------------------------------------------------------- stitching


@dataclass(frozen=True)
class _Segment:
    start: int
    stop: int
    tiles: tuple[int, ...]  # one tile, or the two tiles that cross-fade here


def _segments(axis: AxisPlan) -> list[_Segment]:
    """Split the output axis into runs owned by one tile or shared (cross-faded) by two."""
    ranges = [axis.valid_out(k) for k in range(axis.count)]
    cuts = sorted({edge for r in ranges for edge in r})
    segments: list[_Segment] = []
    for start, stop in itertools.pairwise(cuts):
        owners = tuple(k for k, (a, b) in enumerate(ranges) if a <= start and stop <= b)
        if not owners:
            raise AssertionError(f"output {start}:{stop} is not covered by any tile")
        if len(owners) > 2:
            raise AssertionError(f"output {start}:{stop} is covered by {len(owners)} tiles")
        segments.append(_Segment(start, stop, owners))
    return segments


def _ramp(segment: _Segment, tile: int) -> np.ndarray | None:
    """Tile's weight across a segment: None (1 everywhere) when it owns it alone, else a linear ramp
    that fades the earlier tile out and the later one in (the two always sum to 1)."""
    if len(segment.tiles) == 1:
        return None
    length = segment.stop - segment.start
    rising = ((np.arange(length, dtype=np.float32) + 0.5) / length).astype(np.float32)
    return rising if tile == segment.tiles[1] else (1.0 - rising).astype(np.float32)


def to_pixels(values: np.ndarray, dtype: np.dtype[np.unsignedinteger]) -> np.ndarray:
    """Float values in [0, 1] (clipped) to uint8/uint16 pixels, rounded to nearest."""
    top = np.float32(np.iinfo(dtype).max)
    scaled = np.multiply(values, top, dtype=np.float32)
    np.clip(scaled, 0, top, out=scaled)
    pixels: np.ndarray = np.rint(scaled, out=scaled).astype(dtype)
    return pixels


class Stitcher:
    """Writes tile outputs into the output image: the owned part of each tile goes straight into the
    uint8/uint16 buffer; cross-faded overlaps accumulate in small float blocks that are written (and
    freed) once every tile that shares them has arrived. Never a float copy of the whole image."""

    def __init__(self, grid: TileGrid, out: np.ndarray) -> None:
        if out.shape[:2] != grid.out_shape:
            raise ValueError(f"output buffer {out.shape[:2]} does not match the grid {grid.out_shape}")
        self._grid = grid
        self._out = out
        self._row_segments = _segments(grid.rows)
        self._col_segments = _segments(grid.cols)
        self._row_parts = self._parts(self._row_segments, grid.rows.count)
        self._col_parts = self._parts(self._col_segments, grid.cols.count)
        self._pending: dict[tuple[int, int, int], tuple[np.ndarray, int]] = {}

    @staticmethod
    def _parts(segments: Sequence[_Segment], count: int) -> list[list[tuple[int, np.ndarray | None]]]:
        parts: list[list[tuple[int, np.ndarray | None]]] = [[] for _ in range(count)]
        for index, segment in enumerate(segments):
            for tile in segment.tiles:
                parts[tile].append((index, _ramp(segment, tile)))
        return parts

    @property
    def pending_blocks(self) -> int:
        """Overlap blocks still waiting for a tile (0 once a pass is complete)."""
        return len(self._pending)

    def add(self, group: int, ky: int, kx: int, values: np.ndarray, channels: Sequence[int]) -> None:
        """Place tile (ky, kx)'s output `values` (K×h×w float32, the whole tile output) into the output
        channels `channels` (K of them). `group` keeps separate passes over the same grid (e.g. one per
        colour channel) from blending into each other."""
        expected = self._grid.tile_out_shape
        if values.shape[1:] != expected or values.shape[0] != len(channels):
            raise ValueError(f"tile output {values.shape} does not match ({len(channels)}, {expected})")
        oy, ox = self._grid.rows.out_origin(ky), self._grid.cols.out_origin(kx)
        for sy, wy in self._row_parts[ky]:
            rseg = self._row_segments[sy]
            for sx, wx in self._col_parts[kx]:
                cseg = self._col_segments[sx]
                block = values[:, rseg.start - oy : rseg.stop - oy, cseg.start - ox : cseg.stop - ox]
                if wy is None and wx is None:
                    self._write(rseg, cseg, block, channels)
                    continue
                weight = np.ones((rseg.stop - rseg.start, 1), np.float32) if wy is None else wy[:, None]
                weight = weight * (np.ones(1, np.float32) if wx is None else wx[None, :])
                key = (group, sy, sx)
                acc, seen = self._pending.pop(key, (None, 0))
                if acc is None:
                    acc = block * weight
                else:
                    acc += block * weight
                seen += 1
                if seen == len(rseg.tiles) * len(cseg.tiles):
                    self._write(rseg, cseg, acc, channels)
                else:
                    self._pending[key] = (acc, seen)

    def _write(self, rows: _Segment, cols: _Segment, block: np.ndarray, channels: Sequence[int]) -> None:
        target = self._out[rows.start : rows.stop, cols.start : cols.stop]
        # In row bands: quantising a whole 2048² block at once costs ~60 MB of temporaries.
        # Plane by plane: much faster than one transposed (CHW → HWC) copy.
        for y in range(0, block.shape[1], _WRITE_BAND):
            pixels = to_pixels(block[:, y : y + _WRITE_BAND], self._out.dtype)
            for plane, channel in zip(pixels, channels, strict=True):
                target[y : y + _WRITE_BAND, :, channel] = plane
