"""OpenVINO CPU precisions on pixup's own path: fp32, bf16 and int8, per model, on this CPU.

    PIXUP_HOME=/tmp/pixup-speed-home PYTHONPATH=app .venv/bin/python benchmarks/bench_precision.py
    ... --models realesr-animevideov3-x4,waifu2x-photo-x2 --side 256 --rounds 5

Each model is opened three times through `ModelSession` (OpenVINO CPU through its own API, 2 threads
by default): INFERENCE_PRECISION_HINT f32, bf16 (forced, whatever the CPU flags say), and the int8
variant "fast" runs on x86 CPUs without AMX (bundled models measured for it only). One fixed 1×3×S×S tile of a
sample photo runs through each, rounds interleaved; printed: median seconds, the median of per-round
paired ratios against fp32 (> 1 = faster than fp32), the output's PSNR against fp32, what "fast" and
"exact" choose first on this CPU, and the CPU flags that decide it. This is the measurement behind
`hardware.BF16_FLAGS` (bf16 only with AMX) and behind int8 for "fast".
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import load_average, median, psnr, sample_image, table

os.environ.setdefault("PIXUP_HOME", str(Path(tempfile.gettempdir()) / "pixup-speed-home"))

from pixup.engine import hardware
from pixup.engine.providers import OPENVINO, ProviderChoice, provider_plan
from pixup.engine.session import ModelSession
from pixup.models.catalogue import resolve_model
from pixup.models.int8 import int8_model


def cpu_choice(precision: str) -> ProviderChoice:
    """OpenVINO CPU as pixup plans it, with bf16 forced on or off."""
    plan = provider_plan("fast", cpu_bf16=precision == "bf16", openvino_devices=["CPU"])
    return next(c for c in plan if c.name == OPENVINO and c.device == "CPU" and c.variant is None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="realesr-animevideov3-x4,waifu2x-photo-x2")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pixels, _ = sample_image("astronaut-512.png", args.side, args.side)
    tile = np.ascontiguousarray((pixels.astype(np.float32) / 255).transpose(2, 0, 1)[None])
    _, flags = hardware.read_cpu_flags()
    cpu = hardware.system_info().cpu_name
    print(f"CPU: {cpu}; flags: {' '.join(sorted(flags or ()))}; load {load_average():.1f}")
    for precision in ("fast", "exact"):
        print(f'"{precision}" plans: {provider_plan(precision)[0].description}')
    rows = []
    for model_id in [m for m in args.models.split(",") if m]:
        model = resolve_model(model_id)
        files = {"fp32": (model.onnx_path, "fp32"), "bf16": (model.onnx_path, "bf16")}
        if model.int8:
            files["int8"] = (int8_model(model.onnx_path), "fp32")
        sessions = {
            name: ModelSession.open(path, plan=[cpu_choice(hint)]) for name, (path, hint) in files.items()
        }
        outputs = {name: session.run(tile) for name, session in sessions.items()}  # warm-up
        seconds: dict[str, list[float]] = {name: [] for name in sessions}
        loads = []
        for _ in range(args.rounds):
            for name, session in sessions.items():
                started = time.perf_counter()
                session.run(tile)
                seconds[name].append(time.perf_counter() - started)
            loads.append(load_average())
        for name in sessions:
            ratios = [f / s for f, s in zip(seconds["fp32"], seconds[name], strict=True)]
            rows.append(
                [
                    model_id,
                    name,
                    f"{median(seconds[name]):.3f}",
                    f"{median(ratios):.2f}",
                    " ".join(f"{r:.2f}" for r in ratios),
                    "–" if name == "fp32" else f"{psnr(outputs[name], outputs['fp32'], peak=1.0):.1f}",
                ]
            )
        for session in sessions.values():
            session.close()
        print(f"{model_id}: load {min(loads):.1f}–{max(loads):.1f}")
    print(table(["model", "precision", "median s", "fp32 s ÷ this", "per round", "PSNR vs fp32 dB"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
