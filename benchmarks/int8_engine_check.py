"""The int8 file bench_int8.py made, through pixup's own engine path (OpenVINO CPU through its own
API, automatic tile, the model's measured context), against fp32 on the same image.

    PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app .venv/bin/python benchmarks/int8_engine_check.py INT8.onnx

Prints both runs' seconds (2 interleaved rounds, 1000×750 from samples/astronaut-512.png), the
paired ratio, the PSNR of the int8 output against fp32, and whether int8 tiles are seamless (a
forced grid against one whole tile, max |Δ| in levels).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import SAMPLES, load_average
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("int8", type=Path, help="the quantised ONNX file")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with Image.open(SAMPLES / "astronaut-512.png") as im:
        image = np.asarray(im.convert("RGB").resize((1000, 750), Image.Resampling.LANCZOS))
    sessions = {
        "fp32": ModelSession.open(resolve_model("realesr-animevideov3-x4").onnx_path, precision="exact"),
        "int8": ModelSession.open(args.int8, precision="exact"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in sessions}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            outputs[name] = upscale_array(image, session)
            seconds[name].append(time.perf_counter() - started)
    error = outputs["fp32"].astype(np.float64) - outputs["int8"]
    psnr = 10 * np.log10(255.0**2 / float((error**2).mean()))
    crop = image[:450, :600]
    tiled = upscale_array(crop, sessions["int8"], tile=200)
    whole = upscale_array(crop, sessions["int8"], tile=4000)
    ratios = [f / i for f, i in zip(seconds["fp32"], seconds["int8"], strict=True)]
    for name, session in sessions.items():
        rounds = [round(s, 2) for s in seconds[name]]
        print(f"{name}: {rounds} s, context radius {session.spec.context_radius}")
    print(f"fp32 ÷ int8 per round: {[round(r, 3) for r in ratios]}; int8 vs fp32 {psnr:.2f} dB; "
          f"int8 tiled vs whole max |Δ| {int(np.abs(tiled.astype(np.int16) - whole).max())}; "
          f"load {load_average():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
