"""The weight-free perceptual measures of benchmarks/sr_metrics.py: GMSD (full reference), Laplacian
sharpness and MSCN naturalness (no reference) behave as documented on a real photo crop."""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmarks.sr_images import repository_photos
from benchmarks.sr_metrics import (
    GMSD_C,
    U8,
    bicubic_resize,
    downscale,
    ggd_shape,
    gms_map,
    gmsd_y,
    naturalness_gap,
    naturalness_y,
    sharpness_ratio,
    sharpness_y,
)


@pytest.fixture(scope="module")
def truth() -> U8:
    return repository_photos()[0].pixels


def _blurred(truth: U8, factor: int) -> U8:
    return bicubic_resize(downscale(truth, factor), *truth.shape[:2])


def _noisy(truth: U8, sigma: float, seed: int = 1) -> U8:
    noise = np.random.default_rng(seed).normal(0.0, sigma, truth.shape)
    return np.clip(truth.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def test_identical_images_score_perfect(truth: U8) -> None:
    assert gmsd_y(truth, truth) == 0.0
    assert gmsd_y(truth, truth, border=4) == 0.0
    assert np.all(gms_map(truth, truth) == 1.0)
    assert sharpness_ratio(truth, truth, 4) == pytest.approx(1.0)
    assert naturalness_gap(truth, truth, 4) == 0.0


def test_gmsd_matches_its_definition_on_a_small_case() -> None:
    """A vertical step edge against a flat image, worked out by hand at half resolution."""
    truth = np.zeros((8, 8, 3), dtype=np.uint8)
    truth[:, 4:] = 255  # Y steps from 16 to 235
    flat = np.zeros_like(truth)
    gms = gms_map(flat, truth)
    # Halved to 4×4 (step between columns 1 and 2), Prewitt on the 2×2 valid positions: both see
    # the full step, |g| = 219 (a 3×3 Prewitt over a step of 219 gives 219), the flat image 0.
    assert gms.shape == (2, 2)
    assert np.allclose(gms, GMSD_C / (219.0**2 + GMSD_C))
    assert gmsd_y(flat, truth) == pytest.approx(0.0, abs=1e-12)  # uniformly bad: no deviation
    tall = np.zeros((16, 8, 3), dtype=np.uint8)
    tall[:, 4:] = 255
    half = tall.copy()
    half[:8, 4:] = 0  # the edge survives in the bottom half only
    gms = gms_map(half, tall)
    assert gms.shape == (6, 2)
    assert np.allclose(gms[:2], GMSD_C / (219.0**2 + GMSD_C)) and np.allclose(gms[4:], 1.0)
    assert gmsd_y(half, tall) > 0.4  # half right, half wrong: the largest deviation there is


def test_blur_scores_worse_the_more_it_blurs(truth: U8) -> None:
    mild, strong = _blurred(truth, 2), _blurred(truth, 4)
    assert 0.0 < gmsd_y(mild, truth, 4) < gmsd_y(strong, truth, 4)
    assert sharpness_ratio(strong, truth, 4) < sharpness_ratio(mild, truth, 4) < 0.5
    assert sharpness_y(strong) < sharpness_y(truth)
    assert naturalness_gap(mild, truth, 4) > 0.1 and naturalness_gap(strong, truth, 4) > 0.1


def test_noise_is_busy_but_not_faithful(truth: U8) -> None:
    light, heavy = _noisy(truth, 5), _noisy(truth, 30)
    assert 0.0 < gmsd_y(light, truth, 4) < gmsd_y(heavy, truth, 4)
    # Noise adds Laplacian energy, unlike blur: the no-reference sharpness cannot tell it from detail,
    # which is why the pick rule reads it beside GMSD, never alone.
    assert 1.0 < sharpness_ratio(light, truth, 4) < sharpness_ratio(heavy, truth, 4)
    assert naturalness_gap(heavy, truth, 4) > naturalness_gap(light, truth, 4)


def test_gmsd_orders_like_people_where_psnr_does_not(truth: U8) -> None:
    """Blur ÷4 and heavy noise cost about as much PSNR; GMSD calls the blur (lost edges) far worse
    than light noise that keeps them, as viewers do."""
    strong, light = _blurred(truth, 4), _noisy(truth, 8)
    assert gmsd_y(light, truth, 4) < gmsd_y(strong, truth, 4) / 3


def test_ggd_shape_recovers_known_distributions() -> None:
    rng = np.random.default_rng(0)
    assert ggd_shape(rng.normal(size=200_000)) == pytest.approx(2.0, abs=0.05)
    assert ggd_shape(rng.laplace(size=200_000)) == pytest.approx(1.0, abs=0.05)
    assert math.isnan(ggd_shape(np.zeros(10)))


def test_mscn_of_a_flat_image_is_undefined_not_a_crash() -> None:
    flat = np.full((32, 32, 3), 128, dtype=np.uint8)
    assert math.isnan(naturalness_y(flat))
    assert math.isnan(sharpness_ratio(flat, flat))


def test_shapes_are_checked(truth: U8) -> None:
    with pytest.raises(ValueError):
        gmsd_y(truth[:100], truth)
    with pytest.raises(ValueError):
        gmsd_y(truth[:4, :4], truth[:4, :4])
