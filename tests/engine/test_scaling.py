"""Scale plans (how many model passes, which final size) and the Lanczos finish."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixup.engine.scaling import MAX_PASSES, plan_scale, resize_lanczos, target_length
from pixup.errors import EngineError


@pytest.mark.parametrize(
    ("model", "target", "passes", "size_in", "sizes", "final"),
    [
        (4.0, None, 1, (10, 7), [(40, 28)], (40, 28)),  # native scale
        (4.0, 4.0, 1, (10, 7), [(40, 28)], (40, 28)),  # 4× direct
        (4.0, 2.0, 1, (10, 7), [(40, 28)], (20, 14)),  # 4× then Lanczos down
        (2.0, 4.0, 2, (10, 7), [(20, 14), (40, 28)], (40, 28)),  # 2× chained twice
        (3.0, 8.0, 2, (10, 7), [(30, 21), (90, 63)], (80, 56)),  # 3×3 = 9×, then down to 8×
        (2.0, 3.0, 2, (5, 5), [(10, 10), (20, 20)], (15, 15)),
        (1.5, None, 1, (5, 7), [(8, 11)], (8, 11)),  # 7.5 → 8, 10.5 → 11 (half up)
        (1.5, 2.0, 2, (5, 7), [(8, 11), (12, 17)], (10, 14)),  # 2.25× then down
        (1.0, 2.0, 1, (5, 7), [(5, 7)], (10, 14)),  # a 1× model (denoise) then Lanczos up
        (4.0, 1.0, 1, (5, 7), [(20, 28)], (5, 7)),
        (2.0, 2.5, 2, (3, 3), [(6, 6), (12, 12)], (8, 8)),  # 7.5 → 8
    ],
)
def test_plans(
    model: float,
    target: float | None,
    passes: int,
    size_in: tuple[int, int],
    sizes: list[tuple[int, int]],
    final: tuple[int, int],
) -> None:
    plan = plan_scale(model, target)
    assert plan.passes == passes
    assert plan.pass_sizes(*size_in) == sizes
    assert plan.output_size(*size_in) == final


def test_exact_power_needs_no_extra_pass() -> None:
    # 2³ = 8 exactly: three passes, not four, despite float arithmetic
    assert plan_scale(2.0, 8.0).passes == 3
    assert plan_scale(4 / 3, 16 / 9).passes == 2


def test_too_many_passes_is_an_error() -> None:
    assert plan_scale(2.0, 2.0**MAX_PASSES).passes == MAX_PASSES
    with pytest.raises(EngineError, match="passes"):
        plan_scale(2.0, 2.0 ** (MAX_PASSES + 1))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_targets(bad: float) -> None:
    with pytest.raises(EngineError):
        plan_scale(4.0, bad)


def test_target_length_rounds_half_up() -> None:
    assert target_length(5, 1.5) == 8
    assert target_length(3, 2.5) == 8
    assert target_length(1, 0.1) == 1
    assert target_length(1000, 0.3333) == 333


def test_resize_8bit_matches_pillow_lanczos() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8)
    got = resize_lanczos(image, 20, 15)
    for c in range(3):
        expected = np.asarray(Image.fromarray(image[:, :, c]).resize((15, 20), Image.Resampling.LANCZOS))
        np.testing.assert_array_equal(got[:, :, c], expected)


def test_resize_16bit_keeps_16bit_precision() -> None:
    # a smooth 16-bit ramp: the 16-bit result is within a couple of 16-bit levels of the exact
    # float resize, far closer than one 8-bit level (257)
    ramp = np.linspace(1000, 60000, 64, dtype=np.float64)
    image = np.repeat(np.rint(ramp)[None, :, None], 8, axis=0).astype(np.uint16)
    got = resize_lanczos(image, 4, 32)
    assert got.dtype == np.uint16
    expected = np.asarray(
        Image.fromarray(image[:, :, 0].astype(np.float32)).resize((32, 4), Image.Resampling.LANCZOS)
    )
    assert np.abs(got[:, :, 0].astype(np.float64) - expected).max() <= 0.5 + 1e-3
    assert len(np.unique(got[0, 2:-2, 0] % 257)) > 1  # not 8-bit values in disguise
    # constant 16-bit stays exactly constant
    flat = np.full((9, 9, 1), 12345, dtype=np.uint16)
    assert (resize_lanczos(flat, 4, 4) == 12345).all()


def test_resize_same_size_returns_input() -> None:
    image = np.zeros((4, 5, 1), np.uint8)
    assert resize_lanczos(image, 4, 5) is image
