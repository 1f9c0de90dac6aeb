"""Tiled output against whole-image output, through real ONNX Runtime sessions; the pipeline's
batching, cancellation and error paths."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from pixup.engine.cancel import Cancelled, CancelToken
from pixup.engine.channels import Feed, plan_feeds
from pixup.engine.pipeline import run_pass
from pixup.engine.progress import Progress
from pixup.engine.tiling import plan_grid
from pixup.engine.upscale import upscale_array
from pixup.errors import EngineError
from tests.engine import graphs
from tests.engine.ort_runner import (
    OrtRunner,
    Recording,
    Sessions,
    dilated,
    max_diff,
    max_diff_inside,
    random_image,
    spec_for,
    to_float,
    to_uint,
    whole_image,
)


@pytest.fixture
def no_new_threads() -> Iterator[None]:
    """Fails the test if it leaves any thread alive (a ModelSession's own inference worker lives as
    long as its session and is not the pipeline's)."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and not t.name.startswith("pixup-infer")]
    assert not left, f"threads left alive: {left}"


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    opened = Sessions(tmp_path_factory.mktemp("models"))
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def rf4(sessions: Sessions) -> Recording:
    """×2 model, random weights, receptive radius 4 (fits the 32 px pad), on a real ModelSession."""
    return Recording(sessions(graphs.receptive_field(4)))


# ---------------------------------------------------------------- tiled == whole image


@pytest.mark.parametrize("size", [(97, 131), (5, 7), (1, 1), (300, 40)])
@pytest.mark.parametrize("tile", [32, 48, 100])
def test_tiled_equals_whole_image(
    rf4: Recording, size: tuple[int, int], tile: int, no_new_threads: None
) -> None:
    image = random_image(*size, seed=size[0] + tile)
    expected = whole_image(rf4, image)
    got = upscale_array(image, rf4, tile=tile)
    assert got.shape == (2 * size[0], 2 * size[1], 3)
    assert max_diff(got, expected) <= 1


def test_tiled_equals_whole_image_with_batches(rf4: Recording) -> None:
    image = random_image(97, 131, seed=3)
    expected = whole_image(rf4, image)
    before = len(rf4.shapes)
    got = upscale_array(image, rf4, tile=8, batch=6, pad=32)  # 32 px: more tiles than rf4 needs
    assert max_diff(got, expected) <= 1
    grid = plan_grid(97, 131, rf4.spec, tile=8, pad=32)
    assert grid.count == 4 * 10 and grid.tile_shape == (73, 71)  # tiles of at most (8 + 64)² px
    assert [s[0] for s in rf4.shapes[before:]] == [6] * 6 + [4]


def test_tiled_equals_whole_image_on_openvino(sessions: Sessions) -> None:
    runner = sessions(graphs.receptive_field(4), provider="OpenVINOExecutionProvider")
    assert runner.provider == "OpenVINOExecutionProvider"
    image = random_image(97, 131, seed=12)
    assert max_diff(upscale_array(image, runner, tile=48, batch=3), whole_image(runner, image)) <= 1


def test_receptive_field_beyond_the_pad_shows_seams(sessions: Sessions) -> None:
    # radius 40 > 32 px: with the radius unknown (32 px of context) tile borders must differ from the
    # whole-image run (the test above can fail)
    runner = sessions(dilated(40))
    blind = OrtRunner(dilated(40), replace(runner.spec, context_radius=None))
    image = random_image(97, 131, seed=9)
    expected = whole_image(runner, image)
    got = upscale_array(image, blind, tile=32)
    assert plan_grid(97, 131, blind.spec, tile=32, pad=0).count > 1
    assert max_diff(got, expected) > 1
    # the same model with a pad that covers it is exact again: asked for, or from its measured radius
    assert max_diff(upscale_array(image, blind, tile=32, pad=48), expected) <= 1
    assert runner.spec.context_radius == 40
    assert max_diff(upscale_array(image, runner, tile=32), expected) <= 1


def test_unpadded_model_border_is_added_to_the_pad(sessions: Sessions) -> None:
    runner = sessions(graphs.unpadded())
    assert runner.spec.border == 2
    image = random_image(45, 70, seed=4)
    # reference: pad by 34 (32 + border); the model eats 2 px of it on each side
    out = runner.run(to_float(np.pad(image, ((34, 34), (34, 34), (0, 0)), mode="reflect")))
    expected = to_uint(out[:, :, 64 : 64 + 90, 64 : 64 + 140], np.uint8)
    assert max_diff(upscale_array(image, runner, tile=20), expected) <= 1


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pixel_shuffle_matches_numpy_reference(sessions: Sessions, scale: int) -> None:
    runner = sessions(graphs.pixel_shuffle(scale))
    image = random_image(37, 23, seed=scale)
    expected = to_uint(graphs.pixel_shuffle_reference(to_float(image), scale), np.uint8)
    got = upscale_array(image, runner, tile=16)
    assert got.shape == (37 * scale, 23 * scale, 3)
    assert max_diff(got, expected) <= 1


def test_fixed_64_model_matches_dynamic_model(sessions: Sessions, no_new_threads: None) -> None:
    fixed = Recording(sessions(graphs.fixed_shape_64()))
    assert fixed.spec.fixed_shape and fixed.spec.static_batch == 1
    dynamic = sessions(graphs.pixel_shuffle(2))
    for size in [(100, 37), (200, 200)]:
        image = random_image(*size, seed=size[1])
        notices: list[str] = []
        got = upscale_array(image, fixed, notices=notices, batch=4)
        assert all(s == (1, 3, 64, 64) for s in fixed.shapes)
        # tiles read mirrored slack past the image's end (the fixed 64 px input is longer than 37 px)
        assert max_diff_inside(got, upscale_array(image, dynamic), 4) <= 1
        assert max_diff_inside(got, whole_image(dynamic, image), 4) <= 1
        assert any("16 px of tile padding" in n for n in notices)


def test_static_batch_four_with_three_tiles(sessions: Sessions) -> None:
    static = Recording(sessions(graphs.static_batch(4)))
    image = random_image(40, 600, seed=5)
    grid = plan_grid(40, 600, static.spec, tile=40, pad=32)
    assert grid.count == 3
    got = upscale_array(image, static, tile=40, batch=1, pad=32)
    assert static.shapes == [(4, 3, *grid.tile_shape)]  # one run, padded to exactly 4
    dynamic = sessions(graphs.pixel_shuffle(2))
    assert max_diff(got, whole_image(dynamic, image)) <= 1


def test_static_batch_pads_every_short_batch(sessions: Sessions) -> None:
    static = Recording(sessions(graphs.static_batch(4)))
    image = random_image(40, 260, seed=6)
    got = upscale_array(image, static, tile=1, batch=8, pad=32)  # 5 tiles → batches of 4 + 1 (padded)
    assert plan_grid(40, 260, static.spec, tile=1, pad=32).count == 5
    assert [s[0] for s in static.shapes] == [4, 4]
    dynamic = sessions(graphs.pixel_shuffle(2))
    assert max_diff(got, whole_image(dynamic, image)) <= 1


def test_multiple_of_8_model(sessions: Sessions) -> None:
    runner = Recording(sessions(graphs.multiple_of_8()))
    assert runner.spec.multiple == 8
    image = random_image(30, 51, seed=7)
    got = upscale_array(image, runner, tile=20)
    assert all(s[2] % 8 == 0 and s[3] % 8 == 0 for s in runner.shapes)
    same_weights = sessions(graphs.pixel_shuffle(2, seed=2))
    assert max_diff_inside(got, whole_image(same_weights, image), 4) <= 1  # slack up to 32×56 px


def test_nhwc_fp16_model(sessions: Sessions) -> None:
    runner = sessions(graphs.pixel_shuffle(2, dtype="float16", layout="NHWC"))
    reference = sessions(graphs.pixel_shuffle(2))
    image = random_image(33, 20, seed=8)
    assert max_diff(upscale_array(image, runner, tile=16), whole_image(reference, image)) <= 1


def test_fractional_scale_matches_whole_image(sessions: Sessions) -> None:
    runner = sessions(graphs.fractional(1.5))
    assert runner.spec.scale == 1.5
    for size, tile in [((37, 53), 16), ((5, 3), 256), ((64, 64), 30)]:
        image = random_image(*size, seed=size[0])
        got = upscale_array(image, runner, tile=tile)
        assert got.shape == (int(size[0] * 1.5 + 0.5), int(size[1] * 1.5 + 0.5), 3)
        # odd sides: the last tile reads 1 px of mirrored slack (tiles start on even pixels), and the
        # model alone would floor 55.5 to 55 rows; compare with a reflect-padded run away from edges
        if min(size) > 4:
            assert max_diff_inside(got, whole_image(runner, image, pad=2), 3) <= 1
        if size[0] % 2 == 0 and size[1] % 2 == 0:
            assert max_diff(got, whole_image(runner, image)) <= 1


# ---------------------------------------------------------------- run_pass directly


def test_run_pass_writes_every_output_pixel(rf4: Recording) -> None:
    image = random_image(50, 61, seed=10)
    grid = plan_grid(50, 61, rf4.spec, tile=24, pad=32)
    out = np.full((*grid.out_shape, 3), 7, dtype=np.uint8)
    sentinel = out.copy()
    calls: list[int] = []
    feeds = plan_feeds(3, 3, alpha_uniform=False)
    run_pass(image, rf4, grid, feeds, out, batch=2, on_tile=lambda: calls.append(1))
    assert len(calls) == grid.count
    assert max_diff(out, whole_image(rf4, image)) <= 1
    assert not np.array_equal(out, sentinel)


# ---------------------------------------------------------------- cancel and errors


def test_cancel_from_progress_stops_promptly(rf4: Recording, no_new_threads: None) -> None:
    token = CancelToken()
    seen: list[Progress] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        if p.tiles_done == 2:
            token.cancel()

    image = random_image(200, 200, seed=11)
    with pytest.raises(Cancelled):
        upscale_array(image, rf4, tile=32, token=token, progress=on_progress)
    assert seen[-1].tiles_done < seen[-1].tiles_total
    assert len(seen) <= 2 + 4  # a cancel is noticed within the batch being stitched


def test_cancel_before_start_raises_at_once(rf4: Recording) -> None:
    token = CancelToken()
    token.cancel()
    before = len(rf4.shapes)
    with pytest.raises(Cancelled):
        upscale_array(random_image(20, 20), rf4, token=token)
    assert len(rf4.shapes) == before


def test_cancel_aborts_a_running_inference(sessions: Sessions, no_new_threads: None) -> None:
    # one big tile through a slow model (~9 s): the cancel must stop the run itself, not wait for it
    runner = sessions(graphs.slow(layers=12, width=64))
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            upscale_array(random_image(900, 900), runner, tile=900, token=token)
    finally:
        timer.join()


def test_runner_error_propagates(no_new_threads: None) -> None:
    # the spec lies: 4 channels for a 3-channel graph; ONNX Runtime's own error reaches the caller
    runner = OrtRunner(graphs.pixel_shuffle(2), spec_for(in_channels=4, out_channels=4))
    with pytest.raises(Exception, match=r"(?i)invalid|dimension|shape") as info:
        upscale_array(random_image(100, 100, 4), runner, tile=32)
    assert not isinstance(info.value, (Cancelled, EngineError))


def test_wrong_output_shape_is_an_engine_error(no_new_threads: None) -> None:
    runner = OrtRunner(graphs.pixel_shuffle(2), spec_for(scale=4.0))  # the spec says 4×, it is 2×
    with pytest.raises(EngineError, match="inspected scale 4"):
        upscale_array(random_image(64, 64), runner, tile=32)


def test_stitch_thread_error_propagates(rf4: Recording, no_new_threads: None) -> None:
    def broken(p: Progress) -> None:
        if p.tiles_done == 3:
            raise ZeroDivisionError("from the progress callback")

    with pytest.raises(ZeroDivisionError, match="progress callback"):
        upscale_array(random_image(150, 150), rf4, tile=32, progress=broken)


def test_prepare_thread_error_propagates(rf4: Recording, no_new_threads: None) -> None:
    image = random_image(60, 60, seed=13)
    grid = plan_grid(60, 60, rf4.spec, tile=16, pad=32)
    out = np.zeros((*grid.out_shape, 3), dtype=np.uint8)
    broken = [Feed(src=(0, 1, 7), dst=(0, 1, 2), reduce="take")]  # channel 7 does not exist
    with pytest.raises(IndexError):
        run_pass(image, rf4, grid, broken, out, batch=2)
