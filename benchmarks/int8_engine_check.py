"""pixup's int8 variant of the default model through pixup's own engine path (OpenVINO CPU through
its own API, automatic tile, the model's measured context), against fp32 ("exact") and "fast" (bf16
on CPUs that have it, else fp32) on the same image.

    PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app .venv/bin/python benchmarks/int8_engine_check.py [FILE]

Without a file it checks the variant `--precision int8` runs (`models.int8.int8_model`). Prints each
run's seconds (interleaved rounds, 1000×750 from samples/astronaut-512.png), the paired ratios, the
PSNR of the int8 and "fast" outputs against fp32, and whether int8 tiles are seamless (a forced grid
against one whole tile, max |Δ| in levels).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from _common import SAMPLES, load_average, psnr
from pixup.engine.session import ModelSession
from pixup.engine.upscale import upscale_array
from pixup.models.catalogue import resolve_model
from pixup.models.int8 import int8_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("int8", type=Path, nargs="?", help="a quantised ONNX file (default: pixup's own)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with Image.open(SAMPLES / "astronaut-512.png") as im:
        image = np.asarray(im.convert("RGB").resize((1000, 750), Image.Resampling.LANCZOS))
    fp32 = resolve_model("realesr-animevideov3-x4").onnx_path
    sessions = {
        "fp32": ModelSession.open(fp32, precision="exact"),
        "fast": ModelSession.open(fp32, precision="fast"),
        "int8": ModelSession.open(args.int8 or int8_model(fp32), precision="exact"),
    }
    seconds: dict[str, list[float]] = {name: [] for name in sessions}
    outputs: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, session in sessions.items():
            started = time.perf_counter()
            outputs[name] = upscale_array(image, session)
            seconds[name].append(time.perf_counter() - started)
    crop = image[:450, :600]
    tiled = upscale_array(crop, sessions["int8"], tile=200)
    whole = upscale_array(crop, sessions["int8"], tile=4000)
    for name, session in sessions.items():
        rounds = [round(s, 2) for s in seconds[name]]
        print(f"{name} ({session.description}): {rounds} s, context radius {session.spec.context_radius}")
    for base in ("fp32", "fast"):
        ratios = [b / i for b, i in zip(seconds[base], seconds["int8"], strict=True)]
        print(f"{base} ÷ int8 per round: {[round(r, 3) for r in ratios]}")
    print(f"int8 vs fp32 {psnr(outputs['fp32'], outputs['int8']):.2f} dB; "
          f"fast vs fp32 {psnr(outputs['fp32'], outputs['fast']):.2f} dB; "
          f"int8 tiled vs whole max |Δ| {int(np.abs(tiled.astype(np.int16) - whole).max())}; "
          f"load {load_average():.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
