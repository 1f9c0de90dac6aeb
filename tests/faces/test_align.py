"""Similarity fitting and the warps into and out of the 512 crop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixup.faces import TEMPLATE_512, FaceDetector, align_matrix, similarity_transform
from pixup.faces.align import crop_bounds, invert, transform_scale, warp_from_crop, warp_to_crop


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale = 0.7, 2.5
    truth = np.array(
        [
            [scale * math.cos(angle), -scale * math.sin(angle), 13.0],
            [scale * math.sin(angle), scale * math.cos(angle), -4.0],
        ]
    )
    fitted = similarity_transform(src, _apply(truth, src))
    np.testing.assert_allclose(fitted, truth, atol=1e-9)
    assert transform_scale(fitted) == pytest.approx(scale)
    np.testing.assert_allclose(invert(fitted) @ np.append(_apply(fitted, src[0]), 1.0), src[0], atol=1e-9)


def test_similarity_never_mirrors() -> None:
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [7.0, 9.0]])
    mirrored = src * [-1.0, 1.0]
    fitted = similarity_transform(src, mirrored)
    assert np.linalg.det(fitted[:, :2]) > 0


def test_similarity_is_least_squares() -> None:
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, (5, 2))
    noisy = src + rng.normal(0, 1.0, src.shape)
    fitted = similarity_transform(src, noisy)
    best = np.square(_apply(fitted, src) - noisy).sum()
    for _ in range(50):  # no nearby similarity fits better
        nudged = fitted + rng.normal(0, 1e-3, fitted.shape) * [[1, 0, 1], [0, 1, 1]]
        nudged[1, 1], nudged[1, 0] = nudged[0, 0], -nudged[0, 1]
        assert np.square(_apply(nudged, src) - noisy).sum() >= best - 1e-9


def test_similarity_rejects_degenerate_points() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))


def test_astronaut_landmarks_land_on_the_template(detector: FaceDetector, astronaut: np.ndarray) -> None:
    (face,) = detector.detect(astronaut)
    matrix = align_matrix(face.landmarks)
    residual = np.linalg.norm(_apply(matrix, face.landmarks) - TEMPLATE_512, axis=1)
    assert residual.max() < 20  # a real face (smiling, turned) is not the template: within 4 %
    crop = warp_to_crop(astronaut, matrix)
    assert crop.shape == (512, 512, 3) and crop.dtype == np.uint8
    # The crop really is the face: its centre is skin, not the black outside or the white suit.
    centre = crop[230:330, 200:310].astype(float).mean(axis=(0, 1))
    assert centre[0] > centre[2] + 20 and 80 < centre.mean() < 230


def test_integer_translation_is_an_exact_copy() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (700, 650, 3), dtype=np.uint8)
    matrix = np.array([[1.0, 0.0, -60.0], [0.0, 1.0, -100.0]])  # crop starts at (60, 100)
    window = crop_bounds(matrix, 700, 650)
    assert window == (58, 98, 574, 614)
    x0, y0, x1, y1 = window
    crop = warp_to_crop(image[y0:y1, x0:x1], matrix, (x0, y0))
    np.testing.assert_array_equal(crop, image[100:612, 60:572])
    back = warp_from_crop(crop.astype(np.float32), matrix, window)
    np.testing.assert_array_equal(back[2:514, 2:514], image[100:612, 60:572])
    assert crop_bounds(np.array([[1.0, 0.0, 2000.0], [0.0, 1.0, 0.0]]), 700, 650) is None


def test_big_face_is_reduced_before_cropping() -> None:
    # A 2048-px flat image crop at scale 1/4: the box pre-filter must keep flat flat and fill it.
    image = np.full((2200, 2200, 3), 90, np.uint8)
    matrix = np.array([[0.25, 0.0, 0.0], [0.0, 0.25, 0.0]])
    crop = warp_to_crop(image, matrix)
    assert (crop == 90).all()
