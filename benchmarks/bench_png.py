"""PNG writing: pixup's parallel-deflate writer against Pillow, per zlib level, on a real upscale.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_png.py [--rounds 3]
        [--levels 0,1,2,3,4,6,9] [--size 512]

The image is what pixup writes by default: `samples/astronaut-512.png` (resized to --size) upscaled
×4 by realesr-animevideov3 (one whole-image run, cached in the temp folder between invocations),
8-bit RGB. Per round, interleaved, every (writer, level) pair writes the image into memory:
pixup's `pngwrite.write_png` (row filters chosen per row in numpy, deflate segments on threads, the
way 16-bit PNG has always been written) and Pillow's `Image.save(format="PNG", compress_level=L)`
(libImaging's encoder: one thread). Reported: median wall seconds, CPU seconds, size in bytes and
relative to Pillow at level 6 (the old default), and whether the PNG decodes to the same pixels.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from _common import default_model_onnx, load_average, median, sample_image, table
from pixup.imaging.pngwrite import write_png


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def upscaled(size: int) -> np.ndarray:
    cache = Path(tempfile.gettempdir()) / f"pixup-bench-png-{size}.npy"
    if cache.is_file():
        return np.load(cache)
    import onnxruntime as ort

    model, _ = default_model_onnx()
    pixels, _ = sample_image("astronaut-512.png", size, size)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    x = (pixels.transpose(2, 0, 1)[None].astype(np.float32)) / 255
    out = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    image = np.ascontiguousarray(np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0))
    np.save(cache, image)
    return image


def pixup_writer(level: int) -> Callable[[np.ndarray], bytes]:
    def write(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        write_png(buffer, pixels, compress_level=level)
        return buffer.getvalue()

    return write


def pillow_writer(level: int) -> Callable[[np.ndarray], bytes]:
    def write(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    return write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="0,1,2,3,4,6,9")
    parser.add_argument("--size", type=int, default=512, help="input side before ×4")
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    pixels = upscaled(args.size)
    log(
        f"image {pixels.shape[1]}×{pixels.shape[0]} RGB, {pixels.nbytes / 1e6:.1f} MB raw; "
        f"load {load_average():.2f}"
    )
    runs: dict[tuple[str, int], Callable[[np.ndarray], bytes]] = {}
    for level in levels:
        runs[("pixup", level)] = pixup_writer(level)
        runs[("Pillow", level)] = pillow_writer(level)
    walls: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    cpus: dict[tuple[str, int], list[float]] = {key: [] for key in runs}
    sizes: dict[tuple[str, int], int] = {}
    exact: dict[tuple[str, int], bool] = {}
    for index in range(args.rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        for key in order:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            data = runs[key](pixels)
            walls[key].append(time.perf_counter() - wall0)
            cpus[key].append(time.process_time() - cpu0)
            if key not in sizes:
                sizes[key] = len(data)
                with Image.open(io.BytesIO(data)) as decoded:
                    exact[key] = bool(np.array_equal(np.asarray(decoded.convert("RGB")), pixels))
        log(f"round {index + 1}/{args.rounds} done")
    base = sizes.get(("Pillow", 6)) or next(iter(sizes.values()))
    rows = []
    for key in runs:
        writer, level = key
        rows.append(
            [
                f"{writer} level {level}",
                f"{median(walls[key]):.3f}",
                "/".join(f"{w:.2f}" for w in walls[key]),
                f"{median(cpus[key]):.3f}",
                f"{sizes[key] / 1e6:.2f}",
                f"{sizes[key] / base:.3f}",
                f"{pixels.size / 1e6 / 3 / median(walls[key]):.1f}",
                "yes" if exact[key] else "NO",
            ]
        )
    print(
        f"\n{pixels.shape[1]}×{pixels.shape[0]} RGB (realesr-animevideov3 ×4 output), "
        f"{args.rounds} rounds, load {load_average():.2f}"
    )
    print(
        table(
            ["writer", "wall s", "per round", "CPU s", "MB", "÷ Pillow 6", "MP/s", "decodes exactly"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
