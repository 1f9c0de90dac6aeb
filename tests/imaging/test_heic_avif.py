"""HEIC (pillow-heif, a dependency) and AVIF (built into Pillow) read like any other image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from pixup.imaging.decode import read_image


@pytest.mark.parametrize(("suffix", "fmt"), [(".heic", "HEIF"), (".avif", "AVIF")])
def test_reads_heic_and_avif(tmp_path: Path, suffix: str, fmt: str) -> None:
    pillow_heif.register_heif_opener()
    yy, xx = np.mgrid[0:40, 0:60]
    smooth = np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=-1).astype(np.uint8)
    path = tmp_path / f"pic{suffix}"
    Image.fromarray(smooth).save(path, quality=95)
    image = read_image(path)
    assert image.format == fmt
    assert image.pixels.shape == (40, 60, 3) and image.bit_depth == 8
    assert np.abs(image.pixels.astype(int) - smooth).mean() < 4  # lossy, but the same picture


def test_truncated_heic_is_a_clear_error(tmp_path: Path) -> None:
    from pixup.errors import ImageReadError

    pillow_heif.register_heif_opener()
    path = tmp_path / "cut.heic"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageReadError) as err:
        read_image(path)
    assert "cut.heic" in str(err.value) and "\n" not in str(err.value)
