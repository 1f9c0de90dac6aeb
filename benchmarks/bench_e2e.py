"""End to end: `pixup upscale` as a whole process against bare whole-image runs of the same model.

    cd /work/main && PYTHONPATH=app .venv/bin/python benchmarks/bench_e2e.py [--rounds 3]
        [--sizes 512x512,2000x1500] [--level 1] [--pixup-level N] [--no-ncnn]
        [--pixup-app DIR]... [--source-only]

Model: realesr-animevideov3 ×4 (the bundled default). Inputs: `samples/astronaut-512.png` resized
with Lanczos, written as PNG (512×512) or JPEG quality 95 (larger sizes) into a temporary folder.
Per size and round, interleaved (the order alternates between rounds), each a fresh process timed
from spawn to exit, decode and PNG write included:

- **pixup**: `python -m pixup upscale IN -o DIR --model realesr-animevideov3-x4 --overwrite
  --png-compression N` (pixup's own defaults otherwise: provider plan, automatic tile, batch).
- **bare ORT**: a small script (written to a temp file) that decodes with Pillow, runs one
  whole-image `InferenceSession.run` on ONNX Runtime's default CPU provider (the run a user
  would write), converts back and writes the PNG with Pillow at `--level`.
- **ncnn** (when the `ncnn` package imports): the same model from the PyPI pack on ncnn's CPU
  backend, whole image, 2 threads, default options (fp16 storage and arithmetic), Pillow PNG at
  `--level`.

pixup runs as an install leaves it: `app/` is byte-compiled first (`compileall`, as
scripts/install.sh does; `--source-only` skips that). `--pixup-app DIR` adds a "pixup @ DIR" variant
run with `PYTHONPATH=DIR`, e.g. an earlier commit's `app/` from `git archive`, used as it is (compile
it first for a like-for-like comparison), so before and after are measured in the same run.

Reported: wall seconds per round, the median, output MP/s, peak RSS (`/usr/bin/time -f %M`, when
present) and the paired ratio pixup ÷ baseline of the wall times (target ≤ 1.05 against bare ORT,
i.e. ≥ 0.95× its throughput). Outputs are checked to have the same size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from _common import (
    ROOT,
    byte_compile,
    default_model_onnx,
    load_average,
    median,
    ncnn_files,
    sample_image,
    table,
)

MODEL_ID = "realesr-animevideov3-x4"

BARE_ORT = r"""
import sys
import numpy as np
import onnxruntime as ort
from PIL import Image
model, src, dst, level = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with Image.open(src) as im:
    pixels = np.asarray(im.convert("RGB"))
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
x = (pixels.transpose(2, 0, 1)[None].astype(np.float32)) / np.float32(255)
out = session.run(None, {session.get_inputs()[0].name: x})[0][0]
del x
out *= 255
np.clip(out, 0, 255, out=out)
image = np.ascontiguousarray(np.rint(out).astype(np.uint8).transpose(1, 2, 0))
del out
Image.fromarray(image).save(dst, format="PNG", compress_level=level)
"""

BARE_NCNN = r"""
import sys
import ncnn
import numpy as np
from PIL import Image
param, weights, blob_in, blob_out, src, dst, level = sys.argv[1:8]
with Image.open(src) as im:
    pixels = np.asarray(im.convert("RGB"))
net = ncnn.Net()
net.opt.use_vulkan_compute = False
net.opt.num_threads = 2
net.load_param(param)
net.load_model(weights)
x = np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
ex = net.create_extractor()
ex.input(blob_in, ncnn.Mat(x).clone())
ret, mat = ex.extract(blob_out)
assert ret == 0, ret
values = np.array(mat, dtype=np.float32, copy=True)
del mat, ex
values *= 255
np.clip(values, 0, 255, out=values)
image = np.ascontiguousarray(np.rint(values).astype(np.uint8).transpose(1, 2, 0))
Image.fromarray(image).save(dst, format="PNG", compress_level=int(level))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int | None]:
    """Wall seconds of one process and its peak RSS in bytes (None without /usr/bin/time)."""
    gnu_time = Path("/usr/bin/time")
    rss_file = Path(tempfile.mkstemp(prefix="pixup-rss-")[1])
    if gnu_time.exists():
        command = [str(gnu_time), "-f", "%M", "-o", str(rss_file), *command]
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}")
    rss = None
    text = rss_file.read_text().strip() if rss_file.exists() else ""
    if text:
        rss = int(text.splitlines()[-1]) * 1024
    rss_file.unlink(missing_ok=True)
    return wall, rss


