"""Writes app/pixup/models/int8_calibration.png: the tiles pixup calibrates int8 models on.

    PYTHONPATH=app:. .venv/bin/python scripts/make_int8_calibration.py

A strip of 96×96 tiles: the 8 most detailed windows of samples/astronaut-512.png and
samples/chelsea.png that miss the model table's evaluation crops of those images (as
benchmarks/bench_int8.py chooses them). Photos only, on purpose: drawn tiles with saturated fills,
screentone and 1-px patterns widen every activation range 2-7× and cost photos 0.24 dB and the
model table's drawings 0.11 dB (bench_int8.py --stress). The file is committed; this script says
where it came from and remakes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "app")]

from benchmarks.bench_int8 import calibration_tiles  # noqa: E402

from pixup.models.int8 import CALIBRATION_FILE, TILE  # noqa: E402


def main() -> None:
    photos = [(t[0].transpose(1, 2, 0) * 255).round().astype(np.uint8) for t in calibration_tiles()]
    strip = np.concatenate(photos, axis=1)
    Image.fromarray(strip).save(CALIBRATION_FILE, optimize=True)
    print(f"{CALIBRATION_FILE}: {strip.shape[1] // TILE} tiles, {CALIBRATION_FILE.stat().st_size} bytes")


if __name__ == "__main__":
    main()
