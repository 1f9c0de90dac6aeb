"""PNG writing: pixup's parallel-deflate writer (now and before) against Pillow, per zlib level.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_png.py [--rounds 3]
        [--levels 0,1,2,3,4,6,9] [--size 512] [--image astronaut] [--deep]
        [--writers pixup,before,four,Pillow]

The image is what pixup writes by default: a sample (resized to --size) upscaled ×4 by
realesr-animevideov3 (cached in the temp folder between invocations), 8-bit RGB (`--deep`: the
model's output rounded to 16 bits, which Pillow cannot write). `--image`: the photos
`astronaut` (samples/astronaut-512.png) and `chelsea` (samples/chelsea.png), resized with Lanczos,
or the drawings `cartoon` and `manga` (benchmarks/sr_images.py's generated pages, drawn at --size).
--size 256 gives a 1 MP output, 512 a 4 MP one, 1732 a 48 MP one (inferred in strips of 128 rows).

Writers, per round interleaved, each writing the image into memory:

- **pixup**: `pngwrite.write_png` as it is: row filters chosen among None, Sub, Up and Average in
  uint8, each segment deflated with the default strategy or Z_RLE after a trial on its first block.
- **before**: the same writer with its old choices (`_FILTER_CHOICE = "five"`: Paeth among the
  candidates, in int16; `_RLE_TRIAL = False`: the default strategy only).
- **four**: the new filter choice with the default strategy only (the filter change alone).
- **Pillow**: `Image.save(format="PNG", compress_level=L)` (libImaging's encoder, one thread).

Reported: median wall seconds, CPU seconds (all threads), size in bytes, relative to Pillow at
level 6 and to "before" at the same level, and whether the PNG decodes to the same pixels. Then the
row-filter choice alone (both versions, the writer's blocks, CPU ms per megapixel).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from _common import default_model_onnx, load_average, median, sample_image, table
from pixup.imaging import pngwrite
from pixup.imaging.decode import read_image
from pixup.imaging.pngwrite import write_png

PHOTOS = {"astronaut": "astronaut-512.png", "chelsea": "chelsea.png"}
DRAWINGS = ("cartoon", "manga")
WRITERS = ("pixup", "before", "four", "Pillow")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def source(image: str, size: int) -> np.ndarray:
    if image in PHOTOS:
        pixels, _ = sample_image(PHOTOS[image], size, size)
        return pixels
    import sr_images

    return sr_images.cartoon_drawing(size) if image == "cartoon" else sr_images.manga_drawing(size)


def upscaled(image: str, size: int, deep: bool) -> np.ndarray:
    name = "" if image == "astronaut" else f"{image}-"  # the astronaut keeps its old cache name
    cache = Path(tempfile.gettempdir()) / f"pixup-bench-png-{name}{size}{'-16' if deep else ''}.npy"
    if cache.is_file():
        return np.load(cache)
    import onnxruntime as ort

    model, _ = default_model_onnx()
    pixels = source(image, size)
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    strip = size if size <= 512 else 128  # big images in strips (seams do not matter here)
    parts = []
    for top in range(0, size, strip):
        x = pixels[top : top + strip].transpose(2, 0, 1)[None].astype(np.float32) / 255
        parts.append(np.clip(session.run(None, {session.get_inputs()[0].name: x})[0][0], 0, 1))
    out = np.concatenate(parts, axis=1).transpose(1, 2, 0)
    peak, kind = (65535, np.uint16) if deep else (255, np.uint8)
    result = np.ascontiguousarray(np.rint(out * peak).astype(kind))
    np.save(cache, result)
    return result


@contextmanager
def choices(filters: str, rle_trial: bool) -> Iterator[None]:
    saved = pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL
    pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL = filters, rle_trial
    try:
        yield
    finally:
        pngwrite._FILTER_CHOICE, pngwrite._RLE_TRIAL = saved


def pixup_writer(level: int, filters: str = "four", rle_trial: bool = True) -> Callable[[np.ndarray], bytes]:
    def write(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        with choices(filters, rle_trial):
            write_png(buffer, pixels, compress_level=level)
        return buffer.getvalue()

    return write


def pillow_writer(level: int) -> Callable[[np.ndarray], bytes]:
    def write(pixels: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=level)
        return buffer.getvalue()

    return write


def filter_choice_ms(pixels: np.ndarray, rounds: int) -> dict[str, float]:
    """CPU ms per megapixel of the row-filter choice alone, old and new, over the writer's blocks."""
    height, width, channels = pixels.shape
    big = pixels.dtype == np.uint16
    bpp = channels * (2 if big else 1)
    raw = pixels.astype(">u2" if big else np.uint8).view(np.uint8).reshape(height, -1)
    step = max(1, pngwrite._BLOCK_BYTES // raw.shape[1])
    stacks = [np.vstack([raw[top - 1 : top] if top else np.zeros((1, raw.shape[1]), np.uint8),
                         raw[top : top + step]]) for top in range(0, height, step)]
    runs = {
        "four (now)": lambda stack: pngwrite._filter_rows(stack, bpp),
        "five (before)": lambda stack: pngwrite._filter_rows_five(stack[1:], stack[0], bpp),
    }
    best: dict[str, float] = {}
    for name, run in runs.items():
        times = []
        for _ in range(rounds):
            cpu0 = time.process_time()
            for stack in stacks:
                run(stack)
            times.append(time.process_time() - cpu0)
        best[name] = median(times) * 1000 / (height * width / 1e6)
    return best


def decodes_to(data: bytes, pixels: np.ndarray) -> bool:
    if pixels.dtype == np.uint8:
        with Image.open(io.BytesIO(data)) as decoded:
            return bool(np.array_equal(np.asarray(decoded).reshape(pixels.shape), pixels))
    with tempfile.NamedTemporaryFile(suffix=".png") as f:  # 16-bit RGB: pixup's own reader
        f.write(data)
        f.flush()
        return bool(np.array_equal(read_image(Path(f.name)).pixels, pixels))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="0,1,2,3,4,6,9")
    parser.add_argument("--size", type=int, default=512, help="input side before ×4")
    parser.add_argument("--image", default="astronaut", choices=[*PHOTOS, *DRAWINGS])
    parser.add_argument("--deep", action="store_true", help="16-bit output (no Pillow)")
    parser.add_argument("--writers", default=",".join(WRITERS), help="of " + ",".join(WRITERS))
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    writers = [w for w in args.writers.split(",") if not (args.deep and w == "Pillow")]
    pixels = upscaled(args.image, args.size, args.deep)
    depth = "16-bit" if args.deep else "8-bit"
    log(
        f"image {args.image} {pixels.shape[1]}×{pixels.shape[0]} RGB {depth}, "
        f"{pixels.nbytes / 1e6:.1f} MB raw; load {load_average():.2f}"
    )
    makers: dict[str, Callable[[int], Callable[[np.ndarray], bytes]]] = {
        "pixup": lambda level: pixup_writer(level),
        "before": lambda level: pixup_writer(level, "five", False),
        "four": lambda level: pixup_writer(level, "four", False),
        "Pillow": pillow_writer,
    }
    runs: dict[tuple[str, int], Callable[[np.ndarray], bytes]] = {}
    for level in levels:
        for writer in writers:
            runs[(writer, level)] = makers[writer](level)
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
                exact[key] = decodes_to(data, pixels)
        log(f"round {index + 1}/{args.rounds} done")
    base = sizes.get(("Pillow", 6)) or next(iter(sizes.values()))
    rows = []
    for key in runs:
        writer, level = key
        before = sizes.get(("before", level))
        rows.append(
            [
                f"{writer} level {level}",
                f"{median(walls[key]):.3f}",
                "/".join(f"{w:.2f}" for w in walls[key]),
                f"{median(cpus[key]):.3f}",
                f"{sizes[key] / 1e6:.3f}",
                f"{sizes[key] / base:.3f}",
                f"{sizes[key] / before:.3f}" if before else "",
                f"{pixels.shape[0] * pixels.shape[1] / 1e6 / median(walls[key]):.1f}",
                "yes" if exact[key] else "NO",
            ]
        )
    print(
        f"\n{args.image} {pixels.shape[1]}×{pixels.shape[0]} RGB {depth} (realesr-animevideov3 ×4 "
        f"output), {args.rounds} rounds, load {load_average():.2f}"
    )
    base_name = "÷ Pillow 6" if ("Pillow", 6) in sizes else "÷ first"
    print(
        table(
            ["writer", "wall s", "per round", "CPU s", "MB", base_name, "÷ before", "MP/s",
             "decodes exactly"],
            rows,
        )
    )
    choice = filter_choice_ms(pixels, max(3, args.rounds))
    print(
        "row-filter choice alone, CPU ms per MP: "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in choice.items())
        + f" ({choice['five (before)'] / choice['four (now)']:.1f}× cheaper now)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