def ncnn_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import ncnn"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="512x512,2000x1500")
    parser.add_argument("--level", type=int, default=1, help="PNG zlib level of the baselines")
    parser.add_argument(
        "--pixup-level", type=int, default=None, help="pixup's --png-compression (default: --level)"
    )
    parser.add_argument("--no-ncnn", action="store_true")
    parser.add_argument(
        "--pixup-app",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="also run pixup from this app/ folder (an earlier version), interleaved",
    )
    parser.add_argument(
        "--source-only", action="store_true", help="do not byte-compile app/ first (a bare checkout)"
    )
    args = parser.parse_args(argv)
    if not args.source_only:
        byte_compile()
    pixup_level = args.level if args.pixup_level is None else args.pixup_level
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="pixup-e2e-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "app")}
    env.setdefault("PIXUP_HOME", "/tmp/pixup-speed-home")
    model, how = default_model_onnx()
    log(f"model: {model} ({how}); work folder {work}")
    (work / "bare_ort.py").write_text(BARE_ORT)
    (work / "bare_ncnn.py").write_text(BARE_NCNN)
    param, weights = ncnn_files()
    use_ncnn = not args.no_ncnn and ncnn_available()
    blobs: tuple[str, str] = ("", "")
    if use_ncnn:
        from pixup.models.importers.ncnn.convert import ncnn_io_blobs
        from pixup.models.importers.ncnn.param import read_param

        blobs = ncnn_io_blobs(read_param(param))

    rows: list[list[str]] = []
    for width, height in sizes:
        pixels, source = sample_image("astronaut-512.png", width, height)
        suffix = "png" if width * height <= 512 * 512 else "jpg"
        src = work / f"in-{width}x{height}.{suffix}"
        Image.fromarray(pixels).save(src, **({"quality": 95} if suffix == "jpg" else {}))
        out_dir = work / "pixup-out"

        def pixup_command(out: Path, src: Path = src) -> list[str]:
            return [
                sys.executable,
                "-m",
                "pixup",
                "upscale",
                str(src),
                "-o",
                str(out),
                "--model",
                MODEL_ID,
                "--overwrite",
                "--png-compression",
                str(pixup_level),
            ]

        variants: dict[str, list[str]] = {
            "pixup": pixup_command(out_dir),
            **{
                f"pixup @ {app}": pixup_command(work / f"pixup-out-{index}")
                for index, app in enumerate(args.pixup_app)
            },
            "bare ORT (CPU EP)": [
                sys.executable,
                str(work / "bare_ort.py"),
                str(model),
                str(src),
                str(work / "ort.png"),
                str(args.level),
            ],
        }
        if use_ncnn:
            variants["ncnn CPU"] = [
                sys.executable,
                str(work / "bare_ncnn.py"),
                str(param),
                str(weights),
                *blobs,
                str(src),
                str(work / "ncnn.png"),
                str(args.level),
            ]
        envs = {name: env for name in variants}
        for app in args.pixup_app:
            envs[f"pixup @ {app}"] = {**env, "PYTHONPATH": str(app.resolve())}
        log(f"{source} → {suffix}; warm-up of every variant (file caches, model conversion)")
        for name, command in variants.items():
            timed(command, envs[name])
        outputs = [
            *(p for d in work.glob("pixup-out*") for p in d.iterdir()),
            work / "ort.png",
            *([work / "ncnn.png"] if use_ncnn else []),
        ]
        shapes = set()
        for path in outputs:
            with Image.open(path) as im:
                shapes.add(im.size)
        walls: dict[str, list[float]] = {name: [] for name in variants}
        peaks: dict[str, list[int]] = {name: [] for name in variants}
        for index in range(args.rounds):
            order = list(variants) if index % 2 == 0 else list(reversed(variants))
            for name in order:
                wall, rss = timed(variants[name], envs[name])
                walls[name].append(wall)
                if rss is not None:
                    peaks[name].append(rss)
            log(f"  round {index + 1}: " + ", ".join(f"{n} {w[-1]:.2f} s" for n, w in walls.items()))
        out_mp = width * height * 16 / 1e6
        for name, wall in walls.items():
            ratios = {
                base: median([p / b for p, b in zip(wall, walls[base], strict=True)])
                for base in walls
                if not base.startswith("pixup")
            }
            rows.append(
                [
                    f"{width}×{height}",
                    name,
                    "/".join(f"{w:.2f}" for w in wall),
                    f"{median(wall):.2f}",
                    f"{out_mp / median(wall):.2f}",
                    f"{max(peaks[name]) / 1e6:.0f}" if peaks[name] else "—",
                    ", ".join(f"÷ {b}: {r:.3f}" for b, r in ratios.items())
                    if name.startswith("pixup")
                    else "",
                ]
            )
        if len(shapes) != 1:
            log(f"  WARNING: outputs differ in size: {shapes}")
        for folder in work.glob("pixup-out*"):
            shutil.rmtree(folder, ignore_errors=True)
    print(
        f"\nrealesr-animevideov3 ×4, whole processes, {args.rounds} interleaved rounds, PNG level "
        f"{pixup_level} (pixup) / {args.level} (baselines), load {load_average():.2f}, "
        f"app/ {'as sources' if args.source_only else 'byte-compiled'}"
    )
    print(
        table(
            [
                "input",
                "process",
                "wall s per round",
                "median s",
                "MP/s out",
                "peak RSS MB",
                "pixup time ratio (paired)",
            ],
            rows,
        )
    )
    print(
        "target: pixup ÷ bare ORT ≤ 1.05 (≥ 0.95× its throughput); "
        "≤ 1.0 against ncnn where the hardware allows"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
