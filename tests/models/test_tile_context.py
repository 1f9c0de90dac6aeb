"""Tile context from the model (issue 8): on real pretrained models, the context radius measured at
inspection is enough for tiled output to equal the whole-image run within ±1 level, on photos and
line art, with a grid forced by a small tile; and what has no finite radius keeps 32 px."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixup.engine.cancel import CancelToken
from pixup.engine.session import ModelSession
from pixup.engine.spec import ModelSpec
from pixup.engine.tiling import DEFAULT_PAD, context_for, plan_grid
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

# (model id, smallest and largest plausible radius). SRVGGNetCompact has 18 3×3 convolutions: its
# reach cannot exceed 18 px. waifu2x UpConv7 is all unpadded convolutions: the border is its whole
# field, nothing beyond it.
LOCAL = [
    ("realesr-animevideov3-x4", 10, 18),
    ("waifu2x-photo-x2", 0, 0),
]
# Squeeze-and-excitation blocks pool over the whole tile: no finite radius, 32 px as before.
GLOBAL = ["waifu2x-cunet-x2", "realcugan-se-x2"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXUP_HOME", str(path))
        yield path


def _open(model_id: str) -> ModelSession:
    return ModelSession.open(
        resolve_model(model_id).onnx_path, precision="exact", providers=["CPUExecutionProvider"]
    )


def _photo(name: str, height: int, width: int, top: int, left: int) -> np.ndarray:
    with Image.open(SAMPLES / name) as image:
        pixels = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(pixels[top : top + height, left : left + width])


def _line_art(height: int, width: int) -> np.ndarray:
    """Black strokes and a flat colour fill on white: hard edges and large flat areas."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 6, width - 20, height - 10), fill=(250, 200, 120), outline="black", width=3)
    for k in range(0, width + height, 17):
        draw.line((k, 0, k - height, height), fill="black", width=1 + k % 3)
    draw.rectangle((width // 2, 4, width - 6, height // 2), outline=(20, 40, 160), width=2)
    draw.text((10, height - 18), "pixup 42", fill="black")
    return np.asarray(image)


IMAGES = {
    "astronaut": lambda h, w: _photo("astronaut-256.png", h, w, 40, 60),
    "chelsea": lambda h, w: _photo("chelsea.png", h, w, 60, 120),
    "line-art": _line_art,
}


class _Respec:
    """A runner that is `session` with another spec (to run the same model with less context)."""

    def __init__(self, session: ModelSession, spec: ModelSpec) -> None:
        self._session = session
        self._spec = spec

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    @property
    def provider(self) -> str:
        return self._session.provider

    def run(self, batch: np.ndarray, token: CancelToken | None = None) -> np.ndarray:
        return self._session.run(batch, token)

    def fallback(self) -> None:
        return None


def _worst(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


@pytest.mark.parametrize(("model_id", "low", "high"), LOCAL, ids=[m[0] for m in LOCAL])
def test_tiles_equal_the_whole_image_with_the_measured_context(
    home: Path, model_id: str, low: int, high: int
) -> None:
    with _open(model_id) as session:
        radius = session.spec.context_radius
        assert radius is not None and low <= radius <= high
        context = context_for(session.spec)
        assert context < DEFAULT_PAD
        for name, make in IMAGES.items():
            image = make(88, 112)
            grid = plan_grid(88, 112, session.spec, tile=8, pad=0)
            assert grid.count >= 4 and grid.pad == context  # cuts in both directions
            whole = upscale_array(image, session, tile=512)
            tiled = upscale_array(image, session, tile=8)
            assert _worst(tiled, whole) <= 1, name
        if radius > 2:  # the check bites: far less context than measured shows the cuts
            starved = _Respec(session, replace(session.spec, context_radius=0))
            image = IMAGES["astronaut"](88, 112)
            assert _worst(upscale_array(image, starved, tile=8), upscale_array(image, session, tile=512)) > 1


@pytest.mark.parametrize("model_id", GLOBAL)
def test_models_that_pool_globally_keep_the_default_context(home: Path, model_id: str) -> None:
    with _open(model_id) as session:
        assert session.spec.context_radius is None
        assert context_for(session.spec) == DEFAULT_PAD
        assert plan_grid(88, 112, session.spec, tile=8, pad=0).pad == DEFAULT_PAD


@pytest.mark.slow
def test_a_wide_field_model_gets_more_than_32_px(home: Path) -> None:
    """Real-ESRGAN x4plus (23 RRDB blocks) reaches farther than 32 px: it gets that much context,
    which removes the seams 32 px left. A thin image with one vertical cut keeps it affordable."""
    with _open("realesrgan-x4plus") as session:
        radius = session.spec.context_radius
        assert radius is not None and radius > DEFAULT_PAD
        image = IMAGES["astronaut"](32, 2 * context_for(session.spec) + 40)
        height, width = image.shape[:2]
        tile = next(
            t for t in range(256, 0, -1) if plan_grid(height, width, session.spec, tile=t, pad=0).count == 2
        )
        whole = upscale_array(image, session, tile=512)
        assert _worst(upscale_array(image, session, tile=tile), whole) <= 1
