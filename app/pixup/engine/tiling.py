"""The tile grid: uniform tile shapes, context only where tiles meet, valid regions and stitching.

Coordinates: a tile's *core* is the part of the input whose output it owns; cores partition the
image. Where two tiles meet, each has at least `pad` pixels of context beyond the cut (plus the
model's `border` for unpadded models), so the cut is invisible as long as the model's receptive field
fits in the pad: the pad comes from the model's measured context radius (`context_for`). Every tile
has the same input shape, so batches are uniform and nothing is stretched. Tiles are spread evenly
from the image's start to its end and stay inside it: at the image's edges the model sees the edge
itself, exactly as in one whole-image run. An image within the tile budget is one tile with no
context at all. Only what has to lie outside the image (the border an unpadded model eats; slack up
to a fixed, minimal or multiple-of input size) is mirrored (reflect-101).

Fractional scales a/q: tile origins, cuts, sizes and pads are multiples of q, so every tile maps onto
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
DEFAULT_PAD = 32
"""Context on each side of a cut for a model whose context radius is unknown (not measured, or no
finite reach: global pooling)."""
MIN_PAD = DEFAULT_PAD
"""The context the tile budget is sized around: a tile holds at most (tile + 2·MIN_PAD)² pixels,
whatever context the model needs (what `hardware.auto_tile_size` sizes memory for)."""
CONTEXT_MARGIN = 4
"""Pixels added to a measured context radius, at least (a quarter of the radius when that is more):
the radius comes from one noise image; other content, and corners where two cuts meet, reach a
little farther (realesr-animevideov3: radius 14 on noise, 18 3×3 convolutions in all)."""


def context_for(spec: ModelSpec, pad: int = 0) -> int:
    """Context on each side of a cut for the model `spec` describes, at least `pad`: its measured
    context radius plus a margin (which may be less or more than DEFAULT_PAD), else DEFAULT_PAD."""
    radius = spec.context_radius
    needed = DEFAULT_PAD if radius is None else radius + max(CONTEXT_MARGIN, -(-radius // 4))
    return max(pad, needed)


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
    """How one axis (rows or columns) of the image is cut into tiles.

    Tile k reads the input window [window_start(k), window_start(k) + tile_in) and owns the output of
    its core [cores[k][0], cores[k][1]). Cores partition the axis; at every cut between two tiles each
    side has at least `pad` pixels of context. Windows stay inside the image wherever the tile fits
    (the model then sees the image's own edge, as a whole-image run does); only what must lie outside
    (the border an unpadded model eats, slack to reach a fixed, minimal or multiple-of size) is
    mirrored."""

    length: int
    """Input length of the axis, in pixels."""
    tile_in: int
    """Length of every tile's input along this axis (usable part + 2 × border)."""
    pad: int
    """Context guaranteed on both sides of every cut between two tiles (border excluded)."""
    border: int
    """Pixels the model drops on each side of its input (unpadded convolutions)."""
    origins: tuple[int, ...]
    """Input position of each tile's usable part (its window without the border)."""
    cores: tuple[tuple[int, int], ...]
    """Input range each tile owns; the last may end past `length` (cut at the output's end)."""
    scale: Fraction
    """The model's scale along this axis."""

    @property
    def count(self) -> int:
        return len(self.origins)

    @property
    def usable(self) -> int:
        """Input pixels per tile whose output the model returns (tile_in − 2 × border)."""
        return self.tile_in - 2 * self.border

    @property
    def core(self) -> int:
        """The longest core (what an out-of-memory retry halves)."""
        return max(min(stop, self.length) - start for start, stop in self.cores)

    @property
    def out_length(self) -> int:
        """Output length of the whole axis."""
        return scaled_length(self.length, self.scale)

    @property
    def tile_out(self) -> int:
        """Output length of one tile, as the model must return it."""
        return int(self.usable * self.scale)

    def window_start(self, k: int) -> int:
        """Input position of tile k's first pixel (negative, or past the end: mirrored)."""
        return self.origins[k] - self.border

    def out_origin(self, k: int) -> int:
        """Output position of tile k's first output pixel."""
        return int(self.origins[k] * self.scale)

    def valid_out(self, k: int) -> tuple[int, int]:
        """Output range tile k owns (its core, cut at the image's end)."""
        start, stop = self.cores[k]
        return int(start * self.scale), min(int(stop * self.scale), self.out_length)


def _place(length: int, usable: int, count: int, pad: int, q: int) -> tuple[list[int], list[int]] | None:
    """Origins of `count` tiles of `usable` px spread evenly from 0 to the image's end (all multiples
    of q), and the cuts between them (the middle of each overlap). None when two neighbours would
    overlap by less than 2 × pad."""
    if count == 1:
        return [0], []
    last = _align_up(max(length - usable, 0), q)
    origins = [_align_down(round(k * last / (count - 1)), q) for k in range(count - 1)] + [last]
    cuts: list[int] = []
    for a, b in itertools.pairwise(origins):
        if b <= a or a + usable - b < 2 * pad:
            return None
        cuts.append(_align_down((b + a + usable) // 2, q))
    return origins, cuts


def _fit_input(usable: int, border: int, q: int, multiple: int, min_size: int) -> int:
    """The smallest tile input ≥ usable + 2 × border that respects q, `multiple` and `min_size`."""
    tile_in = max(_align_up(usable, q) + 2 * border, min_size)
    while tile_in % multiple or (tile_in - 2 * border) % q:
        tile_in += 1
    return tile_in


def axis_input(
    length: int,
    count: int,
    *,
    pad: int,
    scale: Fraction,
    border: int = 0,
    multiple: int = 1,
    min_size: int = 1,
) -> int | None:
    """The tile input length that cuts a dynamic axis of `length` px into `count` tiles with `pad` px
    of context at every cut (None when `count` tiles are more than the axis can use)."""
    q = scale.denominator
    pad = _align_up(max(pad, 0), q)
    if count == 1:
        return _fit_input(length, border, q, max(multiple, 1), min_size)
    usable = _align_up(-(-(length + 2 * pad * (count - 1)) // count), q)
    if usable >= length or usable - 2 * pad < q:  # one tile would do; or the cores would vanish
        return None
    while True:
        tile_in = _fit_input(usable, border, q, max(multiple, 1), min_size)
        usable = tile_in - 2 * border
        if usable >= length or _align_up(length - usable, q) < (count - 1) * q:
            return None  # one tile would do, or no room for `count` distinct origins (growing won't help)
        # q = 1: even spacing always leaves overlaps of 2·pad (count·usable ≥ length + 2·pad·(count − 1));
        # aligning origins to q > 1, or a usable length grown by the size rules, may not: checked.
        if q == 1 or _place(length, usable, count, pad, q) is not None:
            return tile_in
        usable += q


def plan_axis(
    length: int,
    *,
    tile: int | None = None,
    count: int | None = None,
    pad: int,
    scale: Fraction,
    border: int = 0,
    multiple: int = 1,
    min_size: int = 1,
    fixed: int | None = None,
) -> AxisPlan:
    """Cut an axis of `length` pixels into uniform tiles.

    Dynamic axis: `count` tiles (or as many as cores of at most `tile` px need), each as short as
    `pad` px of context at every cut allows, spread evenly from the image's start to its end. Fixed
    axis: the tile input is exactly `fixed`, and `pad` shrinks when it would leave less than half of
    the input as core. One tile covering the whole axis has no context at all."""
    if length < 1:
        raise EngineError("The image is empty.")
    q = scale.denominator
    multiple = max(multiple, 1)
    pad = _align_up(max(pad, 0), q)
    if fixed is None:
        if count is None:
            count = math.ceil(length / max(tile or length, 1))
        found = None
        while found is None and count > 1:
            found = axis_input(
                length, count, pad=pad, scale=scale, border=border, multiple=multiple, min_size=min_size
            )
            if found is None:
                count -= 1
        tile_in = found if found is not None else _fit_input(length, border, q, multiple, min_size)
        if found is None:
            count = 1
    else:
        tile_in = fixed
        usable = fixed - 2 * border
        if usable % q:
            raise EngineError(f"The model's fixed input of {fixed} px does not map onto whole output pixels.")
        if 4 * pad > usable:  # keep at least half of the input as core
            pad = _align_down(usable // 4, q)
        if usable < q or usable - 2 * pad < q:
            raise EngineError(f"The model's fixed input of {fixed} px is too small to tile.")
        count = 1
        if usable < length:
            count = 2 + max(0, _align_up(length - usable, q) - 1) // (usable - 2 * pad)
            while _place(length, usable, count, pad, q) is None:
                count += 1
    usable = tile_in - 2 * border
    placed = _place(length, usable, count, pad, q)
    assert placed is not None
    origins, cuts = placed
    starts = [0, *cuts]
    stops = [*cuts, origins[-1] + usable]
    return AxisPlan(
        length=length,
        tile_in=tile_in,
        pad=pad,
        border=border,
        origins=tuple(origins),
        cores=tuple(zip(starts, stops, strict=True)),
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
        """Context at the cuts (may be less than asked for fixed-shape models)."""
        return min(self.rows.pad, self.cols.pad)

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

    @property
    def computed(self) -> int:
        """Input pixels the model computes over all tiles (≥ the image's pixels)."""
        return self.count * self.rows.tile_in * self.cols.tile_in

    def tiles(self) -> Iterator[tuple[int, int]]:
        """(row, column) of every tile, in raster order."""
        for ky in range(self.rows.count):
            for kx in range(self.cols.count):
                yield ky, kx


def _counts(
    length: int, limit: int, pad: int, scale: Fraction, border: int, multiple: int, min_size: int
) -> list[tuple[int, int]]:
    """(count, tile input) for the useful tile counts of a dynamic axis, fewest tiles first, up to the
    first whose tile input is at most `limit`."""
    q = scale.denominator
    pad = _align_up(max(pad, 0), q)
    options: list[tuple[int, int]] = [(1, _fit_input(length, border, q, multiple, min_size))]
    limit = max(limit, _fit_input(2 * pad + q, border, q, multiple, min_size))  # no tile is shorter
    count = 2
    while options[-1][1] > limit:
        if -(-(length + 2 * pad * (count - 1)) // count) - 2 * pad < q:
            break  # more tiles would leave cores of nothing
        tile_in = axis_input(
            length, count, pad=pad, scale=scale, border=border, multiple=multiple, min_size=min_size
        )
        if tile_in is not None and tile_in < options[-1][1]:
            options.append((count, tile_in))
        count += 1
    return options


def plan_grid(height: int, width: int, spec: ModelSpec, *, tile: int, pad: int) -> TileGrid:
    """The grid for an `height`×`width` image through the model `spec` describes.

    `tile` sets the memory budget: a tile holds at most (tile + 2·MIN_PAD)² input pixels (the size
    `hardware.auto_tile_size` sizes memory for). An image within the budget runs as one tile with no
    context; a larger one gets the grid, among those whose tiles fit the budget, that computes the
    fewest pixels (`context_for(spec, pad)` px of context at every cut: what the model needs, at
    least `pad`). Fixed-shape axes take the model's size."""
    scale = scale_fraction(spec.scale)
    pad = context_for(spec, pad)
    budget = (max(tile, 1) + 2 * MIN_PAD) ** 2
    axes = {"border": spec.border, "multiple": max(spec.multiple, 1), "min_size": spec.min_size}
    q = scale.denominator

    def whole_in(length: int, fixed: int | None) -> int:  # the longest tile input an axis can get
        return (
            fixed
            if fixed is not None
            else _fit_input(length, spec.border, q, axes["multiple"], spec.min_size)
        )

    def options(length: int, fixed: int | None, other: int) -> list[tuple[int, int]]:
        # Shorter tiles than budget // (the other axis in one tile) never pay: that tile fits with any
        # tile of the other axis, and has fewer tiles than any shorter one.
        if fixed is not None:
            return [(0, fixed)]
        return _counts(length, max(budget // other, 1), pad, scale, **axes)

    row_options = options(height, spec.fixed_height, whole_in(width, spec.fixed_width))
    col_options = options(width, spec.fixed_width, whole_in(height, spec.fixed_height))
    best: tuple[tuple[int, int], int, int] | None = None
    smallest: tuple[tuple[int, int], int, int] | None = None
    for ny, th in row_options:
        for nx, tw in col_options:
            tiles = max(ny, 1) * max(nx, 1)
            if th * tw <= budget and (best is None or (tiles * th * tw, tiles) < best[0]):
                best = ((tiles * th * tw, tiles), ny, nx)
            if smallest is None or (th * tw, tiles) < smallest[0]:
                smallest = ((th * tw, tiles), ny, nx)
    assert smallest is not None
    _, ny, nx = best if best is not None else smallest
    rows = plan_axis(height, count=ny or None, pad=pad, scale=scale, fixed=spec.fixed_height, **axes)
    cols = plan_axis(width, count=nx or None, pad=pad, scale=scale, fixed=spec.fixed_width, **axes)
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
