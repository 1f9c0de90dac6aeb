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
    assert (axis.tile_in - 2 * axis.border) % q == 0
    assert axis.core % q == 0 and axis.pad_before % q == 0
    assert all(start % q == 0 for start in axis.starts)
    # context after the core is at least the context before it
    assert axis.tile_in - 2 * axis.border - axis.core - axis.pad_before >= axis.pad_before
    # valid output ranges cover [0, out_length) exactly, each point by one or two tiles (overlap
    # only between neighbours)
    count = np.zeros(axis.out_length, dtype=np.int32)
    for k in range(axis.count):
        a, b = axis.valid_out(k)
        assert 0 <= a < b <= axis.out_length
        count[a:b] += 1
        # the valid range lies inside the tile's output
        origin = axis.out_origin(k)
        assert origin <= a and b <= origin + axis.tile_out
        # and the tile's context reaches pad_before pixels before the core
        assert axis.window_start(k) == axis.starts[k] - axis.pad_before - axis.border
    assert count.min() == 1 and count.max() <= 2
    # cores in order, only the last shifted back
    assert list(axis.starts) == sorted(axis.starts)
    assert all(b - a == axis.core for a, b in zip(axis.starts[:-2], axis.starts[1:-1], strict=True))


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
    assert axis.pad_before >= pad
    assert axis.core >= 1


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 500), fixed=st.integers(8, 200), pad=st.integers(0, 64))
def test_fixed_axis_invariants(length: int, fixed: int, pad: int) -> None:
    axis = plan_axis(length, tile=999, pad=pad, scale=Fraction(2), fixed=fixed)
    _check_axis(axis)
    assert axis.tile_in == fixed
    assert axis.core >= fixed // 2 - 1  # pad never eats more than half the input


def test_dynamic_axis_balances_cores() -> None:
    # 300 px with 256 px tiles: two cores of 150 instead of 256 + a mostly wasted second tile
    axis = plan_axis(300, tile=256, pad=32, scale=Fraction(4))
    assert axis.core == 150 and axis.starts == (0, 150)
    assert axis.tile_in == 150 + 64


def test_small_image_gets_one_small_tile() -> None:
    axis = plan_axis(5, tile=256, pad=32, scale=Fraction(2))
    assert axis.starts == (0,) and axis.core == 5 and axis.tile_in == 5 + 64


def test_last_tile_shifted_back_inside_for_fixed_shape() -> None:
    # fixed 64 input: pad 32 leaves nothing, so pad drops to 16 and the core is 32
    axis = plan_axis(100, tile=256, pad=32, scale=Fraction(2), fixed=64)
    assert axis.pad_before == 16 and axis.core == 32
    assert axis.starts == (0, 32, 64, 68)  # the last core ends at 100, overlapping its neighbour by 28
    assert axis.valid_out(3) == (136, 200)


def test_multiple_of_rounds_tile_and_widens_core() -> None:
    axis = plan_axis(1000, tile=100, pad=32, scale=Fraction(2), multiple=8)
    assert axis.tile_in % 8 == 0
    assert axis.core == axis.tile_in - 64


def test_fractional_scale_aligns_to_denominator() -> None:
    axis = plan_axis(37, tile=10, pad=31, scale=Fraction(3, 2))
    assert axis.pad_before == 32
    assert all(s % 2 == 0 for s in axis.starts) and axis.core % 2 == 0
    assert axis.out_length == 56  # 55.5 rounded half up


def test_fixed_input_too_small_is_an_error() -> None:
    with pytest.raises(EngineError):
        plan_axis(100, tile=64, pad=32, scale=Fraction(2), fixed=2, border=1)


def test_plan_grid_uses_min_pad_and_border() -> None:
    grid = plan_grid(97, 131, spec_for(border=2, scale=2.0), tile=48, pad=8)
    assert grid.pad == MIN_PAD
    th, tw = grid.tile_shape
    assert grid.tile_out_shape == (2 * (th - 4), 2 * (tw - 4))
    assert grid.out_shape == (194, 262)
    assert grid.count == grid.rows.count * grid.cols.count == len(list(grid.tiles()))


# ---------------------------------------------------------------- cutting tiles


