"""Fixtures for the face tests: the real detector, scikit-image's photos, and tiny face models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from pixup.faces import FaceDetector, FaceModel, load_face_model
from tests.faces import graphs

U8 = np.ndarray


def upscale(image: np.ndarray, factor: float) -> np.ndarray:
    """A bicubic stand-in for the upscaler, per channel so any depth and channel count works."""
    pixels = image if image.ndim == 3 else image[..., None]
    height, width = pixels.shape[:2]
    size = (round(width * factor), round(height * factor))
    top = np.iinfo(image.dtype).max
    planes = [
        np.asarray(
            Image.fromarray(pixels[..., c].astype(np.float32), "F").resize(size, Image.Resampling.BICUBIC)
        )
        for c in range(pixels.shape[2])
    ]
    out = np.clip(np.rint(np.stack(planes, axis=2)), 0, top).astype(image.dtype)
    return out if image.ndim == 3 else out[..., 0]


def tiled_faces(faces: int, tiles: int = 3) -> np.ndarray:
    """A row of `tiles` 208×208 tiles: the astronaut's head in the first `faces`, coffee in the rest
    (the same pixel count whatever `faces` is)."""
    head = skimage.data.astronaut()[20:228, 122:330]
    plain = skimage.data.coffee()[150:358, 300:508]
    return np.concatenate([head if i < faces else plain for i in range(tiles)], axis=1)


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    return skimage.data.coffee()


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Face model files: identity, darken (×0.5 in [0, 1] units), codeformer, and wrong ones."""
    root = tmp_path_factory.mktemp("face-models")
    return {
        "identity": graphs.gfpgan_identity(root / "identity.onnx"),
        # x·0.5 − 0.5 in [-1, 1] is v/2 in [0, 1]: every restored pixel at half brightness.
        "darken": graphs.gfpgan_affine(root / "darken.onnx", 0.5, -0.5),
        "codeformer": graphs.codeformer(root / "codeformer.onnx"),
    }


@pytest.fixture(scope="session")
def identity(models: dict[str, Path]) -> FaceModel:
    return load_face_model(models["identity"])


@pytest.fixture(scope="session")
def darken(models: dict[str, Path]) -> FaceModel:
    return load_face_model(models["darken"])
