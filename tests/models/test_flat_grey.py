"""A cheap sanity check per network family: flat grey in, the same grey out.

It caught Real-CUGAN 4×, whose network outputs a residual only (its runtime adds the upscaled
input afterwards): without that step appended, pixup returned a near-black image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model

FAMILIES = [
    "realesr-animevideov3-x4",
    "realesrgan-x4plus-anime",
    "waifu2x-photo-x2",
    "waifu2x-cunet-x2",
    "waifu2x-cunet-x1-denoise2",
    "realcugan-se-x2",
    "realcugan-se-x3",
    "realcugan-se-x4",
    "realcugan-se-x4-conservative",
    "realcugan-pro-x3",
]


@pytest.mark.parametrize("model_id", FAMILIES)
def test_flat_grey_stays_grey(model_id: str, tmp_path_factory: pytest.TempPathFactory,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    home: Path = tmp_path_factory.getbasetemp() / "grey-home"
    monkeypatch.setenv("PIXUP_HOME", str(home))
    with ModelSession.open(resolve_model(model_id).onnx_path, precision="exact",
                           providers=["CPUExecutionProvider"]) as session:
        for level in (64, 160):
            out = upscale_array(np.full((24, 28, 3), level, np.uint8), session, tile=64)
            assert abs(float(out.mean()) - level) < 6, (model_id, level, float(out.mean()))