def test_cut_tile_mirrors_outside_the_image() -> None:
    image = np.arange(5 * 7 * 2, dtype=np.uint8).reshape(5, 7, 2)
    grid = plan_grid(5, 7, spec_for(scale=1.0), tile=256, pad=32)
    tile = cut_tile(image, grid, 0, 0)
    expected = np.pad(image, ((32, 32), (32, 32), (0, 0)), mode="reflect")
    assert tile.shape == (5 + 64, 7 + 64, 2)
    np.testing.assert_array_equal(tile, expected)


def test_cut_tile_is_a_view_inside_and_mixed_at_edges() -> None:
    image = np.arange(200 * 300, dtype=np.uint16).reshape(200, 300, 1)
    grid = plan_grid(200, 300, spec_for(scale=1.0), tile=50, pad=32)
    padded = np.pad(image, ((32, 32 + 64), (32, 32 + 64), (0, 0)), mode="reflect")
    for ky, kx in grid.tiles():
        tile = cut_tile(image, grid, ky, kx)
        y0, x0 = grid.rows.window_start(ky) + 32, grid.cols.window_start(kx) + 32
        th, tw = grid.tile_shape
        np.testing.assert_array_equal(tile, padded[y0 : y0 + th, x0 : x0 + tw])
        inside = grid.rows.window_start(ky) >= 0 and grid.cols.window_start(kx) >= 0
        if inside and y0 + th <= 232 and x0 + tw <= 332:
            assert np.shares_memory(tile, image)


# ---------------------------------------------------------------- stitching


def _tile_values(grid: TileGrid, ky: int, kx: int, value: float) -> np.ndarray:
    return np.full((1, *grid.tile_out_shape), value, dtype=np.float32)


def test_stitch_crossfades_overlap_linearly() -> None:
    # fixed 64×64 input, 100 px wide: columns 2 and 3 overlap by 28 input px (56 output px)
    grid = plan_grid(20, 100, spec_for(scale=2.0, fixed_height=64, fixed_width=64), tile=0, pad=32)
    assert grid.cols.starts == (0, 32, 64, 68)
    out = np.zeros((*grid.out_shape, 1), dtype=np.uint16)
    stitcher = Stitcher(grid, out)
    values = {0: 0.1, 1: 0.2, 2: 0.3, 3: 0.9}
    for ky, kx in grid.tiles():
        stitcher.add(0, ky, kx, _tile_values(grid, ky, kx, values[kx]), (0,))
    assert stitcher.pending_blocks == 0
    row = out[5, :, 0].astype(np.float64) / 65535
    np.testing.assert_allclose(row[0:64], 0.1, atol=1e-5)
    np.testing.assert_allclose(row[64:128], 0.2, atol=1e-5)
    np.testing.assert_allclose(row[128:136], 0.3, atol=1e-5)
    # overlap 136..192: ramp from 0.3 to 0.9, pixel centres
    ramp = (np.arange(56) + 0.5) / 56
    np.testing.assert_allclose(row[136:192], 0.3 * (1 - ramp) + 0.9 * ramp, atol=1e-5)
    np.testing.assert_allclose(row[192:200], 0.9, atol=1e-5)
    # rows agree (no seam across rows: one row of tiles here)
    assert (out[:, :, 0] == out[5:6, :, 0]).all()


def test_stitch_blends_corner_of_four_tiles() -> None:
    spec = spec_for(scale=1.0, fixed_height=64, fixed_width=64)
    grid = plan_grid(40, 40, spec, tile=0, pad=32)
    assert grid.rows.starts == (0, 8) and grid.cols.starts == (0, 8)  # cores of 32, overlap 24
    out = np.zeros((40, 40, 1), dtype=np.uint16)
    stitcher = Stitcher(grid, out)
    corner = {(0, 0): 0.0, (0, 1): 1.0, (1, 0): 0.0, (1, 1): 1.0}
    for (ky, kx), v in corner.items():
        stitcher.add(0, ky, kx, _tile_values(grid, ky, kx, v), (0,))
    got = out[:, :, 0].astype(np.float64) / 65535
    ramp = (np.arange(24) + 0.5) / 24
    # left/right fade horizontally; identical along every row, whatever the vertical blend does
    np.testing.assert_allclose(got[:, 8:32], np.broadcast_to(ramp, (40, 24)), atol=1e-5)
    assert (got[:, :8] == 0).all() and (got[:, 32:] == 1).all()


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
