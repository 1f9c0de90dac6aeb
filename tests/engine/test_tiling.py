"""The tile grid, reflect-101 mirroring and the stitcher, without any model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixup.engine.tiling import (
    MIN_PAD,
    AxisPlan,
    Stitcher,
    TileGrid,
    cut_tile,
    plan_axis,
    plan_grid,
    reflect101,
    scale_fraction,
    scaled_length,
    to_pixels,
)
from pixup.errors import EngineError
from tests.engine.ort_runner import spec_for

# ---------------------------------------------------------------- reflect-101


def test_reflect101_small_overshoot() -> None:
    # x = -5 reads x = 5; x = size reads size - 2
    got = reflect101(np.array([-5, -1, 0, 1, 9, 10, 11, 14]), 10)
    assert got.tolist() == [5, 1, 0, 1, 9, 8, 7, 4]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_reflect101_matches_numpy_reflect_for_any_overshoot(size: int) -> None:
    # numpy's "reflect" is reflect-101 and repeats the reflection when the pad exceeds the size
    before, after = 37, 41
    expected = np.pad(np.arange(size), (before, after), mode="reflect")
    got = reflect101(np.arange(-before, size + after), size)
    np.testing.assert_array_equal(got, expected)


def test_reflect101_size_one_maps_everything_to_zero() -> None:
    assert reflect101(np.array([-100, -1, 0, 1, 64]), 1).tolist() == [0, 0, 0, 0, 0]


def test_reflect101_size_two_alternates() -> None:
    assert reflect101(np.arange(-4, 6), 2).tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]


def test_reflect101_rejects_empty_axis() -> None:
    with pytest.raises(ValueError):
        reflect101(np.array([0]), 0)


# ---------------------------------------------------------------- scale fractions and lengths


def test_scale_fraction() -> None:
    assert scale_fraction(4.0) == 4
    assert scale_fraction(1.5) == Fraction(3, 2)
    assert scale_fraction(4 / 3) == Fraction(4, 3)
    with pytest.raises(EngineError):
        scale_fraction(0.0)
    with pytest.raises(EngineError):
        scale_fraction(float("nan"))


def test_scaled_length_rounds_half_up() -> None:
    assert scaled_length(5, Fraction(3, 2)) == 8  # 7.5
    assert scaled_length(7, Fraction(3, 2)) == 11  # 10.5
    assert scaled_length(4, Fraction(3, 2)) == 6
    assert scaled_length(97, Fraction(4)) == 388


# ---------------------------------------------------------------- axis plans


def _check_axis(axis: AxisPlan, *, multiple: int = 1, min_size: int = 1) -> None:
    """Invariants every axis plan must hold."""
    q = axis.scale.denominator
    assert axis.tile_in % multiple == 0
    assert axis.tile_in >= min_size
    assert axis.usable % q == 0 and axis.pad % q == 0
    assert all(origin % q == 0 for origin in axis.origins)
    assert list(axis.origins) == sorted(set(axis.origins))
    # cores partition [0, length): consecutive, non-empty, from 0 to the end (or past it)
    assert axis.cores[0][0] == 0 and axis.cores[-1][1] >= axis.length
    assert all(a[1] == b[0] for a, b in zip(axis.cores, axis.cores[1:], strict=False))
    assert all(start < stop and start % q == 0 for start, stop in axis.cores)
    count = np.zeros(axis.out_length, dtype=np.int32)
    for k, (start, stop) in enumerate(axis.cores):
        a, b = axis.valid_out(k)
        assert 0 <= a < b <= axis.out_length
        count[a:b] += 1
        origin = axis.origins[k]
        # the core lies inside the tile, with `pad` px of context wherever it meets another tile
        assert origin <= start and min(stop, axis.length) <= origin + axis.usable
        if k > 0:
            assert start - origin >= axis.pad
        if k < axis.count - 1:
            assert origin + axis.usable - stop >= axis.pad
        out_origin = axis.out_origin(k)
        assert out_origin <= a and b <= out_origin + axis.tile_out
        assert axis.window_start(k) == origin - axis.border
    assert count.min() == 1 and count.max() == 1
    # windows stay inside the image whenever the tile fits in it (the border aside)
    if axis.usable <= axis.length:
        assert axis.origins[0] == 0 and axis.origins[-1] + axis.usable < axis.length + q


@settings(max_examples=300, deadline=None)
@given(
    length=st.integers(1, 700),
    tile=st.integers(1, 300),
    pad=st.integers(0, 80),
    q=st.sampled_from([1, 2, 3]),
    num=st.integers(1, 4),
    border=st.integers(0, 3),
    multiple=st.sampled_from([1, 2, 4, 8]),
    min_size=st.integers(1, 100),
)
def test_dynamic_axis_invariants(
    length: int, tile: int, pad: int, q: int, num: int, border: int, multiple: int, min_size: int
) -> None:
    scale = Fraction(num * q + 1, q) if q > 1 else Fraction(num)
    axis = plan_axis(
        length, tile=tile, pad=pad, scale=scale, border=border, multiple=multiple, min_size=min_size
    )
    _check_axis(axis, multiple=multiple, min_size=min_size)
    assert axis.pad >= pad
    assert axis.core >= 1


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 500), fixed=st.integers(8, 200), pad=st.integers(0, 64))
def test_fixed_axis_invariants(length: int, fixed: int, pad: int) -> None:
    axis = plan_axis(length, tile=999, pad=pad, scale=Fraction(2), fixed=fixed)
    _check_axis(axis)
    assert axis.tile_in == fixed
    assert axis.usable - 2 * axis.pad >= fixed // 2 - 1  # pad never eats more than half the input


def test_dynamic_axis_spreads_tiles_over_the_image() -> None:
    # 300 px in two tiles with 32 px of context at the cut: 182 px each, the first at 0, the last
    # ending at 300; nothing mirrored, nothing computed outside the image
    axis = plan_axis(300, tile=256, pad=32, scale=Fraction(4))
    assert axis.origins == (0, 118) and axis.tile_in == 182
    assert axis.cores == ((0, 150), (150, 300))


def test_small_image_gets_one_tile_without_context() -> None:
    axis = plan_axis(5, tile=256, pad=32, scale=Fraction(2))
    assert axis.origins == (0,) and axis.cores == ((0, 5),) and axis.tile_in == 5


def test_fixed_shape_tiles_stay_inside_the_image() -> None:
    # fixed 64 input: pad 32 leaves nothing, so pad drops to 16; three tiles at 0, 18, 36 reach 100
    axis = plan_axis(100, tile=256, pad=32, scale=Fraction(2), fixed=64)
    assert axis.pad == 16 and axis.origins == (0, 18, 36)
    assert axis.cores == ((0, 41), (41, 59), (59, 100))
    assert axis.valid_out(2) == (118, 200)


def test_fixed_shape_longer_than_the_image_mirrors_only_past_its_end() -> None:
    axis = plan_axis(37, tile=256, pad=32, scale=Fraction(2), fixed=64)
    assert axis.origins == (0,) and axis.cores == ((0, 64),) and axis.valid_out(0) == (0, 74)


def test_multiple_of_rounds_the_tile_up() -> None:
    axis = plan_axis(1000, tile=100, pad=32, scale=Fraction(2), multiple=8)
    assert axis.tile_in % 8 == 0
    small = plan_axis(30, tile=100, pad=32, scale=Fraction(2), multiple=8)
    assert small.tile_in == 32 and small.cores == ((0, 32),)  # 2 px of mirrored slack at the end


def test_fractional_scale_aligns_to_denominator() -> None:
    axis = plan_axis(37, tile=10, pad=31, scale=Fraction(3, 2))
    assert axis.pad == 32
    assert all(s % 2 == 0 for s in axis.origins) and axis.usable % 2 == 0
    assert axis.out_length == 56  # 55.5 rounded half up


def test_fixed_input_too_small_is_an_error() -> None:
    with pytest.raises(EngineError):
        plan_axis(100, tile=64, pad=32, scale=Fraction(2), fixed=2, border=1)


def test_plan_grid_uses_min_pad_and_border() -> None:
    grid = plan_grid(97, 131, spec_for(border=2, scale=2.0), tile=48, pad=8)
    assert grid.pad == MIN_PAD and grid.count > 1
    th, tw = grid.tile_shape
    assert th * tw <= (48 + 2 * MIN_PAD) ** 2
    assert grid.tile_out_shape == (2 * (th - 4), 2 * (tw - 4))
    assert grid.out_shape == (194, 262)
    assert grid.count == grid.rows.count * grid.cols.count == len(list(grid.tiles()))


@pytest.mark.parametrize(
    ("height", "width", "tile", "counts", "computed"),
    [
        (512, 512, 448, (1, 1), 1.0),  # within the budget of (448 + 64)² px: one tile, no context
        (750, 1000, 448, (2, 2), 1.155),  # was 2×3 tiles of 439×398 px: 1.40
        (1500, 2000, 448, (3, 5), 1.227),  # was 4×5 tiles of 439×464 px: 1.36
        (600, 600, 448, (1, 2), 1.107),
        (6000, 8000, 448, (14, 17), 1.285),
    ],
)
def test_grid_fits_the_budget_and_computes_little_more_than_the_image(
    height: int, width: int, tile: int, counts: tuple[int, int], computed: float
) -> None:
    grid = plan_grid(height, width, spec_for(scale=4.0), tile=tile, pad=32)
    assert (grid.rows.count, grid.cols.count) == counts
    assert grid.tile_shape[0] * grid.tile_shape[1] <= (tile + 2 * MIN_PAD) ** 2
    assert round(grid.computed / (height * width), 3) == computed


@settings(max_examples=150, deadline=None)
@given(height=st.integers(1, 900), width=st.integers(1, 900), tile=st.integers(16, 600))
def test_grid_is_the_cheapest_that_fits(height: int, width: int, tile: int) -> None:
    spec = spec_for(scale=2.0)
    grid = plan_grid(height, width, spec, tile=tile, pad=32)
    budget = (tile + 2 * MIN_PAD) ** 2
    th, tw = grid.tile_shape
    assert th * tw <= budget
    if height * width <= budget:
        assert grid.count == 1 and grid.tile_shape == (height, width)
    _check_axis(grid.rows)
    _check_axis(grid.cols)
    # no other tile count per axis that fits the budget computes fewer pixels
    for ny in range(1, 6):
        for nx in range(1, 6):
            try:
                rows = plan_axis(height, count=ny, pad=32, scale=Fraction(2))
                cols = plan_axis(width, count=nx, pad=32, scale=Fraction(2))
            except EngineError:
                continue
            if rows.tile_in * cols.tile_in <= budget:
                other = rows.count * rows.tile_in * cols.count * cols.tile_in
                assert grid.computed <= other


# ---------------------------------------------------------------- cutting tiles


def test_cut_tile_mirrors_outside_the_image() -> None:
    # fixed 16×16 input on a 5×7 image: one tile, the slack past the image's end mirrored
    image = np.arange(5 * 7 * 2, dtype=np.uint8).reshape(5, 7, 2)
    grid = plan_grid(5, 7, spec_for(scale=1.0, fixed_height=16, fixed_width=16), tile=256, pad=32)
    tile = cut_tile(image, grid, 0, 0)
    expected = np.pad(image, ((0, 11), (0, 9), (0, 0)), mode="reflect")
    assert tile.shape == (16, 16, 2)
    np.testing.assert_array_equal(tile, expected)


def test_cut_tile_mirrors_the_border_of_unpadded_models() -> None:
    image = np.arange(30 * 40, dtype=np.uint16).reshape(30, 40, 1)
    grid = plan_grid(30, 40, spec_for(scale=1.0, border=2), tile=256, pad=32)
    assert grid.count == 1 and grid.tile_shape == (34, 44)
    expected = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(cut_tile(image, grid, 0, 0), expected)


def test_cut_tile_is_a_view_inside_the_image() -> None:
    image = np.arange(200 * 300, dtype=np.uint16).reshape(200, 300, 1)
    grid = plan_grid(200, 300, spec_for(scale=1.0), tile=50, pad=32)
    assert grid.count > 1
    for ky, kx in grid.tiles():
        tile = cut_tile(image, grid, ky, kx)
        y0, x0 = grid.rows.window_start(ky), grid.cols.window_start(kx)
        th, tw = grid.tile_shape
        np.testing.assert_array_equal(tile, image[y0 : y0 + th, x0 : x0 + tw])
        assert np.shares_memory(tile, image)


# ---------------------------------------------------------------- stitching


def _tile_values(grid: TileGrid, ky: int, kx: int, value: float) -> np.ndarray:
    return np.full((1, *grid.tile_out_shape), value, dtype=np.float32)


def _axis(length: int, usable: int, origins: tuple[int, ...], cores: tuple[tuple[int, int], ...]) -> AxisPlan:
    return AxisPlan(
        length=length, tile_in=usable, pad=0, border=0, origins=origins, cores=cores, scale=Fraction(1)
    )


def test_stitch_crossfades_overlapping_cores_linearly() -> None:
    # the planner's cores partition the image; the stitcher still blends cores that overlap
    cols = _axis(100, 64, (0, 36), ((0, 64), (36, 100)))  # cores overlap on 36..64
    grid = TileGrid(rows=_axis(20, 20, (0,), ((0, 20),)), cols=cols)
    out = np.zeros((20, 100, 1), dtype=np.uint16)
    stitcher = Stitcher(grid, out)
    for kx, value in ((0, 0.3), (1, 0.9)):
        stitcher.add(0, 0, kx, _tile_values(grid, 0, kx, value), (0,))
    assert stitcher.pending_blocks == 0
    row = out[5, :, 0].astype(np.float64) / 65535
    np.testing.assert_allclose(row[0:36], 0.3, atol=1e-5)
    ramp = (np.arange(28) + 0.5) / 28
    np.testing.assert_allclose(row[36:64], 0.3 * (1 - ramp) + 0.9 * ramp, atol=1e-5)
    np.testing.assert_allclose(row[64:100], 0.9, atol=1e-5)
    assert (out[:, :, 0] == out[5:6, :, 0]).all()


def test_stitch_writes_each_core_once() -> None:
    grid = plan_grid(150, 120, spec_for(scale=2.0), tile=40, pad=32)
    assert grid.count == 4
    out = np.zeros((*grid.out_shape, 1), dtype=np.uint8)
    stitcher = Stitcher(grid, out)
    for ky, kx in grid.tiles():
        stitcher.add(0, ky, kx, _tile_values(grid, ky, kx, (1 + 2 * ky + kx) / 255), (0,))
    assert stitcher.pending_blocks == 0
    for ky, kx in grid.tiles():
        (y0, y1), (x0, x1) = grid.rows.valid_out(ky), grid.cols.valid_out(kx)
        assert (out[y0:y1, x0:x1, 0] == 1 + 2 * ky + kx).all()


def test_stitch_keeps_groups_apart_and_writes_channels() -> None:
    grid = plan_grid(10, 10, spec_for(scale=1.0), tile=64, pad=32)
    out = np.zeros((10, 10, 4), dtype=np.uint8)
    stitcher = Stitcher(grid, out)
    stitcher.add(0, 0, 0, np.full((3, *grid.tile_out_shape), 0.5, np.float32), (0, 1, 2))
    stitcher.add(1, 0, 0, np.full((1, *grid.tile_out_shape), 1.0, np.float32), (3,))
    assert (out[:, :, :3] == 128).all() and (out[:, :, 3] == 255).all()


def test_stitch_rejects_wrong_tile_shape() -> None:
    grid = plan_grid(10, 10, spec_for(scale=2.0), tile=64, pad=32)
    stitcher = Stitcher(grid, np.zeros((20, 20, 3), np.uint8))
    with pytest.raises(ValueError):
        stitcher.add(0, 0, 0, np.zeros((3, 5, 5), np.float32), (0, 1, 2))


def test_to_pixels_clips_and_rounds() -> None:
    values = np.array([-0.5, 0.0, 0.6 / 255, 0.4 / 255, 254.6 / 255, 1.0, 7.0], dtype=np.float32)
    assert to_pixels(values, np.dtype(np.uint8)).tolist() == [0, 0, 1, 0, 255, 255, 255]
    assert to_pixels(np.array([1 / 65535, 0.5], np.float32), np.dtype(np.uint16)).tolist() == [1, 32768]
